#!/usr/bin/env bash
# The GPU machine's check, in one call: facts about the machine, the build (carried or made
# there), the CUDA tests (twice: default conv with SADANET_CUDA_SYNC=1, then the implicit GEMM),
# compute-sanitizer memcheck and racecheck on CudaKernels.*, the CUDA kernel benchmarks with the
# copy and cuBLAS ceilings, and ResNet-50 images/s of `sadanet bench --device cuda` beside PyTorch
# (f32, TF32, AMP bf16). Every step runs whatever the earlier ones did; each one's exit status and
# wall time go into the summary printed at the end. See tools/gpu/README.md.
#
#   tools/gpu/check.sh OUTDIR [BUILD_DIR]
#
# BUILD_DIR (or $SADANET_GPU_BUILD; default build-gpu): a build folder configured and built for
# sm_90 (tools/gpu/prepare.sh), carried with the call; where it has no CMakeCache.txt the script
# configures and builds one there. A simulation build (SADANET_CUDA_SIM=ON) runs the tests for
# real and reports every GPU-only step as skipped.
#
# OUTDIR receives at most five files: summary.txt, steps.tsv, check.log (every step's log, in
# order), logs.tar.gz (every log and result file), and nothing else; all are rewritten after each
# step, so a run cut short still returns what it had.
#
# Environment:
#   SADANET_GPU_BUILD       the build folder (default build-gpu, relative to the repository root)
#   SADANET_CHECK_BUDGET    seconds the whole check may take (default 540 on a GPU, 7200 otherwise);
#                           each step's limit is cut so that the later steps still get a chance
#   SADANET_CHECK_STEPS     comma-separated step names to run (default: all; host_info, gpu_info and
#                           build always run), e.g. SADANET_CHECK_STEPS=bench_cuda,torch_resnet
#   SADANET_CHECK_JOBS      ctest -j (default min(8, CPUs/2) on a GPU, CPUs otherwise)
#   SADANET_CHECK_PYTHON    the Python with PyTorch (default python3)
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"

if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 2
fi
mkdir -p "$1" || exit 2
OUTDIR=$(cd "$1" && pwd)
BUILD=${2:-${SADANET_GPU_BUILD:-build-gpu}}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BUILD=${BUILD%/}
PY=${SADANET_CHECK_PYTHON:-python3}
LOGDIR=$(mktemp -d /tmp/sadanet-gpu-check.XXXXXX)
T_START=$(date +%s.%N)
NPROC=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
cd "$ROOT" || exit 2

# ---- what kind of run this is -----------------------------------------------------------------
if [ -f "$BUILD/CMakeCache.txt" ] && grep -q '^SADANET_CUDA_SIM:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  MODE=sim; NOGPU_WHY="no GPU (simulation build)"
elif ! command -v nvidia-smi >/dev/null 2>&1; then
  MODE=nogpu; NOGPU_WHY="no GPU (nvidia-smi not found)"
else
  MODE=gpu; NOGPU_WHY=""
fi
if [ "$MODE" = gpu ]; then
  BUDGET=${SADANET_CHECK_BUDGET:-540}; SCALE=1
  JOBS=${SADANET_CHECK_JOBS:-$(( NPROC / 2 < 8 ? (NPROC / 2 > 0 ? NPROC / 2 : 1) : 8 ))}
else
  BUDGET=${SADANET_CHECK_BUDGET:-7200}; SCALE=10
  JOBS=${SADANET_CHECK_JOBS:-$NPROC}
fi
TEST_THREADS=$(( NPROC / JOBS > 0 ? NPROC / JOBS : 1 ))

