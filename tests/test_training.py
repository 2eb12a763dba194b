"Fault injection and reproducibility of `fae_book.training`: resume, interrupts, divergence, configs."
import json, math, os
from dataclasses import replace
import pytest
import torch
from fae_book import training
from fae_book.training import (TrainConfig, TrainingDiverged, train, load_run, read_metrics, atomic_save,
                               atomic_write_text)

TINY = dict(n_train=200, n_valid=50, z_dim=3, depth=1, width=16, batch_size=50, max_epochs=4, warmup_epochs=2,
            patience=10, eval_batch_size=25)

def _params(path):
    return torch.load(path, weights_only=True)["model"]

def _assert_same_params(a, b):
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), k   # CPU, same op order: bitwise equal

@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    "An uninterrupted 4-epoch run (FAE, so the objective's options and penalty are exercised)."
    out = tmp_path_factory.mktemp("ref")
    cfg = TrainConfig(model="fae", F_z=5., **TINY)
    return cfg, train(cfg, out, progress=False), out

def test_resume_extends_to_the_same_result(reference, tmp_path):
    cfg, ref, ref_dir = reference
    first = train(replace(cfg, max_epochs=2), tmp_path, progress=False)
    assert first.stopped_reason == "max_epochs" and len(first.history) == 2
    launched = json.loads((tmp_path/"config.json").read_text())["provenance"]
    second = train(cfg, tmp_path, resume=True, progress=False)
    _assert_same_params(_params(ref_dir/"checkpoint.pt"), _params(tmp_path/"checkpoint.pt"))
    _assert_same_params(_params(ref_dir/"best.pt"), _params(tmp_path/"best.pt"))
    strip = lambda hs: json.dumps([{k: v for k, v in h.items() if k != "seconds"} for h in hs])  # NaN-safe comparison
    assert len(second.history) == 4 and strip(second.history) == strip(ref.history)
    assert strip(read_metrics(tmp_path)) == strip(read_metrics(ref_dir))
    # the run was launched with max_epochs=2 and continued to 4: config.json says what it trains with now, keeping the
    # launch's provenance, and resumed.jsonl records the change (a config.json still saying 2 would misdescribe the run)
    saved = json.loads((tmp_path/"config.json").read_text())
    assert saved["max_epochs"] == 4 and saved["provenance"] == launched
    resumed = [json.loads(l) for l in (tmp_path/"resumed.jsonl").read_text().splitlines()]
    assert len(resumed) == 1 and resumed[0]["from_epoch"] == 2 and resumed[0]["changed"] == {"max_epochs": [2, 4]}

def test_interrupt_mid_epoch_then_resume(reference, tmp_path):
    cfg, ref, ref_dir = reference
    def kill(epoch, step, terms, stack):
        if epoch == 3 and step == 1: raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt): train(cfg, tmp_path, progress=False, on_batch=kill)
    assert len(read_metrics(tmp_path)) == 2                       # epoch 3 is lost, nothing more
    assert torch.load(tmp_path/"checkpoint.pt", weights_only=True)["epoch"] == 2
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    res = train(cfg, tmp_path, resume=True, progress=False)
    _assert_same_params(_params(ref_dir/"checkpoint.pt"), _params(tmp_path/"checkpoint.pt"))
    assert res.best_epoch == ref.best_epoch and res.best_valid_loss == ref.best_valid_loss

def test_finished_run_returns_immediately(reference, monkeypatch):
    cfg, ref, ref_dir = reference
    monkeypatch.setattr(training.Stack, "step", lambda *a, **k: pytest.fail("a finished run must not train"))
    res = train(cfg, ref_dir, resume=True, progress=False)
    assert res.stopped_reason == "max_epochs" and len(res.history) == 4
    for p, q in zip(res.model.parameters(), ref.model.parameters()): assert torch.equal(p, q)

def test_existing_run_needs_resume(reference):
    cfg, _, ref_dir = reference
    with pytest.raises(FileExistsError, match="resume=True"): train(cfg, ref_dir, progress=False)

def test_resume_with_other_config_is_an_error(reference):
    cfg, _, ref_dir = reference
    with pytest.raises(ValueError, match="F_z: 5.0 -> 6.0"): train(replace(cfg, F_z=6.), ref_dir, resume=True, progress=False)

