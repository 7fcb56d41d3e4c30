#!/usr/bin/env bash
# What a session runs HERE, on the CPU machine, before its one GPU call (tools/gpu/README.md):
#   1. packs the Debian build dependencies into ./.deps (../shared/tools/pack-deps.sh), plus
#      libstdc++/libgomp/libgcc into .deps/fallback, for the case the GPU machine's are too old;
#   2. configures and builds a Release build for sm_90 only (BUILD_DIR, default build-gpu) with
#      the CUDA backend, tests and benchmarks, under nice and with few jobs (this machine is shared);
#   3. writes BUILD_DIR/sadanet-gpu-stamp.txt (a hash of the sources: check.sh rebuilds only if the
#      sources there differ) and makes BUILD_DIR-carry: the build without object files, which is
#      all that running needs (programs, libsadanet.so, CMakeCache.txt, build.ninja, ctest files);
#   4. reports the sizes against the 64 MiB the call may carry, and prints the exact `run` call.
#
#   tools/gpu/prepare.sh [BUILD_DIR]
#
# Environment: SADANET_PREPARE_JOBS (default 2), SADANET_PREPARE_NICE (default 19),
# SADANET_PREPARE_REPACK=1 (pack .deps again even if it exists), SADANET_PACK_DEPS (the packing
# script; default ../shared/tools/pack-deps.sh beside the checkout).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"
cd "$ROOT"

BUILD_REL=${1:-${SADANET_GPU_BUILD:-build-gpu}}
BUILD_REL=${BUILD_REL%/}
case $BUILD_REL in /*) echo "prepare.sh: give the build folder relative to the repository root (it must travel with the call)"; exit 2 ;; esac
BUILD=$ROOT/$BUILD_REL
CARRY_REL=$BUILD_REL-carry
CARRY=$ROOT/$CARRY_REL
JOBS=${SADANET_PREPARE_JOBS:-2}
NICE=${SADANET_PREPARE_NICE:-19}
PACK=${SADANET_PACK_DEPS:-$ROOT/../shared/tools/pack-deps.sh}
LIMIT=$((64 * 1024 * 1024))
t0=$SECONDS
TMPDIR_P=$(mktemp -d); trap 'rm -rf "$TMPDIR_P"' EXIT

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
size_of() { du -sb "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# ---- 1. dependencies ------------------------------------------------------------------------------
if [ ! -d .deps/usr ] || [ "${SADANET_PREPARE_REPACK:-0}" = 1 ]; then
  echo "== packing the Debian dependencies: $PACK"
  [ -x "$PACK" ] || { echo "prepare.sh: $PACK not found or not executable"; exit 1; }
  "$PACK"
else
  echo "== .deps exists ($(mib "$(size_of .deps)")); SADANET_PREPARE_REPACK=1 packs it again"
fi
if [ ! -d .deps/fallback/usr/lib/x86_64-linux-gnu ]; then
  echo "== packing fallback runtime libraries (libstdc++6 libgomp1 libgcc-s1) into .deps/fallback"
  tmp=$TMPDIR_P
  ( cd "$tmp" && apt-get download libstdc++6 libgomp1 libgcc-s1 >/dev/null 2>&1 ) || {
    apt-get update -qq >/dev/null 2>&1; ( cd "$tmp" && apt-get download libstdc++6 libgomp1 libgcc-s1 >/dev/null ); }
  mkdir -p .deps/fallback
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" .deps/fallback; done
  rm -rf .deps/fallback/usr/share .deps/fallback/usr/lib/x86_64-linux-gnu/gcc
fi
echo "   .deps: $(mib "$(size_of .deps)")"

# ---- 2. the sm_90 build ----------------------------------------------------------------------------
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
[ -n "$NVCC" ] || { echo "prepare.sh: no nvcc here: cannot build the CUDA backend"; exit 1; }
if [ -f "$BUILD/CMakeCache.txt" ] && grep -q '^SADANET_CUDA_SIM:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  echo "prepare.sh: $BUILD is a simulation build; pick another folder"; exit 1
fi
echo "== configuring $BUILD_REL (Release, SADANET_CUDA=ON, sm_90 only, tests and benchmarks)"
nice -n "$NICE" cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSADANET_CUDA=ON -DSADANET_CUDA_SIM=OFF -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER="$NVCC" \
  -DSADANET_BUILD_TESTS=ON -DSADANET_BUILD_BENCH=ON -DSADANET_BUILD_TOOLS=ON \
  -DCMAKE_PREFIX_PATH="$ROOT/.deps/usr" > "$TMPDIR_P/configure.log" 2>&1 || { cat "$TMPDIR_P/configure.log"; exit 1; }
grep -E 'sadanet:|cuDNN' "$TMPDIR_P/configure.log" || true
grep -E '^(SADANET_CUDA|SADANET_CUDNN|CUDNN_LIBRARY|CMAKE_CUDA_ARCHITECTURES):' "$BUILD/CMakeCache.txt"
grep -q '^CUDNN_LIBRARY:FILEPATH=.*cudnn' "$BUILD/CMakeCache.txt" || echo "   WARNING: built without cuDNN"
echo "== building with -j$JOBS under nice -n $NICE (sm_90 with nvcc takes several minutes)"
tb=$SECONDS
nice -n "$NICE" cmake --build "$BUILD" -j "$JOBS"
echo "   built in $((SECONDS - tb)) s"
sadanet_source_hash "$ROOT" > "$BUILD/sadanet-gpu-stamp.txt"
echo "   source stamp $(cat "$BUILD/sadanet-gpu-stamp.txt")"
for f in tools/sadanet tests/sadanet_tests bench/cuda/sadanet_bench_cuda libsadanet.so; do
  [ -e "$BUILD/$f" ] || { echo "prepare.sh: $BUILD_REL/$f was not built"; exit 1; }
done
if command -v cuobjdump >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/cuobjdump ]; then
  cob=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
  echo "   GPU code in libsadanet.so: $("$cob" --list-elf "$BUILD/libsadanet.so" 2>/dev/null | grep -o 'sm_[0-9a-z]*' | sort | uniq -c | tr '\n' ' ')"
fi

# ---- 3. the folder to carry: the build without object files ---------------------------------------
echo "== $CARRY_REL: $BUILD_REL without object files"
rm -rf "$CARRY"; mkdir -p "$CARRY"
tar -C "$BUILD" -cf - --exclude='*.o' --exclude='*.o.d' --exclude='*.a' --exclude='./Testing' \
  --exclude='./resnet_golden' --exclude='./CMakeFiles/*/CompilerId*/tmp' . \
  | tar -C "$CARRY" -xf -

