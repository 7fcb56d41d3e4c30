# Every dependency comes from a Debian package through find_package; a missing one is named
# together with the package that provides it.
macro(sadanet_require pkg debian)
  find_package(${pkg} ${ARGN} QUIET)
  if(NOT ${pkg}_FOUND)
    message(FATAL_ERROR "sadanet: ${pkg} not found. Install it with: apt-get install -y ${debian}")
  endif()
endmacro()

find_package(Threads REQUIRED)
sadanet_require(Eigen3 libeigen3-dev NO_MODULE)
sadanet_require(OpenMP "libgomp1 (g++) or libomp-dev (clang)")
sadanet_require(nlohmann_json nlohmann-json3-dev)
sadanet_require(stb libstb-dev)  # stb_image_write: PNG writing only
# Image decoding goes through the hardened libraries, not stb_image (see src/data/image_codecs.h).
sadanet_require(JPEG libjpeg62-turbo-dev)
sadanet_require(PNG libpng-dev)
sadanet_require(xxhash libxxhash-dev)  # XXH3 checksums of the files sadanet writes
if(SADANET_BUILD_TOOLS)
  sadanet_require(CLI11 libcli11-dev)
endif()
if(SADANET_BUILD_TESTS)
  sadanet_require(GTest "libgtest-dev libgmock-dev")
endif()
if(SADANET_BUILD_BENCH)
  sadanet_require(benchmark libbenchmark-dev)
endif()
