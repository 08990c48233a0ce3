"""Iterative-pruning experiment: mask helpers, summary logic, and a tiny end-to-end CLI run."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from tf_expander_pruning import experiments as E


def test_magnitude_prune_removes_smallest_of_remaining():
    weight = np.arange(1, 21, dtype=np.float32).reshape(4, 5) * np.where(
        np.arange(20).reshape(4, 5) % 2, 1, -1
    )
    mask = np.ones((4, 5), np.float32)
    mask[0, :2] = 0  # |w| = 1, 2 already gone
    new = E.magnitude_prune(weight, mask, 0.25)
    # 18 remaining -> round(4.5) = 4 more removed: |w| = 3, 4, 5, 6.
    assert new.sum() == 18 - 4
    removed = np.abs(weight[(mask == 1) & (new == 0)])
    np.testing.assert_array_equal(np.sort(removed), [3, 4, 5, 6])
    assert np.all(new <= mask)  # never revives a pruned weight
    np.testing.assert_array_equal(E.magnitude_prune(weight, mask, 0.25), new)
    with pytest.raises(ValueError, match="mask"):
        E.magnitude_prune(weight, mask[:, :3], 0.2)
    with pytest.raises(ValueError, match="fraction"):
        E.magnitude_prune(weight, mask, 1.5)


def test_random_prune_is_nested_and_seeded():
    mask = np.ones((10, 10), np.float32)
    a = E.random_prune(mask, 0.2, np.random.default_rng(0))
    b = E.random_prune(a, 0.2, np.random.default_rng(1))
    assert a.sum() == 80 and b.sum() == 64
    assert np.all(b <= a)
    np.testing.assert_array_equal(a, E.random_prune(mask, 0.2, np.random.default_rng(0)))


def test_analyze_weight_rows_per_gate():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(6, 4 * 5))
    mask = (rng.random((6, 20)) > 0.3).astype(np.float32)
    rows = E.analyze_weight(weight, mask, ("i", "f", "c", "o"))
    assert [r["gate"] for r in rows] == ["all", "i", "f", "c", "o"]
    whole = rows[0]
    assert whole["edges"] == int(mask.sum())
    assert math.isclose(whole["sparsity"], 1 - float(mask.mean()), rel_tol=1e-6)
    assert 0 < whole["weighted_gap_normalized"] <= 1
    # Gate rows are the column blocks.
    assert rows[2]["edges"] == int(mask[:, 5:10].sum())
    assert len(E.analyze_weight(weight[:, :5], mask[:, :5], (None,))) == 1


def test_mask_callback_holds_masks_during_training():
    from tf_expander_pruning.keras_compat import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.SimpleRNN(4, name="rnn"),
                              keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cell = model.get_layer("rnn").cell
    callback = E.MaskCallback.create({"kernel": cell.kernel, "recurrent": cell.recurrent_kernel})
    mask = np.ones((4, 4), np.float32)
    mask[:, 0] = 0
    callback.set_mask("recurrent", mask)
    x = np.random.default_rng(0).random((32, 3, 2)).astype(np.float32)
    y = np.arange(32) % 2
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[callback])
    recurrent = cell.recurrent_kernel.numpy()
    assert np.all(recurrent[:, 0] == 0) and np.all(recurrent[:, 1:] != 0)
    assert np.all(cell.kernel.numpy() != 0)


def _fake_result(accuracies, recurrent_delta_r):
    """One seed, variant 'both', kernel always Ramanujan; recurrent Delta_r as given."""
    config = E.ExperimentConfig(cell="simplernn", seeds=1, rounds=len(accuracies) - 1,
                                variants=("both",), noise=())
    result = E.ExperimentResult(config=config)
    for k, (accuracy, delta) in enumerate(zip(accuracies, recurrent_delta_r, strict=True)):
        sparsity = 1 - 0.8**k
        result.rounds.append({"seed": 0, "variant": "both", "round": k, "sparsity": sparsity,
                              "sparsity_kernel": sparsity, "sparsity_recurrent": sparsity,
                              "accuracy": accuracy})
        for weight, value in (("kernel", 1.0), ("recurrent", delta)):
            result.graphs.append({
                "seed": 0, "variant": "both", "round": k, "weight": weight, "gate": "all",
                "sparsity": sparsity, "delta_r": value, "iterative_mean_delta_r": value,
                "delta_s": 1.0, "weighted_gap_normalized": 0.9 - 0.1 * k,
            })
    return result


def test_summarize_finds_knee_and_criterion_lead():
    result = _fake_result([0.95, 0.95, 0.94, 0.92, 0.80], [2.0, 1.0, -0.5, -1.0, None])
    summary = E.summarize(result)
    aggregate = summary["variants"]["both"]["aggregate"]
    knee = 1 - 0.8**3  # 0.92 < 0.95 - 0.02
    assert math.isclose(aggregate["knee_sparsity"]["mean"], knee)
    entry = aggregate["recurrent/delta_r_concat"]
    assert math.isclose(entry["sparsity_mean"], 1 - 0.8**2)
    assert math.isclose(entry["lead_mean"], knee - (1 - 0.8**2))
    assert aggregate["kernel/delta_r_concat"]["sparsity_mean"] is None  # never failed
    assert math.isclose(aggregate["recurrent/undefined"]["sparsity_mean"], 1 - 0.8**4)
    # weighted gap 0.9 -> below 0.45 at round 5 only: not reached in 4 rounds
    assert aggregate["recurrent/weighted_gap"]["seeds_failed"] == 0
    # No knee when accuracy never falls.
    flat = E.summarize(_fake_result([0.9] * 3, [1.0, 1.0, 1.0]))
    assert flat["variants"]["both"]["aggregate"]["knee_sparsity"]["mean"] is None


@pytest.mark.parametrize(
    "change, match",
    [
        ({"cell": "transformer"}, "cell"),
        ({"units": 0}, "units"),
        ({"seeds": 0}, "seeds"),
        ({"prune_fraction": 1.0}, "prune_fraction"),
        ({"variants": ("both", "gates")}, "variants"),
        ({"variants": "both"}, "variants"),
        ({"noise": (("gaussian", -1),)}, "noise"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"finetune_epochs": -1}, "finetune_epochs"),
    ],
)
def test_config_validation_names_the_field(change, match):
    with pytest.raises((ValueError, TypeError), match=match):
        E.ExperimentConfig(**change).validate()


def test_run_experiment_rejects_non_config():
    with pytest.raises(TypeError, match="config"):
        E.run_experiment({"cell": "lstm"})


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_cli_end_to_end_writes_every_promised_file(tmp_path, capsys):
    from tf_expander_pruning.cli import main

    out = tmp_path / "run"
    code = main([
        "reproduce", "--dataset", "digits", "--cell", "gru", "--units", "6", "--seeds", "1",
        "--rounds", "2", "--dense-epochs", "1", "--finetune-epochs", "1", "--max-train", "150",
        "--max-test", "60", "--quiet", "--out", str(out),
    ])
    assert code == 0
    assert "Delta_r" in capsys.readouterr().out
    for name in E.OUTPUT_FILES:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    config = json.loads((out / "config.json").read_text())
    assert config["cell"] == "gru" and config["seeds"] == [0] and config["units"] == 6

    rounds = _read_csv(out / "rounds.csv")
    variants = list(E.VARIANTS)
    assert len(rounds) == len(variants) * 3  # 1 seed x 4 variants x (dense + 2 rounds)
    for row in rounds:
        k = int(row["round"])
        assert 0 <= float(row["accuracy"]) <= 1
        assert 0 <= float(row["accuracy_gaussian=0.3"]) <= 1
        assert 0 <= float(row["accuracy_salt_pepper=0.1"]) <= 1
        pruned = E.VARIANTS[row["variant"]][0]
        for weight in ("kernel", "recurrent"):
            sparsity = float(row[f"sparsity_{weight}"])
            expected = 1 - 0.8**k if weight in pruned else 0.0
            assert abs(sparsity - expected) < 0.02, (row["variant"], weight, k, sparsity)
        assert float(row["unrolled_spectral_gap"]) >= 0

    graphs = _read_csv(out / "graphs.csv")
    # per (variant, round): 2 weights x (whole + 3 GRU gates)
    assert len(graphs) == len(variants) * 3 * 2 * 4
    assert {g["gate"] for g in graphs} == {"all", "z", "r", "h"}
    for g in graphs:
        if g["delta_r"]:
            bound, mu = float(g["bound"]), float(g["mu_hat"])
            assert math.isclose(float(g["delta_r"]), bound - mu, rel_tol=1e-9, abs_tol=1e-9)
            assert (g["is_ramanujan"] == "True") == (float(g["delta_r"]) >= 0)
        else:
            assert g["undefined_reason"]  # undefined is explained, never a number
    # The kernel-only variant leaves W_hh dense: a complete bipartite graph (mu_hat = 0).
    dense_hh = [g for g in graphs if g["variant"] == "kernel" and g["weight"] == "recurrent"
                and g["gate"] == "all"]
    assert all(float(g["mu_hat"]) < 1e-6 for g in dense_hh)

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["variants"]) == set(variants)
    both = summary["variants"]["both"]
    assert len(both["curve"]) == 3
    assert "recurrent/delta_r_concat" in both["aggregate"]
    assert 0 < both["aggregate"]["dense_accuracy"]["mean"] <= 1
    assert "| both | 2 |" in (out / "summary.md").read_text()


def test_cli_bad_argument_is_a_clean_error(tmp_path, capsys):
    from tf_expander_pruning.cli import main

    code = main(["reproduce", "--units", "0", "--out", str(tmp_path), "--quiet"])
    assert code == 1
    assert "units" in capsys.readouterr().err


def test_parse_constraint_option():
    from tf_expander_pruning.cli.commands.reproduce import parse_constraint

    assert parse_constraint("default") == ("default", {})
    name, options = parse_constraint("pg:per_gate=true,margin=0.5,undefined=skip")
    assert name == "pg" and options == {"per_gate": True, "margin": 0.5, "undefined": "skip"}
    with pytest.raises(ValueError, match="--constraint"):
        parse_constraint("pg:per_gate")


@pytest.mark.slow
def test_stopping_rule_cli_compares_constraint_and_fixed_targets(tmp_path):
    from tf_expander_pruning.cli import main

    out = tmp_path / "stop"
    code = main([
        "reproduce", "--experiment", "stopping-rule", "--cell", "lstm", "--units", "4",
        "--seeds", "1", "--rounds", "2", "--dense-epochs", "1", "--finetune-epochs", "1",
        "--max-train", "100", "--max-test", "40", "--stop-targets", "0.5",
        "--constraint", "default", "--quiet", "--out", str(out),
    ])
    assert code == 0
    for name in E.STOP_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    rows = _read_csv(out / "stopping_rule.csv")
    assert [r["method"] for r in rows] == ["dense", "default", "fixed_0.5"]
    fixed = rows[2]
    # PolynomialDecay reaches its target exactly on both matrices.
    assert abs(float(fixed["sparsity_kernel"]) - 0.5) < 0.02
    assert abs(float(fixed["sparsity_recurrent"]) - 0.5) < 0.02
    # Two geometric updates of 20 %: at most 36 % (less if the constraint froze a matrix).
    auto = rows[1]
    for weight in ("kernel", "recurrent"):
        assert 0.0 <= float(auto[f"sparsity_{weight}"]) <= 0.36 + 0.02
    summary = json.loads((out / "stopping_rule.json").read_text())
    assert set(summary) == {"dense", "default", "fixed_0.5"}
    assert summary["dense"]["layer_sparsity"]["mean"] == 0.0


@pytest.mark.slow
def test_protocol_on_a_few_hundred_mnist_5k_sequences_through_the_cli(tmp_path, capsys):
    """Issue 15: curves + stopping rule on mnist_5k, a second seed merged in, then the headline
    table of the results directory."""
    from tf_expander_pruning.cli import main
    from tf_expander_pruning.research.experiments.results_io import read_rows

    root = tmp_path / "results"
    out = root / "mnist_5k" / "lstm"
    common = ["--dataset", "mnist_5k", "--cell", "lstm", "--units", "4", "--rounds", "2",
              "--dense-epochs", "1", "--finetune-epochs", "1", "--max-train", "300",
              "--max-test", "100", "--stop-targets", "0.5", "0.9", "--quiet"]
    assert main(["reproduce", "--experiment", "all", *common, "--seeds", "1",
                 "--out", str(out)]) == 0
    for name in (*E.STOP_FILES, "rounds.csv", "graphs.csv", "summary.json"):
        assert (out / name).is_file(), name
    rounds = read_rows(out / "rounds.csv")
    assert {r["dataset"] for r in rounds} == {"mnist_5k"}
    assert len(rounds) == len(E.VARIANTS) * 3
    assert all(0 <= r["accuracy_gaussian=0.3"] <= 1 for r in rounds)  # noisy MNIST, as the paper
    # A second seed is added to the same directory: seed 0's rows are kept.
    assert main(["reproduce", "--experiment", "stopping-rule", *common, "--seeds", "1,",
                 "--no-plots", "--out", str(out)]) == 0
    rows = read_rows(out / "stopping_rule.csv")
    assert sorted({r["seed"] for r in rows}) == [0, 1]
    assert [r["method"] for r in rows if r["seed"] == 1] == [
        "dense", "ramanujan", "fixed_0.5", "fixed_0.9"]
    for row in rows:
        if row["method"].startswith("fixed_"):
            assert abs(row["layer_sparsity"] - row["target"]) < 0.02
    capsys.readouterr()
    assert main(["reproduce", "--experiment", "table", "--out", str(root)]) == 0
    printed = capsys.readouterr().out
    assert "| mnist_5k | lstm | 2 |" in printed
    headline = read_rows(root / "headline.csv")
    assert len(headline) == 1
    dense = [r["accuracy"] for r in rows if r["method"] == "dense"]
    assert math.isclose(headline[0]["dense_accuracy"], sum(dense) / 2)
    stop = [r["layer_sparsity"] for r in rows if r["method"] == "ramanujan"]
    assert math.isclose(headline[0]["stop_sparsity"], sum(stop) / 2)


def test_table_without_results_is_a_clean_error(tmp_path, capsys):
    from tf_expander_pruning.cli import main

    assert main(["reproduce", "--experiment", "table", "--out", str(tmp_path)]) == 1
    assert "stopping_rule.csv" in capsys.readouterr().err


def test_mnist1d_config_refuses_noise():
    with pytest.raises(ValueError, match="noise"):
        E.ExperimentConfig(dataset="mnist1d", noise=(("gaussian", 0.1),)).validate()
    E.ExperimentConfig(dataset="mnist1d", noise=()).validate()
