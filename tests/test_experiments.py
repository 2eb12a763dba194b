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
