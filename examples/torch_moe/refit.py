"""Fits one cost-model table (time_us = a + b * tokens + c * active, c >= 0)
to the rank timings of several run.py outputs together, with run.py's own
fit(). Usage: python3 examples/torch_moe/refit.py MEASURED.json [...]
(e.g. bench/data/torch_moe_h200/preliminary_8steps/*_measured.json gives
bench/data/moe_layer_h200.json's "moe_layer" fit)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import fit  # noqa: E402

rows = [r for path in sys.argv[1:] for r in json.loads(Path(path).read_text())["rows"]]
print(json.dumps(fit(rows), indent=1))
