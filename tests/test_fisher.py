"""Properties and bad inputs of `fae_book.fisher` that do not belong in the chapter's prose."""
import math
import warnings

import pytest
import torch
from hypothesis import given, settings, strategies as st

from fae_book.fisher import (expected_log_likelihood, fisher_information, fisher_information_quadrature,
                             fisher_information_terms, iid_log_prob, kl_divergence_quadrature,
                             mixture_fisher_information_exact, mixture_log_prob, monte_carlo_se,
                             normal_fisher_matrix, normal_location_log_prob, normal_log_prob,
                             quadratic_fit_curvature, sample_mixture)

few = settings(max_examples=20, deadline=None)
finite = dict(allow_nan=False, allow_infinity=False)


def gen(seed): return torch.Generator().manual_seed(seed)


# --- the blog's numbers ("done means" of chapter 00) ------------------------------------------

@pytest.fixture(scope="module")
def blog_sample():
    return sample_mixture(2.0, 200_000, gen(1))


@pytest.mark.parametrize("method", ["hessian", "score"])
def test_mixture_at_2_matches_exact(blog_sample, method):
    t = fisher_information_terms(mixture_log_prob, torch.tensor(2.0), blog_sample, method)
    est, se = t.mean().item(), monte_carlo_se(t).item()
    assert abs(est - 0.9783445) < 4 * se  # 4 Monte-Carlo standard errors, computed from the terms
    assert abs(est - 0.9783) < 0.005


def test_blog_quadfit_reproduces_0_9487(blog_sample):
    t = fisher_information_terms(mixture_log_prob, 2.0, blog_sample, "quadfit", half_width=1.5, n_grid=81)
    est, se = t.mean().item(), monte_carlo_se(t).item()
    assert abs(est - 0.9487) < 0.005
    # the fit to the exact expected log-likelihood on the same grid (no sampling noise): SPEC's 0.9488
    g = torch.linspace(0.5, 3.5, 81, dtype=torch.float64)
    exact_fit = quadratic_fit_curvature(g, expected_log_likelihood(mixture_log_prob, 2.0, g)).item()
    assert abs(exact_fit - 0.9488) < 1e-4
    assert abs(est - exact_fit) < 4 * se  # the Monte-Carlo fit differs from it by noise only
    assert 0.9783445 - exact_fit > 0.02  # and that is the wide-grid bias


@pytest.mark.parametrize("theta,ref", [(0.5, 0.3433), (1.0, 0.7339), (2.0, 0.9783445), (3.0, 0.9992)])
def test_mixture_reference_table(theta, ref):
    assert abs(mixture_fisher_information_exact(theta) - ref) < 1e-4
    assert abs(fisher_information_quadrature(mixture_log_prob, theta) - ref) < 1e-4


# --- properties ----------------------------------------------------------------------------------

