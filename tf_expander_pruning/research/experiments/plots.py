"""The PNG figures of the curves and stopping-rule experiments (matplotlib, Agg backend)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.extras import require
from tf_expander_pruning.research.experiments.config import (
    CELLS,
    CRITERIA,
    KNEE_DROP,
    ROLE_NAMES,
    ExperimentResult,
)
from tf_expander_pruning.research.experiments.summary import summarize

__all__ = ["plot_results", "plot_stopping_rule", "pyplot"]

_COLORS = {"kernel": "tab:blue", "recurrent": "tab:orange"}


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files, no window); needs the [research] extra."""
    matplotlib = require("matplotlib", extra="research", feature="Plotting")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curve(result: ExperimentResult, variant: str, key: str):
    data = result.summary["variants"].get(variant)
    if not data:
        return None
    xs = np.array([p["sparsity"] for p in data["curve"]], float)
    ys = np.array([np.nan if p.get(key) is None else p[key] for p in data["curve"]], float)
    std = np.array(
        [np.nan if p.get(f"{key}_std") is None else p[f"{key}_std"] for p in data["curve"]], float
    )
    return xs, ys, std


def _graph_curve(result: ExperimentResult, variant: str, weight: str, gate: str, key: str):
    """Mean over seeds of a graphs.csv field vs mean sparsity of that weight, per round."""
    rows = [
        g for g in result.graphs
        if g["variant"] == variant and g["weight"] == weight and g["gate"] == gate
    ]
    xs, ys = [], []
    for round_index in sorted({g["round"] for g in rows}):
        at = [g for g in rows if g["round"] == round_index]
        xs.append(np.mean([g["sparsity"] for g in at]))
        values = [g[key] for g in at if g[key] is not None]
        # Undefined (degree < 3) in any seed -> not plotted, rather than a biased mean.
        ys.append(np.mean(values) if len(values) == len(at) else np.nan)
    return np.array(xs), np.array(ys)


def _band(ax, result, variant, key, label, **kw) -> None:
    curve = _curve(result, variant, key)
    if curve is None:
        return
    xs, ys, std = curve
    line = ax.plot(100 * xs, 100 * ys, marker="o", ms=3, label=label, **kw)[0]
    ax.fill_between(100 * xs, 100 * (ys - std), 100 * (ys + std), alpha=0.15,
                    color=line.get_color())


def _save(fig, out: Path, name: str, paths: list[Path]) -> None:
    plt = pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tight_layout may give up on long tick labels
        fig.tight_layout()
    fig.savefig(out / name, dpi=110, bbox_inches="tight")
    plt.close(fig)
    paths.append(out / name)


def _plot_accuracy(result, title, out, paths) -> None:
    """Accuracy vs sparsity with the rounds where the Ramanujan criteria fail marked."""
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    _band(ax, result, "both", "accuracy", "magnitude, both roles")
    _band(ax, result, "random", "accuracy", "random mask, both roles", ls="--")
    variants = result.summary["variants"]
    if "both" in variants:
        aggregate = variants["both"]["aggregate"]
        dense = aggregate["dense_accuracy"]["mean"]
        ax.axhline(100 * (dense - KNEE_DROP), color="grey", lw=0.8, ls=":",
                   label="dense - 2 points")
        for weight in ("kernel", "recurrent"):
            for criterion, style in (("delta_r_concat", "-"), ("delta_r_any_gate", ":"),
                                     ("undefined", "-.")):
                entry = aggregate.get(f"{weight}/{criterion}")
                if entry and entry["sparsity_mean"] is not None:
                    ax.axvline(100 * entry["sparsity_mean"], color=_COLORS[weight], ls=style,
                               lw=1, label=f"{ROLE_NAMES[weight]}: {criterion} fails "
                               f"({entry['seeds_failed']} seeds)")
    ax.set_xlabel("sparsity of pruned weights (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    _save(fig, out, "accuracy_vs_sparsity.png", paths)


def _plot_delta_r(result, title, out, paths) -> None:
    """Delta_r per weight (whole and per gate) vs sparsity, magnitude vs random masks."""
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 4), sharey=False)
    gates = [g for g in CELLS[result.config.cell][1] if g is not None]
    variants = result.summary["variants"]
    for ax, weight in zip(axes, ("kernel", "recurrent"), strict=True):
        for variant, style in (("both", "-"), ("random", "--")):
            if variant not in variants:
                continue
            xs, ys = _graph_curve(result, variant, weight, "all", "delta_r")
            ax.plot(100 * xs, ys, ls=style, marker="o", ms=3, lw=2, label=f"{variant}: whole")
            if variant == "both":
                for gate in gates:
                    xs, ys = _graph_curve(result, variant, weight, gate, "delta_r")
                    ax.plot(100 * xs, ys, lw=0.8, label=f"gate {gate}")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{ROLE_NAMES[weight]} ({weight})")
        ax.set_xlabel("sparsity (%)")
        ax.set_ylabel("Delta_r (gaps: bound undefined)")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, out, "delta_r_vs_sparsity.png", paths)


