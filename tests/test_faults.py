"""Faults of the kinds public bug reports of VAE libraries and training CLIs describe (issue 12), each as the case that
showed it and the rule that covers its kind: stored results are reused only while what they were computed from is
unchanged; settings that cannot describe the data are refused before training; a damaged file is one line and exit 1,
and nothing stored is overwritten."""
import json, shutil

import numpy as np
import pytest
import torch

from fae_book.cli import main, evaluate_run, evaluation_inputs
from fae_book.data import DATASET_PIXELS, DATASETS
from fae_book.models import LIKELIHOOD_PIXELS, check_likelihood_fits
from fae_book.training import TrainConfig, TrainingDiverged, train

CASE = ["--z-dim", "2", "--depth", "1", "--width", "8", "--n-train", "200", "--n-valid", "50", "--lr", "0.01",
        "--warmup-epochs", "0", "--quiet"]


def _files(folder):
    "Every file of a run folder and its bytes."
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    "The issue's case: one epoch of a tiny VAE, evaluated with K = 5 on 20 test images."
    out = tmp_path_factory.mktemp("faults") / "run"
    assert main(["train", "--out", str(out), "--max-epochs", "1", *CASE]) == 0
    assert main(["evaluate", str(out), "--k", "5", "--n-test", "20", "--quiet"]) == 0
    return out


# ---- kind 1: a stored result is reused only while its inputs are unchanged ----

def test_evaluation_after_more_training_is_recomputed(tiny_run, tmp_path):
    run = tmp_path / "run"; shutil.copytree(tiny_run, run)
    first = json.loads((run / "eval_test_k5_n20.json").read_text())
    assert first["best_epoch"] == 1 and first["computed_from"] == evaluation_inputs(run, 5, 20)
    assert main(["train", "--out", str(run), "--resume", "--max-epochs", "4", *CASE]) == 0
    second = evaluate_run(run, k=5, n_test=20)
    assert second["computed_from"]["weights_sha256"] != first["computed_from"]["weights_sha256"]
    assert second["best_epoch"] == torch.load(run / "best.pt", weights_only=True)["epoch"] > 1
    (run / "eval_test_k5_n20.json").unlink()                              # afresh, from nothing stored: the same numbers
    fresh = evaluate_run(run, k=5, n_test=20)
    assert fresh["nll"] == second["nll"] != first["nll"] and fresh["best_epoch"] == second["best_epoch"]


def test_evaluation_of_other_weights_with_the_same_best_epoch_is_recomputed(tiny_run, tmp_path):
    "The best epoch alone does not identify the weights: another run's best.pt, also from epoch 1, is evaluated anew."
    run, other = tmp_path / "run", tmp_path / "other"
    shutil.copytree(tiny_run, run)
    assert main(["train", "--out", str(other), "--max-epochs", "1", "--seed", "15", *CASE]) == 0
    shutil.copy(other / "best.pt", run / "best.pt"); shutil.copy(other / "checkpoint.pt", run / "checkpoint.pt")
    before = json.loads((run / "eval_test_k5_n20.json").read_text())
    after = evaluate_run(run, k=5, n_test=20)
    assert after["best_epoch"] == before["best_epoch"] == 1 and after["nll"] != before["nll"]
    assert after["computed_from"]["weights_sha256"] == evaluation_inputs(other, 5, 20)["weights_sha256"]   # says what it describes


