"""Keyword spotting end to end: microphone samples to a word on an emulated Cortex-M4.

1. :func:`load_kws_data`: the ``spoken_words`` MFCCs (49 frames x 10, the float reference front
   end) for training and the raw int16 test clips for the device;
2. :func:`train_keyword_model`: a small LSTM/GRU on standardised MFCCs, then pruned with the
   package's default stop (``prune_rnn`` + ``GeometricSchedule`` + ``RamanujanConstraint()``
   + TF-MOT ``UpdatePruningStep``, the recipe of :mod:`tf_expander_pruning.research.demo`);
   the standardisation is folded into the first layer (:func:`fold_input_normalization`), so
   the deployed network takes the front end's MFCCs as they are;
3. :func:`run_kws`: C for the front end (``frontend_to_c``) and the network (``to_c``, a
   ``step()`` per 20 ms frame), run on the test clips on the host and in QEMU (Cortex-M4,
   labels asserted equal), and the same network as a streaming int8 flatbuffer in TFLM +
   CMSIS-NN on the same core; flash, RAM and instructions per frame of each part and the share
   of an 80 MHz Cortex-M4's 1.6 M cycles per frame.  :func:`format_report` prints it,
   :func:`write_results` writes ``kws_results.json`` and ``kws_table.csv``.

``tf-expander kws`` runs it; docs/deploy.md ("Keyword spotting") has the measured table.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tf_expander_pruning.core.validation import check_choice, check_int

__all__ = ["CYCLES_PER_FRAME", "load_kws_data", "fold_input_normalization",
           "train_keyword_model", "deploy_kws", "run_kws", "format_report", "write_results",
           "check_settings", "table_rows"]

#: A Cortex-M4 at 80 MHz has 80e6 * 0.020 cycles for each 20 ms frame.
CYCLES_PER_FRAME = 1_600_000
CELLS = ("lstm", "gru")
_RESULTS, _TABLE = "kws_results.json", "kws_table.csv"


def check_settings(*, cell: str, units: int, dense_epochs: int, prune_epochs: int,
                   max_train: int | None, max_test: int | None, tflm_clips: int | None,
                   quantization: str) -> None:
    """ValueError/TypeError naming the bad setting of :func:`run_kws` (before any work)."""
    check_choice(cell, "cell", CELLS)
    check_choice(quantization, "quantization", ("int8", "float32"))
    check_int(units, "units", minimum=1)
    check_int(dense_epochs, "dense_epochs", minimum=1)
    check_int(prune_epochs, "prune_epochs", minimum=8)  # the knee search needs 2 tries + 6
    check_int(max_train, "max_train", minimum=40, allow_none=True)
    check_int(max_test, "max_test", minimum=1, allow_none=True)
    check_int(tflm_clips, "tflm_clips", minimum=0, allow_none=True)


def _subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:limit]) if limit is not None else np.arange(n)


def load_kws_data(max_train: int | None = None, max_test: int | None = None,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Training MFCCs (shuffled: the pruning guard holds out the last rows), test MFCCs, labels
    and the int16 test clips they came from (same order); ``max_*`` draw a seeded subset."""
    from tf_expander_pruning.research import datasets

    x_train, y_train = datasets.load("spoken_words", "train")
    x_test, y_test = datasets.load("spoken_words", "test")
    clips = datasets.spoken_word_clips("test").clips
    train = np.random.default_rng(seed).permutation(len(x_train))[:max_train]
    test = _subset(len(x_test), max_test, seed + 1)
    return {"x_train": x_train[train], "y_train": y_train[train], "x_test": x_test[test],
            "y_test": y_test[test], "clips": clips[test]}


def fold_input_normalization(model, mean: np.ndarray, std: np.ndarray):
    """A copy of ``model`` that takes raw features: ``(x - mean) / std`` folded into the first
    recurrent layer (``W' = W / std``, ``b' = b - (mean / std) W``), zeros kept zero."""
    from tf_expander_pruning.core.keras_compat import keras

    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    folded = keras.models.clone_model(model)
    folded.set_weights(model.get_weights())
    layer = next(lay for lay in folded.layers if lay.weights)
    weights = layer.get_weights()
    kernel, bias = weights[0].astype(np.float64), weights[-1].astype(np.float64)
    weights[0] = (kernel / std[:, None]).astype(np.float32)
    shift = (mean / std) @ kernel
    if bias.ndim == 1:
        bias = bias - shift
    else:  # GRU reset_after=True: (input bias, recurrent bias); only the input side moves
        bias[0] = bias[0] - shift
    weights[-1] = bias.astype(np.float32)
    layer.set_weights(weights)
    return folded