def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = TrainConfig(**TINY)
    def poison(epoch, step, terms, stack):
        if epoch == 3 and step == 0:
            with torch.no_grad(): next(iter(stack.params.values())).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="non-finite .* epoch 3"):
        train(cfg, tmp_path, progress=False, on_batch=poison)
    ck = torch.load(tmp_path/"checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 2 and ck["stopped_reason"] is None
    assert all(torch.isfinite(v).all() for v in ck["model"].values())
    assert len(read_metrics(tmp_path)) == 2

def test_huge_learning_rate_diverges_cleanly(tmp_path):
    cfg = TrainConfig(**{**TINY, "lr": 1e12})
    with pytest.raises(TrainingDiverged, match="non-finite"):
        train(cfg, tmp_path, progress=False)

def test_early_stopping_and_load_run(tmp_path):
    cfg = TrainConfig(**{**TINY, "max_epochs": 30, "patience": 1, "lr": 0.05})
    res = train(cfg, tmp_path, progress=False)
    assert res.stopped_reason in ("early_stopping", "max_epochs")
    if res.stopped_reason == "early_stopping": assert len(res.history) == res.best_epoch + cfg.patience
    crit = [h["valid"]["criterion"] for h in res.history]
    assert res.best_valid_loss == min(crit) and crit[res.best_epoch - 1] == min(crit)
    model, objective, loaded = load_run(tmp_path)
    assert loaded == cfg
    for p, q in zip(model.parameters(), res.model.parameters()): assert torch.equal(p, q)
    meta = json.loads((tmp_path/"config.json").read_text())["provenance"]
    assert meta["torch_version"] == torch.__version__ and meta["device"] == "cpu"

def test_mae_objective_parameters_are_checkpointed(tmp_path):
    cfg = TrainConfig(model="mae", C=1., M=2., **{**TINY, "max_epochs": 2})
    res = train(cfg, tmp_path, progress=False)
    saved = torch.load(tmp_path/"best.pt", weights_only=True)["objective"]
    assert saved and all(torch.equal(saved[k], v) for k, v in res.objective.state_dict().items())

def test_metrics_are_standard_json(reference):
    _, ref, ref_dir = reference
    lines = (ref_dir/"metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and "NaN" not in "".join(lines)
    rec = read_metrics(ref_dir)[0]
    assert rec["train"]["mutual_info"] is None                    # nan (not an MAE) is written as null
    for key in ("loss", "elbo", "neg_elbo", "criterion", "sigma2", "N", "trJ"): assert math.isfinite(rec["valid"][key])
    assert rec["valid"]["N"] * rec["valid"]["trJ"] >= 3 * (1 - 1e-6) # averaged point stays in N·trJ ≥ n

@pytest.mark.parametrize("bad, msg", [
    (dict(model="iwae"), "model must be one of"), (dict(F_z=-1.), "F_z must be >= 0"), (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(lr=0.), "lr must be > 0"), (dict(patience=0), "patience must be >= 1"), (dict(warmup_epochs=-1), "warmup_epochs"),
    (dict(reduction="sum"), "reduction must be one of"), (dict(n_valid=0), "n_valid must be None"),
    (dict(likelihood="poisson"), "likelihood must be one of"), (dict(device="gpu"), "device must be"),
    (dict(model="fae", lambda_x=1.), "no location Fisher information"), (dict(seed=-1), "seed must be >= 0"),
])
def test_bad_config(bad, msg):
    with pytest.raises(ValueError, match=msg): TrainConfig(**bad)

@pytest.mark.parametrize("bad", [dict(batch_size=2.5), dict(lr="1e-3"), dict(max_epochs=True), dict(model=3)])
def test_bad_config_types(bad):
    with pytest.raises(TypeError, match="TrainConfig"): TrainConfig(**bad)

def test_config_json_round_trip(tmp_path):
    cfg = TrainConfig(model="mae", C=0.5, M=10., n_train=100, data_root="/data", device="cpu")
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    atomic_write_text(json.dumps({**json.loads(cfg.to_json()), "provenance": {"x": 1}}), tmp_path/"config.json")
    assert TrainConfig.from_json(tmp_path/"config.json") == cfg
    with pytest.raises(ValueError, match="unknown TrainConfig fields"): TrainConfig.from_json('{"lr": 0.1, "momentum": 0.9}')

def test_atomic_save_leaves_old_file_on_failure(tmp_path):
    atomic_save({"a": torch.ones(2)}, tmp_path/"x.pt")
    class Bad:
        def __reduce__(self): raise RuntimeError("cannot pickle")
    with pytest.raises(RuntimeError): atomic_save({"b": Bad()}, tmp_path/"x.pt")
    assert torch.equal(torch.load(tmp_path/"x.pt", weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]

def test_early_stopping_can_watch_the_current_beta(tmp_path):
    "Patience watches the validation -ELBO at beta = 1 by default, or -(log p(x|z) - beta_t KL) + penalty at the epoch's warm-up weight."
    cfgs = [TrainConfig(model="fae", F_z=5., seed=3, **{**TINY, "warmup_epochs": 3}),
            TrainConfig(model="fae", F_z=5., seed=3, early_stopping="current_beta", **{**TINY, "warmup_epochs": 3})]
    a, b = training.train_stack(cfgs, [tmp_path/"a", tmp_path/"b"], progress=False)      # one stack: the members differ only in what they watch
    for ha, hb in zip(a.history, b.history):
        va, vb = ha["valid"], hb["valid"]
        assert va == pytest.approx({**vb, "criterion": va["criterion"]}, rel=1e-6, nan_ok=True)   # same training: the watching changes nothing else
        assert va["criterion"] == pytest.approx(va["neg_elbo"] + va["penalty"], rel=1e-6)
        expected = -vb["reconstruction"] + hb["kl_weight"] * vb["kl"] + vb["penalty"]
        assert vb["criterion"] == pytest.approx(expected, rel=1e-5)
    h0a, h0b = a.history[0], b.history[0]
    assert h0b["kl_weight"] == 0 and h0a["valid"]["criterion"] - h0b["valid"]["criterion"] == pytest.approx(h0a["valid"]["kl"], rel=1e-4)
    assert h0a["valid"]["kl"] > 0.1                                                        # ... so the two criteria really differ at beta = 0
    with pytest.raises(ValueError, match="early_stopping"): TrainConfig(early_stopping="train_loss")

def test_provenance_names_the_cpu_and_agrees_with_the_bfloat16_check():
    "A CPU run's provenance names the processor, its cores and the instructions that decide whether bfloat16 is native."
    p = training.provenance(torch.device("cpu"))
    assert p["device_name"] == training.cpu_description() and p["device_name"]      # not platform.processor()'s '' on Linux
    assert p["torch_threads"] == torch.get_num_threads()
    desc = p["device_name"]
    try: has_info = bool(open("/proc/cpuinfo").read())
    except OSError: has_info = False
    if has_info:
        assert f"{os.cpu_count()} cores" in desc
        assert ("avx512_bf16" in desc or "amx_bf16" in desc) == training.bfloat16_supported(torch.device("cpu"))