def test_resume_without_settings_uses_the_runs_own(tiny_run, tmp_path, capsys):
    "`train --out RUN --resume` alone continues RUN with its config.json; an option given overrides (and is checked)."
    run = tmp_path / "run"; shutil.copytree(tiny_run, run)
    assert main(["train", "--out", str(run), "--resume", "--max-epochs", "2", "--quiet"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["train", "--out", str(run), "--resume", "--width", "16", "--quiet"]) == 1
    assert "width: 8 -> 16" in capsys.readouterr().err


# ---- kind 2: settings that cannot describe the data are refused before training ----

@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("likelihood", sorted(LIKELIHOOD_PIXELS))
def test_every_dataset_likelihood_pair_is_checked(dataset, likelihood):
    fits = DATASET_PIXELS[dataset] in LIKELIHOOD_PIXELS[likelihood]
    if fits: TrainConfig(dataset=dataset, likelihood=likelihood)
    else:
        with pytest.raises(ValueError, match=f"a {likelihood} decoder needs .* pixels and {dataset} has"):
            TrainConfig(dataset=dataset, likelihood=likelihood)


def test_bernoulli_on_svhn_is_one_line_before_any_training(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), "--dataset", "svhn"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("fae-book train: error: TrainConfig: a bernoulli decoder needs binary pixels and svhn has 8-bit pixels; "
                   "likelihoods that fit them: gaussian, logistic.")
    assert not (tmp_path / "r").exists()


def test_the_data_actually_loaded_is_checked_too():
    with pytest.raises(ValueError, match="a bernoulli decoder needs binary pixels and the data has grey-level pixels"):
        check_likelihood_fits("bernoulli", "grey")
    check_likelihood_fits("gaussian", "grey")


def test_divergence_guard_does_not_swallow_other_errors(tmp_path):
    "Only a non-finite loss is a divergence; an error that merely mentions invalid values propagates as itself."
    cfg = TrainConfig(z_dim=2, depth=1, width=8, n_train=200, n_valid=50, max_epochs=2, warmup_epochs=0)
    def unrelated(epoch, step, terms, stack): raise ValueError("found invalid values in an unrelated place")
    with pytest.raises(ValueError, match="unrelated place") as e:
        train(cfg, tmp_path / "a", progress=False, on_batch=unrelated)
    assert not isinstance(e.value, TrainingDiverged)
    def poison(epoch, step, terms, stack):
        with torch.no_grad():
            for p in stack.params.values(): p.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="non-finite training loss at epoch 1"):
        train(cfg, tmp_path / "b", progress=False, on_batch=poison)


# ---- kind 4: a damaged file is one line and exit 1; nothing stored is overwritten ----

DAMAGES = {
    "truncated": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "garbage": lambda b: b"\x00\xffnot a fae_book file\n" * 5,
}
COMMANDS = {
    "evaluate": lambda run: ["evaluate", str(run), "--k", "5", "--n-test", "20", "--quiet"],
    "resume": lambda run: ["train", "--out", str(run), "--resume", "--max-epochs", "3", "--quiet"],
    "fs-plane": lambda run: ["fs-plane", str(run), "--out", str(run.parent / "fs.png"), "--n-test", "20"],
}
READS = {"evaluate": ("config.json", "best.pt", "checkpoint.pt", "eval_test_k5_n20.json"),
         "resume": ("config.json", "checkpoint.pt"), "fs-plane": ("config.json", "best.pt")}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("command, name", [(c, n) for c, names in READS.items() for n in names])
def test_damaged_file_is_one_line_exit_1_and_nothing_is_lost(tiny_run, tmp_path, capsys, command, name, damage):
    run = tmp_path / "run"; shutil.copytree(tiny_run, run)
    (run / name).write_bytes(DAMAGES[damage]((run / name).read_bytes()))
    before = _files(run)
    capsys.readouterr()
    assert main(COMMANDS[command](run)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and name in err and "Traceback" not in err, err
    assert _files(run) == before                                    # nothing rewritten, nothing removed


def test_damaged_metrics_line_names_the_line(tiny_run, tmp_path, capsys):
    from fae_book.training import read_metrics, DamagedFileError
    run = tmp_path / "run"; shutil.copytree(tiny_run, run)
    with open(run / "metrics.jsonl", "a") as f: f.write('{"epoch": 2, "tra')                   # a write cut short
    with pytest.raises(DamagedFileError, match=r"metrics.jsonl, line 2, is not JSON"):
        read_metrics(run)


def test_checkpoint_from_another_version_is_named(tiny_run, tmp_path, capsys):
    "A well-formed checkpoint without the entries this version writes (or for other settings): one line naming it."
    run = tmp_path / "run"; shutil.copytree(tiny_run, run)
    torch.save({"state_dict": {}}, run / "best.pt")
    assert main(["evaluate", str(run), "--k", "5", "--n-test", "20", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "best.pt lacks ['model', 'objective', 'epoch']" in err or "best.pt lacks" in err
    wide = tmp_path / "wide"
    assert main(["train", "--out", str(wide), "--max-epochs", "1", *CASE[:4], "--width", "16", *CASE[6:]]) == 0
    shutil.copytree(tiny_run, tmp_path / "run2"); shutil.copy(wide / "best.pt", tmp_path / "run2" / "best.pt")
    assert main(["evaluate", str(tmp_path / "run2"), "--k", "5", "--n-test", "20", "--quiet"]) == 1
    assert "does not fit the model of its config.json" in capsys.readouterr().err