@few
@given(theta=st.floats(-5, 5, **finite), n=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
def test_normal_location_hessian_is_exactly_one(theta, n, seed):
    x = theta + torch.randn(n, generator=gen(seed))
    assert fisher_information(normal_location_log_prob, theta, x).item() == pytest.approx(1.0, abs=1e-12)


@few
@given(a=st.floats(-10, 10, **finite), b=st.floats(-10, 10, **finite), c=st.floats(-10, 10, **finite),
       centre=st.floats(-5, 5, **finite), w=st.floats(0.01, 5, **finite), g=st.integers(3, 101))
def test_quadratic_fit_is_exact_on_parabolas(a, b, c, centre, w, g):
    grid = torch.linspace(centre - w, centre + w, g, dtype=torch.float64)
    assert quadratic_fit_curvature(grid, a * grid**2 + b * grid + c).item() == pytest.approx(-2 * a, abs=1e-8 * (1 + abs(a) + abs(b) / w + abs(c) / w**2))


@few
@given(theta=st.floats(-3, 3, **finite), w=st.floats(0.01, 3, **finite), g=st.integers(3, 41), seed=st.integers(0, 1000))
def test_quadfit_of_gaussian_location_is_exact_for_any_grid(theta, w, g, seed):
    x = theta + torch.randn(50, generator=gen(seed))
    est = fisher_information(normal_location_log_prob, theta, x, "quadfit", half_width=w, n_grid=g)
    assert est.item() == pytest.approx(1.0, abs=1e-8)


@few
@given(theta=st.floats(0.2, 4, **finite))
def test_two_quadratures_agree_and_are_symmetric(theta):
    closed = mixture_fisher_information_exact(theta)
    assert 0 < closed < 1
    assert fisher_information_quadrature(mixture_log_prob, theta) == pytest.approx(closed, abs=1e-7)  # quad reaches ~1e-8
    assert mixture_fisher_information_exact(-theta) == pytest.approx(closed, abs=1e-12)


def test_mixture_information_increases_with_separation():
    values = [mixture_fisher_information_exact(t) for t in (0.25, 0.5, 1, 1.5, 2, 3, 4)]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert mixture_fisher_information_exact(0.0) == pytest.approx(0.0, abs=1e-12)  # θ=0: the score vanishes


@few
@given(theta=st.floats(0.5, 3, **finite), seed=st.integers(0, 1000))
def test_hessian_and_score_agree_within_monte_carlo_error(theta, seed):
    x = sample_mixture(theta, 20_000, gen(seed))
    th = torch.tensor(theta, dtype=torch.float64)
    th_terms = fisher_information_terms(mixture_log_prob, th, x, "hessian")
    sc_terms = fisher_information_terms(mixture_log_prob, th, x, "score")
    diff = (th_terms - sc_terms)  # same samples: the se of the difference is the se of the mean difference
    assert abs(diff.mean().item()) < 5 * monte_carlo_se(diff).item()


@few
@given(c=st.floats(0.2, 5, **finite), theta=st.floats(0.5, 3, **finite), seed=st.integers(0, 1000))
def test_reparametrisation_scales_information(c, theta, seed):
    # φ = cθ: I_φ(φ) = I_θ(θ) / c², exactly, for the same samples
    x = sample_mixture(theta, 500, gen(seed))
    I_theta = fisher_information(mixture_log_prob, theta, x)
    I_phi = fisher_information(lambda x, phi: mixture_log_prob(x, phi / c), c * theta, x)
    assert I_phi.item() == pytest.approx(I_theta.item() / c**2, rel=1e-9)


@few
@given(m=st.integers(1, 8), seed=st.integers(0, 1000), method=st.sampled_from(["hessian", "quadfit"]))
def test_iid_tuples_add_information(m, seed, method):
    x = sample_mixture(1.0, 50 * m, gen(seed))
    tuples = x.reshape(-1, m)
    I_m = fisher_information(iid_log_prob(mixture_log_prob), 1.0, tuples, method)
    I_1 = fisher_information(mixture_log_prob, 1.0, x, method)
    assert I_m.item() == pytest.approx(m * I_1.item(), rel=1e-9)


@few
@given(mu=st.floats(-3, 3, **finite), sigma=st.floats(0.3, 3, **finite), seed=st.integers(0, 1000))
def test_normal_fisher_matrix(mu, sigma, seed):
    theta = torch.tensor([mu, sigma], dtype=torch.float64)
    x = mu + sigma * torch.randn(20_000, generator=gen(seed), dtype=torch.float64)
    for method in ("hessian", "score"):
        t = fisher_information_terms(normal_log_prob, theta, x, method)
        assert t.shape == (20_000, 2, 2)
        est = t.mean(0)
        assert torch.allclose(est, est.T)
        assert (torch.linalg.eigvalsh(est) > 0).all()
        assert ((est - normal_fisher_matrix(sigma)).abs() <= 5 * monte_carlo_se(t) + 1e-12).all()


def test_float32_inputs_are_promoted():
    x = torch.randn(100, dtype=torch.float32)
    est = fisher_information(normal_location_log_prob, torch.tensor(0.0, dtype=torch.float32), x)
    assert est.dtype == torch.float64 and est.shape == ()


def test_kl_is_half_squared_distance_for_gaussian_location():
    thetas = torch.tensor([-1.0, 0.0, 0.3, 2.5], dtype=torch.float64)
    kl = kl_divergence_quadrature(normal_location_log_prob, 0.5, thetas)
    assert torch.allclose(kl, 0.5 * (thetas - 0.5)**2, atol=1e-9)


def test_quadrature_on_half_line_exponential():
    # Exp(rate θ) on [0, ∞): I(θ) = 1/θ²
    log_prob = lambda x, th: torch.log(th) - th * x
    assert fisher_information_quadrature(log_prob, 2.0, lower=0.0) == pytest.approx(0.25, rel=1e-8)


# --- bad inputs ------------------------------------------------------------------------------

x0 = torch.randn(10, dtype=torch.float64)


@pytest.mark.parametrize("call,exc,message", [
    (lambda: fisher_information(lambda x, t: (x - t)[:, None], 0.0, x0), ValueError, "shape (10,)"),
    (lambda: fisher_information(lambda x, t: (x - t).sum(), 0.0, x0), ValueError, "shape (10,)"),
    (lambda: fisher_information(lambda x, t: list(x), 0.0, x0), TypeError, "must return a torch tensor"),
    (lambda: fisher_information(normal_location_log_prob, float("inf"), x0), ValueError, "finite"),
    (lambda: fisher_information(normal_location_log_prob, torch.tensor([0.0, float("nan")]), x0), ValueError, "finite"),
    (lambda: fisher_information(normal_location_log_prob, torch.zeros(2, 2), x0), ValueError, "0-d"),
    (lambda: fisher_information(normal_location_log_prob, "0", x0), TypeError, "theta must be a torch tensor"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, [1.0]), TypeError, "x must be a torch tensor"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, x0[:0]), ValueError, "at least one sample"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, torch.tensor(1.0)), ValueError, "at least one sample"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, x0, "fisher"), ValueError, "unknown method"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, x0, "quadfit", n_grid=2), ValueError, "n_grid >= 3"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, x0, "quadfit", n_grid=5.0), ValueError, "n_grid >= 3"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, x0, "quadfit", half_width=-1.0), ValueError, "half_width > 0"),
    (lambda: fisher_information(normal_location_log_prob, 0.0, x0, "quadfit", half_width=float("nan")), ValueError, "half_width > 0"),
    (lambda: fisher_information(normal_log_prob, torch.tensor([0.0, 1.0]), x0, "quadfit"), ValueError, "one parameter"),
    (lambda: fisher_information(42, 0.0, x0), TypeError, "log_prob must be a function"),
    (lambda: fisher_information(lambda x, t: torch.log(x - t), 5.0, x0), ValueError, "not finite"),
    (lambda: quadratic_fit_curvature(torch.zeros(2), torch.zeros(2)), ValueError, "at least 3 points"),
    (lambda: quadratic_fit_curvature(torch.zeros(4), torch.zeros(3)), ValueError, "one row per grid point"),
    (lambda: fisher_information_quadrature(normal_log_prob, torch.zeros(2)), ValueError, "scalar theta"),
    (lambda: mixture_fisher_information_exact(float("nan")), ValueError, "finite"),
])
def test_bad_inputs_raise_clear_errors(call, exc, message):
    with pytest.raises(exc, match=None) as info:
        call()
    assert message in str(info.value)


