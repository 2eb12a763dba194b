"Importance-sampled NLL against closed forms, and the evaluation helpers' contracts and errors."
import math
import pytest
import torch
from hypothesis import given, settings, strategies as st
from fae_book.models import build_vae
from fae_book.evaluation import (importance_sampled_nll, importance_sampled_log_likelihood, linear_gaussian_vae,
                                 linear_gaussian_log_marginal, linear_gaussian_elbo, posterior_fs_coordinates,
                                 encoder_mutual_information, active_units, latent_activity, reconstruction_error,
                                 evaluate)

@settings(max_examples=15, deadline=None)
@given(x_dim=st.integers(2, 10), z_dim=st.integers(1, 4), sigma=st.floats(0.2, 2.0), k=st.integers(1, 40),
       seed=st.integers(0, 1000))
def test_exact_posterior_gives_exact_likelihood_for_any_k(x_dim, z_dim, sigma, k, seed):
    if z_dim > x_dim: z_dim = x_dim
    model = linear_gaussian_vae(x_dim, z_dim, sigma, seed=seed)
    x = model.sample(7, mean=False)
    # every weight equals p(x): only float64 rounding of terms of size ~10 remains
    torch.testing.assert_close(-importance_sampled_nll(model, x, k=k, sample_chunk=6), linear_gaussian_log_marginal(model, x),
                               rtol=0, atol=1e-8)
    torch.testing.assert_close(linear_gaussian_elbo(model, x), linear_gaussian_log_marginal(model, x), rtol=0, atol=1e-8)

def test_wrong_encoder_converges_to_exact_marginal():
    torch.manual_seed(0)
    model = linear_gaussian_vae(mean_shift=0.3, var_scale=1.5)
    x = model.sample(200, mean=False)
    exact = linear_gaussian_log_marginal(model, x)
    lp1, elbo1 = importance_sampled_log_likelihood(model, x, k=1)
    lp, elbo = importance_sampled_log_likelihood(model, x, k=3000, batch_size=64, sample_chunk=512)
    err = lp - exact
    # mean error within 4 standard errors (sd over points / sqrt(200)) plus 0.01 nats for the O(1/K) bias
    assert abs(float(err.mean())) < 4 * float(err.std()) / math.sqrt(len(x)) + 0.01
    # the k-sample mean of log w is unbiased for the closed-form ELBO, which is more than 1 nat below log p(x)
    e = elbo - linear_gaussian_elbo(model, x)
    assert abs(float(e.mean())) < 4 * float(e.std()) / math.sqrt(len(x))
    assert float((exact - linear_gaussian_elbo(model, x)).mean()) > 1.0
    torch.testing.assert_close(lp1, elbo1)                          # with k = 1 the two estimates coincide
    assert float(lp.mean()) > float(lp1.mean()) + 1.0

def test_no_regulariser_and_float64_on_a_neural_vae():
    torch.manual_seed(0)
    model = build_vae(x_dim=20, z_dim=3, depth=1, width=8)
    x = (torch.rand(5, 20) < 0.5).float()
    torch.manual_seed(1); nll = importance_sampled_nll(model, x, k=30, sample_chunk=7)
    torch.manual_seed(1); lw = torch.cat([model.log_weights(x, n).double() for n in (7, 7, 7, 7, 2)], 1)
    assert nll.dtype == torch.float64 and nll.shape == (5,)
    # the estimator is exactly logsumexp of the model's own log-weights, nothing added
    torch.testing.assert_close(nll, -(lw.logsumexp(1) - math.log(30)))
    assert all(p.grad is None for p in model.parameters())

@pytest.mark.parametrize("k", [0, -3, 2.5, True, "10"])
def test_k_must_be_a_positive_integer(k):
    model = linear_gaussian_vae()
    with pytest.raises(ValueError, match="k is the number of importance samples"):
        importance_sampled_nll(model, model.sample(2), k=k)

def test_bad_data_and_chunks():
    model = linear_gaussian_vae()
    with pytest.raises(TypeError, match="torch.Tensor"): importance_sampled_nll(model, [[0.] * 12], k=2)
    with pytest.raises(ValueError, match=r"shape \(N, D\)"): importance_sampled_nll(model, torch.zeros(12), k=2)
    with pytest.raises(ValueError, match="batch_size"): importance_sampled_nll(model, torch.zeros(2, 12), k=2, batch_size=0)
    with pytest.raises(ValueError, match="sample_chunk"): importance_sampled_nll(model, torch.zeros(2, 12), k=2, sample_chunk=0)

def test_training_mode_is_restored_even_on_error():
    model = linear_gaussian_vae(); model.train()
    with pytest.raises(ValueError): importance_sampled_nll(model, torch.zeros(2, 5), k=2)   # wrong D, raised inside
    assert model.training

def test_fs_coordinates_activity_and_mutual_information_closed_forms():
    model = linear_gaussian_vae(var_scale=2.0)
    S = 2.0 / (1 + (model.decoder.W**2).sum(0).detach() / 0.25)
    x = model.sample(300, mean=False)
    fs = posterior_fs_coordinates(model, x, batch_size=64)
    torch.testing.assert_close(fs.N, S.log().mean().exp().expand(300), rtol=0, atol=1e-10)
    torch.testing.assert_close(fs.trJ, (1 / S).sum().expand(300), rtol=0, atol=1e-10)
    assert fs.stam_ratio >= 1
    dead = linear_gaussian_vae()
    with torch.no_grad(): dead.encoder.A[1:] = 0
    assert active_units(dead, x) == 1 and float(latent_activity(dead, x)[1:].abs().max()) < 1e-20
    # a constant encoder carries no information: the estimate is exactly 0 up to rounding
    with torch.no_grad(): dead.encoder.A.zero_()
    assert abs(encoder_mutual_information(dead, x, generator=torch.Generator().manual_seed(0))) < 1e-9

def test_mutual_information_is_capped_at_log_n():
    model = linear_gaussian_vae(sigma=0.01)                       # nearly deterministic encoder: I is large
    x = model.sample(50, mean=False)
    assert encoder_mutual_information(model, x, batch_size=7) <= math.log(50) + 1e-9

def test_reconstruction_error_is_summed_bce_for_bernoulli():
    torch.manual_seed(0)
    model = build_vae(x_dim=16, z_dim=2, depth=1, width=8).eval()
    x = (torch.rand(9, 16) < 0.3).float()
    with torch.no_grad():
        logits = model.decoder.net(model.encoder.params(x)[0])
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    torch.testing.assert_close(reconstruction_error(model, x, batch_size=4), bce)

def test_evaluate_bundle():
    torch.manual_seed(0)
    model = linear_gaussian_vae(mean_shift=0.2)
    x = model.sample(64, mean=False)
    r = evaluate(model, x, k=200, sample_chunk=64)
    assert set(r) >= {"nll", "nll_se", "neg_elbo", "N", "trJ", "stam_ratio", "sigma2", "mutual_info", "active_units",
                      "reconstruction", "k", "n_points", "z_dim"}
    assert r["neg_elbo"] > r["nll"] and r["k"] == 200 and r["n_points"] == 64 and r["z_dim"] == 4
    assert abs(r["nll"] + float(linear_gaussian_log_marginal(model, x).mean())) < 4 * r["nll_se"]
