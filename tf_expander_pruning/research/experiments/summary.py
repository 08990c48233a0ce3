"""Summaries of the curves experiment: mean curves, accuracy knee, where each criterion fails."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tf_expander_pruning.core.formatting import format_value, markdown_table
from tf_expander_pruning.research.experiments.config import (
    CRITERIA,
    KNEE_DROP,
    VARIANTS,
    ExperimentResult,
)

__all__ = ["mean_std", "criterion_failed", "summarize", "summary_markdown"]


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    """Mean, std and count of the finite values (``None, None, 0`` when there are none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None, 0
    return float(np.mean(finite)), float(np.std(finite)), len(finite)


def _below(value, threshold) -> bool | None:
    return None if value is None else value < threshold


def criterion_failed(
    graphs_at_round: list[dict], weight: str, criterion: str, dense_gaps: dict[str, float | None]
) -> bool | None:
    """True if ``criterion`` has failed for ``weight`` at this round, None if not evaluable.

    ``dense_gaps``: weight -> normalised weighted gap of the dense matrix (for
    ``weighted_gap``).
    """
    rows = [g for g in graphs_at_round if g["weight"] == weight]
    whole = next(g for g in rows if g["gate"] == "all")
    gate_rows = [g for g in rows if g["gate"] != "all"] or [whole]
    if criterion == "undefined":
        return whole["delta_r"] is None
    if criterion in ("delta_r_concat", "iterative_mean", "delta_s"):
        field = {"delta_r_concat": "delta_r", "iterative_mean": "iterative_mean_delta_r",
                 "delta_s": "delta_s"}[criterion]
        return _below(whole[field], 0)
    if criterion in ("delta_r_any_gate", "delta_r_all_gates"):
        values = [g["delta_r"] for g in gate_rows]
        defined = [v for v in values if v is not None]
        if not defined:
            return None
        fails = [v < 0 for v in defined]
        if criterion == "delta_r_any_gate":
            return any(fails)
        return all(fails) and len(defined) == len(values)
    if criterion == "weighted_gap":
        dense = dense_gaps.get(weight)
        return None if dense is None else _below(whole["weighted_gap_normalized"], 0.5 * dense)
    raise ValueError(f"Unknown criterion {criterion!r}; expected one of {tuple(CRITERIA)}.")


def _curve(rows: list[dict], rounds: int, noise_keys: list[str]) -> list[dict[str, Any]]:
    curve = []
    for round_index in range(rounds + 1):
        at = [r for r in rows if r["round"] == round_index]
        point: dict[str, Any] = {"round": round_index}
        for key in ["sparsity", "accuracy", *noise_keys, "unrolled_spectral_gap",
                    "unrolled_gap_normalized", "unrolled_delta_r"]:
            mean, std, _ = mean_std(r.get(key) for r in at)
            point[key] = mean
            point[f"{key}_std"] = std
        curve.append(point)
    return curve


def _seed_entry(result: ExperimentResult, rows: list[dict], variant: str, seed: int) -> dict:
    """Knee and first failure of each criterion for one seed of one variant."""
    seed_rows = sorted((r for r in rows if r["seed"] == seed), key=lambda r: r["round"])
    dense = seed_rows[0]["accuracy"]
    knee = next((r for r in seed_rows[1:] if r["accuracy"] < dense - KNEE_DROP), None)
    entry: dict[str, Any] = {
        "seed": seed, "dense_accuracy": dense,
        "knee_round": knee["round"] if knee else None,
        "knee_sparsity": knee["sparsity"] if knee else None,
        "criteria": {},
    }
    seed_graphs = [g for g in result.graphs if g["variant"] == variant and g["seed"] == seed]
    dense_gaps = {
        g["weight"]: g["weighted_gap_normalized"]
        for g in seed_graphs if g["round"] == 0 and g["gate"] == "all"
    }
    for weight in VARIANTS[variant][0]:
        for criterion in CRITERIA:
            fail = next(
                (r for r in seed_rows if criterion_failed(
                    [g for g in seed_graphs if g["round"] == r["round"]], weight, criterion,
                    dense_gaps)),
                None,
            )
            sparsity = fail[f"sparsity_{weight}"] if fail else None
            knee_sparsity = entry["knee_sparsity"]
            entry["criteria"][f"{weight}/{criterion}"] = {
                "round": fail["round"] if fail else None,
                "sparsity": sparsity,
                "lead": (knee_sparsity - sparsity
                         if sparsity is not None and knee_sparsity is not None else None),
            }
    return entry


def _aggregate(per_seed: list[dict]) -> dict[str, Any]:
    knee_mean, knee_std, knee_n = mean_std(e["knee_sparsity"] for e in per_seed)
    dense_mean, dense_std, _ = mean_std(e["dense_accuracy"] for e in per_seed)
    aggregate: dict[str, Any] = {
        "dense_accuracy": {"mean": dense_mean, "std": dense_std},
        "knee_sparsity": {"mean": knee_mean, "std": knee_std, "seeds_reached": knee_n},
    }
    for key in per_seed[0]["criteria"] if per_seed else []:
        mean, std, n = mean_std(e["criteria"][key]["sparsity"] for e in per_seed)
        lead_mean, lead_std, lead_n = mean_std(e["criteria"][key]["lead"] for e in per_seed)
        aggregate[key] = {
            "sparsity_mean": mean, "sparsity_std": std, "seeds_failed": n,
            "lead_mean": lead_mean, "lead_std": lead_std, "seeds_with_lead": lead_n,
        }
    return aggregate


def summarize(result: ExperimentResult) -> dict[str, Any]:
    """Per-variant curves (mean and std over seeds) and, per seed, the accuracy knee and the
    sparsity at which each criterion of :data:`CRITERIA` first fails for each pruned weight.

    The *knee* is the first round whose accuracy is more than 2 points below that seed's dense
    accuracy; ``lead`` = knee sparsity - criterion sparsity (positive: the criterion warns before
    accuracy falls; negative: too late).  ``None`` means "did not happen within the rounds run".
    """
    config = result.config
    summary: dict[str, Any] = {"knee_drop": KNEE_DROP, "criteria": CRITERIA, "variants": {}}
    first = result.rounds[0] if result.rounds else {}
    noise_keys = [k for k in first if k.startswith("accuracy_")]
    for variant in config.variants:
        rows = [r for r in result.rounds if r["variant"] == variant]
        if not rows:
            continue
        per_seed = [
            _seed_entry(result, rows, variant, seed) for seed in sorted({r["seed"] for r in rows})
        ]
        summary["variants"][variant] = {
            "curve": _curve(rows, config.rounds, noise_keys),
            "per_seed": per_seed,
            "aggregate": _aggregate(per_seed),
        }
    summary["seeds"] = config.seed_list()
    return summary


def _pm(mean, std) -> str:
    return f"{format_value(mean, percent=True)} ± {format_value(std, percent=True)}"


def summary_markdown(result: ExperimentResult) -> str:
    """A Markdown digest of :func:`summarize` (tables in percent of sparsity / accuracy)."""
    config = result.config
    summary = result.summary or summarize(result)
    variants = summary["variants"]
    first = next(iter(variants.values()))["curve"][0] if variants else {}
    noise_keys = [k for k in first if k.startswith("accuracy_") and not k.endswith("_std")]
    curve_rows = [
        [variant, str(p["round"]), format_value(p["sparsity"], percent=True),
         _pm(p["accuracy"], p["accuracy_std"])] + [_pm(p[k], p[k + "_std"]) for k in noise_keys]
        for variant, data in variants.items() for p in data["curve"]
    ]
    criteria_rows = []
    for variant, data in variants.items():
        knee = data["aggregate"]["knee_sparsity"]
        knee_text = f"{_pm(knee['mean'], knee['std'])} ({knee['seeds_reached']}/" \
                    f"{len(data['per_seed'])})"
        criteria_rows += [
            [variant, key, _pm(value["sparsity_mean"], value["sparsity_std"]),
             str(value["seeds_failed"]), format_value(value["lead_mean"], percent=True),
             knee_text]
            for key, value in data["aggregate"].items() if "/" in key
        ]
    return "\n".join([
        f"# {config.dataset} / {config.cell} / {config.units} units, seeds {config.seed_list()}",
        "", "## Accuracy (mean ± std over seeds, %) per round", "",
        markdown_table(["variant", "round", "sparsity", "accuracy", *noise_keys], curve_rows),
        "", "## Knee vs criteria (sparsity %, mean ± std over seeds; lead = knee - criterion)", "",
        markdown_table(
            ["variant", "weight/criterion", "fails at", "seeds failed", "lead", "knee"],
            criteria_rows,
        ),
    ]) + "\n"
