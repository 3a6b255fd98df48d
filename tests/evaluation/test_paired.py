import numpy as np
import pytest
from scipy.stats import binomtest

from probewise.errors import ConfigError
from probewise.evaluation.paired import holm, mcnemar_exact


def test_mcnemar_matches_binomtest_on_discordant_pairs():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    a = np.where(rng.random(200) < 0.8, y, 1 - y)
    b = np.where(rng.random(200) < 0.7, y, 1 - y)
    n01 = int(np.sum((a == y) & (b != y)))
    n10 = int(np.sum((a != y) & (b == y)))
    assert n01 != n10
    assert mcnemar_exact(y, a, b) == pytest.approx(binomtest(n01, n01 + n10, 0.5).pvalue)
    assert mcnemar_exact(y, a, a) == 1.0


def test_mcnemar_refuses_unpaired_rows():
    with pytest.raises(ConfigError, match="same rows"):
        mcnemar_exact(np.zeros(4), np.zeros(4), np.zeros(5))


def test_holm_by_hand():
    # sorted p: 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])


def test_paired_bootstrap_interval_and_p():
    from probewise.evaluation import paired_bootstrap

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    a = np.where(rng.random(300) < 0.9, y, 1 - y)
    b = np.where(rng.random(300) < 0.6, y, 1 - y)
    r = paired_bootstrap(y, a, b, n_boot=500, seed=0)
    assert r.diff == pytest.approx(np.mean(a == y) - np.mean(b == y))
    assert r.low < r.diff < r.high and r.low > 0 and r.p_value < 0.01
    same = paired_bootstrap(y, a, a, n_boot=200)
    assert same.diff == 0 and same.p_value == 1.0
