#!/usr/bin/env bash
# Checks that lplb's extension can share a process with torch, whatever
# libstdc++ the compiler linked: either libstdc++.so.6 is a NEEDED shared
# library, or the module exports no strong C++ runtime symbol (a private
# static copy, python/CMakeLists.txt's --exclude-libs). Then imports torch and
# lplb in one process and runs the calls that use the C++ library's
# formatting and exceptions on both sides.
#   bench/peer/check_libstdcxx.sh SITE   (the folder holding lplb/)
set -uo pipefail
site=$(cd "${1:?SITE}" && pwd)
so=$(ls "$site"/lplb/_core*.so | head -1)
echo "module: $so"
needed=$(readelf -d "$so" | grep NEEDED | sed 's/.*\[\(.*\)\]/\1/' | tr '\n' ' ')
echo "NEEDED: $needed"
# C++ runtime symbols the module exports: strong ones (T/D/B/R) would come
# from a static libstdc++ copy and interpose with torch's shared one; weak
# ones (W/V/u) are template instantiations from headers, as in any C++
# library (one definition wins, the same code).
std_re='_ZNSt|_ZNKSt|_ZSt|_ZTISt|_ZTSSt|_ZTVSt|_ZN9__gnu_cxx|__cxa_|__gxx_|_ZdlPv|_Znwm'
strong=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/' | grep -cE "$std_re" || true)
weak=$(nm -D --defined-only "$so" | awk '$2 ~ /^[WVu]$/' | grep -cE "$std_re" || true)
echo "exported C++ runtime symbols: strong $strong, weak (template instantiations) $weak"
nm -D --defined-only "$so" | grep -E "$std_re" | head -8 | c++filt | cut -c1-150
echo "compiler: $(grep -h CMAKE_CXX_COMPILER: "$site"/../ours/build-python/*/CMakeCache.txt 2>/dev/null | head -1)"
rc=0
if echo "$needed" | grep -q 'libstdc++'; then
  echo "libstdc++ is shared"
elif [ "$strong" != 0 ]; then
  echo "FAIL: a static libstdc++ whose symbols are exported"
  rc=1
else
  echo "libstdc++ is linked statically and kept private (no strong C++ runtime symbol exported)"
fi
PYTHONPATH=$site python3 - <<'PY' || rc=1
import sys
import torch
import lplb
import numpy as np
r2o = torch.tensor([[3, 0, 1, 2, 7, 4, 5, 6], [6, 7, 4, 5, 0, 1, 2, 3]]).T
dev = "cuda" if torch.cuda.is_available() else "cpu"
p = lplb.Planner(r2o.int().to(dev), 320, 256, 32)
ids = torch.randint(-1, 256, (4096, 8), device=dev)
out = p.run(ids)
for bad in (lambda: lplb.Planner(r2o, 321, 256, 32), lambda: p.run(ids.float())):
    try:
        bad()
    except (ValueError, TypeError) as e:
        print("raised as expected:", type(e).__name__, str(e)[:80])
x = torch.randn(64, 64, device=dev)
print("torch after lplb:", float((x @ x).sum().cpu()) == float((x @ x).sum().cpu()), torch.__version__)
print(f"import torch + lplb in one process: OK ({lplb.__file__}, out {tuple(out.shape)} on {out.device})")
PY
exit $rc
