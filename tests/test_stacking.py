"""Stacked training: each member of a stack follows the trajectory it follows alone, with its own seed, batches,
noise, warm-up and early stopping; time limits pause at an epoch boundary and resume to the same result."""
import json, math
from dataclasses import replace
import pytest
import torch
from fae_book import training
from fae_book.training import TrainConfig, TrainingDiverged, train, train_stack, read_metrics

TINY = dict(n_train=300, n_valid=100, z_dim=3, depth=1, width=16, batch_size=50, max_epochs=4, warmup_epochs=2,
            patience=10, eval_batch_size=50)
# float32 arithmetic inside vmap's batched kernels and outside it differs in the last bit; Adam divides each gradient
# by its running scale, so where a gradient is itself at rounding level the difference grows over 24 steps. Measured
# (max |stack - alone|): the models' parameters at most 1.2e-7 (Xeon); the MAE's auxiliary network 2.2e-6
# on an AMD EPYC (avx2) and 6.9e-5 on an Intel Xeon (avx512, AMX), whose batched kernels also give two identical
# members of one stack results 1.5e-8 apart. A wrong batch order, noise stream or hyper-parameter moves parameters by
# about one Adam step, lr = 1e-3, after a single step: 2e-5 (models) and 2e-4 (the auxiliary network) stay well
# below that.
RTOL, ATOL, ATOL_AUX = 0., 2e-5, 2e-4

MEMBERS = [TrainConfig(model="vae", seed=1, **TINY),
           TrainConfig(model="fae", F_z=5., seed=2, **TINY),
           TrainConfig(model="fae", F_z=0.5, lambda_z=3., seed=3, **{**TINY, "warmup_epochs": 0}),
           TrainConfig(model="mae", M=2., seed=4, **TINY),
           TrainConfig(model="mae", M=0., C=0.5, seed=5, **{**TINY, "max_epochs": 2})]

def _close_states(a, b, atol=ATOL):
    assert a.keys() == b.keys()
    for k in a: torch.testing.assert_close(a[k], b[k], rtol=RTOL, atol=atol, msg=k)

def _strip(history):
    return [{k: v for k, v in h.items() if k not in ("seconds", "stack_size")} for h in history]

@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    return train_stack(MEMBERS, [root/f"m{i}" for i in range(len(MEMBERS))], progress=False), root

@pytest.mark.parametrize("i", range(len(MEMBERS)))
def test_member_follows_its_solo_trajectory(stacked, tmp_path, i):
    results, root = stacked
    alone = train(MEMBERS[i], tmp_path, progress=False)
    ours, solo = (torch.load(d/"checkpoint.pt", weights_only=True) for d in (root/f"m{i}", tmp_path))
    _close_states(ours["model"], solo["model"]); _close_states(ours["objective"], solo["objective"], ATOL_AUX)
    for (ja, sa), (jb, sb) in zip(ours["optimizer"]["state"].items(), solo["optimizer"]["state"].items()):
        assert ja == jb and float(sa["step"]) == float(sb["step"])
        torch.testing.assert_close(sa["exp_avg"], sb["exp_avg"], rtol=RTOL, atol=ATOL)
    a, b = _strip(results[i].history), _strip(alone.history)
    assert len(a) == len(b) == MEMBERS[i].max_epochs
    for ha, hb in zip(a, b):
        assert ha["epoch"] == hb["epoch"] and ha["kl_weight"] == hb["kl_weight"]
        for split in ("train", "valid"):
            for k, v in ha[split].items():
                tol = 1e-4 if k in ("penalty", "mutual_info") else 1e-5     # the MAE terms read the auxiliary network
                assert v == pytest.approx(hb[split][k], rel=tol, abs=tol, nan_ok=True), (split, k)
    assert results[i].best_epoch == alone.best_epoch and results[i].stopped_reason == alone.stopped_reason

def test_the_comparison_can_fail(stacked, tmp_path):
    "Control: the same member trained alone with another seed is far outside the tolerance."
    results, root = stacked
    train(replace(MEMBERS[1], seed=99), tmp_path, progress=False)
    ours, other = (torch.load(d/"checkpoint.pt", weights_only=True)["model"] for d in (root/"m1", tmp_path))
    assert max(float((ours[k] - other[k]).abs().max()) for k in ours) > 50 * ATOL

def test_members_differ_and_the_stack_shrinks(stacked):
    results, root = stacked
    finals = [r.history[-1]["valid"]["criterion"] for r in results]
    assert len(set(finals)) == len(finals)                              # five different models, not one five times
    sizes = [h["stack_size"] for h in read_metrics(root/"m0")]
    assert sizes == [5, 5, 4, 4]                                        # the 2-epoch member left after epoch 2
    assert all(h["seconds"] > 0 for h in read_metrics(root/"m0"))
    assert read_metrics(root/"m4")[-1]["epoch"] == 2 and results[4].stopped_reason == "max_epochs"

