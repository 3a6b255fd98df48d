"""Thresholds chosen on validation, cascades: exact deferral, band search against brute force, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from probewise.errors import ConfigError, DataError
from probewise.evaluation import Cascade, choose_band, evaluate_cascade, rates_at_threshold, threshold_report
from probewise.metrics import threshold_at_fpr


def _scores(seed: int, n: int = 400, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.normal(size=n) + 1.5 * y
    return y, (np.round(s, decimals) if decimals is not None else s)


def test_threshold_report_picks_on_val_and_reports_test() -> None:
    yv, sv = _scores(0)
    yt, st = _scores(1, n=600)
    rep = threshold_report(yv, sv, yt, st, target_fpr=0.1, n_boot=300, seed=0)
    assert rep.threshold == threshold_at_fpr(yv, sv, 0.1)
    assert rep.val_fpr <= 0.1 and rep.val_tpr == pytest.approx(np.mean(sv[yv == 1] >= rep.threshold))
    assert rep.tpr.value == pytest.approx(np.mean(st[yt == 1] >= rep.threshold))
    assert rep.fpr.value == pytest.approx(np.mean(st[yt == 0] >= rep.threshold))
    assert rep.tpr.low <= rep.tpr.value <= rep.tpr.high and rep.fpr.low <= rep.fpr.value <= rep.fpr.high
    assert (rep.n_val, rep.n_test_pos + rep.n_test_neg) == (400, 600)
    assert rep == threshold_report(yv, sv, yt, st, target_fpr=0.1, n_boot=300, seed=0)
    assert rep.to_dict()["tpr"]["n"] == 600


@pytest.mark.parametrize("fpr", [0.0, 1.0, -0.1, 1.5])
def test_target_fpr_outside_unit_interval(fpr: float) -> None:
    y, s = _scores(0)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        threshold_report(y, s, y, s, target_fpr=fpr)


def test_nan_scores_refused_everywhere() -> None:
    y, s = _scores(0)
    bad = s.copy()
    bad[3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        threshold_report(y, bad, y, s, target_fpr=0.1)
    with pytest.raises(DataError, match="NaN"):
        threshold_report(y, s, y, bad, target_fpr=0.1)
    with pytest.raises(DataError, match="NaN"):
        choose_band(bad, y, 0.1)
    with pytest.raises(DataError, match="NaN"):
        Cascade(0.0, 1.0, second=lambda idx: np.zeros(len(idx))).predict(bad)
    with pytest.raises(DataError, match="NaN"):
        rates_at_threshold(y, bad, 0.5)


# ---------------------------------------------------------------------------------------------------- cascades
def test_cascade_deferral_is_exact_on_constructed_scores() -> None:
    scores = np.arange(100) / 100.0
    y = (scores >= 0.25).astype(int)
    seen = []

    def second(idx):
        seen.append(idx)
        return y[idx]  # a perfect second stage

    cas = Cascade(0.2, 0.295, second)  # defers 0.20, 0.21, ..., 0.29: exactly 10 examples
    rep = evaluate_cascade(cas, y, scores, n_boot=0)
    assert rep.n_deferred == 10 and rep.deferred_frac == 0.1
    np.testing.assert_array_equal(seen[0], np.arange(20, 30))
    assert rep.error.value == 0.0 and rep.second_error == 0.0
    # band on the boundary: edges are inclusive
    assert evaluate_cascade(Cascade(0.2, 0.29, second), y, scores, n_boot=0).n_deferred == 10
    # inputs instead of indices, and a wrong second stage inside the band [0.45, 0.55)
    X = np.stack([scores, 1 - scores], axis=1)
    y = (scores >= 0.5).astype(int)
    rep2 = evaluate_cascade(Cascade(0.45, 0.545, lambda rows: rows[:, 1]), y, scores, X, n_boot=0)
    # deferred 0.45..0.54 flagged iff 1 - s >= 0.5: 0.45..0.50 flagged -> 0.45..0.49 false positives, 0.51..0.54 misses
    assert rep2.n_deferred == 10 and rep2.error.value == pytest.approx(9 / 100)
    assert rep2.fpr.value == pytest.approx(5 / 50) and rep2.tpr.value == pytest.approx(46 / 50)


def test_cascade_bad_input() -> None:
    with pytest.raises(ConfigError, match="tau_low <= tau_high"):
        Cascade(0.7, 0.3, second=lambda i: i)
    with pytest.raises(ConfigError, match="callable"):
        Cascade(0.3, 0.7, second=None)
    cas = Cascade(0.3, 0.7, second=lambda idx: np.zeros(len(idx) + 1))
    with pytest.raises(DataError, match="one score per example"):
        cas.predict(np.array([0.1, 0.5]))
    assert Cascade(0.3, 0.7, second=lambda i: 1 / 0).predict(np.array([0.1, 0.9])).pred.tolist() == [0, 1]


def _brute_band(s, y, budget, second=None):
    """Every pair of edges between distinct scores; fewest errors, then narrowest."""
    uniq = np.unique(s)
    edges = np.r_[-np.inf, (uniq[:-1] + uniq[1:]) / 2, np.inf]
    best = None
    for lo, hi in itertools.combinations_with_replacement(edges, 2):
        inside = (s > lo) & (s < hi)
        if inside.sum() > budget * s.size + 1e-9:
            continue
        pred = (s > hi).astype(int)
        pred[inside] = y[inside] if second is None else second[inside]
        key = (int(np.sum(pred != y)), int(inside.sum()))
        best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("budget", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("with_second", [False, True])
def test_choose_band_matches_brute_force(seed: int, budget: float, with_second: bool) -> None:
    y, s = _scores(seed, n=40, decimals=1)  # rounded: many ties that a band must not split
    second = np.random.default_rng(seed + 10).integers(0, 2, 40) if with_second else None
    band = choose_band(s, y, budget, second_pred_val=second)
    errors, width = _brute_band(s, y, budget, second)
    assert band.val_deferred_frac <= budget
    assert (round(band.val_error * 40), round(band.val_deferred_frac * 40)) == (errors, width)
    cas = band.cascade(lambda idx: y[idx] if second is None else second[idx])
    rep = evaluate_cascade(cas, y, s, n_boot=0)  # the chosen edges do what the search says on validation
    assert rep.deferred_frac == band.val_deferred_frac and rep.error.value == pytest.approx(band.val_error)


def test_choose_band_defers_the_confused_region_and_validates() -> None:
    y, s = _scores(5, n=2000)
    band = choose_band(s, y, defer_budget=0.2)
    assert band.tau_low < 0.75 < band.tau_high  # the classes overlap around the midpoint 0.75
    assert 0.19 < band.val_deferred_frac <= 0.2
    with pytest.raises(ConfigError, match="defer_budget"):
        choose_band(s, y, 1.5)
    with pytest.raises(DataError, match="binary"):
        choose_band(s, y + 1, 0.1)
