"""Reproduction of the paper's experiments on one recurrent layer (issue 6, issue 15).

One idea per module:

* :mod:`.config`: :class:`ExperimentConfig`, :class:`ExperimentResult`, cells, variants, criteria;
* :mod:`.masks`: magnitude / random pruning of kept weights, :class:`MaskCallback`;
* :mod:`.spectra`: spectral rows per weight graph and of the unrolled layer;
* :mod:`.training`: model, data and dense training shared by both experiments;
* :mod:`.curves`: :func:`run_experiment`, iterative magnitude pruning round by round;
* :mod:`.summary`: :func:`summarize` (knee, where each criterion fails), :func:`summary_markdown`;
* :mod:`.output`: :func:`save_results`, :func:`merge_saved_result`;
* :mod:`.plots`: :func:`plot_results`, :func:`plot_stopping_rule`;
* :mod:`.stopping`: :func:`run_stopping_rule`, the automatic stop vs fixed TF-MOT targets;
* :mod:`.results_io`: raw result CSVs read back and merged seed by seed;
* :mod:`.headline`: the headline table (stop vs knee per data set and cell);
* :mod:`.tables`: the detail tables of docs/results.md (every stopping method, the curves).

Results are plain rows (``list[dict]``) so they go straight to CSV/JSON.
"""

from __future__ import annotations

from tf_expander_pruning.research.experiments.config import (
    CELLS,
    CRITERIA,
    KNEE_DROP,
    ROLE_NAMES,
    VARIANTS,
    ExperimentConfig,
    ExperimentResult,
)
from tf_expander_pruning.research.experiments.curves import run_experiment
from tf_expander_pruning.research.experiments.headline import (
    headline_markdown,
    headline_rows,
    write_headline,
)
from tf_expander_pruning.research.experiments.masks import (
    MaskCallback,
    magnitude_prune,
    random_prune,
)
from tf_expander_pruning.research.experiments.output import merge_saved_result, save_results
from tf_expander_pruning.research.experiments.plots import plot_results, plot_stopping_rule
from tf_expander_pruning.research.experiments.spectra import analyze_weight
from tf_expander_pruning.research.experiments.stopping import (
    STOP_FILES,
    STOP_TARGETS,
    run_stopping_rule,
    save_stopping_rule,
    summarize_stopping_rule,
)
from tf_expander_pruning.research.experiments.summary import summarize, summary_markdown

__all__ = [
    "CELLS",
    "VARIANTS",
    "CRITERIA",
    "ROLE_NAMES",
    "KNEE_DROP",
    "ExperimentConfig",
    "ExperimentResult",
    "MaskCallback",
    "magnitude_prune",
    "random_prune",
    "analyze_weight",
    "run_experiment",
    "summarize",
    "save_results",
    "merge_saved_result",
    "plot_results",
    "plot_stopping_rule",
    "OUTPUT_FILES",
    "STOP_TARGETS",
    "STOP_FILES",
    "run_stopping_rule",
    "summarize_stopping_rule",
    "save_stopping_rule",
    "summary_markdown",
    "headline_rows",
    "headline_markdown",
    "write_headline",
]

#: Files written by :func:`save_results` / :func:`plot_results` (unrolled plot when available).
OUTPUT_FILES = (
    "config.json",
    "rounds.csv",
    "graphs.csv",
    "summary.json",
    "summary.md",
    "accuracy_vs_sparsity.png",
    "delta_r_vs_sparsity.png",
    "noisy_accuracy_vs_sparsity.png",
    "roles_xh_vs_hh.png",
    "unrolled_gap_vs_sparsity.png",
    "criteria_vs_knee.png",
)