def test_quadfit_refuses_a_half_width_below_rounding():
    """The blog's mixture at θ = 2, 20 000 draws: the Hessian gives 0.978. At half-width 1e-7 the log-likelihoods change by
    ~I·hw²/2 ≈ 5e-15 over the grid, at their own rounding (eps·|log p| ≈ 1e-15): refused, with a sound width named.
    At 1e-5 the fit's bias (~hw²) and rounding (~1e-6) are both far below the Monte-Carlo error: it matches the Hessian."""
    x = sample_mixture(2.0, 20_000, generator=gen(0))
    hess = fisher_information(mixture_log_prob, 2.0, x).item()
    assert hess == pytest.approx(0.978, abs=0.01)
    with pytest.raises(ValueError, match=r"rounding noise; use half_width >= "):
        fisher_information(mixture_log_prob, 2.0, x, "quadfit", half_width=1e-7)
    assert fisher_information(mixture_log_prob, 2.0, x, "quadfit", half_width=1e-5).item() == pytest.approx(hess, rel=1e-4)


def test_quadratic_fit_is_well_conditioned_on_narrow_grids():
    "A parabola on a grid of half-width 1e-6: least squares on [-1, 1] keeps the curvature (an unscaled design loses it at ~1e-7)."
    grid = torch.linspace(2 - 1e-6, 2 + 1e-6, 21, dtype=torch.float64)
    assert quadratic_fit_curvature(grid, -0.5 * (grid - 2)**2).item() == pytest.approx(1.0, rel=1e-6)


def test_quadratic_fit_warns_when_rounding_dominates():
    "Values of size 1e3 rounded to float32 (eps·|v| ≈ 6e-5) on a grid of half-width 1e-3 cannot show a curvature of 1 (a·hw² = 5e-7)."
    grid = torch.linspace(-1e-3, 1e-3, 21, dtype=torch.float64)
    values = (1e3 - 0.5 * grid**2).float()
    with pytest.warns(UserWarning, match="rounding"):
        quadratic_fit_curvature(grid, values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quadratic_fit_curvature(grid, 1e3 - 0.5 * grid**2).item() == pytest.approx(1.0, rel=1e-4)
