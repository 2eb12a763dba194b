"Property tests for fae_book.objectives and fae_book.models: identities that must hold for every input."
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np

from fae_book.models import DiscretizedLogistic, build_vae
from fae_book.objectives import (FisherObjective, ELBOObjective, MutualInfoObjective, fisher_penalty,
                                 gaussian_kl, kl_warmup, make_objective, posterior_fisher_trace, toy_fisher_optimum)

torch.set_num_threads(1)
floats = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
vecs = lambda: arrays(np.float64, st.integers(1, 8), elements=floats)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_kl_nonnegative_and_zero_only_at_prior(data):
    "KL(q||N(0,I)) >= 0, with equality exactly when mu = 0 and log_var = 0."
    mu = torch.from_numpy(data.draw(vecs()))
    lv = torch.from_numpy(data.draw(arrays(np.float64, mu.shape, elements=floats)))
    kl = gaussian_kl(mu, lv).item()
    assert kl >= -1e-12
    # KL ~ mu^2/2 + log_var^2/4 near the prior, so any entry above 1e-6 gives KL >= 2.5e-13, representable in float64
    if torch.any(mu.abs() > 1e-6) or torch.any(lv.abs() > 1e-6): assert kl > 0
    assert gaussian_kl(torch.zeros_like(mu), torch.zeros_like(lv)).item() == 0.0


@settings(max_examples=100, deadline=None)
@given(vecs(), vecs())
def test_kl_matches_torch(mu, lv):
    n = min(len(mu), len(lv))
    mu, lv = torch.from_numpy(mu[:n]), torch.from_numpy(lv[:n])
    q = torch.distributions.Independent(torch.distributions.Normal(mu, (0.5 * lv).exp()), 1)
    p = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(n, dtype=mu.dtype), torch.ones(n, dtype=mu.dtype)), 1)
    assert math.isclose(gaussian_kl(mu, lv).item(), torch.distributions.kl_divergence(q, p).item(), rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(vecs())
def test_am_gm_bound_on_fisher_trace(lv):
    "AM-GM: sum 1/sigma^2 >= d / GM(sigma^2), i.e. N * trJ >= d, equality iff all variances are equal."
    lv = torch.from_numpy(lv)
    d = lv.numel()
    trj = posterior_fisher_trace(torch.zeros_like(lv), lv).item()
    gm = lv.mean().exp().item()
    assert trj * gm >= d * (1 - 1e-12)
    assert math.isclose(posterior_fisher_trace(torch.zeros_like(lv), torch.full_like(lv, lv[0].item())).item()
                        * lv[0].exp().item(), d, rel_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, (4, 5), elements=floats), st.floats(0, 50), st.floats(0, 10),
       st.sampled_from(["mean", "trace"]), st.sampled_from(["datapoint", "batch"]))
def test_exact_fae_term_matches_formula(lv, F, lam, reduction, placement):
    lv = torch.from_numpy(lv)
    j = torch.exp(-lv)
    stat = j.mean(-1) if reduction == "mean" else j.sum(-1)
    expected = (stat - F).abs().mean() if placement == "datapoint" else (stat.mean() - F).abs()
    got = lam * fisher_penalty(posterior_fisher_trace(torch.zeros_like(lv), lv, reduction=reduction), F, placement)
    assert torch.allclose(got, lam * expected, rtol=1e-12, atol=1e-12)
    # the batch placement never exceeds the per-point one (triangle inequality)
    assert fisher_penalty(stat, F, "batch") <= fisher_penalty(stat, F, "datapoint") + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 30), st.floats(0.01, 20))
def test_toy_optimum_direction(F, lam):
    "F below the unpenalised optimum J = 1 never lowers sigma^2; F above never raises it; strong penalties land on 1/F."
    v = toy_fisher_optimum(F, lam)
    if F < 1: assert v > 1
    if F > 1: assert v < 1
    if F > 1 and lam > 1 / 8: assert math.isclose(v, 1 / F)