# compute-sanitizer: on PATH, else under /usr/local/cuda*/ (bin/ or the older compute-sanitizer/).
find_sanitizer() {
  local c
  c=$(command -v compute-sanitizer 2>/dev/null) && { echo "$c"; return 0; }
  for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda*/bin/compute-sanitizer \
           /usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer; do
    [ -x "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}
SANITIZER=$(find_sanitizer || true)

# nvcc: on PATH, else the CUDA toolkit's.
NVCC=$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc /usr/local/cuda*/bin/nvcc 2>/dev/null | head -1 || true)

# cuDNN: the system's (CUDA toolkit or ldconfig) when it has one, else PyTorch's pip wheel
# (nvidia-cudnn-cu13: include/ and lib/ with libcudnn.so.9 only). Prints "LIBDIR INCDIR".
find_cudnn() {
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
    if [ -e "$d/libcudnn.so.9" ] || [ -e "$d/libcudnn.so" ]; then
      local inc=""
      for i in /usr/local/cuda/include /usr/include /usr/include/x86_64-linux-gnu; do
        [ -f "$i/cudnn.h" ] && { inc=$i; break; }
      done
      echo "$d ${inc:--}"; return 0
    fi
  done
  "$PY" - <<'EOF' 2>/dev/null
import glob, os
roots = []
try:
    import nvidia.cudnn as m
    roots += [os.path.dirname(m.__file__)] if getattr(m, "__file__", None) else list(m.__path__)
except Exception:
    pass
try:
    import nvidia
    roots += list(nvidia.__path__)
except Exception:
    pass
for r in roots:
    for lib in sorted(glob.glob(os.path.join(r, "**", "libcudnn.so.9"), recursive=True)):
        libdir = os.path.dirname(lib)
        inc = os.path.join(os.path.dirname(libdir), "include")
        print(libdir, inc if os.path.isfile(os.path.join(inc, "cudnn.h")) else "-")
        raise SystemExit(0)
raise SystemExit(1)
EOF
}
CUDNN_LIBDIR=""; CUDNN_INCDIR=""
if [ "$MODE" != sim ]; then
  read -r CUDNN_LIBDIR CUDNN_INCDIR < <(find_cudnn || true)
  [ "$CUDNN_INCDIR" = - ] && CUDNN_INCDIR=""
fi

# Libraries: the packed Debian deps (.deps, tools/gpu/prepare.sh) and cuDNN.
LDP=""
# /usr/local/cuda/lib64 for cudart and cuBLAS in case ld.so.conf does not name it.
for d in "$ROOT/.deps/usr/lib/x86_64-linux-gnu" "$ROOT/.deps/usr/lib" "$CUDNN_LIBDIR" \
         $( [ "$MODE" = sim ] || echo /usr/local/cuda/lib64 ); do
  [ -n "$d" ] && [ -d "$d" ] && case ":$LDP:" in *":$d:"*) ;; *) LDP=${LDP:+$LDP:}$d ;; esac
done
export LD_LIBRARY_PATH=${LDP}${ORIG_LD_LIBRARY_PATH:+:$ORIG_LD_LIBRARY_PATH}
export ROOT BUILD LOGDIR MODE PY NPROC JOBS TEST_THREADS SANITIZER NVCC CUDNN_LIBDIR CUDNN_INCDIR ORIG_LD_LIBRARY_PATH

# ---- bookkeeping ------------------------------------------------------------------------------
now() { date +%s.%N; }
elapsed() { awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%d", b - a }'; }
printf 'step\tstatus\twall_s\tlimit_s\tnote\n' > "$LOGDIR/steps.tsv"
STEP_NO=0
STEPS_TOTAL=11   # the run_step calls below; used to keep time for the steps still to come

step_selected() {
  case $1 in host_info|gpu_info|build) return 0 ;; esac
  [ -z "${SADANET_CHECK_STEPS:-}" ] && return 0
  case ",$SADANET_CHECK_STEPS," in *",$1,"*) return 0 ;; esac
  return 1
}

# Appends a log to check.log (head and tail only if it is huge) and rewrites OUTDIR's files.
publish() {
  local log=$1 name=$2
  if [ -n "$log" ] && [ -f "$log" ]; then
    {
      printf '\n======== %s (%s) ========\n' "$name" "$(basename "$log")"
      if [ "$(stat -c %s "$OUTDIR/check.log")" -gt 12000000 ]; then
        # check.log must stay under the 16 MiB a returned file may have.
        printf '[check.log is full: only the last 200 lines here; the whole log is in logs.tar.gz]\n'; tail -n 200 "$log"
      elif [ "$(stat -c %s "$log")" -gt 3000000 ]; then
        head -n 300 "$log"; printf '\n[... %s lines left out here; the whole log is in logs.tar.gz ...]\n\n' \
          "$(wc -l < "$log")"; tail -n 3000 "$log"
      else
        cat "$log"
      fi
    } >> "$OUTDIR/check.log"
    # A runaway log is cut in place so that logs.tar.gz stays well under 16 MiB.
    if [ "$(stat -c %s "$log")" -gt 20000000 ]; then
      { head -c 5000000 "$log"; printf '\n[... cut here: the log had %s bytes ...]\n' "$(stat -c %s "$log")"
        tail -c 5000000 "$log"; } > "$log.cut" && mv "$log.cut" "$log"
    fi
  fi
  cp "$LOGDIR/steps.tsv" "$OUTDIR/steps.tsv"
  tar -czf "$OUTDIR/logs.tar.gz.tmp" -C "$LOGDIR" . 2>/dev/null && mv "$OUTDIR/logs.tar.gz.tmp" "$OUTDIR/logs.tar.gz"
}

