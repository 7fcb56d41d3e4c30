#!/usr/bin/env bash
# The CUDA half of the test suite on a machine without a GPU: builds the CUDA simulation
# (cuda/sim/, SADANET_CUDA_SIM=ON) with AddressSanitizer and UndefinedBehaviorSanitizer into
# build-sim/, then runs every `cuda`-labelled test twice: threads of a block in forward order on a
# device of 4 SMs, and in reverse order on 3 (a missing barrier shows in one order or the other;
# the small SM counts keep grids small). SADANET_REQUIRE_GPU=1 makes a skipped CUDA test fail, so
# the run tests everything or fails. Run from the repository root; README.md's test command ends
# with it. Options: BUILD_DIR (default build-sim), JOBS (default: the machine's cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build-sim}
jobs=${JOBS:-$(nproc)}
start=$(date +%s)

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSADANET_CUDA_SIM=ON -DSADANET_SANITIZE=ON \
      -DSADANET_BUILD_BENCH=OFF
cmake --build "$build" -j "$jobs"
built=$(date +%s)

export SADANET_REQUIRE_GPU=1
# ASan: fibers switch stacks (annotated in cuda/sim/sim_launch.cpp); leak checking stays on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
for pass in "forward 4" "reverse 3"; do
  read -r order sms <<<"$pass"
  echo "cuda-sim: ctest -L cuda with SADANET_CUDA_SIM_ORDER=$order SADANET_CUDA_SIM_SMS=$sms"
  SADANET_CUDA_SIM_ORDER=$order SADANET_CUDA_SIM_SMS=$sms \
    ctest --test-dir "$build" -L cuda -j "$jobs" --output-on-failure --no-tests=error
done
end=$(date +%s)
echo "cuda-sim: build $((built - start)) s, two test passes $((end - built)) s"
