"""Properties and bad inputs of `fae_book.cramer_rao` that do not belong in the chapter's prose."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from fae_book.cramer_rao import (covariance_with_se, cramer_rao_ratio, exponential_rate_model, gaussian_mean_model,
                                 mixture_model, mle_newton, mle_replicates, normal_mle, variance_with_se)
from torch.func import grad, vmap

from fae_book.fisher import mixture_log_prob

few = settings(max_examples=15, deadline=None)


def gen(seed): return torch.Generator().manual_seed(seed)


@few
@given(theta=st.floats(0.5, 3), n=st.integers(20, 200), seed=st.integers(0, 10_000))
def test_mixture_mle_is_a_maximum(theta, n, seed):
    model = mixture_model()
    x = model.sample(theta, (50, n), gen(seed))
    th = mle_newton(model.log_prob, x, model.initial_estimate(x))
    loglik = lambda t, xr: mixture_log_prob(xr, t).sum()
    score = vmap(grad(loglik))(th, x)  # independent check of each replicate by reverse mode
    curvature = vmap(grad(grad(loglik)))(th, x)
    assert (score.abs() < 1e-6 * n).all()  # a stationary point ...
    assert ((curvature < 0) | (th.abs() < 1e-8)).all()  # ... that is a maximum (or the symmetric point 0)


@few
@given(rate=st.floats(0.1, 10), n=st.integers(2, 300), seed=st.integers(0, 10_000), frac=st.floats(0.3, 1.5))
def test_exponential_newton_matches_closed_form(rate, n, seed, frac):
    model = exponential_rate_model()
    x = model.sample(rate, (20, n), gen(seed))
    closed = 1 / x.mean(1)
    assert torch.allclose(mle_newton(model.log_prob, x, frac * closed), closed, rtol=1e-9)


@few
@given(mu=st.floats(-5, 5), n=st.integers(1, 100), seed=st.integers(0, 10_000))
def test_gaussian_mean_mle_is_sample_mean(mu, n, seed):
    model = gaussian_mean_model()
    x = model.sample(mu, (10, n), gen(seed))
    assert torch.allclose(mle_newton(model.log_prob, x, torch.zeros(10)), x.mean(1), atol=1e-10)


def test_replicates_are_reproducible_and_efficient():
    model = gaussian_mean_model()
    a = mle_replicates(model, 0.0, 50, 2000, gen(5))
    b = mle_replicates(model, 0.0, 50, 2000, gen(5))
    assert torch.equal(a, b)
    ratio, se = cramer_rao_ratio(a, 50, 1.0)
    assert se == pytest.approx(math.sqrt(2 / 1999) * ratio, rel=0.15)  # Gaussian estimates: relative se sqrt(2/(R-1))
    assert abs(ratio - 1) < 4 * se


def test_mixture_replicates_are_nonnegative():
    est = mle_replicates(mixture_model(), 1.0, 20, 500, gen(2))
    assert (est >= 0).all() and torch.isfinite(est).all()


@few
@given(scale=st.floats(0.1, 10), seed=st.integers(0, 10_000))
def test_variance_se_scales_with_variance(scale, seed):
    z = torch.randn(500, generator=gen(seed), dtype=torch.float64)
    v, se = variance_with_se(z)
    v2, se2 = variance_with_se(scale * z)
    assert v2 == pytest.approx(scale**2 * v, rel=1e-10) and se2 == pytest.approx(scale**2 * se, rel=1e-10)


def test_covariance_with_se_matches_torch_cov():
    e = torch.randn(300, 3, generator=gen(0), dtype=torch.float64)
    cov, se = covariance_with_se(e)
    assert torch.allclose(cov, torch.cov(e.T))
    assert se.shape == (3, 3) and (se > 0).all()


def test_normal_mle_closed_form():
    x = torch.randn(4, 30, generator=gen(1), dtype=torch.float64)
    est = normal_mle(x)
    assert torch.allclose(est[:, 0], x.mean(1))
    assert torch.allclose(est[:, 1], x.std(1, correction=0))


@pytest.mark.parametrize("call,exc,message", [
    (lambda: mle_newton(mixture_log_prob, torch.zeros(5), torch.zeros(5)), ValueError, "shape (R, n)"),
    (lambda: mle_newton(mixture_log_prob, torch.zeros(5, 0), torch.zeros(5)), ValueError, "shape (R, n)"),
    (lambda: mle_newton(mixture_log_prob, torch.zeros(5, 3), torch.zeros(4)), ValueError, "one starting value"),
    (lambda: mle_newton(mixture_log_prob, torch.zeros(2, 3), torch.tensor([0.0, float("nan")])), ValueError, "finite"),
    (lambda: mle_newton(lambda x, t: torch.log(t) - t * x, torch.ones(2, 3), torch.tensor([5.0, 5.0])), RuntimeError, "left the parameter's domain"),
    (lambda: mle_newton(lambda x, t: torch.log(t) - t * x, torch.ones(2, 3), torch.tensor([0.01, 1.0]), max_steps=3), RuntimeError, "did not converge for 1 of 2"),
    (lambda: mle_replicates(gaussian_mean_model(), 0.0, 0, 10), ValueError, "positive integers"),
    (lambda: mle_replicates(gaussian_mean_model(), 0.0, 10, 2.5), ValueError, "positive integers"),
    (lambda: variance_with_se(torch.zeros(3)), ValueError, "at least 4 replicates"),
    (lambda: covariance_with_se(torch.zeros(3, 2)), ValueError, "R >= 4"),
    (lambda: normal_mle(torch.zeros(3, 1)), ValueError, "n >= 2"),
])
def test_bad_inputs_raise_clear_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert message in str(info.value)