def _plot_noise(result, title, out, paths) -> None:
    """Clean and noisy test accuracy vs sparsity."""
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    variants = result.summary["variants"]
    first = variants.get("both", next(iter(variants.values())))["curve"][0]
    noise_keys = [k for k in first if k.startswith("accuracy_") and not k.endswith("_std")]
    for variant, style in (("both", "-"), ("random", "--")):
        if variant not in variants:
            continue
        _band(ax, result, variant, "accuracy", f"{variant}: clean", ls=style)
        for key in noise_keys:
            _band(ax, result, variant, key, f"{variant}: {key[len('accuracy_'):]}", ls=style)
    ax.set_xlabel("sparsity of pruned weights (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title + ": noisy test inputs")
    ax.legend(fontsize=7)
    _save(fig, out, "noisy_accuracy_vs_sparsity.png", paths)


def _plot_roles(result, title, out, paths) -> None:
    """W_xh only vs W_hh only vs both."""
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for variant, label in (("kernel", "W_xh only"), ("recurrent", "W_hh only"), ("both", "both")):
        if variant in result.summary["variants"]:
            _band(ax, result, variant, "accuracy", label)
    ax.set_xlabel("sparsity of the pruned matrix/matrices (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title + ": which role tolerates pruning")
    ax.legend(fontsize=8)
    _save(fig, out, "roles_xh_vs_hh.png", paths)


def _plot_unrolled(result, title, out, paths) -> None:
    """Normalised spectral gap of the unrolled layer (skipped when it was not analysed)."""
    if not any(r.get("unrolled_spectral_gap") is not None for r in result.rounds):
        return
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for variant, style in (("both", "-"), ("kernel", "-."), ("recurrent", ":"), ("random", "--")):
        curve = _curve(result, variant, "unrolled_gap_normalized")
        if curve is not None:
            ax.plot(100 * curve[0], curve[1], ls=style, marker="o", ms=3, label=variant)
    ax.set_xlabel("sparsity of pruned weights (%)")
    ax.set_ylabel("unrolled graph: (sigma1 - sigma2) / sigma1")
    ax.set_title(title + ": layer unrolled over its sequence (gates merged)")
    ax.legend(fontsize=8)
    _save(fig, out, "unrolled_gap_vs_sparsity.png", paths)


def _plot_criteria(result, title, out, paths) -> None:
    """Where each criterion first fails, per weight (mean ± std), against the accuracy knee."""
    if "both" not in result.summary["variants"]:
        return
    aggregate = result.summary["variants"]["both"]["aggregate"]
    fig, ax = pyplot().subplots(figsize=(8, 4.5))
    labels, means, stds, cols = [], [], [], []
    for weight in ("kernel", "recurrent"):
        for criterion in CRITERIA:
            entry = aggregate.get(f"{weight}/{criterion}")
            if not entry:
                continue
            labels.append(f"{ROLE_NAMES[weight]}\n{criterion}")
            mean = entry["sparsity_mean"]
            means.append(np.nan if mean is None else 100 * mean)
            stds.append(0 if entry["sparsity_std"] is None else 100 * entry["sparsity_std"])
            cols.append(_COLORS[weight])
    positions = np.arange(len(labels))
    ax.bar(positions, np.nan_to_num(means), yerr=stds, color=cols, alpha=0.7)
    for p, m in zip(positions, means, strict=True):
        if np.isnan(m):
            ax.text(p, 1, "never", rotation=90, ha="center", va="bottom", fontsize=7)
    knee = aggregate["knee_sparsity"]
    if knee["mean"] is not None:
        ax.axhline(100 * knee["mean"], color="red", label="accuracy knee (mean)")
        ax.legend(fontsize=8)
    ax.set_xticks(positions, labels, rotation=75, fontsize=7)
    ax.set_ylabel("sparsity where it first fails (%)")
    ax.set_title(title + ": criteria vs accuracy knee")
    _save(fig, out, "criteria_vs_knee.png", paths)


def plot_results(result: ExperimentResult, out: str | os.PathLike) -> list[Path]:
    """Write the PNG plots listed in ``OUTPUT_FILES`` to ``out``; returns the paths.

    ``unrolled_gap_vs_sparsity.png`` is skipped when the unrolled analysis was not run.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not result.summary:
        result.summary = summarize(result)
    config = result.config
    title = (f"{config.dataset} / {config.cell} ({config.units} units, "
             f"{len(config.seed_list())} seeds)")
    paths: list[Path] = []
    for plot in (_plot_accuracy, _plot_delta_r, _plot_noise, _plot_roles, _plot_unrolled,
                 _plot_criteria):
        plot(result, title, out, paths)
    return paths


def plot_stopping_rule(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], path: str | os.PathLike
) -> Path:
    """Accuracy vs layer sparsity of every stopping-rule method (``summarize_stopping_rule``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fixed = [(m, e) for m, e in summary.items() if m.startswith("fixed_") or m == "dense"]
    ax.errorbar(
        [100 * e["layer_sparsity"]["mean"] for _, e in fixed],
        [100 * e["accuracy"]["mean"] for _, e in fixed],
        yerr=[100 * (e["accuracy"]["std"] or 0) for _, e in fixed],
        marker="o", label="fixed TF-MOT targets (PolynomialDecay)",
    )
    for method, entry in summary.items():
        if method.startswith("fixed_") or method == "dense":
            continue
        ax.errorbar(
            [100 * entry["layer_sparsity"]["mean"]], [100 * entry["accuracy"]["mean"]],
            xerr=[100 * (entry["layer_sparsity"]["std"] or 0)],
            yerr=[100 * (entry["accuracy"]["std"] or 0)], marker="*", ms=12, ls="none",
            label=f"{method}: automatic stop",
        )
    first = rows[0]
    ax.set_xlabel("sparsity of W_xh and W_hh together (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{first['dataset']} / {first['cell']}: Ramanujan stop vs fixed targets")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