def train_keyword_model(x_train, y_train, *, cell: str = "lstm", units: int = 48,
                        dense_epochs: int = 30, prune_epochs: int = 30, seed: int = 0,
                        progress: bool = True) -> dict[str, Any]:
    """Train, prune with the default stop, strip and fold the standardisation.

    Returns ``dense`` (the dense model, raw features), ``model`` (pruned, stripped, raw
    features), ``constraint`` and ``sparsity`` (of the recurrent weights).
    """
    from tf_expander_pruning.analysis import graphs
    from tf_expander_pruning.core.keras_compat import keras
    from tf_expander_pruning.pruning import strip_pruning
    from tf_expander_pruning.research.classifier import compile_classifier, recurrent_classifier
    from tf_expander_pruning.research.demo import (
        BATCH_SIZE,
        VALIDATION,
        EpochProgress,
        prune_while_ramanujan,
    )

    mean, std = x_train.mean(axis=(0, 1)), x_train.std(axis=(0, 1)) + 1e-6
    x = ((x_train - mean) / std).astype(np.float32)
    keras.utils.set_random_seed(seed)
    model = compile_classifier(recurrent_classifier(cell, units, input_shape=x.shape[1:],
                                                    name=f"kws_{cell}"))
    best = keras.callbacks.EarlyStopping(monitor="loss", patience=dense_epochs,
                                         restore_best_weights=True)
    callbacks = [best] + ([EpochProgress(dense_epochs, "dense training")] if progress else [])
    model.fit(x, y_train, epochs=dense_epochs, batch_size=BATCH_SIZE, verbose=0,
              validation_split=VALIDATION, callbacks=callbacks)
    dense = fold_input_normalization(model, mean, std)
    pruned, constraint = prune_while_ramanujan(model, x, y_train, epochs=prune_epochs,
                                               progress=progress)
    stripped = fold_input_normalization(strip_pruning(pruned), mean, std)
    masks = [g.mask for g in graphs.weight_graphs(stripped)]
    sparsity = 1.0 - sum(int(m.sum()) for m in masks) / sum(m.size for m in masks)
    return {"dense": dense, "model": stripped, "constraint": constraint,
            "sparsity": float(sparsity)}


def _frame_figures(run, key: str) -> dict[str, float]:
    counts = getattr(run, f"{key}_instructions")
    return {**run.sizes[key], "instructions_per_frame": float(counts[:, 0].mean()),
            "max_instructions_per_frame": int(counts[:, 1].max())}


def _c_deployment(model, data, quantization: str, progress) -> dict[str, Any]:
    """The front end + network C on the host and on the Cortex-M4 (labels must be equal)."""
    from tf_expander_pruning.deployment.codegen import frontend_to_c, to_c
    from tf_expander_pruning.deployment.codegen.kws_firmware import run_kws_host, run_kws_on_mcu

    c_frontend = frontend_to_c(name="kws")
    c_model = to_c(model, quantization=quantization, name="kws_net")
    host = run_kws_host(c_frontend, c_model, data["clips"])
    device = run_kws_on_mcu(c_frontend, c_model, data["clips"], progress=progress)
    if not np.array_equal(host.labels, device.labels):
        raise AssertionError(f"The Cortex-M4 labels differ from the host build's on "
                             f"{int(np.sum(host.labels != device.labels))} clips.")
    y, keras_labels = data["y_test"], data["keras_labels"]
    return {"quantization": quantization, "clips": len(y),
            "host_accuracy": float(np.mean(host.labels == y)),
            "device_accuracy": float(np.mean(device.labels == y)),
            "device_equals_host": True,
            "logits_bit_equal": bool(np.array_equal(host.logits.view(np.uint32),
                                                    device.logits.view(np.uint32))),
            "agreement_with_keras": float(np.mean(device.labels == keras_labels)),
            "frontend": _frame_figures(device, "frontend"),
            "network": _frame_figures(device, "network"),
            "device_labels": device.labels.tolist()}


def _tflm_deployment(model, data, clips: int) -> dict[str, Any] | None:
    """The same network as a streaming int8 (16x8) flatbuffer in TFLM + CMSIS-NN on the M4."""
    from tf_expander_pruning.deployment.export import to_tflite, verify

    if clips == 0:
        return None
    x, y = data["x_test"][:clips], data["y_test"][:clips]
    flatbuffer = to_tflite(model, quantization="int8", streaming=True,
                           representative_data=data["x_train"][:200])
    report = verify(flatbuffer, model, x, runtime="tflm-cortex-m4", labels=y,
                    measure_arena=False)
    per_frame = report.instructions_per_inference / x.shape[1]
    return {"clips": int(len(x)), "keras_accuracy": report.keras_accuracy,
            "device_accuracy": report.runtime_accuracy,
            "agreement_with_keras": report.argmax_agreement,
            "code_bytes": report.code_bytes, "model_bytes": report.model_bytes,
            "flash_bytes": report.code_bytes + report.model_bytes,
            "ram_bytes": report.arena_bytes, "instructions_per_frame": float(per_frame),
            "c_device_accuracy_same_clips": float(np.mean(
                np.asarray(data["c_device_labels"][:clips]) == y))}


