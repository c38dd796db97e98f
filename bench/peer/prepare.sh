#!/usr/bin/env bash
# CPU side of the side-by-side with deepseek-ai/LPLB: builds a self-contained
# LPLB source tarball that compiles and JITs on a GPU machine without
# internet (CUDA 13, sm_90). Needs gcc and the CUDA toolkit here; no GPU.
#
#   LPLB=/path/to/LPLB \                 # a deepseek-ai/LPLB checkout (the LPLB/ folder)
#   MATHDX_WHEEL=nvidia_mathdx-25.6.0-py3-none-any.whl \
#   LIBMATHDX_WHEEL=nvidia_libmathdx_cu13-0.4.1.15-...-manylinux_2_28_x86_64.whl \
#   bench/peer/prepare.sh OUTDIR
#
# The wheels: pip download --no-deps nvidia-mathdx==25.6.0
#             pip download --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
#                 --python-version 3.12 nvidia-libmathdx-cu13==0.4.1.15
# Writes OUTDIR/lplb_src.tar.xz: LPLB with patch_lplb.py's two changes and
# MathDx laid out as its download-mathdx.sh would (lplb/resources/mathdx),
# plus the cuSolverDx posv LTOIR for each group size of the five configs
# (NC = S * (1 + D): ring 8x1 16, cube 8x2 24, hypercube 16x2 48, torus 32x2 96).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:?OUTDIR}" && cd "$1" && pwd)
: "${LPLB:?set LPLB}" "${MATHDX_WHEEL:?set MATHDX_WHEEL}" "${LIBMATHDX_WHEEL:?set LIBMATHDX_WHEEL}"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/mdx" "$stage/libmdx" "$stage/gen_out"
python3 -m zipfile -e "$MATHDX_WHEEL" "$stage/mdx"
python3 -m zipfile -e "$LIBMATHDX_WHEEL" "$stage/libmdx"
lib=$(dirname "$(find "$stage/libmdx" -name libmathdx.so.0 | head -1)")
gcc -O1 -o "$stage/gen" "$here/gen_cusolverdx.c" -I"$lib/../include" "$lib/libmathdx.so.0" \
  -Wl,-rpath,"$lib"
"$stage/gen" "$stage/gen_out" 16 24 48 96 >"$stage/gen.log"
cp -r "$LPLB" "$stage/LPLB"
rm -rf "$stage/LPLB/.git"
python3 "$here/patch_lplb.py" "$stage/LPLB"
m=$stage/LPLB/lplb/resources/mathdx
src=$stage/mdx/nvidia/mathdx
mkdir -p "$m/include" "$m/external/cutlass" "$m/lib"
cp -r "$src/include/cublasdx.hpp" "$src/include/cublasdx" "$src/include/cusolverdx.hpp" \
  "$src/include/cusolverdx" "$src/include/commondx" "$m/include/"
cp -r "$src/external/cutlass/include" "$m/external/cutlass/"
cp "$stage/gen_out/libcusolverdx.fatbin" "$stage/gen_out"/posv_*.ltoir "$m/lib/"
cp "$stage/gen.log" "$m/lib/GENERATED_BY_LIBMATHDX.txt"
tar cJf "$out/lplb_src.tar.xz" -C "$stage" LPLB
ls -la "$out/lplb_src.tar.xz"
