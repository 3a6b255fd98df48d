"""Multi-label probing: one probe per attribute of 0/1 indicators ``[n, a]``, with per-attribute and macro
metrics (attributes constant in train are reported, not fitted).

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import fit_multilabel, nearest_mean
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)); Y = (X[:, :2] > 0).astype(int)
    >>> rep = fit_multilabel(nearest_mean, X[:150], Y[:150], X[150:], Y[150:])
    >>> len(rep.per_attribute)
    2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from probewise.errors import ConfigError, DataError
from probewise.evaluation.targets import (
    FitPredict,
    as_features,
    target_kind,
)
from probewise.metrics import Estimate, evaluate_classification
from probewise.metrics._checks import check_lengths, to_numpy

__all__ = ["MultilabelReport", "fit_multilabel"]


@dataclass(frozen=True, eq=False)
class MultilabelReport:
    """One probe per attribute of a multi-label target, evaluated per attribute and macro-averaged.

    Attributes:
        names: Attribute names, in column order.
        per_attribute: ``{name: {metric: Estimate}}`` (metrics undefined on the test set are left out).
        macro: ``{metric: mean over the attributes where it is defined}``.
        probs: Test positive-class probabilities ``[m, a]``.
        n_train: Training examples.
        n_test: Test examples.
        undefined: ``(name, metric)`` pairs that could not be computed (e.g. AUROC on a constant test column).
    """

    names: tuple[str, ...]
    per_attribute: dict[str, dict[str, Estimate]]
    macro: dict[str, float]
    probs: np.ndarray
    n_train: int
    n_test: int
    undefined: tuple[tuple[str, str], ...]


def _multilabel(Y: Any, name: str) -> np.ndarray:
    a = to_numpy(Y)
    if a.ndim != 2:
        raise DataError(f"{name} must be multi-label 0/1 indicators [n, a], got shape {a.shape}.")
    target_kind(a, name)  # refuses anything but 0/1 columns
    return a.astype(np.int64)


def fit_multilabel(
    fit_predict: FitPredict,
    X_tr: Any,
    Y_tr: Any,
    X_te: Any,
    Y_te: Any,
    *,
    metrics: Sequence[str] = ("accuracy", "auroc"),
    names: Sequence[str] | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> MultilabelReport:
    """Fit one binary probe per attribute of ``Y [n, a]`` and report each attribute and the macro average.

    Example:
        >>> import numpy as np
        >>> from probewise.evaluation import nearest_mean
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 3)); Y = (X[:, :2] > 0).astype(int)
        >>> rep = fit_multilabel(nearest_mean, X[:200], Y[:200], X[200:], Y[200:], n_boot=0)
        >>> rep.names, rep.probs.shape, rep.macro["accuracy"] > 0.9
        (('attr_0', 'attr_1'), (100, 2), True)

    Args:
        fit_predict: ``(X_tr, y_tr, X_te) -> probabilities`` ``[m]`` or ``[m, 2]`` for one 0/1 attribute.
        X_tr: Training features ``[n, d]``.
        Y_tr: Training indicators ``[n, a]``; every column must hold both values.
        X_te: Test features ``[m, d]``.
        Y_te: Test indicators ``[m, a]``.
        metrics: Classification metric names (see ``probewise.metrics.METRICS``).
        names: Attribute names (default ``attr_0, attr_1, ...``).
        n_boot: Bootstrap resamples per metric and attribute (0: point estimates).
        alpha: Miscoverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        A :class:`MultilabelReport`.

    Raises:
        DataError: Not 0/1 indicators, mismatched shapes, or an attribute constant in train (named).
    """
    X_tr, X_te = as_features(X_tr, "X_tr"), as_features(X_te, "X_te")
    Y_tr, Y_te = _multilabel(Y_tr, "Y_tr"), to_numpy(Y_te)
    if Y_te.ndim != 2 or Y_te.shape[1] != Y_tr.shape[1]:
        raise DataError(f"Y_te must have shape [m, {Y_tr.shape[1]}] like Y_tr, got {Y_te.shape}.")
    check_lengths(X_tr=X_tr, Y_tr=Y_tr)
    check_lengths(X_te=X_te, Y_te=Y_te)
    a = Y_tr.shape[1]
    names = tuple(f"attr_{j}" for j in range(a)) if names is None else tuple(str(s) for s in names)
    if len(names) != a:
        raise ConfigError(f"names has {len(names)} entries for {a} attributes.")
    for j, nm in enumerate(names):
        if np.unique(Y_tr[:, j]).size < 2:
            raise DataError(
                f"attribute {nm!r} is constant ({int(Y_tr[0, j])}) in training data; a probe cannot learn it — "
                "drop the column or add examples of the other value."
            )
    probs = np.empty((X_te.shape[0], a), dtype=np.float64)
    per_attribute: dict[str, dict[str, Estimate]] = {}
    undefined = []
    for j, nm in enumerate(names):
        p = to_numpy(fit_predict(X_tr, Y_tr[:, j], X_te)).astype(np.float64)
        probs[:, j] = p[:, 1] if p.ndim == 2 else p
        per_attribute[nm] = {}
        for metric in metrics:
            try:
                res = evaluate_classification(Y_te[:, j], probs[:, j], (metric,), n_boot=n_boot, alpha=alpha,
                                              seed=seed)
                per_attribute[nm][metric] = res[metric]
            except DataError:
                undefined.append((nm, metric))
    macro = {}
    for metric in metrics:
        vals = [per_attribute[nm][metric].value for nm in names if metric in per_attribute[nm]]
        macro[metric] = float(np.mean(vals)) if vals else math.nan
    return MultilabelReport(names, per_attribute, macro, probs, int(X_tr.shape[0]), int(X_te.shape[0]),
                            tuple(undefined))
