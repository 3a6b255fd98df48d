"""Operating points chosen on validation and reported on test: a threshold for a target FPR, and cascades.

The selection functions (:func:`~probewise.metrics.threshold_at_fpr`, :func:`choose_band`) take validation data
only; their signatures have no test argument. The reporting functions apply a fixed choice to test data.

Binary convention: labels 0/1 (1 = positive, "flag"), scores ``[n]`` where higher means more positive.

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import threshold_report
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000); s = rng.normal(size=2000) + 2 * y
    >>> rep = threshold_report(y[:1000], s[:1000], y[1000:], s[1000:], target_fpr=0.05, n_boot=200)
    >>> rep.val_fpr <= 0.05, 0.0 < rep.fpr.value < 0.1, rep.tpr.low <= rep.tpr.value <= rep.tpr.high
    (True, True, True)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from probewise.errors import ConfigError, DataError
from probewise.metrics import Estimate, bootstrap_ci, threshold_at_fpr
from probewise.metrics._checks import as_binary_scores, as_labels, check_binary_labels, check_lengths, to_numpy

__all__ = [
    "Band",
    "Cascade",
    "CascadeDecision",
    "CascadeReport",
    "ThresholdReport",
    "choose_band",
    "evaluate_cascade",
    "rates_at_threshold",
    "threshold_report",
]


def _binary(y: Any, s: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    y = as_labels(y, names[0])
    s = as_binary_scores(s, names[1])
    check_lengths(**{names[0]: y, names[1]: s})
    check_binary_labels(y, names[0])
    return y, s


def _rate(y: np.ndarray, pred: np.ndarray, cls: int) -> float:
    """Fraction of examples of class ``cls`` predicted positive (TPR for 1, FPR for 0)."""
    mask = y == cls
    if not mask.any():
        raise DataError(f"no example of class {cls}: the rate is undefined.")
    return float(np.count_nonzero(pred[mask]) / np.count_nonzero(mask))


def _error(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(y != pred))


# ----------------------------------------------------------------------------------------- single threshold
@dataclass(frozen=True)
class ThresholdReport:
    """A threshold picked on validation for a target FPR, and the test TPR/FPR it gives.

    Attributes:
        target_fpr: The FPR asked for.
        threshold: Predict positive when ``score >= threshold`` (chosen on validation).
        val_tpr: TPR on validation at the threshold.
        val_fpr: FPR on validation (<= target by construction).
        tpr: Test TPR with its bootstrap interval.
        fpr: Test FPR with its bootstrap interval (scatters around the target).
        n_val: Validation examples.
        n_test_pos: Test positives.
        n_test_neg: Test negatives.
    """

    target_fpr: float
    threshold: float
    val_tpr: float
    val_fpr: float
    tpr: Estimate
    fpr: Estimate
    n_val: int
    n_test_pos: int
    n_test_neg: int

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-ready)."""
        return asdict(self)