# ---- 4. sizes and the call ---------------------------------------------------------------------------
tree_bytes=$(git ls-files -co --exclude-standard -z | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
deps_bytes=$(size_of .deps)
build_bytes=$(size_of "$BUILD")
carry_bytes=$(size_of "$CARRY")
total=$((tree_bytes + deps_bytes + carry_bytes))
echo
echo "== sizes (the call carries the working tree plus the carried paths; limit 64 MiB in all)"
printf '   %-34s %s\n' "working tree (tracked + untracked)" "$(mib "$tree_bytes")"
printf '   %-34s %s\n' ".deps" "$(mib "$deps_bytes")"
printf '   %-34s %s   (not carried)\n' "$BUILD_REL (full, with objects)" "$(mib "$build_bytes")"
printf '   %-34s %s\n' "$CARRY_REL (carried)" "$(mib "$carry_bytes")"
printf '   %-34s %s of %s\n' "total that travels" "$(mib "$total")" "$(mib "$LIMIT")"
echo "   largest files in $CARRY_REL:"
find "$CARRY" -type f -printf '%s %P\n' | sort -rn | head -6 | awk '{ printf "     %8.1f MiB  %s\n", $1 / 1048576, $2 }'
if (( total > LIMIT )); then
  echo "   OVER THE LIMIT by $(mib $((total - LIMIT))): strip more from $CARRY_REL (strip --strip-unneeded on"
  echo "   libsadanet.so and the programs; drop bench/sadanet_bench_cpu and tests/sadanet_golden_inputs), or carry"
  echo "   only .deps and let check.sh build there (about 2-4 minutes of device time with 16 cores)."
  exit 1
fi
echo
echo "== prepared in $((SECONDS - t0)) s. The GPU call (one call; the script stops itself within 540 s):"
cat <<EOF
   run(command='SADANET_GPU_BUILD=$CARRY_REL bash tools/gpu/check.sh "\$OUT"',
       carry=[".deps", "$CARRY_REL"], timeout_s=600)
   Then read files_at/summary.txt (and check.log, logs.tar.gz, steps.tsv) and call give_back.
EOF
