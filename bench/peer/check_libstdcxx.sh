#!/usr/bin/env bash
# Checks that lplb's extension can share a process with torch, whatever
# libstdc++ the compiler linked: either libstdc++.so.6 is a NEEDED shared
# library, or the module exports no C++ standard library symbol (a private
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
exported=$(nm -D --defined-only "$so" | grep -cE ' (T|W|V|D|B|u) _ZN?S[tiaobs]|GLIBCXX|_ZNSt|_ZSt' || true)
echo "exported C++ standard library symbols: $exported"
static_std=$(nm "$so" 2>/dev/null | grep -c '_ZNSt6locale' || true)
echo "std::locale symbols inside (static copy if > 0 and libstdc++ not NEEDED): $static_std"
rc=0
if ! echo "$needed" | grep -q 'libstdc++'; then
  if [ "$exported" != 0 ]; then
    echo "FAIL: static libstdc++ with exported symbols"
    rc=1
  else
    echo "libstdc++ is linked statically but kept private (no exported symbol)"
  fi
else
  echo "libstdc++ is shared"
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