def _realtime(result: dict[str, Any]) -> dict[str, float]:
    frontend = result["c"]["frontend"]["instructions_per_frame"]
    out = {"cycles_per_frame_budget": CYCLES_PER_FRAME,
           "sparse_c": (frontend + result["c"]["network"]["instructions_per_frame"])
           / CYCLES_PER_FRAME}
    if result.get("tflm"):
        out["tflm_cmsis_nn"] = (frontend + result["tflm"]["instructions_per_frame"]) \
            / CYCLES_PER_FRAME
    return out


def deploy_kws(trained: dict[str, Any], data: dict[str, np.ndarray], *,
               quantization: str = "int8", tflm_clips: int | None = None,
               print_fn: Callable[[str], Any] | None = print) -> dict[str, Any]:
    """Deploy the model of :func:`train_keyword_model` and measure it on ``data``'s test clips.

    The front end + network C runs on the host and on the Cortex-M4 (labels asserted equal);
    the network runs in TFLM + CMSIS-NN on the first ``tflm_clips`` clips (``None``: all of
    them; 0: skipped).
    Returns the figures :func:`format_report` and :func:`write_results` take (``print_fn``:
    progress lines, ``None`` for none).
    """
    from tf_expander_pruning.research.classifier import accuracy

    check_choice(quantization, "quantization", ("int8", "float32"))
    check_int(tflm_clips, "tflm_clips", minimum=0, allow_none=True)
    say = print_fn or (lambda line: None)
    model = trained["model"]
    data["keras_labels"] = np.argmax(model.predict(data["x_test"], verbose=0), axis=-1)
    layer = next(lay for lay in model.layers if lay.weights)
    result: dict[str, Any] = {
        "cell": layer.name, "units": int(layer.units),
        "train_clips": len(data["x_train"]), "test_clips": len(data["clips"]),
        "dense_keras_accuracy": accuracy(trained["dense"], data["x_test"], data["y_test"]),
        "keras_accuracy": float(np.mean(data["keras_labels"] == data["y_test"])),
        "sparsity": trained["sparsity"],
        "constraint_messages": list(trained["constraint"].messages)}
    say(f"Keras test accuracy: dense {result['dense_keras_accuracy']:.2%}, pruned "
        f"{result['keras_accuracy']:.2%} ({result['sparsity']:.1%} of the recurrent weights "
        "pruned)")
    say("running the front end + network C on the host and the Cortex-M4 (QEMU) ...")
    progress = None if print_fn is None else _progress_printer(say)
    result["c"] = _c_deployment(model, data, quantization, progress)
    data["c_device_labels"] = result["c"]["device_labels"]
    if tflm_clips is None:
        tflm_clips = len(data["clips"])
    if tflm_clips:
        say(f"running TFLM + CMSIS-NN on the Cortex-M4 ({tflm_clips} clips) ...")
    result["tflm"] = _tflm_deployment(model, data, tflm_clips)
    result["realtime"] = _realtime(result)
    result["model"] = model
    return result


