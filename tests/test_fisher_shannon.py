"Property tests and bad-input tests for `fae_book.fisher_shannon` (Part II)."
import math

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from torch.distributions import (Bernoulli, Binomial, Categorical, Cauchy, Exponential, Geometric, Independent, Laplace,
                                 MultivariateNormal, Normal, OneHotCategorical, Poisson, StudentT, Uniform)

from fae_book.fisher_shannon import (Logistic, differential_entropy, entropy_power, gaussian_fs_coordinates,
                                     kde_fisher_information, knn_entropy, location_fisher_information, monte_carlo_fs,
                                     plot_fs_plane, quadrature_fs)

F64 = dict(dtype=torch.float64)
fast = settings(max_examples=25, deadline=None)

log_vars = st.integers(1, 6).flatmap(lambda b: st.integers(1, 50).flatmap(
    lambda n: arrays(np.float64, (b, n), elements=st.floats(-12, 12))))


# ---- the diagonal Gaussian posterior: AM-GM and Jensen ----

@fast
@given(log_vars)
def test_diag_gaussian_am_gm(lv):
    "N·trJ >= n for every posterior (AM-GM), with equality when all variances are equal."
    N, J = gaussian_fs_coordinates(torch.tensor(lv))
    n = lv.shape[-1]
    assert N.shape == J.shape == (lv.shape[0],)
    assert (N * J >= n * (1 - 1e-9)).all()
    Ne, Je = gaussian_fs_coordinates(torch.tensor(lv[:, :1]).expand(-1, n))
    np.testing.assert_allclose((Ne * Je).numpy(), n, rtol=1e-9)


@fast
@given(log_vars)
def test_diag_gaussian_jensen(lv):
    "Averaged over data points the plotted point (mean N, mean trJ) still satisfies mean N · mean trJ >= n."
    N, J = gaussian_fs_coordinates(torch.tensor(lv))
    assert N.mean() * J.mean() >= lv.shape[-1] * (1 - 1e-9)


@fast
@given(log_vars, st.floats(-5, 5))
def test_diag_gaussian_scaling_moves_along_iso_curve(lv, c):
    "Multiplying all variances by e^c multiplies N by e^c and divides trJ by e^c: the product is unchanged."
    N, J = gaussian_fs_coordinates(torch.tensor(lv))
    N2, J2 = gaussian_fs_coordinates(torch.tensor(lv) + c)
    np.testing.assert_allclose(N2.numpy(), N.numpy() * math.exp(c), rtol=1e-9)
    np.testing.assert_allclose(J2.numpy(), J.numpy() * math.exp(-c), rtol=1e-9)


@fast
@given(arrays(np.float64, st.integers(1, 8), elements=st.floats(-4, 4)))
def test_diag_gaussian_matches_general_estimators(lv):
    "The closed-form coordinates equal entropy_power and location_fisher_information of the same distribution."
    lv = torch.tensor(lv)
    q = Independent(Normal(torch.zeros_like(lv), (lv / 2).exp()), 1)
    N, J = gaussian_fs_coordinates(lv)
    torch.testing.assert_close(entropy_power(q), N, rtol=1e-9, atol=0)
    torch.testing.assert_close(location_fisher_information(q), J, rtol=1e-9, atol=0)
    mvn = MultivariateNormal(torch.zeros_like(lv), torch.diag(lv.exp()))
    torch.testing.assert_close(location_fisher_information(mvn), J, rtol=1e-7, atol=0)


# ---- closed forms, quadrature, Monte-Carlo ----

FAMILIES = {
    "normal": lambda m, s: Normal(m, s),
    "laplace": lambda m, s: Laplace(m, s),
    "logistic": lambda m, s: Logistic(m, s),
    "student3": lambda m, s: StudentT(torch.tensor(3., **F64), m, s),
    "cauchy": lambda m, s: Cauchy(m, s),
}


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(sorted(FAMILIES)), st.floats(-5, 5), st.floats(0.05, 20))
def test_quadrature_matches_closed_form_and_scales(name, m, s):
    "Quadrature of the log-density alone reproduces the closed forms; J ∝ 1/s², N ∝ s², N·J scale-free."
    d = FAMILIES[name](torch.tensor(m, **F64), torch.tensor(s, **F64))
    J = location_fisher_information(d, "quadrature").item()
    H = differential_entropy(d, "quadrature").item()
    # quadrature of the squared score keeps about 8 digits over this range of scales (hypothesis found 3.4e-8 for a
    # logistic with s = 3.375), so 1e-7; a wrong closed form or score is off by far more
    assert J == pytest.approx(location_fisher_information(d, "closed_form").item(), rel=1e-7)
    assert H == pytest.approx(d.entropy().item(), rel=1e-8, abs=1e-9)
    d1 = FAMILIES[name](torch.tensor(0., **F64), torch.tensor(1., **F64))
    assert J * s * s == pytest.approx(location_fisher_information(d1).item(), rel=1e-8)
    assert (entropy_power(d) * J).item() == pytest.approx((entropy_power(d1) * location_fisher_information(d1)).item(), rel=1e-8)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(sorted(FAMILIES)), st.floats(0.1, 10), st.integers(0, 2**31 - 1))