@settings(max_examples=50, deadline=None)
@given(st.floats(-6, 6), st.floats(-7, 3), st.integers(2, 300))
def test_discretized_logistic_normalised(loc, log_scale, n_bins):
    d = DiscretizedLogistic(torch.tensor(loc, dtype=torch.float64), torch.tensor(log_scale, dtype=torch.float64), n_bins)
    lp = d.log_prob(d.enumerate_support())
    assert torch.isfinite(lp).all()
    assert math.isclose(lp.exp().sum().item(), 1.0, rel_tol=1e-9)


def test_kl_warmup_is_monotone_and_bounded():
    ws = [kl_warmup(e / 4, 10) for e in range(60)]
    assert ws[0] == 0.0 and ws[-1] == 1.0 and all(a <= b for a, b in zip(ws, ws[1:]))


def test_fae_lambda_zero_is_elbo_for_every_option():
    vae = build_vae(x_dim=12, z_dim=2, depth=1, width=8)
    x = torch.bernoulli(torch.full((5, 12), 0.5))
    for reduction in ("mean", "trace"):
        for placement in ("datapoint", "batch"):
            for estimator in ("exact", "sample"):
                torch.manual_seed(7); a = ELBOObjective()(vae, x, kl_weight=0.3).loss
                torch.manual_seed(7)
                b = FisherObjective(0.0, 20.0, reduction=reduction, placement=placement, estimator=estimator)(vae, x, kl_weight=0.3).loss
                assert a.item() == b.item()


def test_fae_penalty_changes_encoder_variance_in_the_right_direction():
    "One SGD step on the FAE penalty alone lowers sigma^2 when F is above the current Fisher statistic and raises it when below."
    for F, sign in ((1e4, -1), (0.0, 1)):
        torch.manual_seed(0)
        vae = build_vae(x_dim=12, z_dim=2, depth=1, width=8)
        x = torch.bernoulli(torch.full((16, 12), 0.5))
        before = vae.encoder.params(x)[1].mean().item()
        pen = fisher_penalty(posterior_fisher_trace(*vae.encoder.params(x), reduction="mean"), F)
        pen.backward()
        with torch.no_grad():
            for p in vae.encoder.parameters(): p -= 1e-3 * p.grad
        after = vae.encoder.params(x)[1].mean().item()
        assert sign * (after - before) > 0, (F, before, after)


def test_bad_inputs_are_clear_errors():
    vae = build_vae(x_dim=12, z_dim=2, depth=1, width=8)
    with pytest.raises(ValueError, match="Bernoulli"): FisherObjective(lambda_x=0.1)(vae, torch.zeros(2, 12))
    with pytest.raises(ValueError, match="x_dim=12"): ELBOObjective()(vae, torch.zeros(2, 13))
    with pytest.raises(ValueError, match="unknown objective"): make_objective("beta-vae")
    with pytest.raises(ValueError, match="n_prior_samples"): MutualInfoObjective(12, 2, n_prior_samples=0)
    with pytest.raises(ValueError, match="temperature"): MutualInfoObjective(12, 2, temperature=0.0)


def test_mae_relaxed_and_sample_inputs_reach_the_decoder():
    torch.manual_seed(0)
    for lik, mode in (("bernoulli", "relaxed"), ("gaussian", "sample")):
        vae = build_vae(x_dim=12, z_dim=2, depth=1, width=8, likelihood=lik)
        mae = MutualInfoObjective(12, 2, C=1.0, M=0.0, depth=1, width=8, decoder_input=mode)
        z, xt = mae.generate(vae, 32)
        pen = (mae.mi_bound(vae, z, xt) - mae.M).abs()
        grads = torch.autograd.grad(pen, list(vae.decoder.net.parameters()), allow_unused=True)
        assert all(g is not None for g in grads)
        assert torch.isfinite(mae(vae, torch.rand(4, 12).round() if lik == "bernoulli" else torch.rand(4, 12)).loss)
    vae = build_vae(x_dim=12, z_dim=2, depth=1, width=8, likelihood="logistic")
    with pytest.raises(ValueError, match="reparameterised"):
        MutualInfoObjective(12, 2, decoder_input="sample")(vae, torch.randint(0, 256, (4, 12)) / 255.)