def run_kws(*, cell: str = "lstm", units: int = 48, dense_epochs: int = 30,
            prune_epochs: int = 30, max_train: int | None = None, max_test: int | None = None,
            tflm_clips: int | None = None, quantization: str = "int8", seed: int = 0,
            progress: bool = True, print_fn: Callable[[str], Any] = print) -> dict[str, Any]:
    """The whole pipeline (see the module docstring); returns the figures as a dict.

    ``max_train`` / ``max_test``: seeded subsets (smaller, faster runs); ``tflm_clips``: the
    first test clips run through TFLM (default all; 0: skip it; 49 invokes a clip).
    """
    settings = dict(cell=cell, units=units, dense_epochs=dense_epochs,
                    prune_epochs=prune_epochs, max_train=max_train, max_test=max_test,
                    tflm_clips=tflm_clips, quantization=quantization)
    check_settings(**settings)
    started = time.perf_counter()
    data = load_kws_data(max_train, max_test, seed)
    print_fn(f"spoken_words: {len(data['x_train'])} training clips, {len(data['clips'])} test "
             f"clips (voices disjoint), {data['x_train'].shape[1]} frames x "
             f"{data['x_train'].shape[2]} MFCCs")
    trained = train_keyword_model(data["x_train"], data["y_train"], cell=cell, units=units,
                                  dense_epochs=dense_epochs, prune_epochs=prune_epochs,
                                  seed=seed, progress=progress)
    result = deploy_kws(trained, data, quantization=quantization, tflm_clips=tflm_clips,
                        print_fn=print_fn if progress else None)
    result["settings"] = {**settings, "seed": seed}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _progress_printer(print_fn):
    def report(done: int, total: int) -> None:
        print_fn(f"  QEMU: {done}/{total} clips")
    return report


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per deployed part: front end, network (sparse C), network (TFLM + CMSIS-NN)."""
    c, tflm = result["c"], result.get("tflm")
    rows = [{"part": "front end (float C, MFCC)", "flash_bytes": c["frontend"]["flash_bytes"],
             "ram_bytes": c["frontend"]["ram_bytes"],
             "instructions_per_frame": c["frontend"]["instructions_per_frame"],
             "accuracy": None, "clips": c["clips"]},
            {"part": f"network, sparse {c['quantization']} C", "flash_bytes":
             c["network"]["flash_bytes"], "ram_bytes": c["network"]["ram_bytes"],
             "instructions_per_frame": c["network"]["instructions_per_frame"],
             "accuracy": c["device_accuracy"], "clips": c["clips"]}]
    if tflm:
        rows.append({"part": "network, TFLM + CMSIS-NN int8 (16x8) streaming",
                     "flash_bytes": tflm["flash_bytes"], "ram_bytes": tflm["ram_bytes"],
                     "instructions_per_frame": tflm["instructions_per_frame"],
                     "accuracy": tflm["device_accuracy"], "clips": tflm["clips"]})
    return rows


def format_report(result: dict[str, Any]) -> str:
    """The readable report: accuracies, the per-part table and the real-time line."""
    c, rt = result["c"], result["realtime"]
    lines = [f"== Keyword spotting on a Cortex-M4: {result['cell'].upper()}({result['units']}), "
             f"{result['train_clips']} training / {result['test_clips']} test clips ==",
             f"Keras: dense {result['dense_keras_accuracy']:.2%}, pruned "
             f"{result['keras_accuracy']:.2%} (sparsity {result['sparsity']:.1%})",
             *("  " + message for message in result.get("constraint_messages", ())),
             f"C on the host {c['host_accuracy']:.2%}, on the Cortex-M4 {c['device_accuracy']:.2%}"
             f" (labels equal to the host build: {c['device_equals_host']}; agreement with "
             f"Keras {c['agreement_with_keras']:.2%})", "",
             "| part | flash bytes | RAM bytes | instructions per 20 ms frame | device accuracy |",
             "|---|---:|---:|---:|---:|"]
    for row in table_rows(result):
        acc = "" if row["accuracy"] is None else f"{row['accuracy']:.2%} ({row['clips']} clips)"
        lines.append(f"| {row['part']} | {row['flash_bytes']:,} | {row['ram_bytes']:,} | "
                     f"{row['instructions_per_frame']:,.0f} | {acc} |")
    lines.append("")
    line = (f"real time (80 MHz Cortex-M4, {CYCLES_PER_FRAME:,} cycles a frame, one cycle an "
            f"instruction): front end + sparse C {rt['sparse_c']:.2%}")
    if "tflm_cmsis_nn" in rt:
        line += f", front end + TFLM/CMSIS-NN {rt['tflm_cmsis_nn']:.2%}"
        tflm = result["tflm"]
        lines.append(f"on the {tflm['clips']} clips TFLM ran: Keras {tflm['keras_accuracy']:.2%}"
                     f", TFLM on the Cortex-M4 {tflm['device_accuracy']:.2%}, sparse C on the "
                     f"Cortex-M4 {tflm.get('c_device_accuracy_same_clips', float('nan')):.2%}")
    lines.append(line)
    if "seconds" in result:
        lines.append(f"finished in {result['seconds']:.0f} s")
    return "\n".join(lines)


def write_results(result: dict[str, Any], out: str | Path) -> list[Path]:
    """``kws_results.json`` (every figure) and ``kws_table.csv`` (:func:`table_rows`) in
    ``out`` (created); the Keras model too (``kws_model.keras``) when the result holds it."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out` {str(out)!r} is an existing file; pass a folder.")
    out.mkdir(parents=True, exist_ok=True)
    figures = {k: v for k, v in result.items() if k != "model"}
    paths = [out / _RESULTS, out / _TABLE]
    paths[0].write_text(json.dumps(figures, indent=1, default=float) + "\n")
    with open(paths[1], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table_rows(result)[0]))
        writer.writeheader()
        writer.writerows(table_rows(result))
    if result.get("model") is not None:
        paths.append(out / "kws_model.keras")
        result["model"].save(paths[-1])
    return paths
