#!/usr/bin/env bash
# The installed library as an embedding engineer meets it: `cmake --install` into a fresh prefix,
# a consumer built with find_package(sadanet) and one with pkg-config (C++ and C), each run on a
# trained model; the soname is versioned and no bundled library's symbol is exported.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR WORKDIR USE_MODEL_DIR
set -uo pipefail
build=$1 src=$2 work=$3 fixture=$4
model=$fixture/run/final.safetensors
image=$fixture/cells/neutrophil/neutrophil_0000.png
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || fail "cmake --install: $(tail -5 "$work/install.log")"
lib=$(ls "$prefix"/lib*/libsadanet.so.0 2>/dev/null | head -1)
[[ -n $lib ]] || fail "no libsadanet.so.0 under $prefix: $(find "$prefix" -name 'libsadanet*')"
libdir=$(dirname "$lib")
for f in "$libdir/libsadanet.so" "$libdir/cmake/sadanet/sadanetConfig.cmake" "$libdir/cmake/sadanet/sadanetConfigVersion.cmake" \
         "$libdir/pkgconfig/sadanet.pc" "$prefix/include/sadanet/classifier.h" "$prefix/include/sadanet/sadanet_c.h" \
         "$prefix/include/sadanet/export.h" "$prefix/bin/sadanet"; do
  [[ -e $f ]] || fail "not installed: $f"
done
[[ ! -e $prefix/include/sadanet/export ]] || fail "the export tool's private headers were installed"
readelf -d "$lib" | grep -q 'SONAME.*\[libsadanet.so.0\]' || fail "soname: $(readelf -d "$lib" | grep SONAME)"

# What the library exports: sadanet's own symbols and the C API, nothing it is built from.
nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' >"$work/symbols"
total=$(wc -l <"$work/symbols")
foreign=$(grep -E '^(stbi|_ZN8nlohmann|_ZN5Eigen|XXH|jpeg_|png_)' "$work/symbols" | head -5)
[[ -z $foreign ]] || fail "bundled libraries' symbols exported: $foreign"
c++filt <"$work/symbols" | grep -vE 'sadanet|^_(init|fini)$|^SADANET_0$' | head -5 >"$work/others"
[[ ! -s $work/others ]] || fail "symbols that are not sadanet's exported: $(cat "$work/others")"
for s in sadanet_classifier_load sadanet_classifier_predict_rgb sadanet_last_error sadanet_version; do
  grep -qx "$s" "$work/symbols" || fail "C API symbol $s not exported"
done
echo "install: $total symbols exported, all sadanet's"

# The installed tool runs from its prefix.
"$prefix/bin/sadanet" --version | grep -q '^sadanet ' || fail "installed tool: $("$prefix/bin/sadanet" --version 2>&1)"

# find_package(sadanet)
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" >"$work/configure.log" 2>&1 || fail "consumer configure: $(tail -8 "$work/configure.log")"
cmake --build "$work/consumer" >"$work/build.log" 2>&1 || fail "consumer build: $(tail -15 "$work/build.log")"
out=$("$work/consumer/consumer" "$model" "$image") || fail "consumer: $out"
[[ $out =~ sum=12\ label=(basophil|eosinophil|lymphocyte|monocyte|neutrophil)\ p=0\. ]] || fail "consumer printed: $out"
out=$("$work/consumer/consumer_c" "$model" "$image") || fail "consumer_c: $out"
[[ $out =~ label=(basophil|eosinophil|lymphocyte|monocyte|neutrophil) ]] || fail "consumer_c printed: $out"

# pkg-config, as a Makefile would use it.
export PKG_CONFIG_PATH=$libdir/pkgconfig
[[ $(pkg-config --modversion sadanet) == 0.1.0 ]] || fail "pkg-config version: $(pkg-config --modversion sadanet)"
g++ -std=c++20 "$src/tests/install/consumer/consumer.cpp" -o "$work/pc_consumer" $(pkg-config --cflags --libs sadanet) \
  -Wl,-rpath,"$libdir" 2>"$work/pc.log" || fail "pkg-config C++ build: $(tail -10 "$work/pc.log")"
gcc -std=c99 "$src/tests/install/consumer/consumer_c.c" -o "$work/pc_consumer_c" $(pkg-config --cflags --libs sadanet) \
  -Wl,-rpath,"$libdir" 2>"$work/pc_c.log" || fail "pkg-config C build: $(tail -10 "$work/pc_c.log")"
"$work/pc_consumer" "$model" "$image" >/dev/null || fail "pkg-config consumer run"
"$work/pc_consumer_c" "$model" "$image" >/dev/null || fail "pkg-config C consumer run"
echo "install: find_package and pkg-config consumers (C++ and C) built and ran"