def test_monte_carlo_within_four_standard_errors(name, s, seed):
    "The autograd Monte-Carlo estimates agree with the closed forms within 4 of their own standard errors."
    d = FAMILIES[name](torch.tensor(0., **F64), torch.tensor(s, **F64))
    est = monte_carlo_fs(d, n_samples=20_000, seed=seed)
    J, H = location_fisher_information(d).item(), d.entropy().item()
    assert abs(est.J.item() - J) <= 4 * est.J_se.item() + 1e-12 * J  # Laplace: the squared score is constant
    assert abs(est.H.item() - H) <= 4 * est.H_se.item()


def test_monte_carlo_is_reproducible_and_vectorised():
    d = Independent(Normal(torch.zeros(5, 3), torch.rand(5, 3) + 0.5), 1)
    a, b = monte_carlo_fs(d, 1000, seed=7), monte_carlo_fs(d, 1000, seed=7)
    assert a.J.shape == a.H.shape == (5,)
    torch.testing.assert_close(a.J, b.J)


@pytest.mark.parametrize("nu,product", [(3., 1.3547), (5., 1.1382), (10., 1.0383)])
def test_student_t_products_from_the_table(nu, product):
    "torch's StudentT.entropy and the closed-form J give the SPEC's N·J."
    d = StudentT(torch.tensor(nu, **F64))
    assert (entropy_power(d) * location_fisher_information(d)).item() == pytest.approx(product, abs=1e-4)


@pytest.mark.parametrize("d,product", [(Normal(0., 1.), 1.), (Laplace(0., 1.), 2 * math.e / math.pi),
                                       (Logistic(0., 1.), math.e**3 / (6 * math.pi)), (Cauchy(0., 1.), 4 * math.pi / math.e)])
def test_family_products_from_the_table(d, product):
    assert (entropy_power(d) * location_fisher_information(d)).item() == pytest.approx(product, rel=1e-5)


@fast
@given(arrays(np.float64, 10, elements=st.floats(-30, 30)), st.floats(-3, 3), st.floats(0.1, 10))
def test_logistic_matches_scipy(x, m, s):
    "Our Logistic against scipy.stats.logistic (an independent implementation)."
    d = Logistic(torch.tensor(m, **F64), torch.tensor(s, **F64))
    xt = torch.tensor(x)
    np.testing.assert_allclose(d.log_prob(xt).numpy(), stats.logistic.logpdf(x, m, s), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d.cdf(xt).numpy(), stats.logistic.cdf(x, m, s), rtol=1e-10, atol=1e-12)
    assert d.entropy().item() == pytest.approx(stats.logistic.entropy(m, s), rel=1e-10)


# ---- entropy power ----

@fast
@given(st.floats(-20, 20), st.integers(1, 100), st.floats(-5, 5))
def test_entropy_power_scaling(H, n, log_a):
    "Scaling X by a adds n·log|a| to H and multiplies N by a² (the 1/n form)."
    a = math.exp(log_a)
    N1, N2 = entropy_power(H, n=n), entropy_power(H + n * math.log(a), n=n)
    assert N2.item() == pytest.approx(a * a * N1.item(), rel=1e-9)


@fast
@given(st.integers(1, 64), st.floats(0.01, 100))
def test_entropy_power_of_isotropic_gaussian_is_its_variance(n, var):
    H = n / 2 * math.log(2 * math.pi * math.e * var)
    assert entropy_power(H, n=n).item() == pytest.approx(var, rel=1e-9)


# ---- k-NN entropy ----

