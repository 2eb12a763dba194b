"The `fae-book` command as a user meets it: the installed console script, its help, its one-line errors, a tiny run."
import json, shutil, subprocess

import numpy as np
import pytest

from fae_book.cli import main, reproduce, eval_subset, PAPER_TABLE1, TABLE1_MODELS

FAE_BOOK = shutil.which("fae-book")
TINY = ["--n-train", "300", "--n-valid", "100", "--z-dim", "4", "--depth", "1", "--width", "32",
        "--max-epochs", "2", "--warmup-epochs", "1", "--quiet"]


def run(*args):
    "Run the installed console script; return the completed process."
    return subprocess.run([FAE_BOOK, *args], capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": "/tmp"})


needs_script = pytest.mark.skipif(FAE_BOOK is None, reason="fae-book console script not installed (pip install -e .)")


@needs_script
def test_console_script_help_and_bad_argument(tmp_path):
    p = run("--help")
    assert p.returncode == 0 and "usage: fae-book" in p.stdout and "reproduce" in p.stdout
    p = run("train", "--out", str(tmp_path / "r"), "--F-z", "-1")
    assert p.returncode == 2 and p.stderr.strip() == "fae-book train: error: argument --F-z: must be a finite number >= 0, got -1"


@pytest.mark.parametrize("cmd", [[], ["train"], ["evaluate"], ["fs-plane"], ["reproduce"], ["theory"]])
def test_help_everywhere(cmd, capsys):
    with pytest.raises(SystemExit) as e: main([*cmd, "--help"])
    assert e.value.code == 0 and "usage: fae-book" in capsys.readouterr().out


def test_train_help_says_what_each_option_means(capsys):
    from dataclasses import fields
    from fae_book.cli import config_field_help
    from fae_book.training import TrainConfig
    doc = config_field_help()
    assert set(doc) == {f.name for f in fields(TrainConfig)}                  # every field has its own comment
    with pytest.raises(SystemExit): main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--F-z F_Z FAE: target Fisher information of q(z|x), in the units of reduction" in text
    assert "TrainConfig." not in text and "(default: 0.001)" in text


@pytest.mark.parametrize("args, fragment", [
    (["train", "--out", "{tmp}/r", "--F-z", "-1"], "--F-z: must be a finite number >= 0"),
    (["train", "--out", "{tmp}/r", "--model", "gan"], "invalid choice: 'gan'"),
    (["train", "--out", "{tmp}/r", "--lambda-z", "nan"], "must be a finite number >= 0"),
    (["evaluate", "{tmp}/r", "--k", "0"], "--k: must be an integer >= 1"),
    (["reproduce", "--out", "/proc/no_such_place"], "cannot write to output folder"),
    (["reproduce", "--models", "GAN"], "invalid choice: 'GAN'"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    ([], "required: COMMAND"),
])
def test_bad_arguments_one_line_exit_2(tmp_path, capsys, args, fragment):
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], err
    assert not (tmp_path / "r").exists()            # rejected before any work


def test_missing_data_is_one_line_exit_1(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), "--dataset", "dynamic_mnist",
                 "--data-root", str(tmp_path / "empty"), *TINY]) == 1
    err = capsys.readouterr().err
    assert "mnist.npz" in err and len(err.strip().splitlines()) == 1


