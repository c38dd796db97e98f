#!/usr/bin/env python3
"""Plot the output of `lplb simulate --json`: imbalance per step for every
method (left) and its distribution over all steps (right).

Usage: python3 scripts/plot_simulation.py SIM.json OUT.(png|svg|pdf) [--methods a,b,...|all]

`lplb simulate --plot OUT` runs this script itself. Series with several
streams (trace layers, shape [steps][layers]) are drawn as the mean over
layers per step; the distribution uses every (step, layer) value.

- Methods: by default the ones in DEFAULT_METHODS that the run has (the
  baseline, EPLB, LPLB exact, EPLB + LP, hybrid + LP); `--methods all` draws
  every method of the run. Methods left out are named under the plot.
- Methods whose series agree within 0.001 at every step (e.g. LPLB exact and
  its min-moves variant, which differ only in which tokens move) are drawn
  once, labelled "A = B" (identical) or "A \u2248 B".
- The legend sits below the panels, outside the data.
- The distribution's x axis ends at the 99.5th percentile of all drawn
  values (a few warm-up spikes would otherwise squash the interesting part);
  the axis label says so, and the table has the max.
"""
import json
import sys

DEFAULT_METHODS = ["none", "eplb", "lplb_exact", "eplb_lp", "hybrid_lp"]
CLIP_PERCENTILE = 99.5
MERGE_TOLERANCE = 1e-3  # well below a line's width at these axis ranges

COLORS = {"none": "#7f7f7f", "eplb": "#1f77b4", "lplb_ipm": "#ff7f0e", "lplb_exact": "#2ca02c"}
EXTRA_COLORS = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]  # other methods


def per_step(series):
    """[steps] or [steps][layers] -> (mean per step, all values)."""
    if series and isinstance(series[0], list):
        return [sum(row) / len(row) for row in series], [x for row in series for x in row]
    return list(series), list(series)


def title(config):
    if config.get("source") == "trace":
        layers = config.get("layers", [])
        which = f"layer {layers[0]}" if len(layers) == 1 else f"{len(layers)} layers (mean per step)"
        src = f"trace {config.get('trace', '').split('/')[-1]}, {which}"
    else:
        src = (f"synthetic: E={config.get('experts')} top-{config.get('topk')}, "
               f"{config.get('tokens_per_rank')} tokens/rank, seed {config.get('seed')}")
    return (f"{src}; P={config.get('ep')} {config.get('topology')}, R={config.get('redundant')}, "
            f"refresh every {config.get('refresh')} steps")


def save(fig, path):
    """PNGs are palette-quantised, which keeps them small enough to commit (an
    octree palette keeps the thin lines' colours); other formats as is."""
    if not path.lower().endswith(".png"):
        fig.savefig(path, dpi=90)
        return
    import io
    from PIL import Image  # a matplotlib dependency
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)


def pick_methods(methods, config, asked):
    """(names to draw in table order, names left out)."""
    order = [n for n in config.get("methods", []) if n in methods]
    order += [n for n in methods if n not in order]
    if asked == "all":
        return order, []
    wanted = asked.split(",") if asked else DEFAULT_METHODS
    drawn = [n for n in order if n in wanted]
    if not drawn or (not asked and len(drawn) < 2):
        drawn = order  # a run of other methods: draw what it has
    return drawn, [n for n in order if n not in drawn]


def flat(series):
    return [x for row in series for x in row] if series and isinstance(series[0], list) else series


def merge_identical(names, methods):
    """Groups of names whose imbalance series agree within MERGE_TOLERANCE at
    every step (they would hide each other), in first-seen order, each with
    a flag: exactly equal."""
    groups = []
    for name in names:
        series = flat(methods[name]["imbalance"])
        for g in groups:
            ref = flat(methods[g[0][0]]["imbalance"])
            if len(ref) == len(series) and all(abs(a - b) <= MERGE_TOLERANCE for a, b in zip(ref, series)):
                g[0].append(name)
                g[1] = g[1] and ref == series
                break
        else:
            groups.append([[name], True])
    return groups


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def parse_args(argv):
    asked = None
    args = list(argv[1:])
    if "--methods" in args:
        i = args.index("--methods")
        if i + 1 >= len(args):
            return None
        asked = args[i + 1]
        del args[i:i + 2]
    return (args, asked) if len(args) == 2 else None


def main(argv):
    parsed = parse_args(argv)
    if parsed is None:
        sys.stderr.write(__doc__)
        return 2
    (json_path, out_path), asked = parsed
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        sys.stderr.write(f"error: plot_simulation.py needs matplotlib ({e})\n")
        return 1
    try:
        with open(json_path) as f:
            doc = json.load(f)
        config, methods = doc["config"], doc["methods"]
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write(f"error: cannot read simulation JSON '{json_path}': {e}\n")
        return 1

    fig, (ax_line, ax_dist) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [2, 1]})
    refresh = config.get("refresh", 0)
    steps = doc.get("num_steps", 0)
    drawn, left_out = pick_methods(methods, config, asked)
    extra, all_values, handles = 0, [], []
    for group, exact in merge_identical(drawn, methods):  # baseline first: later on top
        name = group[0]
        m = methods[name]
        mean, values = per_step(m["imbalance"])
        color = COLORS.get(name) or EXTRA_COLORS[extra % len(EXTRA_COLORS)]
        extra += name not in COLORS
        label = (" = " if exact else " \u2248 ").join(methods[n].get("label", n) for n in group)
        (h,) = ax_line.plot(range(len(mean)), mean, lw=0.7, color=color, alpha=0.85,
                            label=f"{label} (mean {m['imbalance_mean']:.3f})")
        handles.append(h)
        values.sort()
        all_values += values
        n = len(values)
        ax_dist.plot(values, [(i + 1) / n for i in range(n)], lw=1.4, color=color)
    if refresh and steps:
        for s in range(refresh, steps, refresh):
            ax_line.axvline(s, color="k", lw=0.8, ls=":", alpha=0.6)
    ax_line.set_xlabel("step (dotted: placement refresh)")
    ax_line.set_ylabel("imbalance (max / mean rank load)")
    ax_line.grid(alpha=0.3)
    all_values.sort()
    lo, hi = (all_values[0], percentile(all_values, CLIP_PERCENTILE)) if all_values else (1, 2)
    ax_dist.set_xlim(lo - 0.01 * (hi - lo), hi)
    ax_dist.set_xlabel(f"imbalance (axis ends at the p{CLIP_PERCENTILE:g} of all values)")
    ax_dist.set_ylabel("fraction of steps <= x")
    ax_dist.grid(alpha=0.3)
    ncol = min(3, len(handles))
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    heading = title(config)
    if left_out:
        heading += "\nnot drawn: " + ", ".join(left_out) + " (--methods all draws them)"
    fig.suptitle(heading, fontsize=9)
    rows = (len(handles) + ncol - 1) // max(1, ncol)
    fig.tight_layout(rect=(0, 0.035 + 0.045 * rows, 1, 1))
    try:
        save(fig, out_path)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"error: cannot write plot '{out_path}': {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
