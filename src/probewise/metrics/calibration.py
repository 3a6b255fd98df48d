"""Calibration: expected calibration error, reliability diagrams, temperature scaling.

Example:
    >>> import numpy as np
    >>> from probewise.metrics import apply_temperature, ece, fit_temperature
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(2000, 3)) * 3.0
    >>> y = np.array([rng.choice(3, p=p) for p in apply_temperature(logits, 3.0)])
    >>> T = fit_temperature(logits, y)  # the logits are overconfident: about 3
    >>> before, after = ece(y, apply_temperature(logits, 1.0)), ece(y, apply_temperature(logits, T))
    >>> bool(2.5 < T < 3.5), bool(after < before)
    (True, True)
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, logsumexp, softmax

from probewise.errors import ConfigError
from probewise.metrics._checks import (
    as_labels,
    as_probs,
    as_scores,
    check_binary_labels,
    check_labels_in_range,
    check_lengths,
)

__all__ = ["ReliabilityCurve", "apply_temperature", "ece", "fit_temperature", "reliability_curve"]


class ReliabilityCurve(NamedTuple):
    """The data of a reliability diagram, one entry per equal-width confidence bin.

    Attributes:
        confidence: Mean top-label confidence in each bin ``[n_bins]`` (NaN where the bin is empty).
        accuracy: Fraction correct in each bin ``[n_bins]`` (NaN where the bin is empty).
        count: Number of examples in each bin ``[n_bins]``.
        edges: Bin edges ``[n_bins + 1]`` from 0 to 1; bin ``i`` holds confidences in
            ``(edges[i], edges[i+1]]`` (bin 0 also holds exactly 0).
    """

    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    edges: np.ndarray


def _top_label(y_true: Any, y_prob: Any) -> tuple[np.ndarray, np.ndarray]:
    """Top-label confidence and correctness ``[n]`` from labels and probabilities."""
    y = as_labels(y_true, "y_true")
    p = as_probs(y_prob, "y_prob")
    check_lengths(y_true=y, y_prob=p)
    if p.ndim == 1:
        check_binary_labels(y)
        pred = (p >= 0.5).astype(np.int64)
        conf = np.where(pred == 1, p, 1.0 - p)
    else:
        check_labels_in_range(y, p.shape[1])
        pred = np.argmax(p, axis=1)
        conf = p[np.arange(y.size), pred]
    return conf, (pred == y).astype(np.float64)


def _check_n_bins(n_bins: int) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}.")
    return int(n_bins)


def reliability_curve(y_true: Any, y_prob: Any, n_bins: int = 15) -> ReliabilityCurve:
    """Per-bin mean confidence, accuracy and count of the top-label prediction (equal-width bins on [0, 1]).

    The top label is the argmax of ``[n, k]`` probabilities, or ``p >= 0.5`` for ``[n]`` positive-class
    probabilities (its confidence is then ``max(p, 1 - p)``).

    Example:
        >>> curve = reliability_curve([0, 1, 0, 0], [0.2, 0.9, 0.6, 0.4], n_bins=5)
        >>> curve.count.tolist()
        [0, 0, 2, 1, 1]
        >>> curve.accuracy[2:].tolist(), curve.confidence[2:].round(2).tolist()
        ([0.5, 1.0, 1.0], [0.6, 0.8, 0.9])

    Args:
        y_true: True labels: 0/1 for ``[n]`` probabilities, or ``0..k-1`` for ``[n, k]``.
        y_prob: Positive-class probabilities ``[n]`` or class probabilities ``[n, k]``.
        n_bins: Number of equal-width bins.

    Returns:
        A :class:`ReliabilityCurve` ``(confidence, accuracy, count, edges)``.
    """
    n_bins = _check_n_bins(n_bins)
    conf, correct = _top_label(y_true, y_prob)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return ReliabilityCurve(mean_conf, mean_acc, count, edges)


def ece(y_true: Any, y_prob: Any, n_bins: int = 15) -> float:
    """Expected calibration error of the top label: ``sum_b (n_b / n) * |accuracy_b - confidence_b|``.

    Equal-width bins on [0, 1] as :func:`reliability_curve` (the estimator of Guo et al., 2017). The value
    depends on ``n_bins`` and is biased upward on small samples; compare models at equal n and bins.

    Example:
        >>> round(ece([0, 1, 0, 0], [0.2, 0.9, 0.6, 0.4], n_bins=5), 4)  # (2*0.1 + 0.2 + 0.1) / 4
        0.125

    Args:
        y_true: True labels: 0/1 for ``[n]`` probabilities, or ``0..k-1`` for ``[n, k]``.
        y_prob: Positive-class probabilities ``[n]`` or class probabilities ``[n, k]``.
        n_bins: Number of equal-width bins.

    Returns:
        ECE in [0, 1] (lower is better).
    """
    curve = reliability_curve(y_true, y_prob, n_bins)
    full = curve.count > 0
    weights = curve.count[full] / curve.count.sum()
    return float(np.sum(weights * np.abs(curve.accuracy[full] - curve.confidence[full])))


def _logits_pair(logits: Any, y_true: Any) -> tuple[np.ndarray, np.ndarray]:
    z = as_scores(logits, "logits")
    y = as_labels(y_true, "y_true")
    check_lengths(logits=z, y_true=y)
    if z.ndim == 1:
        check_binary_labels(y)
    else:
        check_labels_in_range(y, z.shape[1])
    return z, y


def _nll(z: np.ndarray, y: np.ndarray, beta: float) -> float:
    """Mean NLL of labels under softmax(beta * z) (or sigmoid for 1-D logits); convex in beta."""
    if z.ndim == 1:
        return float(np.mean(np.logaddexp(0.0, beta * z) - y * beta * z))
    return float(np.mean(logsumexp(beta * z, axis=1) - beta * z[np.arange(y.size), y]))


def fit_temperature(logits_val: Any, y_val: Any, *, bounds: tuple[float, float] = (1e-2, 1e2)) -> float:
    """Temperature ``T > 0`` minimising the validation NLL of ``softmax(logits / T)``.

    A bounded 1-D search (Brent) over ``log T``; the NLL is convex in ``1 / T``, so the minimum is unique.
    Temperature scaling does not change the argmax, so accuracy is unchanged; fit it on validation data and
    apply it to test data with :func:`apply_temperature`. A warning is issued when the optimum sits at a bound
    (logits carrying no, or inverted, information push ``T`` to the upper bound).

    Example:
        >>> import numpy as np
        >>> z = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
        >>> round(fit_temperature(z, [0, 1, 0, 0]), 3)  # right 3 times in 4: sigmoid(2 / T) = 0.75
        1.82

    Args:
        logits_val: Validation logits ``[n, k]``, or ``[n]`` binary logits (sigmoid).
        y_val: Validation labels ``[n]``: ``0..k-1``, or 0/1 for ``[n]`` logits.
        bounds: Search interval for ``T``, ``0 < low < high``.

    Returns:
        The fitted temperature, a float > 0 (> 1 softens overconfident logits).

    Raises:
        ConfigError: Bad bounds.
        DataError: NaN/inf logits, bad labels, length mismatch.
    """
    lo, hi = (float(b) for b in bounds)
    if not (0.0 < lo < hi < math.inf):
        raise ConfigError(f"bounds must satisfy 0 < low < high < inf, got {bounds!r}.")
    z, y = _logits_pair(logits_val, y_val)
    res = minimize_scalar(
        lambda log_t: _nll(z, y, math.exp(-log_t)),
        bounds=(math.log(lo), math.log(hi)),
        method="bounded",
        options={"xatol": 1e-7},
    )
    t = math.exp(float(res.x))
    if t < lo * 1.001 or t > hi / 1.001:
        warnings.warn(
            f"fit_temperature: the optimum T={t:.4g} is at the edge of bounds={bounds}; the logits may carry "
            "little information about the labels (check label alignment) or need wider bounds.",
            RuntimeWarning,
            stacklevel=2,
        )
    return t


def apply_temperature(logits: Any, temperature: float) -> np.ndarray:
    """Calibrated probabilities ``softmax(logits / T)`` ``[n, k]`` (``sigmoid(logits / T)`` ``[n]`` for 1-D).

    Returns probabilities, ready for :func:`log_loss`, :func:`ece` and friends; for scaled logits use
    ``logits / T`` directly.

    Example:
        >>> apply_temperature([[2.0, 0.0]], 2.0).round(4).tolist()
        [[0.7311, 0.2689]]

    Args:
        logits: Logits ``[n, k]``, or binary logits ``[n]``.
        temperature: ``T > 0``, e.g. from :func:`fit_temperature`.

    Returns:
        Probabilities with the shape of ``logits``, float64.
    """
    try:
        t = float(temperature)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"temperature must be a positive number, got {temperature!r}.") from exc
    if not (0.0 < t < math.inf):
        raise ConfigError(f"temperature must be finite and > 0, got {temperature!r}.")
    z = as_scores(logits, "logits")
    return expit(z / t) if z.ndim == 1 else softmax(z / t, axis=1)