def rates_at_threshold(
    y: Any, scores: Any, threshold: float, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[Estimate, Estimate]:
    """TPR and FPR of the fixed rule ``score >= threshold``, each with a percentile-bootstrap interval.

    Example:
        >>> tpr, fpr = rates_at_threshold([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], 0.5, n_boot=0)
        >>> tpr.value, fpr.value
        (1.0, 0.5)

    Args:
        y: Binary labels ``[n]`` with both classes.
        scores: Positive-class scores ``[n]``.
        threshold: The decision threshold (chosen elsewhere, on validation).
        n_boot: Resamples (0: point estimates only).
        alpha: Miscoverage of the intervals.
        seed: Seed of the resampling (both rates share the resamples).

    Returns:
        ``(tpr, fpr)`` as :class:`~probewise.metrics.Estimate`.
    """
    y, s = _binary(y, scores, ("y", "scores"))
    if np.isnan(threshold):
        raise ConfigError("threshold is NaN; choose it with threshold_at_fpr on validation data.")
    pred = (s >= threshold).astype(np.int64)
    for cls, what in ((1, "TPR"), (0, "FPR")):
        if not np.any(y == cls):
            raise DataError(f"y has no example of class {cls}; the {what} is undefined.")
    kw = {"n_boot": n_boot, "alpha": alpha, "seed": seed}
    return (bootstrap_ci(_rate, y, pred, metric_kwargs={"cls": 1}, **kw),
            bootstrap_ci(_rate, y, pred, metric_kwargs={"cls": 0}, **kw))


def threshold_report(
    y_val: Any,
    scores_val: Any,
    y_test: Any,
    scores_test: Any,
    target_fpr: float = 0.01,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> ThresholdReport:
    """Pick the threshold on validation (:func:`~probewise.metrics.threshold_at_fpr`), report test TPR/FPR.

    Only ``y_val``/``scores_val`` reach the selection; the test arrays are read once, after it.

    Example:
        >>> rep = threshold_report([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], [0, 0, 1, 1], [0.2, 0.5, 0.4, 0.7],
        ...                        target_fpr=0.2, n_boot=0)
        >>> rep.threshold > 0.3, rep.tpr.value, rep.fpr.value
        (True, 1.0, 0.5)

    Args:
        y_val: Validation labels ``[n]`` (needs negatives).
        scores_val: Validation scores ``[n]``.
        y_test: Test labels ``[m]`` with both classes.
        scores_test: Test scores ``[m]``.
        target_fpr: FPR to aim for, in (0, 1).
        n_boot: Resamples of the test intervals.
        alpha: Miscoverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        A :class:`ThresholdReport`.

    Raises:
        ConfigError: ``target_fpr`` outside (0, 1).
        DataError: NaN/inf scores, non-binary labels, a missing class.
    """
    threshold = threshold_at_fpr(y_val, scores_val, target_fpr)
    yv, sv = _binary(y_val, scores_val, ("y_val", "scores_val"))
    val_pred = (sv >= threshold).astype(np.int64)
    val_tpr = _rate(yv, val_pred, 1) if np.any(yv == 1) else float("nan")
    tpr, fpr = rates_at_threshold(y_test, scores_test, threshold, n_boot=n_boot, alpha=alpha, seed=seed)
    yt = as_labels(y_test, "y_test")
    return ThresholdReport(float(target_fpr), threshold, val_tpr, _rate(yv, val_pred, 0), tpr, fpr, int(yv.size),
                           int(np.count_nonzero(yt == 1)), int(np.count_nonzero(yt == 0)))


# ---------------------------------------------------------------------------------------------------- cascade
@dataclass(frozen=True, eq=False)
class CascadeDecision:
    """Decisions of a cascade: ``pred [n]`` (0 pass, 1 flag) and ``deferred [n]`` (decided by the second stage)."""

    pred: np.ndarray
    deferred: np.ndarray


@dataclass(frozen=True)
class Cascade:
    """Two thresholds on a first-stage score: ``s < tau_low`` passes, ``s > tau_high`` is flagged, and the band
    ``tau_low <= s <= tau_high`` is deferred to a second classifier.

    ``second`` is any callable on the deferred examples: it receives their indices ``[m]`` (or ``inputs[idx]``
    when :meth:`predict` is given ``inputs``) and returns ``[m]`` scores or 0/1 decisions; an example is flagged
    when the output is ``>= second_threshold``. It is not called when nothing is deferred.

    Example:
        >>> import numpy as np
        >>> cas = Cascade(0.3, 0.7, second=lambda idx: np.ones(len(idx)))
        >>> d = cas.predict(np.array([0.1, 0.5, 0.9, 0.3]))
        >>> d.pred.tolist(), d.deferred.tolist()
        ([0, 1, 1, 1], [False, True, False, True])

    Attributes:
        tau_low: Lower edge of the deferral band (``-inf`` allowed).
        tau_high: Upper edge, ``>= tau_low`` (``+inf`` allowed).
        second: The second stage.
        second_threshold: Threshold on the second stage's output.
    """

    tau_low: float
    tau_high: float
    second: Callable[[Any], Any]
    second_threshold: float = 0.5

    def __post_init__(self) -> None:
        lo, hi = float(self.tau_low), float(self.tau_high)
        if np.isnan(lo) or np.isnan(hi) or lo > hi:
            raise ConfigError(f"a cascade needs tau_low <= tau_high (no NaN), got {self.tau_low!r}, {self.tau_high!r}.")
        if not callable(self.second):
            raise ConfigError("second must be callable: second(indices or inputs of deferred examples) -> scores.")

    def deferred(self, scores: Any) -> np.ndarray:
        """Boolean mask ``[n]`` of the examples in the band."""
        s = as_binary_scores(scores, "scores")
        return (s >= self.tau_low) & (s <= self.tau_high)

    def predict(self, scores: Any, inputs: Any = None) -> CascadeDecision:
        """Route ``scores [n]`` and ask the second stage about the band; see the class docstring."""
        s = as_binary_scores(scores, "scores")
        deferred = (s >= self.tau_low) & (s <= self.tau_high)
        pred = (s > self.tau_high).astype(np.int64)
        idx = np.flatnonzero(deferred)
        if idx.size:
            arg = idx if inputs is None else inputs[idx]
            out = to_numpy(self.second(arg))
            if out.shape != (idx.size,):
                raise DataError(f"the second stage returned shape {out.shape} for {idx.size} deferred examples; "
                                f"return one score per example, shape ({idx.size},).")
            out = as_binary_scores(out.astype(np.float64) if out.dtype.kind == "b" else out, "second stage output")
            pred[idx] = (out >= self.second_threshold).astype(np.int64)
        return CascadeDecision(pred, deferred)


@dataclass(frozen=True)
class CascadeReport:
    """A cascade on labelled data: deferral and the combined decisions' error, TPR and FPR.

    Attributes:
        tau_low: Lower edge of the band.
        tau_high: Upper edge of the band.
        n: Examples.
        n_deferred: Examples sent to the second stage.
        deferred_frac: ``n_deferred / n`` (exact).
        error: Combined error rate with its bootstrap interval.
        tpr: Combined TPR.
        fpr: Combined FPR.
        second_error: Error rate of the second stage on the deferred examples (NaN when none).
    """

    tau_low: float
    tau_high: float
    n: int
    n_deferred: int
    deferred_frac: float
    error: Estimate
    tpr: Estimate
    fpr: Estimate
    second_error: float

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-ready)."""
        return asdict(self)


def evaluate_cascade(
    cascade: Cascade,
    y: Any,
    scores: Any,
    inputs: Any = None,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> CascadeReport:
    """Run a cascade with fixed thresholds on labelled (test) data and report deferral, error, TPR and FPR.

    The second stage is called once; the bootstrap resamples the resulting decisions.

    Example:
        >>> import numpy as np
        >>> cas = Cascade(0.25, 0.55, second=lambda idx: np.zeros(len(idx)))
        >>> rep = evaluate_cascade(cas, [0, 0, 1, 1], [0.1, 0.3, 0.5, 0.9], n_boot=0)
        >>> rep.deferred_frac, rep.error.value, rep.tpr.value
        (0.5, 0.25, 0.5)

    Args:
        cascade: The :class:`Cascade` (its thresholds chosen on validation, e.g. by :func:`choose_band`).
        y: Binary labels ``[n]``.
        scores: First-stage scores ``[n]``.
        inputs: Optional array indexed by the deferred indices and handed to the second stage.
        n_boot: Resamples of the intervals (0: point estimates).
        alpha: Miscoverage.
        seed: Seed of the resampling.

    Returns:
        A :class:`CascadeReport`.
    """
    y, s = _binary(y, scores, ("y", "scores"))
    d = cascade.predict(s, inputs)
    kw = {"n_boot": n_boot, "alpha": alpha, "seed": seed}
    for cls in (0, 1):
        if not np.any(y == cls):
            raise DataError(f"y has no example of class {cls}; TPR and FPR need both classes.")
    n_def = int(np.count_nonzero(d.deferred))
    second_error = _error(y[d.deferred], d.pred[d.deferred]) if n_def else float("nan")
    return CascadeReport(
        float(cascade.tau_low), float(cascade.tau_high), int(y.size), n_def, n_def / y.size,
        bootstrap_ci(_error, y, d.pred, **kw),
        bootstrap_ci(_rate, y, d.pred, metric_kwargs={"cls": 1}, **kw),
        bootstrap_ci(_rate, y, d.pred, metric_kwargs={"cls": 0}, **kw),
        second_error,
    )


@dataclass(frozen=True)
class Band:
    """A deferral band chosen on validation.

    Attributes:
        tau_low: Lower edge (``-inf`` when the band reaches the lowest scores).
        tau_high: Upper edge (``+inf`` when it reaches the highest).
        val_deferred_frac: Fraction of validation examples in the band (<= the budget).
        val_error: Combined validation error rate (first stage outside, second stage or 0 inside).
        n_val: Validation examples.
    """

    tau_low: float
    tau_high: float
    val_deferred_frac: float
    val_error: float
    n_val: int

    def cascade(self, second: Callable[[Any], Any], second_threshold: float = 0.5) -> Cascade:
        """The :class:`Cascade` with this band and a second stage."""
        return Cascade(self.tau_low, self.tau_high, second, second_threshold)


def _edge(lo: float, hi: float, keep_high: bool) -> float:
    """A value between two consecutive distinct scores: the midpoint, or an end if the midpoint rounds onto one."""
    mid = lo + (hi - lo) / 2.0
    if keep_high:  # tau_low: lo < t <= hi
        return mid if mid > lo else hi
    return mid if mid < hi else lo  # tau_high: lo <= t < hi


def choose_band(scores_val: Any, y_val: Any, defer_budget: float, *, second_pred_val: Any = None) -> Band:
    """Pick ``tau_low``/``tau_high`` on validation: the fewest combined errors deferring at most ``defer_budget``.

    Outside the band the first stage decides (below passes, above flags). Inside, the second stage decides: its
    validation decisions ``second_pred_val`` count when given, otherwise it is taken to be right (the band then
    covers the first stage's most confused region). Ties go to the narrower band, then the lower one. Edges lie
    midway between consecutive distinct validation scores, so ties in scores are never split. Exact, O(n log n).

    Example:
        >>> import numpy as np
        >>> s = np.arange(10) / 10; y = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1])
        >>> band = choose_band(s, y, defer_budget=0.4)
        >>> round(band.tau_low, 2), round(band.tau_high, 2), band.val_deferred_frac, band.val_error
        (0.25, 0.65, 0.4, 0.0)

    Args:
        scores_val: Validation first-stage scores ``[n]``.
        y_val: Validation labels ``[n]`` (0/1).
        defer_budget: Largest fraction of examples to defer, in [0, 1].
        second_pred_val: Optional second-stage 0/1 decisions on every validation example ``[n]``.

    Returns:
        A :class:`Band`; ``band.cascade(second)`` builds the cascade.

    Raises:
        ConfigError: ``defer_budget`` outside [0, 1].
        DataError: NaN/inf scores, non-binary labels, length mismatch.
    """
    y, s = _binary(y_val, scores_val, ("y_val", "scores_val"))
    budget = float(defer_budget)
    if not 0.0 <= budget <= 1.0:
        raise ConfigError(f"defer_budget must lie in [0, 1] (a fraction of examples), got {defer_budget!r}.")
    n = y.size
    order = np.argsort(s, kind="stable")
    ss, yy = s[order], y[order]
    wrong = np.zeros(n, np.int64)
    if second_pred_val is not None:
        p2 = as_labels(second_pred_val, "second_pred_val")
        check_lengths(y_val=y, second_pred_val=p2)
        check_binary_labels(p2, "second_pred_val")
        wrong = (p2[order] != yy).astype(np.int64)
    pos_before = np.r_[0, np.cumsum(yy == 1)]  # P[c]: positives below cut c (passed: errors)
    neg_after = np.r_[np.cumsum((yy == 0)[::-1])[::-1], 0]  # N[c]: negatives at or above c (flagged: errors)
    second_before = np.r_[0, np.cumsum(wrong)]
    cuts = np.flatnonzero(np.r_[True, ss[1:] > ss[:-1], True])  # cut c: between ss[c-1] and ss[c]
    m = int(np.floor(budget * n + 1e-9))
    # key(a, b) = errors * (n + 1) + width, separable into a part of the low cut a and a part of the high cut b
    low_key = (pos_before[cuts] - second_before[cuts]) * (n + 1) - cuts
    high_key = (neg_after[cuts] + second_before[cuts]) * (n + 1) + cuts
    window: deque[int] = deque()
    best, best_ab, lo = None, (0, 0), 0
    for b in range(cuts.size):
        while window and low_key[window[-1]] >= low_key[b]:
            window.pop()
        window.append(b)
        while cuts[b] - cuts[lo] > m:
            lo += 1
        while window[0] < lo:
            window.popleft()
        key = int(low_key[window[0]] + high_key[b])
        if best is None or key < best:
            best, best_ab = key, (window[0], b)
    c1, c2 = int(cuts[best_ab[0]]), int(cuts[best_ab[1]])
    if c1 == c2:  # no deferral: one threshold, written as an empty band
        tau_low = tau_high = -np.inf if c1 == 0 else np.inf if c1 == n else _edge(ss[c1 - 1], ss[c1], False)
    else:
        tau_low = -np.inf if c1 == 0 else _edge(ss[c1 - 1], ss[c1], keep_high=True)
        tau_high = np.inf if c2 == n else _edge(ss[c2 - 1], ss[c2], keep_high=False)
    # report what the chosen edges do on validation (equal to the search's counts unless scores are adjacent floats)
    inside = (s >= tau_low) & (s <= tau_high)
    pred = (s > tau_high).astype(np.int64)
    second = y if second_pred_val is None else p2
    pred[inside] = second[inside]
    return Band(float(tau_low), float(tau_high), float(np.mean(inside)), _error(y, pred), int(n))