@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.floats(0.01, 100), st.floats(-100, 100), st.booleans(), st.integers(0, 1000))
def test_knn_entropy_affine_equivariance(d, k, a, b, flip, seed):
    "Ĥ(aX + b) = Ĥ(X) + d log|a| exactly (distances scale by |a|), and Ĥ ignores the order of samples."
    x = np.random.default_rng(seed).standard_normal((300, d))
    sign = -1 if flip else 1
    h = knn_entropy(x, k=k)
    assert knn_entropy(sign * a * x + b, k=k) == pytest.approx(h + d * math.log(a), abs=1e-8)
    assert knn_entropy(x[::-1].copy(), k=k) == pytest.approx(h, abs=1e-12)


def test_knn_entropy_against_closed_form():
    "Anisotropic Normal in 3-D, 4000 samples: over 100 seeds bias -0.027, sd 0.020; tolerance bias + 4 sd."
    torch.manual_seed(0)
    d = Independent(Normal(torch.zeros(3), torch.tensor([0.5, 1., 3.])), 1)
    assert knn_entropy(d.sample((4000,)), k=4) == pytest.approx(d.entropy().item(), abs=0.12)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.lists(st.floats(0.01, 100), min_size=3, max_size=3), st.integers(0, 1000))
def test_knn_entropy_per_coordinate_units(d, scales, seed):
    "Another unit in one coordinate (× a_k) adds log a_k and nothing else: Ĥ(X·a) = Ĥ(X) + Σ log a_k (distances are taken in s.d.s)."
    a = np.array(scales[:d])
    x = np.random.default_rng(seed).standard_normal((300, d)) * np.array([0.5, 1., 3.])[:d]
    assert knn_entropy(x * a, k=3) == pytest.approx(knn_entropy(x, k=3) + np.log(a).sum(), abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.floats(-1e6, 1e6), st.floats(1e-3, 1e3), st.integers(0, 1000))
def test_sample_estimators_ignore_shifts(d, shift, sd, seed):
    """A shift b of the data changes neither Ĥ nor Ĵ. Rounding x + b moves each point by up to eps·|b| ≤ 2.2e-10·sd/1e-3,
    i.e. below 1e-6 of a nearest-neighbour distance (~sd·N^(-1/d)) and of a bandwidth: tolerances 1e-6 relative."""
    x = sd * np.random.default_rng(seed).standard_normal((400, d))
    assert knn_entropy(x + shift, k=3) == pytest.approx(knn_entropy(x, k=3), abs=1e-6)
    assert kde_fisher_information(x + shift) == pytest.approx(kde_fisher_information(x), rel=1e-6)


def test_kde_fisher_shift_of_a_narrow_sample():
    "2000 draws of N(0, 0.01²): J = 1e4 (less the smoothing bias); the same sample moved to 1e6 gives the same estimate."
    x = 0.01 * torch.randn(2000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    j = kde_fisher_information(x)
    assert 8e3 < j < 1.2e4
    assert kde_fisher_information(x + 1e6) == pytest.approx(j, rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.floats(1e-3, 1e3), st.floats(1e-3, 1e3), st.integers(0, 1000))
def test_kde_fisher_per_coordinate_units(a, b, seed):
    """With per-coordinate bandwidths Ĵ(X·(a, b)) = c₁/a² + c₂/b², c_k not depending on the units: c₁, c₂ from the
    estimates at (1, 1) and (a, 1), then the estimate at (a, b) and (1, b) predicted to rounding (1e-9 relative)."""
    x = np.random.default_rng(seed).standard_normal((500, 2)) * np.array([0.3, 2.0])
    j11, ja1 = kde_fisher_information(x), kde_fisher_information(x * [a, 1])
    if abs(1 - 1 / a**2) < 1e-3: return                      # a ≈ 1 cannot separate c₁ from c₂
    c1 = (j11 - ja1) / (1 - 1 / a**2); c2 = j11 - c1
    assert kde_fisher_information(x * [1, b]) == pytest.approx(c1 + c2 / b**2, rel=1e-9)
    assert kde_fisher_information(x * [a, b]) == pytest.approx(c1 / a**2 + c2 / b**2, rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["normal", "laplace", "student", "logistic"]), st.floats(-1e6, 1e6), st.floats(1e-2, 1e2))
