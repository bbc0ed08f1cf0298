"""Static figures of the report (PNG, matplotlib's Agg backend): readable offline, on a code host
and in any browser, unlike DVC's HTML plots, which load their chart library from the internet.

PNGs are byte-deterministic: no pyplot state, no timestamp or software tag in the metadata, the
fonts matplotlib ships. Same data → same bytes (tests/test_figures.py checks it).

`report_scores_figure` and `report_eps_figure` draw the report's two images from its rows;
`scores_figure` and `eps_histogram_figure` are the drawing itself, for any data.
"""
from __future__ import annotations

import io

import numpy as np

from unlearn.scoring.local import official_bucket_count
from unlearn.scoring.report_tables import ci_key
from unlearn.scoring.roles import calibration_role, find_role

_METHOD_COLOUR, _CALIBRATION_COLOUR, _RETRAIN_COLOUR = "#4c72b0", "#999999", "#dd8452"


def _new_figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes without metadata that would change from run to run."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches="tight")
    return buf.getvalue()


def scores_figure(panels, level: float):
    """Horizontal dot-and-interval chart, one panel per score.

    panels: list of (title, rows), rows = [{"method", "value", "ci": [low, high] or None}] in
    table order (best first), with `calibration` where known (unlearn/scoring/roles.py).
    Calibration rows are grey."""
    n_rows = max(len(rows) for _, rows in panels)
    fig = _new_figure(4.2 * len(panels), 0.8 + 0.32 * n_rows)
    for k, (title, rows) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        y = np.arange(len(rows))[::-1]
        for yi, row in zip(y, rows):
            value, ci = row["value"], row["ci"]
            colour = _CALIBRATION_COLOUR if calibration_role(row) is not None else _METHOD_COLOUR
            if ci is not None:
                ax.plot(ci, [yi, yi], color=colour, linewidth=2.5, solid_capstyle="butt")
            ax.plot([value], [yi], "o", color="black" if ci is not None else colour,
                    markersize=4)
        ax.set_yticks(y)
        ax.set_yticklabels([r["method"] for r in rows] if k == 0 else [])
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.7, len(rows) - 0.3)
    fig.suptitle(f"Point estimates (dots) and {level * 100:g}% bootstrap intervals (bars)",
                 fontsize=10)
    return fig


def bucket_shares(eps, edges) -> np.ndarray:
    """Share of examples per ε bucket: [edges[i], edges[i+1]) and a last bucket >= edges[-1]."""
    idx = np.digitize(np.asarray(eps, np.float64), edges) - 1      # ε < edges[0] cannot occur
    counts = np.bincount(np.clip(idx, 0, len(edges) - 1), minlength=len(edges))
    return counts / max(1, len(eps))


def eps_histogram_figure(eps, scorers, methods, reference=None):
    """Per-example ε as bucket histograms: one row per method, one column per scorer; the
    reference calibration's histogram (of method `reference`, the retrained model) beside each
    other method's.

    eps: {scorer: {method: per-example ε}}; scorers: [(scorer, edges, title)], edges the bucket
    lower edges (the points a bucket earns fall from left to right); methods: the rows, top
    first."""
    fig = _new_figure(4.0 * len(scorers), 0.6 + 1.25 * len(methods))
    axes = fig.subplots(len(methods), len(scorers), squeeze=False, sharex="col")
    for col, (scorer, edges, title) in enumerate(scorers):
        x = np.arange(len(edges))
        labels = [f"{e:g}" for e in edges[:-1]] + [f"≥{edges[-1]:g}"]
        ref = eps[scorer].get(reference) if reference is not None else None
        for row, method in enumerate(methods):
            ax = axes[row][col]
            shares = bucket_shares(eps[scorer][method], edges)
            if ref is not None and method != reference:
                ax.bar(x - 0.2, shares, width=0.4, color=_METHOD_COLOUR, label="method")
                ax.bar(x + 0.2, bucket_shares(ref, edges), width=0.4, color=_RETRAIN_COLOUR,
                       label=f"{reference} (calibration)")
            else:
                ax.bar(x, shares, width=0.6, color=_RETRAIN_COLOUR if method == reference
                       else _METHOD_COLOUR)
            ax.set_ylim(0, 1)
            ax.set_yticks([0, 0.5, 1])
            ax.tick_params(labelsize=7)
            if col == 0:
                ax.set_ylabel(method, fontsize=8)
            if row == 0:
                ax.set_title(title, fontsize=9)
            if row == len(methods) - 1:
                ax.set_xticks(x)
                ax.set_xticklabels(labels, rotation=90, fontsize=6)
                ax.set_xlabel("ε bucket (lower edge)", fontsize=8)
    handles, labels = next(((h, lab) for ax in axes.flat
                            for h, lab in [ax.get_legend_handles_labels()] if h), ([], []))
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncols=2, fontsize=8,
                   frameon=False)
    fig.supylabel("share of forget examples per ε bucket", fontsize=8)
    return fig


def report_scores_figure(rows, level):
    """The report's scores with their intervals: a panel for the local and one for the official
    score, those every row has; rows: the report's rows, table order."""
    panels = []
    for key, title in (("local_score", "score (local scorer)"),
                       ("official_score", "score (official metric)")):
        if all(key in r for r in rows):
            ci_name = ci_key(rows[0], key)
            panels.append((title, [{"method": r["method"], "calibration": calibration_role(r),
                                    "value": r[key], "ci": r.get(f"{ci_name}_ci")}
                                   for r in rows]))
    return scores_figure(panels, level)


def report_eps_figure(rows, eps_by_method):
    """The report's ε histograms: the reference row on top (when it has ε), then the others in
    table order. eps_by_method: method -> {scorer: per-example ε}."""
    eps = {}
    for r in rows:
        for scorer, values in eps_by_method[r["method"]].items():
            eps.setdefault(scorer, {})[r["method"]] = values
    scorers = []
    if "local" in eps:      # the local scorer's 13 bins; >= 6 earns the least
        scorers.append(("local", np.arange(13) * 0.5, "local scorer ε"))
    if "official" in eps:   # the official buckets; >= the last edge earns 0
        n_b = official_bucket_count(max(2, rows[0]["n_runs"]))
        scorers.append(("official", np.arange(n_b + 1) * 0.5, "official metric ε"))
    i_ref = find_role(rows, "reference")
    reference = rows[i_ref]["method"] if i_ref is not None else None
    methods = [reference] if any(reference in eps[s] for s, *_ in scorers) else []
    methods += [r["method"] for r in rows if r["method"] != reference]
    return eps_histogram_figure(eps, scorers, methods, reference)