def test_train_evaluate_and_refuse_to_overwrite(tmp_path, capsys):
    out = str(tmp_path / "vae")
    assert main(["train", "--out", out, *TINY]) == 0
    assert main(["train", "--out", out, *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--out", out, "--resume", *TINY]) == 0     # finished run: returns at once
    assert main(["evaluate", out, "--k", "10", "--n-test", "50", "--quiet"]) == 0
    r = json.loads((tmp_path / "vae" / "eval_test_k10_n50.json").read_text())
    assert r["k"] == 10 and r["n_points"] == 50 and r["stam_ratio"] >= 1 and r["provenance"]["git_commit"] is not None


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    out = str(tmp_path / "vae")
    assert main(["train", "--out", out, *TINY]) == 0
    assert main(["train", "--out", out, "--resume", "--lr", "0.01", *TINY]) == 1
    assert "different configuration" in capsys.readouterr().err


def test_eval_subset_covers_all_digits():
    import torch
    x = torch.arange(1000.).repeat_interleave(10).reshape(-1, 1)   # sorted, like the static MNIST test split
    s = eval_subset(x, 100)
    assert len(s) == 100 and torch.all(s[1:] >= s[:-1]) and s.min() < 100 and s.max() > 900
    assert torch.equal(s, eval_subset(x, 100)) and eval_subset(x, None) is x


def test_reproduce_writes_everything_and_resumes(tmp_path):
    tiny = dict(n_train=300, n_valid=100, z_dim=4, depth=1, width=32, max_epochs=2, warmup_epochs=1)
    s = reproduce(tmp_path, models=["VAE", "MAE(M=10)"], k=5, n_test=50, progress=False, overrides=tiny, log=lambda m: None)
    assert {p.name for p in tmp_path.iterdir()} >= {"table.md", "results.json", "fs_plane.png", "trajectory.png", "reconstructions.png"}
    table = (tmp_path / "table.md").read_text()
    assert "| VAE | 85.56 |" in table and "| MAE(M=10) | 80.86 |" in table
    assert s["configs"]["mae_m10-s14"]["M"] == 10.0 and s["k"] == 5
    again = reproduce(tmp_path, models=["VAE", "MAE(M=10)"], k=5, n_test=50, progress=False, overrides=tiny, log=lambda m: None)
    assert [m["nll"] for m in again["models"]] == [m["nll"] for m in s["models"]]
    assert "reached the maximum of 2 epochs" in table


def test_reproduce_seeds_time_limit_and_per_image_nll(tmp_path):
    tiny = dict(n_train=300, n_valid=100, z_dim=4, depth=1, width=32, max_epochs=3, warmup_epochs=1)
    kw = dict(models=["VAE", "FAE(F=20)"], seeds=[3, 4], k=5, n_test=40, progress=False, overrides=tiny, log=lambda m: None)
    s = reproduce(tmp_path, time_limit=1e-3, **kw)                      # one epoch, then the best states so far
    assert sorted(s["paused"]) == ["fae_f20-s3", "fae_f20-s4", "vae-s3", "vae-s4"]
    table = (tmp_path / "table.md").read_text()
    assert "mean ± s.d. over seeds" in table and "stopped by the time limit at epoch 1, not converged" in table
    row = next(r for r in s["table"] if r["model"] == "VAE")
    nll = [m["nll"] for m in s["models"] if m["model"] == "VAE"]
    assert row["nll"] == pytest.approx(np.mean(nll)) and row["nll_sd"] == pytest.approx(np.std(nll, ddof=1))
    trJ = [m["trJ"] for m in s["models"] if m["model"] == "VAE"]           # several seeds: the s.e. of the mean over seeds
    assert row["trJ_se"] == pytest.approx(np.std(trJ, ddof=1) / np.sqrt(2))
    assert all(m["N_se"] > 0 and m["trJ_se"] > 0 for m in s["models"])       # one seed: over its 40 images
    per_image = np.load(tmp_path / "runs" / "vae-s3" / "nll_test_k5_n40.npy")
    assert per_image.shape == (40,) and per_image.mean() == pytest.approx(s["models"][0]["nll"])
    frozen = reproduce(tmp_path, time_limit=0, **kw)                   # 0: evaluate only, nothing trains
    assert [m["epochs"] for m in frozen["models"]] == [1] * 4 and [m["nll"] for m in frozen["models"]] == [m["nll"] for m in s["models"]]
    done = reproduce(tmp_path, **kw)                                    # continues to the end; the evaluations follow the new best states
    assert done["paused"] == [] and [m["epochs"] for m in done["models"]] == [3] * 4
    assert all(m["best_epoch"] > 1 for m in done["models"]) and "reached the maximum of 3 epochs" in (tmp_path / "table.md").read_text()


def test_train_time_limit_says_how_to_go_on(tmp_path, capsys):
    small = ["--n-train", "200", "--n-valid", "50", "--z-dim", "3", "--depth", "1", "--width", "16", "--max-epochs", "3", "--quiet"]
    assert main(["train", "--out", str(tmp_path / "r"), "--time-limit", "0.00001", *small]) == 0
    out = capsys.readouterr().out
    assert "stopped by the time limit at epoch 1, not converged" in out and "the same command with --resume" in out
    assert main(["train", "--out", str(tmp_path / "r"), "--resume", *small]) == 0
    assert "reached the maximum of 3 epochs" in capsys.readouterr().out


def test_paper_numbers_are_the_papers():
    assert PAPER_TABLE1 == {"VAE": 85.56, "FAE(F=0)": 83.2, "FAE(F=20)": 79.30, "MAE(M=0)": 81.58,
                            "MAE(M=10)": 80.86, "PixelVAE": 79.21, "IAF": 79.85}
    assert set(TABLE1_MODELS) == {"VAE", "FAE(F=0)", "FAE(F=20)", "MAE(M=0)", "MAE(M=10)"}


def test_theory_command_checks_and_figures(tmp_path, capsys):
    assert main(["theory", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == 8 and "FAIL" not in out and "quadratic fit" in out
    checks = json.loads((tmp_path / "checks.json").read_text())
    assert all(c["ok"] for c in checks) and {p.name for p in tmp_path.glob("*.png")} == {"quadfit_bias.png", "fs_plane_families.png"}


def test_stacked_evaluation_agrees_with_one_model_at_a_time(tmp_path):
    "The vectorised IS pass (used on a GPU) and the per-model one estimate the same NLLs, image by image."
    tiny = dict(n_train=300, n_valid=100, z_dim=4, depth=1, width=32, max_epochs=2, warmup_epochs=1)
    kw = dict(models=["VAE", "FAE(F=20)"], seeds=[1], k=100, n_test=60, progress=False, overrides=tiny, log=lambda m: None)
    one = reproduce(tmp_path / "a", stack_evaluation=False, **kw)
    stacked = reproduce(tmp_path / "b", stack_evaluation=True, **kw)
    for r in ("vae-s1", "fae_f20-s1"):
        a, b = (np.load(tmp_path / f / "runs" / r / "nll_test_k100_n60.npy") for f in ("a", "b"))
        d = a - b
        assert abs(d.mean()) < 4 * d.std() / np.sqrt(len(d)) + 1e-6 and np.abs(d).max() < 5.0
    assert [m["N"] for m in one["models"]] == [m["N"] for m in stacked["models"]]   # the rest is deterministic
