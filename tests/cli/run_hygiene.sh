#!/usr/bin/env bash
# `sadanet train` as a user (or a batch system) meets it: two processes on one run folder, SIGTERM
# and SIGHUP mid-run, a full disk (RLIMIT_FSIZE), a planted link. Usage: run_hygiene.sh SADANET WORKDIR
set -uo pipefail
sadanet=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$sadanet" synth --out "$work/data" --domains 2 --per-class 2 --size 40 >/dev/null || fail "synth"
common=(--data "$work/data" --target synthB --method erm --arch resnet-tiny --size 32 --batch 2 --swad false
        --ckpt-every 5 --threads 1 --loader-threads 1)

# Waits until RUNDIR has a checkpoint (the run is under way).
wait_ckpt() {
  for _ in $(seq 1 600); do [[ -f "$1/ckpt-latest.safetensors" ]] && return 0; sleep 0.1; done
  fail "no checkpoint appeared in $1"
}

# 1. A second process on the same folder exits 1 naming the holder; SIGTERM then ends the first
#    with a checkpoint and exit 143; --resume continues it.
"$sadanet" train "${common[@]}" --steps-erm 100000 --out "$work/run" >"$work/first.log" 2>&1 &
first=$!
wait_ckpt "$work/run"
"$sadanet" train "${common[@]}" --steps-erm 100000 --out "$work/run" --resume >"$work/second.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "second process: exit $rc, expected 1: $(cat "$work/second.log")"
grep -q "is in use by another sadanet process (pid $first)" "$work/second.log" || fail "second process: $(cat "$work/second.log")"
kill -TERM "$first"
wait "$first"
rc=$?
[[ $rc == 143 ]] || fail "SIGTERM: exit $rc, expected 143: $(tail -3 "$work/first.log")"
grep -q "Terminated: interrupted after erm step" "$work/first.log" || fail "SIGTERM message: $(tail -3 "$work/first.log")"
[[ $(stat -c %a "$work/run") == 700 ]] || fail "run folder mode $(stat -c %a "$work/run"), expected 700"

# 2. SIGHUP: the same, exit 129, on the resumed run.
"$sadanet" train "${common[@]}" --steps-erm 100000 --out "$work/run" --resume >"$work/hup.log" 2>&1 &
pid=$!
# Send it once the run trains (the handler is installed before the first step).
for _ in $(seq 1 600); do grep -q "erm step" "$work/hup.log" && break; sleep 0.1; done
kill -HUP "$pid"
wait "$pid"
rc=$?
[[ $rc == 129 ]] || fail "SIGHUP: exit $rc, expected 129: $(tail -3 "$work/hup.log")"
grep -q "resume: continuing erm from step" "$work/hup.log" || fail "SIGHUP run did not resume: $(head -5 "$work/hup.log")"
grep -q "Hangup: interrupted after erm step" "$work/hup.log" || fail "SIGHUP message: $(tail -3 "$work/hup.log")"

# 3. A disk that fills up: the checkpoint cannot be written (twice), the run stops with exit 1
#    and says so instead of training on.
(ulimit -f 64; trap '' XFSZ; exec "$sadanet" train "${common[@]}" --steps-erm 50 --out "$work/full") >"$work/full.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "full disk: exit $rc, expected 1: $(tail -5 "$work/full.log")"
grep -q "could not be written" "$work/full.log" || fail "full disk message: $(tail -5 "$work/full.log")"
! ls "$work/full"/*.tmp.* >/dev/null 2>&1 || fail "full disk left temporaries: $(ls "$work/full")"

# 4. A planted link under a name the run writes is refused; its target is untouched.
mkdir -p "$work/linked" && echo precious >"$work/victim" && ln -s "$work/victim" "$work/linked/metrics.jsonl"
"$sadanet" train "${common[@]}" --steps-erm 2 --out "$work/linked" >"$work/link.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "planted link: exit $rc, expected 1"
grep -q "is a symbolic link" "$work/link.log" || fail "planted link message: $(cat "$work/link.log")"
[[ $(cat "$work/victim") == precious ]] || fail "the link's target was written"

echo "run_hygiene: all passed"
