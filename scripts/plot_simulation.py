#!/usr/bin/env python3
"""Plot the output of `lplb simulate --json`: imbalance per step for every
method (left) and its distribution over all steps (right).

Usage: python3 scripts/plot_simulation.py SIM.json OUT.(png|svg|pdf)

`lplb simulate --plot OUT` runs this script itself. Series with several
streams (trace layers, shape [steps][layers]) are drawn as the mean over
layers per step; the distribution uses every (step, layer) value.
"""
import json
import sys

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


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        sys.stderr.write(f"error: plot_simulation.py needs matplotlib ({e})\n")
        return 1
    try:
        with open(argv[1]) as f:
            doc = json.load(f)
        config, methods = doc["config"], doc["methods"]
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write(f"error: cannot read simulation JSON '{argv[1]}': {e}\n")
        return 1

    fig, (ax_line, ax_dist) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    refresh = config.get("refresh", 0)
    steps = doc.get("num_steps", 0)
    order = [n for n in config.get("methods", []) if n in methods]
    order += [n for n in methods if n not in order]
    extra = 0
    for name in order:  # table order: the baseline first, so later methods draw on top
        m = methods[name]
        mean, values = per_step(m["imbalance"])
        color = COLORS.get(name) or EXTRA_COLORS[extra % len(EXTRA_COLORS)]
        extra += name not in COLORS
        label = m.get("label", name)
        ax_line.plot(range(len(mean)), mean, lw=0.7, color=color, alpha=0.85,
                     label=f"{label} (mean {m['imbalance_mean']:.3f})")
        values.sort()
        n = len(values)
        ax_dist.plot(values, [(i + 1) / n for i in range(n)], lw=1.4, color=color, label=label)
    if refresh and steps:
        for s in range(refresh, steps, refresh):
            ax_line.axvline(s, color="k", lw=0.8, ls=":", alpha=0.6)
    ax_line.set_xlabel("step (dotted: placement refresh)")
    ax_line.set_ylabel("imbalance (max / mean rank load)")
    ax_line.grid(alpha=0.3)
    ax_line.legend(fontsize=8, loc="upper right")
    ax_dist.set_xlabel("imbalance")
    ax_dist.set_ylabel("fraction of steps <= x")
    ax_dist.grid(alpha=0.3)
    ax_dist.legend(fontsize=8, loc="lower right")
    fig.suptitle(title(config), fontsize=9)
    fig.tight_layout()
    try:
        save(fig, argv[2])
    except (OSError, ValueError) as e:
        sys.stderr.write(f"error: cannot write plot '{argv[2]}': {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
