"""Chapter 08's IAF-VAE inside the book's machinery: configuration, trainer, stacks, importance sampling and the CLI."""
import json, math
import pytest
import torch
from torch import nn
from fae_book.baselines import (IAFStep, IAFEncoder, IAFPosterior, build_iaf_vae, made_masks, posterior_score,
                                sampled_fs_coordinates, flow_jacobian)
from fae_book.evaluation import importance_sampled_log_likelihood
from fae_book.models import build_vae
from fae_book.training import TrainConfig, train, train_stack, read_metrics
from fae_book.cli import main

TINY = dict(n_train=300, n_valid=100, z_dim=3, depth=1, width=16, batch_size=50, max_epochs=3, warmup_epochs=2,
            patience=10, eval_batch_size=50, flow_width=16)

def _randomise(model, std=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    for st in model.encoder.steps:
        for p in st.out.parameters(): p.data = torch.randn(p.shape, generator=g, dtype=p.dtype) * std
    return model

def test_config_checks_the_flow():
    assert TrainConfig(model="iaf", flow_steps=0).flow_steps == 0
    with pytest.raises(ValueError, match="flow_steps"): TrainConfig(model="iaf", flow_steps=-1)
    with pytest.raises(ValueError, match="flow_width"): TrainConfig(model="iaf", flow_width=0)
    with pytest.raises(ValueError, match="permutation"): made_masks([2, 3], [4])

def test_iaf_members_stack_and_follow_their_solo_trajectory(tmp_path):
    # float32 in vmap's batched kernels and outside it differ in the last bits (see test_stacking): 2e-5 after 18 steps
    cfgs = [TrainConfig(model="iaf", seed=1, **TINY), TrainConfig(model="iaf", seed=2, **TINY), TrainConfig(model="vae", seed=1, **TINY)]
    results = train_stack(cfgs, [tmp_path/"a", tmp_path/"b", tmp_path/"c"], progress=False)
    alone = train(cfgs[1], tmp_path/"solo", progress=False)
    for p, q in zip(results[1].model.parameters(), alone.model.parameters()): torch.testing.assert_close(p, q, rtol=0, atol=2e-5)
    other = train(TrainConfig(model="iaf", seed=3, **TINY), tmp_path/"other", progress=False)   # control: another seed is far
    assert max((p - q).abs().max() for p, q in zip(other.model.parameters(), alone.model.parameters())) > 1e-3
    assert isinstance(results[0].model.encoder, IAFEncoder) and not hasattr(results[2].model.encoder, "steps")
    last = read_metrics(tmp_path/"a")[-1]
    assert last["valid"]["trJ"] is None and math.isfinite(last["valid"]["neg_elbo"])   # no closed-form FS coordinates for a flow: NaN, stored as null
    assert json.loads((tmp_path/"a"/"config.json").read_text())["flow_width"] == 16

def test_importance_sampling_bounds_the_elbo():
    torch.manual_seed(0)
    model = _randomise(build_iaf_vae(x_dim=30, z_dim=4, depth=1, width=16, flow_steps=2, flow_width=16))
    x = (torch.rand(64, 30) < 0.3).float()
    torch.manual_seed(1)
    log_p, elbo = importance_sampled_log_likelihood(model, x, k=200)
    lw = model.log_weights(x, k=4000)                           # an independent ELBO estimate: the mean log weight
    assert log_p.mean() >= lw.mean() and log_p.mean() >= elbo.mean()
    gap = (log_p - lw.mean(1)).mean()
    assert 0 < gap < 50

def test_flow_with_zero_steps_is_the_gaussian_encoder():
    torch.manual_seed(0)
    iaf = build_iaf_vae(x_dim=20, z_dim=4, depth=1, width=16, flow_steps=0).double()
    x = (torch.rand(5, 20) < 0.5).double()
    fs = sampled_fs_coordinates(iaf, x, samples=64, generator=torch.Generator().manual_seed(0))
    mu, log_var, h = iaf.encoder.params(x)
    exact_H = 0.5 * (math.log(2 * math.pi * math.e) * 4 + log_var.sum(-1))
    assert ((fs["H"] - exact_H.double()).abs() <= 4 * fs["H_se"] + 1e-12).all()
    assert ((fs["trJ"] - (-log_var).exp().sum(-1).double()).abs() <= 4 * fs["trJ_se"] + 1e-9).all()

def test_score_of_a_flow_against_finite_differences_of_its_density():
    torch.manual_seed(2)
    enc = IAFEncoder(12, 3, depth=1, width=8, flow_steps=3, flow_width=8).double()
    for st in enc.steps:
        for p in st.out.parameters(): nn.init.normal_(p, std=0.4)
    with torch.no_grad(): q = enc((torch.rand(4, 12) < 0.5).double())
    score, z, log_q = posterior_score(q, torch.randn(4, 3, dtype=torch.float64))
    with torch.no_grad():
        torch.testing.assert_close(q.log_prob(z), log_q, rtol=0, atol=1e-9)
        fd = torch.stack([(q.log_prob(z + 1e-5 * e) - q.log_prob(z - 1e-5 * e)) / 2e-5 for e in torch.eye(3, dtype=torch.float64)], -1)
    torch.testing.assert_close(score, fd, rtol=0, atol=1e-6)

def test_cli_trains_an_iaf(tmp_path, capsys):
    args = ["train", "--model", "iaf", "--flow-steps", "1", "--flow-width", "8", "--n-train", "200", "--n-valid", "50",
            "--z-dim", "2", "--depth", "1", "--width", "8", "--max-epochs", "1", "--out", str(tmp_path/"r"), "--quiet"]
    assert main(args) == 0
    cfg = json.loads((tmp_path/"r"/"config.json").read_text())
    assert cfg["model"] == "iaf" and cfg["flow_steps"] == 1
    assert main(["train", "--model", "iaf", "--flow-steps", "-1", "--out", str(tmp_path/"bad"), "--quiet"]) == 2   # a bad argument
    assert "flow_steps" in capsys.readouterr().err

def test_pixelvae_config_and_stack(tmp_path):
    with pytest.raises(ValueError, match="bernoulli"): TrainConfig(model="pixelvae", likelihood="gaussian", dataset="binarized_mnist")
    with pytest.raises(ValueError, match="pixelcnn_layers"): TrainConfig(model="pixelvae", pixelcnn_layers=0)
    tiny = {**TINY, "pixelcnn_layers": 2, "pixelcnn_channels": 4, "max_epochs": 2}
    cfgs = [TrainConfig(model="pixelvae", seed=1, **tiny), TrainConfig(model="pixelvae", seed=2, **tiny)]
    results = train_stack(cfgs, [tmp_path/"a", tmp_path/"b"], progress=False)
    alone = train(cfgs[1], tmp_path/"solo", progress=False)
    for p, q in zip(results[1].model.parameters(), alone.model.parameters()): torch.testing.assert_close(p, q, rtol=0, atol=2e-5)
    x = (torch.rand(16, 784, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    torch.manual_seed(0)
    log_p, elbo = importance_sampled_log_likelihood(alone.model, x, k=20)
    assert torch.isfinite(log_p).all() and log_p.mean() >= elbo.mean()
    with pytest.raises(ValueError, match="no mean image"): alone.model.sample(2, mean=True)
    assert alone.model.sample(2).shape == (2, 784) and set(alone.model.sample(2).unique().tolist()) <= {0.0, 1.0}

def test_evaluate_a_flow_posterior():
    from fae_book.evaluation import evaluate
    torch.manual_seed(0)
    model = _randomise(build_iaf_vae(x_dim=30, z_dim=4, depth=1, width=16, flow_steps=2, flow_width=16))
    x = (torch.rand(40, 30) < 0.3).float()
    res = evaluate(model, x, k=20, fs_points=25)
    s = sampled_fs_coordinates(model, x[:25], samples=16, generator=torch.Generator().manual_seed(0))
    assert res["N"] == pytest.approx(float(s["N"].mean()), rel=1e-6) and res["trJ"] == pytest.approx(float(s["trJ"].mean()), rel=1e-6)
    assert math.isnan(res["sigma2"]) and math.isnan(res["mutual_info"]) and "Monte Carlo" in res["fs_estimator"]
    with torch.no_grad(): direct = -model.decode(model.encode(x).location).log_prob(x).mean()
    assert res["reconstruction"] == pytest.approx(float(direct), rel=1e-6)
    assert res["nll"] <= res["neg_elbo"]

def test_reproduce_takes_the_baselines_as_rows(tmp_path):
    from fae_book.cli import reproduce
    tiny = dict(n_train=200, n_valid=50, z_dim=2, depth=1, width=8, max_epochs=1, warmup_epochs=1, flow_width=8,
                pixelcnn_layers=1, pixelcnn_channels=4, eval_batch_size=50)
    summary = reproduce(tmp_path/"r", models=["VAE", "IAF", "PixelVAE"], k=5, n_test=20, progress=False, log=lambda *_: None,
                        overrides=tiny, stack_evaluation=True)        # the vectorised IS pass, one stack per architecture
    rows = {r["model"]: r for r in summary["models"]}
    assert set(rows) == {"VAE", "IAF", "PixelVAE"} and all(math.isfinite(r["nll"]) for r in rows.values())
    assert rows["IAF"]["fs_estimator"].startswith("Monte Carlo") and rows["PixelVAE"]["fs_estimator"] == "closed form"
    assert (tmp_path/"r"/"runs"/"pixelvae-s14"/"config.json").exists() and (tmp_path/"r"/"fs_plane.png").exists()
    assert "PixelVAE" in (tmp_path/"r"/"table.md").read_text()
