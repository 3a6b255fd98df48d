"""Choosing on validation: the one place where the sweep picks a (layer, hyperparameter).

Example:
    >>> from probewise.sweeps.selection import select_on_val
    >>> rows = [{"val": {"accuracy": 0.8}, "reg_rank": 0, "layer_rank": 1},
    ...         {"val": {"accuracy": 0.8}, "reg_rank": 0, "layer_rank": 0}]
    >>> select_on_val(rows, "accuracy")["layer_rank"]
    0
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from probewise.errors import DataError
from probewise.metrics import evaluate_classification, get_metric

VAL_METRICS = ("accuracy", "balanced_accuracy", "log_loss", "auroc")
TEST_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "auroc", "log_loss", "ece")


def select_on_val(rows: Sequence[dict], metric: str) -> dict:
    """Choose the best row by its validation metric. Rows hold validation numbers only.

    Ties (common on accuracy) go to the stronger regularization (first grid value in the order the
    family lists from most to least regularized), then to the lower layer: the simpler model wins.
    """
    spec = get_metric(metric)
    sign = 1.0 if spec.greater_is_better else -1.0

    def key(r):
        v = r["val"][metric]
        return (-(sign * v) if np.isfinite(v) else np.inf, r["reg_rank"], r["layer_rank"])

    return min(rows, key=key)


def grid_edge(rows: Sequence[dict], chosen: dict, metric: str) -> str | None:
    """``"lowest"``/``"highest"`` when the chosen value sits at that edge of its grid *and* beats its inner
    neighbour on validation (at the chosen layer): the optimum may lie beyond the grid. None otherwise, and
    when the edge only won a tie (ties go to the stronger regularization; the grid did not bind).

    Example:
        >>> rows = [{"layer": "1", "value": c, "val": {"accuracy": a}} for c, a in [(0.1, .7), (1, .8), (10, .9)]]
        >>> grid_edge(rows, rows[2], "accuracy")
        'highest'
    """
    same = sorted((r for r in rows if r["layer"] == chosen["layer"]), key=lambda r: r["value"])
    values = [r["value"] for r in same]
    if len(values) < 3 or chosen["value"] not in (values[0], values[-1]):
        return None
    edge, inner = (same[0], same[1]) if chosen["value"] == values[0] else (same[-1], same[-2])
    sign = 1.0 if get_metric(metric).greater_is_better else -1.0
    a, b = edge["val"][metric], inner["val"][metric]
    if not (np.isfinite(a) and np.isfinite(b)) or sign * (a - b) <= 0:
        return None
    return "lowest" if edge is same[0] else "highest"


def probs_2d(p: np.ndarray) -> np.ndarray:
    """Class probabilities `[n, k]` from `[n, k]` or binary positive-class probabilities `[n]`."""
    return np.stack([1 - p, p], 1) if p.ndim == 1 else p


def _metric_input(probs: np.ndarray) -> np.ndarray:
    """What the metrics take from class probabilities `[n, k]`: the positive class's `[n]` when binary."""
    return probs[:, 1] if probs.shape[1] == 2 else probs


def point_metrics(y: np.ndarray, probs: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Point estimates (no bootstrap) of `names` from class probabilities `[n, k]`."""
    x = _metric_input(probs)
    return {m: e.value for m, e in evaluate_classification(y, x, names, n_boot=0).items()}


def score_on_test(y: np.ndarray, probs: np.ndarray, n_boot: int, seed: int) -> dict[str, dict]:
    """:data:`TEST_METRICS` with bootstrap intervals, from class probabilities `[n, k]` (JSON-ready dicts).

    A metric this test split cannot define (AUROC when a class is absent from it) is reported as
    ``{"value": None, "low": None, "high": None, ..., "undefined": why}``, and an interval it cannot define (no
    resample holds every class) as ``low``/``high`` None beside the value, each with a warning, instead of
    ending the sweep after every probe was trained. Accuracy is always defined.
    The metrics share their resamples, whether scored together or one by one (they depend on n, n_boot, seed).
    """
    x = _metric_input(probs)
    try:
        est = evaluate_classification(y, x, TEST_METRICS, n_boot=n_boot, seed=seed)
        return {m: e.to_dict() for m, e in est.items()}
    except DataError:
        pass
    out: dict[str, dict] = {}
    for m in TEST_METRICS:
        try:
            out[m] = evaluate_classification(y, x, (m,), n_boot=n_boot, seed=seed)[m].to_dict()
        except DataError as e:
            if m == "accuracy":
                raise
            try:  # the point estimate may still be defined when no resample holds every class
                value = evaluate_classification(y, x, (m,), n_boot=0)[m].value
                what = "its interval is"
            except DataError:
                value, what = None, "it is"
            warnings.warn(f"test {m}: {what} undefined on this test split and reported as null: {e}", RuntimeWarning,
                          stacklevel=2)
            out[m] = {"value": value, "low": None, "high": None, "n": len(y), "n_boot": n_boot, "seed": seed,
                      "alpha": 0.05, "n_skipped": n_boot, "method": "percentile bootstrap",
                      "undefined": str(e)}
    return out