record() {  # record NAME STATUS WALL LIMIT NOTE
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$LOGDIR/steps.tsv"
  printf '[%4ss] %-26s %s%s\n' "$(elapsed)" "$1" "$2" "$( [ "$3" = - ] || echo " (${3} s)")"
}

# run_step NAME CAP_SECONDS GPU_ONLY(0|1) FUNCTION [ARGS...]: runs FUNCTION in its own bash under
# timeout, output to its log; a function may write a one-line note to $LOGDIR/note_NAME.
run_step() {
  local name=$1 cap=$2 gpu_only=$3 why=${SKIP_WHY:-}; shift 3
  SKIP_WHY=""
  STEP_NO=$((STEP_NO + 1))
  local log; log=$LOGDIR/$(printf %02d "$STEP_NO")_$name.log
  if ! step_selected "$name"; then record "$name" "skipped: not in SADANET_CHECK_STEPS" - - ""; publish "" "$name"; return; fi
  if [ "$gpu_only" = 1 ] && [ "$MODE" != gpu ]; then record "$name" "skipped: $NOGPU_WHY" - - ""; publish "" "$name"; return; fi
  if [ -n "$why" ]; then record "$name" "skipped: $why" - - ""; publish "" "$name"; return; fi
  local left later limit
  left=$(awk -v a="$T_START" -v b="$(now)" -v B="$BUDGET" 'BEGIN { printf "%d", B - (b - a) }')
  later=$(( (STEPS_TOTAL - STEP_NO) * 10 ))
  limit=$(( cap * SCALE ))
  (( limit > left - later )) && limit=$(( left - later ))
  if (( limit < 5 )); then record "$name" "skipped: out of time (budget ${BUDGET} s)" - - ""; publish "" "$name"; return; fi
  printf '[%4ss] %-26s running (limit %s s)\n' "$(elapsed)" "$name" "$limit"
  local t0 rc wall status note
  t0=$(now)
  STEP_LIMIT=$limit timeout -k 10 "$limit" bash -c '"$@"' _ "$@" > "$log" 2>&1 < /dev/null
  rc=$?
  wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  status="FAILED $rc"
  [ "$rc" = 0 ] && status=ok
  if { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && awk -v w="$wall" -v l="$limit" 'BEGIN { exit !(w >= l - 1) }'; then
    status="FAILED $rc (killed at its ${limit} s limit)"
  fi
  note=$(head -c 300 "$LOGDIR/note_$name" 2>/dev/null | tr '\t\n' '  ')
  record "$name" "$status" "$wall" "$limit" "$note"
  publish "$log" "$name"
}

# ---- the steps (each runs in its own bash: functions and variables are exported) ---------------
note() { printf '%s' "$*" > "$LOGDIR/note_$STEP_NAME"; }

step_host_info() {
  export STEP_NAME=host_info
  echo "== check: mode $MODE, build $BUILD, root $ROOT, ctest -j $JOBS, $TEST_THREADS threads per test"
  echo "== date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "== uname: $(uname -a)"
  grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release 2>/dev/null
  echo "== CPUs: $NPROC"
  grep -m1 'model name' /proc/cpuinfo
  free -g 2>/dev/null | head -2
  df -h "$ROOT" /tmp 2>/dev/null
  echo "== nvcc: ${NVCC:-not found}"; [ -n "$NVCC" ] && "$NVCC" --version
  echo "== cmake: $(cmake --version 2>/dev/null | head -1), ctest: $(command -v ctest), ninja $(ninja --version 2>/dev/null), c++: $(c++ --version 2>/dev/null | head -1)"
  echo "== compute-sanitizer: ${SANITIZER:-not found}"; [ -n "$SANITIZER" ] && "$SANITIZER" --version | tail -2
  echo "== cuDNN for sadanet: lib ${CUDNN_LIBDIR:-none} include ${CUDNN_INCDIR:-none}"
  echo "== LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  if [ "$MODE" != sim ]; then
    # The cuDNN that sadanet will load (the build compiled against the prepare machine's headers).
    "$PY" -c 'import ctypes; l = ctypes.CDLL("libcudnn.so.9"); print("== cuDNN loaded by sadanet: version", l.cudnnGetVersion())' 2>&1 | tail -1
  fi
  echo "== python: $(command -v "$PY") $("$PY" --version 2>&1)"
  LD_LIBRARY_PATH=$ORIG_LD_LIBRARY_PATH timeout --foreground 60 "$PY" - <<'EOF' 2>&1
try:
    import torch, torchvision
    cuda = torch.cuda.is_available()
    print("torch", torch.__version__, "torchvision", torchvision.__version__, "built for CUDA", torch.version.cuda,
          "cudnn", torch.backends.cudnn.version() if cuda else "-", "cuda available", cuda)
    if cuda:
        p = torch.cuda.get_device_properties(0)
        print("torch sees", p.name, p.total_memory >> 20, "MiB,", p.multi_processor_count, "SMs, cc",
              f"{p.major}.{p.minor}", "L2", getattr(p, "L2_cache_size", 0) >> 20, "MiB")
except Exception as e:
    print("torch: not usable:", e)
EOF
  note "$NPROC CPUs; nvcc $( [ -n "$NVCC" ] && "$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  return 0
}

step_gpu_info() {
  export STEP_NAME=gpu_info
  # Reading only: nothing here changes the GPU's settings.
  nvidia-smi; local rc=$?
  echo "== query"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$LOGDIR/gpu.csv"
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw,utilization.gpu,memory.used,persistence_mode,compute_mode,mig.mode.current --format=csv
  nvidia-smi -q -d CLOCK,PERFORMANCE 2>/dev/null | head -60
  note "$(sed -n 2p "$LOGDIR/gpu.csv" 2>/dev/null)"
  return $rc
}

step_gpu_state_end() {
  export STEP_NAME=gpu_state_end
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw,utilization.gpu,memory.used --format=csv
}

# The carried build's paths: a folder configured on another machine has absolute paths baked in
# (CMakeCache, build.ninja, ctest files, rpaths, SADANET_TEST_DATA_DIR in the test binary). Where
# the original path does not exist here, a symbolic link from it to this checkout (or build
# folder) makes them all valid.
map_path() {  # map_path ORIGINAL HERE
  local orig=$1 here=$2
  [ -z "$orig" ] && return 0
  if [ -e "$orig" ] && [ "$orig" -ef "$here" ]; then echo "path $orig: is $here already"; return 0; fi
  if [ -e "$orig" ] || [ -L "$orig" ]; then
    echo "path $orig: exists here and is not $here: cannot map the carried build's paths"; return 1
  fi
  mkdir -p "$(dirname "$orig")" && ln -s "$here" "$orig" || { echo "path $orig: could not create the link"; return 1; }
  echo "path $orig: created the symbolic link $orig -> $here (the carried build's absolute paths now resolve)"
}

# Prints what is wrong with loading the build's programs, nothing when they load.
load_problems() {
  local b=$1 f
  for f in "$b/tools/sadanet" "$b/tests/sadanet_tests" "$b/bench/cuda/sadanet_bench_cuda" "$b/libsadanet.so"; do
    [ -e "$f" ] || continue
    ldd "$f" 2>&1 | grep -E 'not found|version .* not found' | sed "s|^|$(basename "$f"): |"
  done
}

configure_and_build_here() {  # configure_and_build_here BUILD_DIR
  local b=$1 args=()
  echo "== configuring a fresh build in $b"
  args=(-S "$ROOT" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSADANET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
        -DSADANET_BUILD_TESTS=ON -DSADANET_BUILD_BENCH=ON -DSADANET_BUILD_TOOLS=ON)
  [ -d "$ROOT/.deps/usr" ] && args+=("-DCMAKE_PREFIX_PATH=$ROOT/.deps/usr")
  [ -n "$NVCC" ] && args+=("-DCMAKE_CUDA_COMPILER=$NVCC")
  if [ -n "$CUDNN_LIBDIR" ] && [ -n "$CUDNN_INCDIR" ] && [ ! -e "$CUDNN_LIBDIR/libcudnn.so" ]; then
    # The pip wheel has libcudnn.so.9 but no libcudnn.so for find_library: link one in a writable place.
    mkdir -p "$b/_cudnn/lib"
    ln -sfn "$CUDNN_INCDIR" "$b/_cudnn/include"
    ln -sf "$CUDNN_LIBDIR/libcudnn.so.9" "$b/_cudnn/lib/libcudnn.so"
    args+=("-DCUDNN_ROOT=$b/_cudnn")
    echo "cuDNN: $b/_cudnn (include -> $CUDNN_INCDIR, lib/libcudnn.so -> $CUDNN_LIBDIR/libcudnn.so.9)"
  elif [ -n "$CUDNN_LIBDIR" ] && [ -n "$CUDNN_INCDIR" ]; then
    args+=("-DCUDNN_ROOT=$(dirname "$CUDNN_LIBDIR")")
  fi
  echo "cmake ${args[*]}"
  cmake "${args[@]}" || return 1
  grep -E '^(SADANET_CUDA|SADANET_CUDNN|CUDNN_LIBRARY|CUDNN_INCLUDE_DIR|CMAKE_CUDA_ARCHITECTURES):' "$b/CMakeCache.txt"
  echo "== building with $NPROC jobs"
  cmake --build "$b" -j "$NPROC" || return 1
  sadanet_source_hash "$ROOT" > "$b/sadanet-gpu-stamp.txt"
}

step_build() {
  export STEP_NAME=build
  local b=$BUILD how problems
  if [ -f "$b/CMakeCache.txt" ]; then
    local src orig_build stamp hash
    src=$(sadanet_cache_value "$b" CMAKE_HOME_DIRECTORY)
    orig_build=$(sadanet_cache_value "$b" CMAKE_CACHEFILE_DIR)
    echo "== carried build $b: configured for source $src, build folder $orig_build"
    grep -E '^(SADANET_CUDA|SADANET_CUDA_SIM|SADANET_CUDNN|CUDNN_LIBRARY|CMAKE_CUDA_ARCHITECTURES|CMAKE_BUILD_TYPE):' "$b/CMakeCache.txt"
    local mapped=1
    map_path "$src" "$ROOT" || mapped=0
    if (( mapped )) && [ -n "$orig_build" ] && ! { [ -e "$orig_build" ] && [ "$orig_build" -ef "$b" ]; }; then
      map_path "$orig_build" "$b" || mapped=0
    fi
    stamp=$(cat "$b/sadanet-gpu-stamp.txt" 2>/dev/null || echo none)
    hash=$(sadanet_source_hash "$ROOT")
    if (( mapped )); then
      if [ "$stamp" = "$hash" ]; then
        echo "== sources unchanged since the build (hash $hash): not rebuilding"
        how="carried, up to date"
      else
        echo "== sources differ from the build's (stamp $stamp, now $hash): rebuilding with ninja"
        cmake --build "$b" -j "$NPROC" || { note "carried build: rebuild failed"; return 1; }
        sadanet_source_hash "$ROOT" > "$b/sadanet-gpu-stamp.txt"
        how="carried, rebuilt (sources had changed)"
      fi
      problems=$(load_problems "$b")
      if [ -n "$problems" ] && [ -d "$ROOT/.deps/fallback" ]; then
        echo "== the programs do not load:"; echo "$problems"
        echo "== adding the packed fallback libraries (.deps/fallback: libstdc++, libgomp, libgcc)"
        local fb=$ROOT/.deps/fallback/usr/lib/x86_64-linux-gnu:$ROOT/.deps/fallback/lib/x86_64-linux-gnu
        echo "FALLBACK_LD=$fb" > "$LOGDIR/build.env"
        export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$fb
        problems=$(load_problems "$b")
        how="$how, fallback libraries"
      fi
    else
      problems="the carried build's paths cannot be mapped"
    fi
    if [ -n "$problems" ]; then
      echo "== the carried build is not usable here:"; echo "$problems"
      if [ "$MODE" = sim ] || [ -z "$NVCC" ]; then note "carried build unusable: $problems"; return 1; fi
      b=$ROOT/build-gpu-here
      configure_and_build_here "$b" || { note "carried build unusable; fresh build failed"; return 1; }
      how="fresh build in $b (carried one unusable)"
    fi
  else
    [ "$MODE" = sim ] && { echo "no CMakeCache.txt in $b"; return 1; }
    [ -z "$NVCC" ] && { echo "no CMakeCache.txt in $b and no nvcc to build one"; note "no build"; return 1; }
    configure_and_build_here "$b" || { note "fresh build failed"; return 1; }
    how="fresh build here"
  fi
  echo "BUILD=$b" >> "$LOGDIR/build.env"
  echo "== libraries"
  ldd "$b/libsadanet.so" 2>&1 | grep -E 'cud|cublas|gomp|stdc|benchmark|not found'
  echo "== $b/tools/sadanet info"
  "$b/tools/sadanet" info || { note "$how; sadanet info failed"; return 1; }
  note "$how"
}

step_ctest() {  # step_ctest NAME ENV_ASSIGNMENTS...
  export STEP_NAME=$1; shift
  [ -x "$BUILD/tests/sadanet_tests" ] || { echo "no $BUILD/tests/sadanet_tests"; return 1; }
  echo "== env SADANET_REQUIRE_GPU=1 OMP_NUM_THREADS=$TEST_THREADS $* ctest -L cuda -j $JOBS"
  env SADANET_REQUIRE_GPU=1 OMP_NUM_THREADS="$TEST_THREADS" "$@" \
    ctest --test-dir "$BUILD" -L cuda --output-on-failure --no-tests=error -j "$JOBS" \
      --timeout $(( STEP_LIMIT > 60 ? STEP_LIMIT - 15 : STEP_LIMIT )) --output-junit "$LOGDIR/$STEP_NAME.xml"
  local rc=$?
  note "$(grep -E 'tests passed, [0-9]+ tests failed' "$LOGDIR"/*_"$STEP_NAME".log 2>/dev/null | tail -1)"
  return $rc
}

step_sanitizer() {  # step_sanitizer memcheck|racecheck
  export STEP_NAME=$1
  echo "== $SANITIZER --tool $1 on CudaKernels.*"
  env SADANET_REQUIRE_GPU=1 "$SANITIZER" --tool "$1" --error-exitcode 99 --print-limit 200 \
    "$BUILD/tests/sadanet_tests" --gtest_filter='CudaKernels.*'
  local rc=$?
  note "$(grep -hE 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOGDIR"/*_"$1".log 2>/dev/null | tail -1 | sed 's/^=* *//')"
  return $rc
}

step_bench_cuda() {
  export STEP_NAME=bench_cuda
  local bin=$BUILD/bench/cuda/sadanet_bench_cuda rc=0 t0=$SECONDS
  [ -x "$bin" ] || { echo "no $bin"; return 1; }
  # Groups, so that one slow group cannot take the ceilings or the others with it.
  local groups=("ceilings:^Ceiling/:30" "memory:^(Copy|Binary|Unary|Reduce|Softmax|BatchNorm|Adam)/:45"
                "gemm:^Gemm/:25" "conv_cudnn:^Conv/cudnn/:60" "conv_implicit_gemm:^Conv/implicit_gemm/:60")
  local g name filter cap left bad=()
  for g in "${groups[@]}"; do
    name=${g%%:*}; filter=${g#*:}; cap=${filter##*:}; filter=${filter%:*}
    left=$(( STEP_LIMIT - (SECONDS - t0) - 5 ))
    (( cap > left )) && cap=$left
    if (( cap < 5 )); then echo "== $name: skipped (no time left)"; bad+=("$name: no time left"); rc=1; continue; fi
    echo "== $name: $bin --benchmark_filter='$filter' (limit $cap s)"
    # stdbuf: the console table reaches the log line by line, so a group cut short keeps what it printed.
    timeout --foreground -k 5 "$cap" $(command -v stdbuf >/dev/null && echo stdbuf -oL) "$bin" \
      --benchmark_filter="$filter" --benchmark_min_time=0.05 \
      --benchmark_counters_tabular=true --benchmark_out="$LOGDIR/bench_$name.json" --benchmark_out_format=json
    local r=$?
    echo "== $name: exit $r"
    if (( r == 124 || r == 137 )); then bad+=("$name timed out at ${cap} s"); rc=1
    elif (( r != 0 )); then bad+=("$name exit $r"); rc=1; fi
  done
  [ ${#bad[@]} -gt 0 ] && note "$(IFS=';'; echo "${bad[*]}")"
  return $rc
}

step_sadanet_resnet() {
  export STEP_NAME=sadanet_resnet
  local bin=$BUILD/tools/sadanet rc=0
  [ -x "$bin" ] || { echo "no $bin"; return 1; }
  # f32 for every case first, then TF32 (SADANET_TF32=1) at batch 256.
  "$PY" "$ROOT/bench/torch_resnet_compare.py" --device cuda --sides sadanet --sadanet "$bin" \
    --cases train:96,train:256,infer:96,infer:256 --sadanet-precisions f32 --warmup 2 --iters 5 --repeat 1 \
    --timeout 75 --jsonl "$LOGDIR/resnet.jsonl" || rc=$?
  "$PY" "$ROOT/bench/torch_resnet_compare.py" --device cuda --sides sadanet --sadanet "$bin" \
    --cases train:256,infer:256 --sadanet-precisions tf32 --warmup 2 --iters 5 --repeat 1 \
    --timeout 75 --jsonl "$LOGDIR/resnet.jsonl" || rc=$?
  return $rc
}

step_torch_resnet() {
  export STEP_NAME=torch_resnet
  LD_LIBRARY_PATH=$ORIG_LD_LIBRARY_PATH "$PY" "$ROOT/bench/torch_resnet_compare.py" --device cuda --sides torch \
    --cases train:96,train:256,infer:96,infer:256 --torch-precisions f32,tf32,bf16 --warmup 3 --iters 10 --repeat 1 \
    --jsonl "$LOGDIR/resnet.jsonl"
}

export -f now note map_path load_problems configure_and_build_here sadanet_source_hash sadanet_cache_value \
  step_host_info step_gpu_info step_gpu_state_end step_build step_ctest step_sanitizer step_bench_cuda \
  step_sadanet_resnet step_torch_resnet

# ---- the run -------------------------------------------------------------------------------------
echo "sadanet GPU check: mode $MODE${NOGPU_WHY:+ ($NOGPU_WHY)}, build $BUILD, budget $BUDGET s, logs $LOGDIR -> $OUTDIR"
: > "$OUTDIR/check.log"
run_step host_info      30 0 step_host_info
run_step gpu_info       30 1 step_gpu_info
run_step build         420 0 step_build
if [ -f "$LOGDIR/build.env" ]; then
  # shellcheck disable=SC1091
  source "$LOGDIR/build.env"
  [ -n "${FALLBACK_LD:-}" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$FALLBACK_LD
  export BUILD
fi
# Nothing below can run without a build: say so instead of failing each step.
[ -x "$BUILD/tests/sadanet_tests" ] || NOBUILD="build failed (no $BUILD/tests/sadanet_tests)"
SKIP_WHY=${NOBUILD:-}
run_step ctest_cuda_sync             120 0 step_ctest ctest_cuda_sync SADANET_CUDA_SYNC=1
SKIP_WHY=${NOBUILD:-}
run_step ctest_cuda_implicit_gemm     90 0 step_ctest ctest_cuda_implicit_gemm SADANET_CONV=implicit_gemm
for tool in memcheck racecheck; do
  [ -z "$SANITIZER" ] && SKIP_WHY="compute-sanitizer not found (PATH, /usr/local/cuda*/bin)"
  [ -n "${NOBUILD:-}" ] && SKIP_WHY=$NOBUILD
  run_step "$tool" 75 1 step_sanitizer "$tool"
done
SKIP_WHY=${NOBUILD:-}
run_step bench_cuda     150 1 step_bench_cuda
SKIP_WHY=${NOBUILD:-}
run_step sadanet_resnet 150 1 step_sadanet_resnet
run_step torch_resnet   120 1 step_torch_resnet
run_step gpu_state_end   15 1 step_gpu_state_end

# ---- the summary ---------------------------------------------------------------------------------
TOTAL=$(elapsed)
echo "total_s=$TOTAL budget_s=$BUDGET mode=$MODE build=$BUILD" > "$LOGDIR/run.env"
if "$PY" "$HERE/summarize.py" "$LOGDIR" > "$LOGDIR/summary.txt" 2> "$LOGDIR/summarize.err"; then
  :
else
  { echo "(summarize.py failed: $(tail -3 "$LOGDIR/summarize.err"))"; column -t -s $'\t' "$LOGDIR/steps.tsv" 2>/dev/null \
      || cat "$LOGDIR/steps.tsv"; } > "$LOGDIR/summary.txt"
fi
cp "$LOGDIR/summary.txt" "$OUTDIR/summary.txt"
publish "" summary
echo
cat "$LOGDIR/summary.txt"
# Exit status: 0 when every step that ran was ok.
if cut -f2 "$LOGDIR/steps.tsv" | grep -q '^FAILED'; then exit 1; fi
exit 0
