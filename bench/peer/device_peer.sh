#!/usr/bin/env bash
# GPU side of the side-by-side with deepseek-ai/LPLB (bench/peer/README.md).
#   device_peer.sh build LPLB_SRC_TARBALL DIR   # unpack, build LPLB's extension,
#                                               # JIT its kernel for the four shapes
#   device_peer.sh bench DIR RES                # peer_bench.py on LPLB: eager + graph
# LPLB's extension is built with the system g++ and the shared libstdc++:
# the GPU image's default compiler links libstdc++ statically, and that
# extension (which shares C++ objects with libtorch) then crashes beside
# torch. DIR must be the same absolute path in both steps (LPLB's JIT cache
# key holds the MathDx path).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=$1
if [ "$cmd" = build ]; then
  src=$2 dir=$3
  rm -rf "$dir" && mkdir -p "$dir" && tar xJf "$src" -C "$dir"
  gxx=$(ls /usr/bin/g++-13 /usr/bin/g++ 2>/dev/null | head -1)
  gcc=$(ls /usr/bin/gcc-13 /usr/bin/gcc 2>/dev/null | head -1)
  t0=$SECONDS
  (cd "$dir/LPLB" && CC=${gcc:-gcc} CXX=${gxx:-g++} LDFLAGS="-Wl,--no-as-needed -l:libstdc++.so.6" \
    MAX_JOBS=8 timeout 160 python3 setup.py build_ext --inplace >"$dir/build.log" 2>&1)
  echo "LPLB extension build rc=$? ($((SECONDS - t0)) s)"
  readelf -d "$dir"/LPLB/lplb/_cpp*.so | grep -E "NEEDED.*stdc" || echo "(no shared libstdc++ NEEDED)"
  # Cold JIT of the four kernel shapes at once (cube ep 32 and ep 64 share one).
  t0=$SECONDS
  for c in cube_ep32 hypercube_ep16 torus8x4_ep32 ring8_ep32_R1; do
    mkdir -p "$dir/cc_$c"
    LPLB_CACHE_PATH="$dir/cc_$c" PYTHONPATH="$dir/LPLB" timeout 100 python3 "$here/peer_bench.py" \
      --first-call --pkg lplb --config $c --out "$dir/first_call_lplb_$c.json" >"$dir/jit_$c.log" 2>&1 &
  done
  wait
  echo "cold JIT of 4 shapes, concurrently: $((SECONDS - t0)) s"
  mkdir -p "$dir/cache/cache" "$dir/cache/tmp"
  cp -r "$dir"/cc_*/cache/* "$dir/cache/cache/" 2>/dev/null
  for c in cube_ep32 hypercube_ep16 torus8x4_ep32 ring8_ep32_R1; do
    python3 -c "import json; r = json.load(open('$dir/first_call_lplb_$c.json')); print('$c', 'construct (JIT) %.1f s' % r['construct_s'])" 2>/dev/null ||
      { echo "$c: JIT failed"; tail -n 5 "$dir/jit_$c.log"; }
  done
elif [ "$cmd" = bench ]; then
  dir=$2 res=$3
  export LPLB_CACHE_PATH=$dir/cache PYTHONPATH=$dir/LPLB
  timeout 80 python3 "$here/peer_bench.py" --pkg lplb --out "$res/res_lplb.json"
  echo "bench_lplb rc=$?"
  timeout 40 python3 "$here/peer_bench.py" --graphs --pkg lplb --out "$res/res_lplb_graph.json"
  echo "graph_lplb rc=$?"
  cp "$dir"/first_call_lplb_*.json "$res/" 2>/dev/null
else
  echo "usage: device_peer.sh build TARBALL DIR | bench DIR RES" >&2
  exit 2
fi
