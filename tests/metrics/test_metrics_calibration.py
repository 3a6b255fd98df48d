"""ECE and reliability curves against a plain loop; temperature scaling recovers a known temperature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from probewise.metrics import apply_temperature, ece, fit_temperature, log_loss, reliability_curve


def _loop_reliability(y, probs, n_bins):
    """The textbook loop: top label, equal-width bins (lo, hi], bin 0 also takes confidence 0."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim == 1:
        pred = (probs >= 0.5).astype(int)
        conf = np.where(pred == 1, probs, 1 - probs)
    else:
        pred = probs.argmax(1)
        conf = probs.max(1)
    correct = pred == np.asarray(y)
    edges = np.linspace(0, 1, n_bins + 1)
    rows, total = [], 0.0
    for i in range(n_bins):
        lo, hi = edges[i], edges[i + 1]
        in_bin = (conf > lo) & (conf <= hi) if i > 0 else (conf >= lo) & (conf <= hi)
        cnt = int(in_bin.sum())
        if cnt:
            acc, cf = correct[in_bin].mean(), conf[in_bin].mean()
            total += cnt / len(conf) * abs(acc - cf)
        else:
            acc = cf = np.nan
        rows.append((cf, acc, cnt))
    return total, rows


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_ece_and_curve_match_loop(seed: int, n_bins: int) -> None:
    rng = np.random.default_rng(seed)
    probs = softmax(rng.normal(size=(500, 3)) * 2, axis=1)
    probs[:20] = np.round(probs[:20], 1)  # confidences on bin edges
    probs[:20] /= probs[:20].sum(1, keepdims=True)
    y = rng.integers(0, 3, 500)
    p_bin = np.r_[rng.random(300), [0.5, 0.6, 0.0, 1.0, 0.2]]
    y_bin = rng.integers(0, 2, p_bin.size)
    for yy, pp in [(y, probs), (y_bin, p_bin)]:
        expected, rows = _loop_reliability(yy, pp, n_bins)
        assert ece(yy, pp, n_bins=n_bins) == pytest.approx(expected, abs=1e-12)
        curve = reliability_curve(yy, pp, n_bins=n_bins)
        np.testing.assert_allclose(curve.confidence, [r[0] for r in rows], atol=1e-12)
        np.testing.assert_allclose(curve.accuracy, [r[1] for r in rows], atol=1e-12)
        np.testing.assert_array_equal(curve.count, [r[2] for r in rows])
        assert curve.count.sum() == len(yy) and curve.edges.shape == (n_bins + 1,)


def test_ece_small_when_calibrated_large_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    probs = softmax(rng.normal(size=(20000, 4)) * 2, axis=1)
    y = (rng.random((20000, 1)) > probs.cumsum(1)).sum(1)  # sampled from probs
    assert ece(y, probs) < 0.02
    sharp = softmax(np.log(probs) * 3, axis=1)
    assert ece(y, sharp) > 0.1


def _synthetic(t0: float, seed: int, n: int = 20000, k: int = 5):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 3.0
    p = softmax(z / t0, axis=1)
    y = (rng.random((n, 1)) > p.cumsum(1)).sum(1)
    return z, np.minimum(y, k - 1)


@pytest.mark.parametrize("t0", [0.5, 1.0, 2.0, 4.0])
def test_fit_temperature_recovers_known_temperature(t0: float) -> None:
    z, y = _synthetic(t0, seed=int(t0 * 10))
    t = fit_temperature(z, y)
    assert t == pytest.approx(t0, rel=0.08)
    assert log_loss(y, apply_temperature(z, t)) <= log_loss(y, apply_temperature(z, 1.0)) + 1e-12


def test_fit_temperature_is_the_nll_minimum() -> None:
    z, y = _synthetic(2.0, seed=1, n=3000)
    t = fit_temperature(z, y)
    nll = log_loss(y, apply_temperature(z, t))
    for factor in [0.97, 1.03]:
        assert nll < log_loss(y, apply_temperature(z, t * factor))


def test_fit_temperature_binary_logits() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(size=20000) * 4.0
    y = (rng.random(20000) < 1 / (1 + np.exp(-z / 2.5))).astype(int)
    t = fit_temperature(z, y)
    assert t == pytest.approx(2.5, rel=0.08)
    np.testing.assert_allclose(apply_temperature(z, t), apply_temperature(np.stack([0 * z, z], 1), t)[:, 1])


def test_fit_temperature_warns_when_logits_are_uninformative() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 3))
    y = (z.argmax(1) + 1) % 3  # anti-informative
    with pytest.warns(RuntimeWarning, match="edge of bounds"):
        fit_temperature(z, y)


def test_apply_temperature_keeps_argmax_and_sums_to_one() -> None:
    z = np.random.default_rng(0).normal(size=(50, 4))
    for t in [0.3, 1.0, 7.0]:
        p = apply_temperature(z, t)
        np.testing.assert_allclose(p.sum(1), 1.0)
        np.testing.assert_array_equal(p.argmax(1), z.argmax(1))
    np.testing.assert_allclose(apply_temperature(z, 1.0), softmax(z, axis=1))
