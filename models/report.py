"""The training report: loss curves, sparsity and distance-to-grid over epochs, the WER table."""

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_report(run_dir: str, state: dict) -> tuple[str, str]:
    """Writes report.json and report.png in run_dir; returns their paths."""
    hist = state.get("history", {})
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    offset = 0
    for stage, recs in hist.items():
        if not recs:
            continue
        x = [offset + r["epoch"] + 1 for r in recs]
        axes[0].plot(x, [r["rnnt"] for r in recs], marker="o", label=f"{stage} rnnt")
        offset = x[-1]
        if "sparsity" in recs[0]:
            axes[1].plot(x, [r.get("mask_sparsity", r["sparsity"]) for r in recs], marker="o", label=f"{stage} mask")
            axes[1].plot(x, [r["sparsity"] for r in recs], ls="--", label=f"{stage} zeros")
            grid = "distance_to_grid_4" if "q4" in stage else "distance_to_grid_8"
            axes[2].plot(x, [r.get("distance_to_grid_before_snap", r[grid]) for r in recs], marker="o",
                         label=stage + (" (4-bit grid" if "q4" in stage else " (8-bit grid") + ", before snap)")
    axes[0].set(title="RNN-T loss per utterance (train)", xlabel="epoch (stages in sequence)", yscale="log")
    axes[1].set(title="weight sparsity (NEP matrices)", xlabel="epoch", ylim=(0, 1))
    axes[2].set(title="mean distance to grid (grid steps)", xlabel="epoch", ylim=(0, 0.5))
    for a in axes:
        a.legend(fontsize=7)
        a.grid(alpha=0.3)
    wer = state.get("wer", {})
    if wer:
        rows = [f"{k}: dev {v.get('dev', float('nan')) * 100:.2f}%  test(flite) {v.get('test', float('nan')) * 100:.2f}%"
                for k, v in wer.items()]
        for k, v in state.get("test_wer_by_voice", {}).items():
            rows.append(f"{k}, per flite voice: " + "  ".join(f"{n} {w * 100:.1f}%" for n, w in v.items()))
        fig.text(0.01, -0.02 - 0.04 * len(rows), "WER\n" + "\n".join(rows), family="monospace", fontsize=9,
                 va="bottom")
    fig.tight_layout()
    png = os.path.join(run_dir, "report.png")
    fig.savefig(png, dpi=90, bbox_inches="tight")
    plt.close(fig)
    js = os.path.join(run_dir, "report.json")
    json.dump({k: v for k, v in state.items() if k != "done"}, open(js, "w"), indent=1)
    return js, png
