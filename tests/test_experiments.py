"The rules of chapter 09 that turn a measurement into a verdict, on cases whose verdict is known by construction."
import pytest

from fae_book.evaluation import paired_nll_difference
from fae_book.experiments import PAPER_COMPARISONS, PAPER_TABLE1, TABLE1_MODELS, ordering_verdict, run_folder, table1_verdict


@pytest.mark.parametrize("measured, se, paper, converged, verdict", [
    (85.56, 0.0, 85.56, True, "reproduced"),
    (86.0, 0.3, 85.56, True, "reproduced"),                               # 0.44 < 1.96 × 0.3
    (86.2, 0.3, 85.56, True, "not reproduced (+0.6 nats)"),               # 0.64 > 0.588
    (80.0, 1.0, 85.56, False, "not reproduced (-5.6 nats, not converged)"),
    (85.0, 1.0, 85.56, False, "reproduced, not converged"),
])
def test_table1_verdict(measured, se, paper, converged, verdict):
    assert table1_verdict(measured, se, paper, converged) == verdict


def test_ordering_verdict_from_paired_differences():
    "B is A plus a constant: the paired interval is a point, of the sign of the constant."
    a = [80., 90., 100., 85.]
    better = paired_nll_difference(a, [x + 1 for x in a])                  # A better than B by 1 nat
    assert ordering_verdict(better, -6.26) == "same direction" and ordering_verdict(better, +2.0) == "reversed"
    noisy = paired_nll_difference([1., -1., 1., -1.], [0., 0., 0., 0.])
    assert ordering_verdict(noisy, -1.0) == "not distinguishable"
    with pytest.raises(ValueError, match="no direction"):
        ordering_verdict(better, 0.0)


def test_experiments_are_the_papers():
    assert set(TABLE1_MODELS) < set(PAPER_TABLE1) and {a for pair in PAPER_COMPARISONS for a in pair} <= set(TABLE1_MODELS)
    assert [run_folder(n, 14) for n in TABLE1_MODELS] == ["vae-s14", "fae_f0-s14", "fae_f20-s14", "mae_m0-s14", "mae_m10-s14"]
    with pytest.raises(ValueError, match="finite"):
        table1_verdict(float("nan"), 0.1, 80.0, True)


LABELS = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (LABELS / "binarized_mnist_labels.npz").exists(), reason="the optional digit labels are not beside the repository")
def test_probe_run_stores_its_accuracy_with_the_weights_it_used(tmp_path):
    "A 2-epoch model's codes already carry the digit far above chance (0.1; binomial s.e. 0.003 on 10000 test images)."
    import hashlib, json
    from fae_book.experiments import probe_run
    from fae_book.training import TrainConfig, train
    train(TrainConfig(z_dim=4, depth=1, width=32, n_train=2000, n_valid=100, max_epochs=2, warmup_epochs=0), tmp_path, progress=False)
    r = probe_run(tmp_path, labels_root=LABELS, k=10)
    assert 0.2 < r["accuracy"] <= 1 and r["n_train"] == 50000 and r["n_test"] == 10000
    stored = json.loads((tmp_path / "probe_knn.json").read_text())
    assert stored["accuracy"] == r["accuracy"] and stored["weights_sha256"] == hashlib.sha256((tmp_path / "best.pt").read_bytes()).hexdigest()

def test_profiles_with_their_own_rows_build_valid_configs():
    from fae_book.experiments import PROFILES
    from fae_book.training import TrainConfig
    for name in ("figure2", "ablations"):
        prof = PROFILES[name]
        folders = [run_folder(n, 14) for n in prof["rows"]]
        assert len(set(folders)) == len(folders) and all(f.isascii() and "/" not in f and " " not in f for f in folders)
        for row, hyper in prof["rows"].items():
            cfg = TrainConfig(**{**prof["train"], **hyper})
            for key, value in hyper.items(): assert getattr(cfg, key) == value, (row, key)   # the row's choice wins over the schedule
    assert {TrainConfig(**{**PROFILES["ablations"]["train"], **h}).warmup_epochs for h in PROFILES["ablations"]["rows"].values()} == {0, 10, 100}
    assert sorted(h["F_z"] for h in PROFILES["figure2"]["rows"].values()) == [0, 2, 5, 10, 15, 20]

def test_figure2_without_labels_says_so_before_training(tmp_path, monkeypatch):
    from fae_book.cli import reproduce
    from fae_book.data import DataNotFoundError
    monkeypatch.setenv("FAE_BOOK_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataNotFoundError, match="binarized_mnist_labels.npz"):
        reproduce(tmp_path/"f2", profile="figure2", seeds=[14], k=3, n_test=10, progress=False, log=lambda *_: None)
    assert not (tmp_path/"f2").exists()

@pytest.mark.skipif(not (LABELS / "binarized_mnist_labels.npz").exists(), reason="the optional digit labels are not beside the repository")
def test_reproduce_runs_a_profile_of_rows(tmp_path, monkeypatch):
    import numpy as np
    from fae_book.cli import reproduce
    monkeypatch.setenv("FAE_BOOK_DATA", str(LABELS))
    tiny = dict(n_train=100, n_valid=50, depth=1, width=8, max_epochs=1, warmup_epochs=1, eval_batch_size=50)
    s = reproduce(tmp_path/"f2", profile="figure2", seeds=[14], k=3, n_test=10, progress=False, log=lambda *_: None, overrides=tiny)
    for r in s["models"]:                                   # Fig. 2's codes and the digit probe, stored beside each run
        run = tmp_path/"f2"/"runs"/run_folder(r["model"], 14)
        with np.load(run/"codes_test_n1000.npz") as c: assert c["mu"].shape == (1000, 10) and c["tsne"].shape == (1000, 2)
        assert (run/"probe_knn.json").exists()
    assert [r["model"] for r in s["models"]] == list(__import__("fae_book.experiments", fromlist=["x"]).PROFILES["figure2"]["rows"])
    assert all(r["z_dim"] == 10 for r in s["models"]) and (tmp_path/"f2"/"runs"/"fae_f20-z10-s14"/"config.json").exists()


def test_landing_page_account_of_table1_is_what_the_stored_runs_say():
    "README and the site show the saved output of index.ipynb's table1_summary cell: it must equal a fresh reading of nbs/results/paper."
    import json
    from pathlib import Path
    from fae_book.experiments import table1_summary
    nbs = Path(__file__).resolve().parent.parent / "nbs"
    cells = [c for c in json.loads((nbs / "index.ipynb").read_text())["cells"]
             if c["cell_type"] == "code" and "table1_summary(" in "".join(c["source"]) and "import" not in "".join(c["source"])]
    assert len(cells) == 1, "index.ipynb must have one cell that writes the Table 1 account"
    saved = [o for o in cells[0].get("outputs", []) if "text/markdown" in o.get("data", {})]
    assert saved, "index.ipynb's Table 1 cell has no saved output: execute it (python tools/execute_chapters.py nbs/index.ipynb)"
    assert "".join(saved[0]["data"]["text/markdown"]) == table1_summary(nbs / "results" / "paper"), \
        "the landing page's Table 1 account is stale: re-execute index.ipynb and run tools/readme.py"