def test_same_seed_same_model(tmp_path):
    cfg = MEMBERS[1]
    a, b = train_stack([cfg, cfg], [tmp_path/"a", tmp_path/"b"], progress=False)
    for p, q in zip(a.model.parameters(), b.model.parameters()):   # bit for bit on the AMD EPYC, 1.5e-8 apart on the Xeon
        torch.testing.assert_close(p, q, rtol=0., atol=1e-6)

def test_time_limit_pauses_and_resumes_to_the_same_result(tmp_path):
    cfgs = [replace(MEMBERS[1], max_epochs=5), replace(MEMBERS[3], max_epochs=5)]
    ref = train_stack(cfgs, [tmp_path/"ref0", tmp_path/"ref1"], progress=False)
    first = train_stack(cfgs, [tmp_path/"a0", tmp_path/"a1"], progress=False, time_limit=1e-3)
    assert [r.stopped_reason for r in first] == ["time_limit"] * 2 and [len(r.history) for r in first] == [1, 1]
    assert "stopped by the time limit at epoch 1, not converged" == first[0].status
    frozen = train_stack(cfgs, [tmp_path/"a0", tmp_path/"a1"], resume=True, progress=False, time_limit=0)
    assert [len(r.history) for r in frozen] == [1, 1] and not (tmp_path/"a0"/"resumed.jsonl").exists()
    again = train_stack(cfgs, [tmp_path/"a0", tmp_path/"a1"], resume=True, progress=False)
    log = [json.loads(l) for l in (tmp_path/"a0"/"resumed.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["from_epoch"] == 1 and "git_commit" in log[0]      # who trained on, from where
    for r, s in zip(again, ref):
        assert r.stopped_reason == "max_epochs" and json.dumps(_strip(r.history)) == json.dumps(_strip(s.history))
        for p, q in zip(r.model.parameters(), s.model.parameters()): assert torch.equal(p, q)  # CPU, same ops: bit for bit

def test_finished_members_are_not_retrained(stacked, monkeypatch):
    results, root = stacked
    monkeypatch.setattr(training.Stack, "step", lambda *a, **k: pytest.fail("finished members must not train"))
    again = train_stack(MEMBERS, [root/f"m{i}" for i in range(len(MEMBERS))], resume=True, progress=False)
    assert [len(r.history) for r in again] == [len(r.history) for r in results]

def test_a_diverging_member_does_not_stop_the_others(tmp_path):
    cfgs = [MEMBERS[0], replace(MEMBERS[1], lr=1e12)]
    with pytest.raises(TrainingDiverged, match=r"b: non-finite .* epoch 1"):
        train_stack(cfgs, [tmp_path/"a", tmp_path/"b"], progress=False)
    assert len(read_metrics(tmp_path/"a")) == 4 and read_metrics(tmp_path/"b") == []
    assert not (tmp_path/"b"/"checkpoint.pt").exists()

def test_bad_stacks(tmp_path):
    with pytest.raises(ValueError, match="one run folder per config"): train_stack(MEMBERS[:2], [tmp_path/"a"], progress=False)
    with pytest.raises(ValueError, match="share a run folder"): train_stack(MEMBERS[:2], [tmp_path/"a", tmp_path/"a"], progress=False)
    with pytest.raises(ValueError, match="time_limit"): train_stack(MEMBERS[:1], [tmp_path/"a"], progress=False, time_limit=-1)
    with pytest.raises(FileNotFoundError, match="no finished epoch"):    # a limit of 0 trains nothing: nothing to return yet
        train_stack(MEMBERS[:1], [tmp_path/"b"], progress=False, time_limit=0)

def test_bfloat16_needs_hardware(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "bfloat16_supported", lambda device: False)
    with pytest.raises(ValueError, match="bfloat16 matrix units"):
        train(replace(MEMBERS[0], precision="bfloat16"), tmp_path, progress=False)

def test_bfloat16_step_keeps_float32_state(monkeypatch):
    "Where bfloat16 runs (emulated here if need be), parameters, Adam state and loss terms stay float32."
    from fae_book.training import Member, Stack, build_run
    model, objective = build_run(MEMBERS[1], 784)
    stack = Stack([Member(model, objective)], torch.device("cpu"), 1e-3, "bfloat16")
    x = torch.bernoulli(torch.full((1, 8, 784), 0.3))
    terms = stack.step(x, {"posterior": torch.randn(1, 8, 3)}, torch.ones(1))
    assert all(v.dtype == torch.float32 for v in terms.values()) and math.isfinite(float(terms["loss"][0]))
    assert all(p.dtype == torch.float32 for p in stack.params.values())
    assert all(s["exp_avg"].dtype == torch.float32 for s in stack.optimizer.state.values())
