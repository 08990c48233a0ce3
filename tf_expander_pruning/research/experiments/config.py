"""What an experiment runs (:class:`ExperimentConfig`), what it returns (:class:`ExperimentResult`)
and the names shared by the experiment modules (cells, variants, criteria)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from tf_expander_pruning.core.cells import CELL_KINDS
from tf_expander_pruning.core.validation import check_choice, check_int, check_real
from tf_expander_pruning.research import datasets

__all__ = [
    "CELLS",
    "VARIANTS",
    "ROLE_NAMES",
    "CRITERIA",
    "KNEE_DROP",
    "ExperimentConfig",
    "ExperimentResult",
]

#: Cell name -> (Keras layer class name, gate letters in Keras's column order): a read-only view
#: of :data:`tf_expander_pruning.core.cells.CELL_KINDS`.
CELLS = MappingProxyType({kind.key: (kind.layer, kind.gates) for kind in CELL_KINDS.values()})

#: Variant -> (pruned weights, how pruned weights are chosen).
VARIANTS = {
    "both": (("kernel", "recurrent"), "magnitude"),
    "kernel": (("kernel",), "magnitude"),
    "recurrent": (("recurrent",), "magnitude"),
    "random": (("kernel", "recurrent"), "random"),
}

ROLE_NAMES = {"kernel": "W_xh", "recurrent": "W_hh"}

#: Stopping criteria compared in :func:`summarize`; each "fails" at the first round where:
CRITERIA = {
    "delta_r_concat": "Delta_r of the whole (gate-concatenated) matrix < 0",
    "delta_r_any_gate": "Delta_r of any single gate < 0",
    "delta_r_all_gates": "Delta_r of every gate < 0",
    "iterative_mean": "iterative-mean Delta_r (left-degree groups) < 0",
    "delta_s": "Delta_s = 2 sqrt(lambda_1 - 1) - mu_hat < 0",
    "weighted_gap": "normalised weighted gap (s1 - s2) / s1 of |W|*mask below half its dense value",
    "undefined": "the Ramanujan bound becomes undefined (an average degree < 3)",
}

KNEE_DROP = 0.02  # accuracy "knee" of the curves: first sparsity where accuracy < dense - 2 points


@dataclass
class ExperimentConfig:
    """What to run.  Epoch counts are full passes over the training split.

    Attributes:
        dataset: a name in :data:`tf_expander_pruning.research.datasets.DATASETS`.
        cell: ``"simplernn"``, ``"lstm"`` or ``"gru"``.
        units: hidden units of the recurrent layer.
        seeds: number of seeds (0..seeds-1) or an explicit list of integer seeds.
        rounds: pruning rounds after the dense model (sparsity ``1 - (1-prune_fraction)**rounds``).
        prune_fraction: fraction of the remaining weights removed per round, in (0, 1).
        variants: subset of :data:`VARIANTS`.
        dense_epochs / finetune_epochs: training epochs before pruning / after each round.
        batch_size, learning_rate, finetune_learning_rate: Adam settings.
        noise: noise specs (see :func:`tf_expander_pruning.datasets.parse_noise`) applied to the
            test split for the noisy accuracies (must be empty for ``mnist1d``).
        data_dir: TFDS data directory (not used for the embedded / ``[data]`` sets).
        max_train / max_test: optional caps on the number of examples (quick runs).
        unrolled: analyse the unrolled graph over the sequence length each round.
    """

    dataset: str = "digits"
    cell: str = "lstm"
    units: int = 64
    seeds: int | Sequence[int] = 3
    rounds: int = 10
    prune_fraction: float = 0.2
    variants: Sequence[str] = ("both", "kernel", "recurrent", "random")
    dense_epochs: int = 30
    finetune_epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 3e-3
    finetune_learning_rate: float = 1e-3
    noise: Sequence[Any] = (("gaussian", 0.3), ("salt_pepper", 0.1))
    data_dir: str | None = None
    max_train: int | None = None
    max_test: int | None = None
    unrolled: bool = True

    def seed_list(self) -> list[int]:
        """The seeds as a list."""
        if isinstance(self.seeds, (int, np.integer)) and not isinstance(self.seeds, bool):
            return list(range(int(self.seeds)))
        return [int(s) for s in self.seeds]

    def validate(self) -> ExperimentConfig:
        """Raise ValueError/TypeError naming the bad field; return self."""
        check_choice(self.dataset, "dataset", datasets.DATASETS)
        check_choice(self.cell, "cell", tuple(CELLS))
        for name in ("units", "rounds", "dense_epochs", "batch_size"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.finetune_epochs, "finetune_epochs", minimum=0)
        self._validate_seeds()
        check_real(self.prune_fraction, "prune_fraction", minimum=0, maximum=1,
                   open_interval=True)
        check_real(self.learning_rate, "learning_rate", minimum=0, maximum=math.inf,
                   open_interval=True)
        check_real(self.finetune_learning_rate, "finetune_learning_rate", minimum=0,
                   maximum=math.inf, open_interval=True)
        if isinstance(self.variants, str):
            raise TypeError("`variants` must be a list of variant names, not one string.")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(
                f"`variants` must be a non-empty subset of {tuple(VARIANTS)}; "
                f"got {list(self.variants)}."
            )
        for spec in self.noise:
            if datasets.parse_noise(spec) is None:
                raise ValueError(f"`noise` entries must be non-zero noise specs, got {spec!r}.")
        if self.noise and self.dataset == "mnist1d":
            raise ValueError(
                "`noise` must be empty for dataset='mnist1d': its values are not in [0, 1], "
                "where the noise levels are defined."
            )
        for name in ("max_train", "max_test"):
            check_int(getattr(self, name), name, minimum=10, allow_none=True)
        return self

    def _validate_seeds(self) -> None:
        if isinstance(self.seeds, bool):
            raise TypeError("`seeds` must be a positive integer or a list of integers.")
        if isinstance(self.seeds, (int, np.integer)):
            check_int(self.seeds, "seeds", minimum=1)
            return
        try:
            seeds = [int(s) for s in self.seeds]
        except (TypeError, ValueError):
            raise TypeError(
                f"`seeds` must be an int or a list of ints, got {self.seeds!r}."
            ) from None
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"`seeds` must be a non-empty list of distinct ints, got {seeds}.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (noise specs as ``kind=level`` labels plus their seeds)."""
        data = asdict(self)
        data["seeds"] = self.seed_list()
        data["variants"] = list(self.variants)
        data["noise"] = [asdict(datasets.parse_noise(n)) for n in self.noise]
        return data


@dataclass
class ExperimentResult:
    """Rows of one run.  ``rounds``: one per (seed, variant, round); ``graphs``: one per
    (seed, variant, round, weight, gate); ``summary``: see :func:`summarize`."""

    config: ExperimentConfig
    rounds: list[dict[str, Any]] = field(default_factory=list)
    graphs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
