# Sourced by tools/gpu/prepare.sh and tools/gpu/check.sh (bash).

# A hash of every file that goes into the build (sources, headers, CMake files), by content, so
# that it is the same on this machine and on the GPU machine whatever the copy did to the files'
# times. tools/gpu/ itself is left out: editing the check scripts must not make a carried build
# look stale. Data the tests read at run time (SADANET_TEST_DATA_DIR) needs no rebuild either.
sadanet_source_hash() {
  local root=$1
  (
    cd "$root" || exit 1
    find CMakeLists.txt cmake src include cuda tests tools bench -type f ! -path 'tools/gpu/*' \
      \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' -o -name '*.h' \
         -o -name '*.hpp' -o -name '*.inl' -o -name '*.cmake' -o -name 'CMakeLists.txt' -o -name '*.in' \) \
      -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
  )
}

# A CMakeCache.txt value: sadanet_cache_value BUILD KEY
sadanet_cache_value() {
  sed -n "s/^$2:[A-Z]*=//p" "$1/CMakeCache.txt" 2>/dev/null | head -1
}