@example("logistic", 184678.0, 9.5)   # found by hypothesis: tanh-sinh stopped at level 2 with the tails' entropy 3e-5 off
def test_quadrature_fs_ignores_shifts(family, loc, scale):
    """J(X + b) = J(X) and H(X + b) = H(X) by quadrature; the relative accuracy is 100·eps·|b|/scale where float64
    cannot resolve x better (2e-8 at the worst corner here), 1e-9 elsewhere."""
    make = dict(normal=lambda l, s: Normal(l, s), laplace=lambda l, s: Laplace(l, s),
                student=lambda l, s: StudentT(3., l, s), logistic=lambda l, s: Logistic(l, s))[family]
    t = lambda v: torch.tensor(v, dtype=torch.float64)
    tol = max(1e-9, 1000 * np.finfo(np.float64).eps * abs(loc) / scale)
    J0, H0 = float(location_fisher_information(make(t(0.), t(scale)), "quadrature")), float(differential_entropy(make(t(0.), t(scale)), "quadrature"))
    assert float(location_fisher_information(make(t(loc), t(scale)), "quadrature")) == pytest.approx(J0, rel=tol)
    assert float(differential_entropy(make(t(loc), t(scale)), "quadrature")) == pytest.approx(H0, abs=tol)


def test_kde_fisher_is_biased_low_for_wide_kernels():
    torch.manual_seed(1)
    x = torch.randn(2000, dtype=torch.float64)
    assert kde_fisher_information(x, 0.8) == pytest.approx(1 / 1.64**2, abs=0.03)


# ---- bad input ----

@pytest.mark.parametrize("d", [Bernoulli(0.3), Categorical(torch.ones(4)), Poisson(2.), Binomial(5, 0.5), Geometric(0.2),
                               OneHotCategorical(torch.ones(3))])
@pytest.mark.parametrize("fn", [location_fisher_information, differential_entropy, entropy_power,
                                lambda d: monte_carlo_fs(d, 100)])
def test_discrete_distributions_are_refused(d, fn):
    with pytest.raises(ValueError, match="discrete"):
        fn(d)


@pytest.mark.parametrize("obj", [object(), 3, "normal", np.zeros(3)])
def test_objects_without_log_prob_are_refused(obj):
    with pytest.raises(TypeError, match="log_prob"):
        location_fisher_information(obj)
    with pytest.raises(TypeError, match="log_prob"):
        differential_entropy(obj)


def test_object_with_log_prob_but_no_sample():
    class OnlyDensity:
        def log_prob(self, x): return Normal(0., 1.).log_prob(x)
    with pytest.raises(TypeError, match="sample"):
        monte_carlo_fs(OnlyDensity())
    assert location_fisher_information(OnlyDensity(), "quadrature").item() == pytest.approx(1., rel=1e-6)


def test_uniform_has_infinite_fisher_information():
    "Documented: the closed form returns inf; quadrature and Monte-Carlo raise (they would see only the interior's 0)."
    u = Uniform(torch.zeros(3), torch.ones(3))
    assert torch.isinf(location_fisher_information(u)).all()
    for method in ("quadrature", "monte_carlo"):
        with pytest.raises(ValueError, match="J = ∞"):
            location_fisher_information(Uniform(0., 1.), method)
    with pytest.raises(ValueError, match="not the whole space"):
        location_fisher_information(Exponential(1.))


def test_bad_methods_and_shapes():
    with pytest.raises(ValueError, match="method must be"):
        location_fisher_information(Normal(0., 1.), "exact")
    with pytest.raises(ValueError, match="method must be"):
        differential_entropy(Normal(0., 1.), "knn")
    with pytest.raises(ValueError, match="1-D"):
        location_fisher_information(Independent(Normal(torch.zeros(2), 1.), 1), "quadrature")
    with pytest.raises(ValueError, match="n_samples"):
        monte_carlo_fs(Normal(0., 1.), n_samples=1)
    with pytest.raises(ValueError, match="n_samples"):
        location_fisher_information(Normal(0., 1.), "monte_carlo", n_samples=10.5)
    with pytest.raises(ValueError, match="no closed form"):
        location_fisher_information(torch.distributions.Gumbel(0., 1.), "closed_form")


def test_quadrature_bad_log_densities():
    with pytest.raises(ValueError, match="integrates to"):
        quadrature_fs(lambda x: -x**2)
    with pytest.raises(ValueError, match="elementwise"):
        quadrature_fs(lambda x: Normal(0., 1.).log_prob(x).sum())
    with pytest.raises(ValueError, match="width > 0"):
        quadrature_fs(Normal(0., 1.).log_prob, 0., 0.)
    with pytest.raises(ValueError, match="width > 0"):
        quadrature_fs(Normal(0., 1.).log_prob, math.nan, 1.)


