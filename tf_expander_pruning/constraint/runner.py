"""The check runner: a mask -> its graphs -> spectral reports, and the multi-worker reduction."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from tf_expander_pruning.analysis.spectral import SpectralCache, SpectralReport
from tf_expander_pruning.core.cells import cell_kind, gate_slice
from tf_expander_pruning.core.keras_compat import tf
from tf_expander_pruning.pruning.adapter import PrunedMatrix

__all__ = ["CheckRunner", "single_threaded_blas", "across_workers"]

_BLAS: list[Any] = []


def single_threaded_blas():
    """Context limiting BLAS to one thread while analysing a mask.

    The masks are small; a multi-threaded OpenBLAS on a machine whose cores are busy training
    spins its threads and made one 64x256 SVD take ~100 ms instead of ~1 ms.
    """
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except Exception:  # threadpoolctl missing or unusable: run unrestricted
            _BLAS.append(None)
    if _BLAS[0] is None:
        return contextlib.nullcontext()
    return _BLAS[0].limit(limits=1, user_api="blas")


def graph_blocks(entry: PrunedMatrix, mask: np.ndarray, per_gate: bool):
    """``[(gate, block)]``: each gate's column block, or ``[(None, mask)]``."""
    kind = cell_kind(entry.cell)
    gates = kind.gate_letters if (per_gate and kind is not None) else ()
    if not gates:
        return [(None, mask)]
    return [(gate, mask[:, gate_slice(kind, gate, entry.cell.units)]) for gate in gates]


class CheckRunner:
    """Analyses masks through one :class:`SpectralCache` per fit.

    A gate whose graph did not change since its last check is a cache hit; a changed one
    warm-starts the solver.
    """

    def __init__(self, per_gate: bool) -> None:
        self.per_gate = per_gate
        self.cache = SpectralCache()

    def gate_reports(self, entry: PrunedMatrix,
                     mask: np.ndarray) -> list[tuple[Any, SpectralReport]]:
        """``[(gate, report)]`` of ``mask``, per gate block (or the whole matrix)."""
        reports = []
        for gate, graph in graph_blocks(entry, mask, self.per_gate):
            with single_threaded_blas():
                reports.append((gate, self.cache.analyze((entry.layer, entry.role, gate), graph)))
        return reports


def across_workers(model, any_failed: bool, all_passed: bool) -> tuple[bool, bool]:
    """Under MultiWorkerMirroredStrategy: (failed on any worker, passed on every worker).

    Each worker runs the callback on its own copy of the same mask, so the verdicts agree unless
    a value sits within rounding of the margin and the machines round differently, or a callable
    criterion depends on the worker.  A freeze (or a new rollback point) decided on one worker
    only would leave the workers with different masks, so the two flags are all-reduced: one
    tiny collective per checked matrix, reached in the same order on every worker because the
    mask-update counters it follows are identical everywhere.  Other strategies: unchanged.
    """
    strategy = getattr(model, "distribute_strategy", None)
    if not (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    ):
        return any_failed, all_passed
    flags = [float(any_failed), float(not all_passed)]
    local = strategy.experimental_distribute_values_from_function(
        lambda _: tf.constant(flags, tf.float32)
    )
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, local, axis=None).numpy()
    return bool(total[0] > 0), bool(total[1] == 0)