def test_entropy_power_bad_input():
    with pytest.raises(ValueError, match="pass the dimension"):
        entropy_power(1.2)
    with pytest.raises(ValueError, match="disagrees"):
        entropy_power(Independent(Normal(torch.zeros(4), 1.), 1), n=2)
    for n in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive int"):
            entropy_power(1.2, n=n)
    with pytest.raises(TypeError, match="distribution or a number"):
        entropy_power("entropy", n=1)


@pytest.mark.parametrize("bad,err,msg", [
    (torch.tensor(0.3), ValueError, r"shape \(\.\.\., n\)"),
    (torch.zeros(3, 0), ValueError, r"shape \(\.\.\., n\)"),
    (torch.zeros(3, dtype=torch.int64), TypeError, "floating-point"),
    ([0.1, 0.2], TypeError, "torch.Tensor"),
    (np.zeros(3), TypeError, "torch.Tensor"),
])
def test_gaussian_fs_coordinates_bad_input(bad, err, msg):
    with pytest.raises(err, match=msg):
        gaussian_fs_coordinates(bad)


@pytest.mark.parametrize("samples,k,msg", [
    (np.random.default_rng(0).standard_normal((5, 2)), 5, "needs more than k samples"),
    (np.random.default_rng(0).standard_normal((5, 2)), 9, "needs more than k samples"),
    (np.random.default_rng(0).standard_normal(20), 0, "positive int"),
    (np.random.default_rng(0).standard_normal(20), 1.5, "positive int"),
    (np.random.default_rng(0).standard_normal(20), True, "positive int"),
    (np.zeros((4, 2, 2)), 1, r"shape \(m,\) or \(m, d\)"),
    (np.array([1., np.nan, 2., 3.]), 1, "nan or inf"),
    (np.r_[np.zeros(3), np.arange(1., 10.)], 2, "duplicates"),
])
def test_knn_entropy_bad_input(samples, k, msg):
    with pytest.raises(ValueError, match=msg):
        knn_entropy(samples, k=k)


def test_knn_entropy_non_numeric():
    with pytest.raises(TypeError, match="numeric"):
        knn_entropy(np.array(["a", "b", "c"]), k=1)


# ---- the plane ----

@settings(max_examples=10, deadline=None)
@given(st.integers(1, 64), st.lists(st.tuples(st.floats(-4, 1), st.floats(0, 5)), min_size=1, max_size=6))
def test_plot_fs_plane_covers_wide_ranges(n, logpts):
    "Every point and trajectory point lies inside the chosen log-log limits, from N = 1e-4 to 10 and trJ up to 1e5."
    pts = {f"p{i}": (10**a, 10**b) for i, (a, b) in enumerate(logpts)}
    tN = np.geomspace(1e-4, 10, 30)
    traj = (tN, n / tN * 2, np.arange(30))
    ax = plot_fs_plane(pts, n=n, trajectory=traj)
    try:
        assert ax.get_xscale() == ax.get_yscale() == "log"
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        allN = [p[0] for p in pts.values()] + list(tN)
        allJ = [p[1] for p in pts.values()] + list(traj[1])
        assert x0 < min(allN) and x1 > max(allN) and y0 < min(allJ) and y1 > max(allJ)
    finally:
        plt.close(ax.figure)


def test_plot_fs_plane_draws_on_given_axes():
    fig, ax = plt.subplots()
    try:
        assert plot_fs_plane({"a": (1., 2.)}, ax=ax) is ax
        assert plot_fs_plane(trajectory=([1., 2.], [3., 1.]), ax=ax) is ax  # no colour values: coloured by index
    finally:
        plt.close(fig)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(n=0), "positive int"),
    (dict(n=2.5), "positive int"),
    (dict(points={"a": (0., 1.)}), "positive and finite"),
    (dict(points={"a": (1., math.nan)}), "positive and finite"),
    (dict(points={"a": (1., 2., 3.)}), "pair"),
    (dict(ks=(1, -2)), "positive and finite"),
    (dict(trajectory=([1., 2.], [1.])), "equal length"),
    (dict(trajectory=([1., 2.], [1., 2.], [0, 1], [0, 1])), "trajectory must be"),
    (dict(trajectory=([1., -2.], [1., 2.])), "positive and finite"),
    (dict(xlim=(0., 1.)), "positive and finite"),
])
def test_plot_fs_plane_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        plot_fs_plane(**kwargs)
    plt.close("all")
