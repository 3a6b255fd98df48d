"""Evaluation protocols on plain arrays: group-aware and k-fold splits, few-shot draws, data-efficiency curves.

Targets are class labels ``[n]`` (binary or multiclass, codes ``0..k-1``), multi-label 0/1 indicators ``[n, a]``
or float regression targets ``[n]``; :func:`target_kind` tells them apart and refuses what is ambiguous. A probe
enters as ``fit_predict(X_tr, y_tr, X_te) -> out``: class probabilities ``[n_te]`` (positive class) or
``[n_te, k]`` for classes, predictions ``[n_te]`` for regression. Any probe or scikit-learn pipeline plugs in.

Example:
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from probewise.evaluation import few_shot_eval
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5)); y = (X[:, 0] > 0).astype(int)
    >>> fp = lambda a, b, c: LogisticRegression().fit(a, b).predict_proba(c)
    >>> pts = few_shot_eval(fp, X[:200], y[:200], X[200:], y[200:], ks=(1, 10), n_draws=3, seed=0)
    >>> [(p.k, p.n_train, len(p.values)) for p in pts]
    [(1, 2, 3), (10, 20, 3)]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from probewise.data.splits import TEST, TRAIN, VAL, check_fractions
from probewise.errors import ConfigError, DataError
from probewise.metrics import Estimate, evaluate_classification, evaluate_regression
from probewise.metrics._checks import as_labels, check_finite, check_lengths, to_numpy

__all__ = [
    "KINDS",
    "CurvePoint",
    "MultilabelReport",
    "data_efficiency",
    "few_shot_draws",
    "few_shot_eval",
    "fit_multilabel",
    "group_split",
    "kfold",
    "leave_one_group_out",
    "nearest_mean",
    "target_kind",
]

KINDS = ("binary", "multiclass", "multilabel", "regression")

#: ``fit_predict(X_tr, y_tr, X_te) -> probabilities [n_te] / [n_te, k], or predictions [n_te] for regression``
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], Any]


# ------------------------------------------------------------------------------------------------ input checks
def as_features(X: Any, name: str = "X") -> np.ndarray:
    """Validate finite numeric features ``[n, d]`` (numpy or torch) and return them as a numpy array."""
    a = to_numpy(X)
    if a.ndim != 2:
        raise DataError(f"{name} must be features [n, d], got shape {a.shape}; pool tokens to one vector first.")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric features, got dtype {a.dtype}.")
    check_finite(a, name)
    return a


def check_positive_int(value: Any, name: str) -> int:
    """Raise ConfigError unless ``value`` is an integer >= 1; return it as int."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def target_kind(y: Any, name: str = "y") -> str:
    """Detect what a target array is: ``"binary"``, ``"multiclass"``, ``"multilabel"`` or ``"regression"``.

    Integer (or boolean) ``[n]`` arrays are class labels; floats with fractional parts are regression targets;
    ``[n, a]`` arrays of 0/1 (``a >= 2``) are multi-label indicators. Floats holding only whole numbers are class
    labels when there are two values (``0.0``/``1.0`` as torch often gives) and ambiguous otherwise: ratings or
    counts could be either, so they are refused with the two ways to say which is meant.

    Example:
        >>> target_kind([0, 1, 1]), target_kind([0, 2, 1]), target_kind([0.5, 1.25]), target_kind([[0, 1], [1, 1]])
        ('binary', 'multiclass', 'regression', 'multilabel')

    Args:
        y: Targets ``[n]`` or ``[n, a]`` (numpy, torch or a list).
        name: The argument's name, used in error messages.

    Returns:
        One of :data:`KINDS`.

    Raises:
        DataError: Empty, non-numeric, NaN/inf, a single value, 2-D but not 0/1, or whole-number floats with more
            than two values.
    """
    a = to_numpy(y)
    if a.dtype.kind not in "biuf":
        raise DataError(
            f"{name} must be numeric, got dtype {a.dtype}; map string labels to integers first "
            "(np.unique(y, return_inverse=True)[1])."
        )
    if a.size == 0:
        raise DataError(f"{name} is empty; pass one target per example.")
    check_finite(a, name)
    if a.ndim == 2:
        if a.shape[1] < 2:
            raise DataError(
                f"{name} has shape {a.shape}: pass {name}[:, 0] (1-D) for a single target, or [n, a] with a >= 2 "
                "0/1 columns for multi-label targets."
            )
        extra = np.setdiff1d(np.unique(a), [0, 1])
        if extra.size:
            raise DataError(
                f"2-D {name} {a.shape} is read as multi-label 0/1 indicators but holds other values "
                f"(e.g. {extra[:3].tolist()}); binarise it, or evaluate several regression outputs one column "
                "at a time."
            )
        return "multilabel"
    if a.ndim != 1:
        raise DataError(f"{name} must be [n] (or [n, a] multi-label indicators), got shape {a.shape}.")
    values = np.unique(a)
    if a.dtype.kind == "f":
        if np.any(values != np.round(values)):
            return "regression"
        if values.size > 2:
            preview = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if values.size > 5 else "")
            raise DataError(
                f"{name} is float and holds {values.size} distinct whole numbers ({preview}): class labels or a "
                f"regression target on an integer scale? Cast to integers ({name}.astype(int)) for classes, or "
                "pass kind='regression' to treat them as continuous."
            )
    if values.size < 2:
        raise DataError(
            f"{name} holds a single value ({values[0]!r}); a probe needs two classes or varying regression targets."
        )
    return "binary" if values.size == 2 else "multiclass"


def _resolve_kind(y: Any, kind: str | None, name: str) -> str:
    if kind is None:
        return target_kind(y, name)
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS} or None (detect), got {kind!r}.")
    return kind


def class_labels(y: Any, name: str = "y") -> np.ndarray:
    """Class labels ``[n]`` as int64 for a classifier path; regression and multi-label targets are refused.

    Example:
        >>> class_labels([0.0, 1.0, 1.0]).tolist()
        [0, 1, 1]
    """
    kind = target_kind(y, name)
    if kind == "regression":
        raise DataError(
            f"{name} holds continuous float values (regression targets); this function needs class labels. "
            "For regression use data_efficiency(..., kind='regression') or metrics.evaluate_regression; "
            "to classify, discretise the targets first (e.g. np.digitize)."
        )
    if kind == "multilabel":
        raise DataError(
            f"{name} is 2-D multi-label indicators {to_numpy(y).shape}; this function needs class labels [n]. "
            "Evaluate each attribute with fit_multilabel."
        )
    return to_numpy(y).astype(np.int64)


def nearest_mean(X_tr: Any, y_tr: Any, X_te: Any) -> np.ndarray:
    """A reference ``fit_predict``: Gaussian class means with one shared isotropic variance (no selection).

    Class ``c`` gets the logit ``-||x - mu_c||^2 / (2 s^2)`` with ``s^2`` the mean squared within-class residual
    per dimension; the softmax of the logits is returned. Cheap, deterministic, and a sanity baseline.

    Example:
        >>> import numpy as np
        >>> p = nearest_mean(np.array([[0.0], [0.2], [2.0], [2.2]]), np.array([0, 0, 1, 1]), np.array([[0.1], [2.1]]))
        >>> p.shape, p.argmax(axis=1).tolist()
        ((2, 2), [0, 1])

    Args:
        X_tr: Training features ``[n, d]``.
        y_tr: Class codes ``[n]`` (``0..k-1``; a class absent from train gets probability 0).
        X_te: Features to score ``[m, d]``.

    Returns:
        Class probabilities ``[m, k]``.
    """
    X = as_features(X_tr, "X_tr").astype(np.float64)
    Z = as_features(X_te, "X_te").astype(np.float64)
    y = as_labels(y_tr, "y_tr")
    check_lengths(X_tr=X, y_tr=y)
    k = int(y.max()) + 1
    present = np.bincount(y, minlength=k) > 0
    means = np.zeros((k, X.shape[1]))
    means[present] = np.stack([X[y == c].mean(axis=0) for c in np.flatnonzero(present)])
    var = max(float(((X - means[y]) ** 2).mean()), 1e-12)
    d2 = (Z**2).sum(1)[:, None] - 2.0 * Z @ means.T + (means**2).sum(1)[None, :]
    logits = np.where(present[None, :], -d2 / (2.0 * var), -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _index_array(idx: Any, n: int, name: str) -> np.ndarray:
    a = to_numpy(idx)
    if a.dtype.kind == "b":
        if a.shape != (n,):
            raise DataError(f"boolean {name} must have shape ({n},), got {a.shape}.")
        return np.flatnonzero(a)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise DataError(f"{name} must be 1-D integer indices or a boolean mask, got {a.dtype} {a.shape}.")
    if a.size and (a.min() < 0 or a.max() >= n):
        raise DataError(f"{name} holds indices outside [0, {n}).")
    if np.unique(a).size != a.size:
        raise DataError(f"{name} holds repeated indices; pass each training example once.")
    return a.astype(np.int64)


# -------------------------------------------------------------------------------------------- group-aware splits
def _encode_groups(groups: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    g = to_numpy(groups)
    if g.ndim != 1 or g.size == 0:
        raise DataError(f"groups must be a non-empty 1-D array (one group id per example), got shape {g.shape}.")
    if n is not None and g.size != n:
        raise DataError(f"groups has {g.size} entries but labels has {n}; pass one group id per example.")
    if g.dtype.kind == "f":
        check_finite(g, "groups")
    return np.unique(g, return_inverse=True)


def _check_no_class_in_one_group(y: np.ndarray, names: np.ndarray, gid: np.ndarray, what: str) -> None:
    """Raise DataError naming the group when one group holds every example of a class."""
    for c in np.unique(y):
        holders = np.unique(gid[y == c])
        if holders.size == 1 and np.unique(gid).size > 1:
            count = int(np.count_nonzero(y == c))
            raise DataError(
                f"group {names[holders[0]].item()!r} holds all {count} example(s) of class {c}, so {what} cannot put "
                f"class {c} on both sides: add examples of class {c} from other groups, drop the class, or "
                "split without groups."
            )


def _assign_groups(y: np.ndarray, gid: np.ndarray, fracs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Greedy stratified assignment of whole groups to bins with target fractions; returns the bin of each group.

    Groups are visited in random order; each goes to the bin whose per-class counts move closest to their targets
    (squared deviation, each class scaled by its total), ties to the bin furthest below its size target.
    """
    _, yc = np.unique(y, return_inverse=True)
    counts = np.zeros((gid.max() + 1, yc.max() + 1))
    np.add.at(counts, (gid, yc), 1.0)
    totals = counts.sum(axis=0)
    targets = fracs[:, None] * totals[None, :]
    current = np.zeros_like(targets)
    weight = 1.0 / totals**2
    out = np.empty(counts.shape[0], dtype=np.int64)
    for g in rng.permutation(counts.shape[0]):
        delta = (((current + counts[g] - targets) ** 2 - (current - targets) ** 2) * weight).sum(axis=1)
        deficit = (targets - current).sum(axis=1)
        b = int(np.lexsort((-deficit, delta))[0])
        out[g] = b
        current[b] += counts[g]
    return out


def leave_one_group_out(groups: Any, labels: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Folds holding out one group at a time, in sorted group order (scikit-learn's ``LeaveOneGroupOut``).

    Example:
        >>> [(tr.tolist(), te.tolist()) for tr, te in leave_one_group_out(["a", "b", "a", "c"])]
        [([1, 3], [0, 2]), ([0, 2, 3], [1]), ([0, 1, 2], [3])]

    Args:
        groups: Group id per example ``[n]`` (speaker, document, image source, ...).
        labels: Optional class labels ``[n]``; when given, a group holding every example of a class is refused
            (the fold holding it out would train without that class).

    Returns:
        An iterator of ``(train_idx, test_idx)`` int64 index arrays (inputs are checked at the call).

    Raises:
        DataError: Fewer than two groups, or (with labels) a group holding all examples of a class.
    """
    names, gid = _encode_groups(groups)
    if names.size < 2:
        raise DataError(f"leave-one-group-out needs at least 2 groups, got {names.size}.")
    if labels is not None:
        y = class_labels(labels, "labels")
        check_lengths(labels=y, groups=gid)
        _check_no_class_in_one_group(y, names, gid, "leave-one-group-out")
    return ((np.flatnonzero(gid != g), np.flatnonzero(gid == g)) for g in range(names.size))


def group_split(
    labels: Any, groups: Any, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0
) -> np.ndarray:
    """Train/val/test split codes (0/1/2, as in ``probewise.data.splits``) where no group spans two splits.

    Whole groups are assigned greedily in a seeded random order, each to the split whose class counts it brings
    closest to ``val_frac``/``test_frac``, so classes stay roughly balanced. Fractions are met approximately
    (groups are indivisible). A split missing a class of val/test is warned about; train missing one is refused.

    Example:
        >>> import numpy as np
        >>> y = np.tile([0, 1], 50); g = np.repeat(np.arange(20), 5)
        >>> split = group_split(y, g, val_frac=0.2, test_frac=0.2, seed=0)
        >>> all(np.unique(split[g == k]).size == 1 for k in range(20)), np.bincount(split).tolist()
        (True, [60, 20, 20])

    Args:
        labels: Class labels ``[n]`` to balance, or ``None`` (regression or unlabelled: balance sizes only).
        groups: Group id per example ``[n]``.
        val_frac: Target fraction of examples in val, in (0, 1).
        test_frac: Target fraction in test, in (0, 1); ``val_frac + test_frac < 1``.
        seed: Seed of the group order.

    Returns:
        int8 split codes ``[n]``.

    Raises:
        ConfigError: Bad fractions.
        DataError: Fewer than 3 groups, a group holding all examples of a class (named), an empty split, or a
            class absent from train.
    """
    check_fractions(val_frac, test_frac)
    names, gid = _encode_groups(groups, None if labels is None else len(to_numpy(labels)))
    y = np.zeros(gid.size, np.int64) if labels is None else class_labels(labels, "labels")
    if names.size < 3:
        raise DataError(f"a group-aware train/val/test split needs at least 3 groups, got {names.size}.")
    if labels is not None:
        _check_no_class_in_one_group(y, names, gid, "a group-aware split")
    fracs = np.array([1.0 - val_frac - test_frac, val_frac, test_frac])
    split = _assign_groups(y, gid, fracs, np.random.default_rng(seed)).astype(np.int8)[gid]
    for code, split_name in ((TRAIN, "train"), (VAL, "val"), (TEST, "test")):
        if not np.any(split == code):
            raise DataError(
                f"the {split_name} split received no group ({names.size} groups); use more, smaller groups or "
                "larger fractions."
            )
    classes = np.unique(y)
    missing = np.setdiff1d(classes, y[split == TRAIN])
    if missing.size:
        raise DataError(f"classes {missing.tolist()} ended up outside train; try another seed or more groups.")
    for code, split_name in ((VAL, "val"), (TEST, "test")):
        absent = np.setdiff1d(classes, y[split == code])
        if absent.size:
            warnings.warn(
                f"group_split: the {split_name} split has no example of classes {absent.tolist()}.",
                RuntimeWarning,
                stacklevel=2,
            )
    return split


def kfold(labels: Any, k: int = 5, seed: int = 0, groups: Any = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded k-fold cross-validation: stratified for class labels, group-disjoint when ``groups`` is given.

    Without groups, each class is shuffled and dealt round-robin across folds, continuing where the previous
    class stopped: per-class fold counts, and fold sizes, differ by at most one (as ``StratifiedKFold``).
    Regression or multi-label targets get plain shuffled folds. With groups, whole groups are dealt greedily
    (as :func:`group_split`) so that no group is in two test folds (as ``GroupKFold``).

    Example:
        >>> folds = kfold([0, 1] * 10, k=5, seed=0)
        >>> len(folds), sorted(int(i) for _, te in folds for i in te) == list(range(20))
        (5, True)

    Args:
        labels: Targets ``[n]`` (class labels are stratified) or ``[n, a]``.
        k: Number of folds, >= 2.
        seed: Seed of the shuffling.
        groups: Optional group id per example ``[n]``.

    Returns:
        ``k`` pairs ``(train_idx, test_idx)`` of int64 indices; the test folds partition ``0..n-1``.

    Raises:
        ConfigError: ``k < 2``.
        DataError: A class with fewer than ``k`` examples (named with its count), fewer than ``k`` groups, or a
            group holding all examples of a class.
    """
    k = check_positive_int(k, "k")
    if k < 2:
        raise ConfigError(f"k must be >= 2 folds, got {k}.")
    kind = target_kind(labels, "labels")
    y = to_numpy(labels).astype(np.int64) if kind in ("binary", "multiclass") else None
    n = len(to_numpy(labels))
    rng = np.random.default_rng(seed)
    if groups is not None:
        names, gid = _encode_groups(groups, n)
        if names.size < k:
            raise DataError(f"{names.size} groups cannot fill k={k} group-disjoint folds; lower k or add groups.")
        strat = y if y is not None else np.zeros(n, np.int64)
        if y is not None:
            _check_no_class_in_one_group(y, names, gid, "group k-fold")
        fold = _assign_groups(strat, gid, np.full(k, 1.0 / k), rng)[gid]
    else:
        strat = y if y is not None else np.zeros(n, np.int64)
        classes, counts = np.unique(strat, return_counts=True)
        if y is not None and counts.min() < k:
            c = classes[np.argmin(counts)]
            raise DataError(
                f"class {c} has {counts.min()} example(s), fewer than k={k} folds; lower k or add examples of "
                f"class {c}."
            )
        fold = np.empty(n, dtype=np.int64)
        offset = 0
        for c in classes:
            idx = rng.permutation(np.flatnonzero(strat == c))
            fold[idx] = (offset + np.arange(idx.size)) % k
            offset = (offset + idx.size) % k
    if np.unique(fold).size < k:
        raise DataError(f"only {np.unique(fold).size} of k={k} folds received examples; lower k.")
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


# ---------------------------------------------------------------------------------------------------- few-shot
def few_shot_draws(
    labels: Any, train_idx: Any = None, k_per_class: int = 5, n_draws: int = 5, seed: int = 0
) -> list[np.ndarray]:
    """Random few-shot training sets: ``k_per_class`` examples of every class, ``n_draws`` independent times.

    Example:
        >>> draws = few_shot_draws([0, 1, 2] * 10, k_per_class=2, n_draws=3, seed=0)
        >>> len(draws), [d.size for d in draws]
        (3, [6, 6, 6])

    Args:
        labels: Class labels ``[n]`` (all examples; every class among them must be drawable from train).
        train_idx: Indices (or a boolean mask) of the examples to draw from; ``None``: all.
        k_per_class: Examples per class in each draw.
        n_draws: Number of draws.
        seed: Seed of the draws.

    Returns:
        ``n_draws`` sorted int64 index arrays into ``labels``, each of ``k_per_class * n_classes`` examples.

    Raises:
        ConfigError: ``k_per_class`` or ``n_draws`` not a positive integer.
        DataError: Regression or multi-label targets, or a class with fewer than ``k_per_class`` training
            examples (named, with its count).
    """
    y = class_labels(labels, "labels")
    k = check_positive_int(k_per_class, "k_per_class")
    n_draws = check_positive_int(n_draws, "n_draws")
    pool = np.arange(y.size) if train_idx is None else _index_array(train_idx, y.size, "train_idx")
    by_class = {int(c): np.sort(pool[y[pool] == c]) for c in np.unique(y)}
    _check_k(by_class, k)
    rng = np.random.default_rng(seed)
    return [np.sort(np.concatenate([rng.choice(idx, k, replace=False) for idx in by_class.values()]))
            for _ in range(n_draws)]


def _check_k(by_class: dict[int, np.ndarray], k: int) -> None:
    for c, idx in by_class.items():
        if idx.size < k:
            smallest = min(v.size for v in by_class.values())
            raise DataError(
                f"class {c} has {idx.size} training example(s), fewer than k_per_class={k}; use k_per_class <= "
                f"{smallest} or add examples of class {c}."
            )


# ----------------------------------------------------------------------------------------------------- curves
@dataclass(frozen=True)
class CurvePoint:
    """One point of a few-shot or data-efficiency curve: a metric summarised over random training draws.

    Attributes:
        k: Examples per class (few-shot), else ``None``.
        fraction: Fraction of the training set (data efficiency), else ``None``.
        n_train: Training examples per draw.
        n_test: Test examples.
        metric: Metric name (``"accuracy"``, ``"r2"``, ...; multi-label: its macro average over attributes).
        mean: Mean over draws.
        low: Lower end of the interval over draws (NaN with one draw).
        high: Upper end of the interval (NaN with one draw).
        std: Standard deviation over draws (ddof=1; NaN with one draw).
        values: The metric of each draw.
        interval: ``"t"`` (Student-t interval of the mean) or ``"percentile"`` (of the draws).
        alpha: Miscoverage of the interval.
        seed: Seed of the draws.
    """

    k: int | None
    fraction: float | None
    n_train: int
    n_test: int
    metric: str
    mean: float
    low: float
    high: float
    std: float
    values: tuple[float, ...]
    interval: str
    alpha: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-ready)."""
        return asdict(self)


def _summarize(values: list[float], interval: str, alpha: float) -> tuple[float, float, float, float]:
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    if v.size < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(v.std(ddof=1))
    if interval == "t":
        half = float(stats.t.ppf(1.0 - alpha / 2.0, v.size - 1)) * std / math.sqrt(v.size)
        return mean, mean - half, mean + half, std
    low, high = np.quantile(v, [alpha / 2.0, 1.0 - alpha / 2.0])
    return mean, float(low), float(high), std


def _check_curve_args(interval: str, alpha: float) -> None:
    if interval not in ("t", "percentile"):
        raise ConfigError(f"interval must be 't' or 'percentile', got {interval!r}.")
    if not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha!r}.")


def _subseed(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([int(seed), *keys]).generate_state(1)[0])


def _score(kind: str, metric: str, fit_predict: FitPredict, X_tr, y_tr, X_te, y_te) -> float:
    if kind == "multilabel":
        report = fit_multilabel(fit_predict, X_tr, y_tr, X_te, y_te, metrics=(metric,), n_boot=0)
        return report.macro[metric]
    out = to_numpy(fit_predict(X_tr, y_tr, X_te))
    if kind == "regression":
        return evaluate_regression(y_te, out, (metric,), n_boot=0)[metric].value
    return evaluate_classification(y_te, out, (metric,), n_boot=0)[metric].value


def few_shot_eval(
    fit_predict: FitPredict,
    X_tr: Any,
    y_tr: Any,
    X_te: Any,
    y_te: Any,
    ks: Sequence[int] = (1, 5, 10),
    n_draws: int = 5,
    seed: int = 0,
    *,
    metric: str = "accuracy",
    interval: str = "t",
    alpha: float = 0.05,
) -> list[CurvePoint]:
    """Few-shot curve: for each k, fit on ``n_draws`` random k-per-class subsets of train, score on test.

    Example:
        >>> import numpy as np
        >>> from probewise.evaluation import nearest_mean
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 4)); y = (X[:, 0] > 0).astype(int)
        >>> pts = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(2, 50), n_draws=4)
        >>> pts[0].mean < pts[1].mean, pts[1].low <= pts[1].mean <= pts[1].high
        (True, True)

    Args:
        fit_predict: ``(X_tr, y_tr, X_te) -> probabilities`` ``[n_te]`` or ``[n_te, k]``.
        X_tr: Training features ``[n, d]`` (the pool the draws come from).
        y_tr: Training class labels ``[n]``, codes ``0..k-1``.
        X_te: Test features ``[m, d]``.
        y_te: Test labels ``[m]``.
        ks: Examples per class to try.
        n_draws: Draws per k.
        seed: Seed of the draws (each k gets its own stream derived from it).
        metric: A classification metric name of ``probewise.metrics.METRICS``.
        interval: ``"t"``: mean ± Student-t half-width over draws; ``"percentile"``: quantiles of the draws.
        alpha: Miscoverage of the interval.

    Returns:
        One :class:`CurvePoint` per k.

    Raises:
        DataError: Regression/multi-label targets, or a class with fewer than max(ks) examples (checked before
            any fitting).
    """
    _check_curve_args(interval, alpha)
    X_tr, X_te = as_features(X_tr, "X_tr"), as_features(X_te, "X_te")
    y_tr, y_te = class_labels(y_tr, "y_tr"), as_labels(y_te, "y_te")
    check_lengths(X_tr=X_tr, y_tr=y_tr)
    check_lengths(X_te=X_te, y_te=y_te)
    ks = [check_positive_int(k, "ks entries") for k in ks]
    n_draws = check_positive_int(n_draws, "n_draws")
    by_class = {int(c): np.flatnonzero(y_tr == c) for c in np.unique(y_tr)}
    _check_k(by_class, max(ks))
    points = []
    for k in ks:
        draws = few_shot_draws(y_tr, None, k, n_draws, seed=_subseed(seed, k))
        values = [_score("classification", metric, fit_predict, X_tr[i], y_tr[i], X_te, y_te) for i in draws]
        mean, low, high, std = _summarize(values, interval, alpha)
        points.append(CurvePoint(k, None, int(draws[0].size), int(y_te.size), metric, mean, low, high, std,
                                 tuple(values), interval, float(alpha), int(seed)))
    return points


def _subsample(kind: str, y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    if kind in ("binary", "multiclass"):
        parts = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            parts.append(rng.choice(idx, max(1, int(round(fraction * idx.size))), replace=False))
        return np.sort(np.concatenate(parts))
    m = min(len(y), max(2, int(round(fraction * len(y)))))
    return np.sort(rng.choice(len(y), m, replace=False))


def data_efficiency(
    fit_predict: FitPredict,
    X_tr: Any,
    y_tr: Any,
    X_te: Any,
    y_te: Any,
    fractions: Sequence[float] = (0.01, 0.1, 0.5, 1.0),
    n_draws: int = 3,
    seed: int = 0,
    *,
    metric: str | None = None,
    kind: str | None = None,
    interval: str = "t",
    alpha: float = 0.05,
) -> list[CurvePoint]:
    """Data-efficiency curve: the test metric when training on random fractions of the training set.

    Class labels are subsampled per class (at least one example each); regression and multi-label targets
    uniformly (at least two examples). The fraction 1.0 is the whole training set, fitted once.

    Example:
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(500, 8)); y = X @ rng.normal(size=8) + 0.1 * rng.normal(size=500)
        >>> fp = lambda a, b, c: Ridge(alpha=1.0).fit(a, b).predict(c)
        >>> pts = data_efficiency(fp, X[:400], y[:400], X[400:], y[400:], fractions=(0.05, 1.0), n_draws=2)
        >>> [p.metric for p in pts], pts[0].n_train, len(pts[1].values), pts[1].mean > 0.99
        (['r2', 'r2'], 20, 1, True)

    Args:
        fit_predict: ``(X_tr, y_tr, X_te) -> out`` (probabilities for classes, predictions for regression; for
            multi-label it is called once per attribute, as in :func:`fit_multilabel`).
        X_tr: Training features ``[n, d]``.
        y_tr: Training targets ``[n]`` or ``[n, a]``.
        X_te: Test features ``[m, d]``.
        y_te: Test targets.
        fractions: Fractions of the training set, in (0, 1].
        n_draws: Random subsets per fraction below 1.
        seed: Seed of the subsets.
        metric: Metric name; default ``"accuracy"`` (classes, macro over attributes for multi-label) or ``"r2"``.
        kind: Target kind (see :func:`target_kind`); ``None`` detects it. Pass ``"regression"`` for
            whole-number float targets.
        interval: ``"t"`` or ``"percentile"`` (see :func:`few_shot_eval`).
        alpha: Miscoverage of the interval.

    Returns:
        One :class:`CurvePoint` per fraction.
    """
    _check_curve_args(interval, alpha)
    kind = _resolve_kind(y_tr, kind, "y_tr")
    metric = metric or ("r2" if kind == "regression" else "accuracy")
    X_tr, X_te = as_features(X_tr, "X_tr"), as_features(X_te, "X_te")
    y_tr, y_te = to_numpy(y_tr), to_numpy(y_te)
    if kind in ("binary", "multiclass"):
        y_tr, y_te = class_labels(y_tr, "y_tr"), as_labels(y_te, "y_te")
    check_lengths(X_tr=X_tr, y_tr=y_tr)
    check_lengths(X_te=X_te, y_te=y_te)
    n_draws = check_positive_int(n_draws, "n_draws")
    points = []
    for f in fractions:
        if not 0.0 < float(f) <= 1.0:
            raise ConfigError(f"fractions must lie in (0, 1], got {f!r}.")
        rng = np.random.default_rng(_subseed(seed, int(round(float(f) * 1e9))))
        subsets = [np.arange(len(y_tr))] if f == 1.0 else [_subsample(kind, y_tr, f, rng) for _ in range(n_draws)]
        values = [_score(kind, metric, fit_predict, X_tr[i], y_tr[i], X_te, y_te) for i in subsets]
        mean, low, high, std = _summarize(values, interval, alpha)
        points.append(CurvePoint(None, float(f), int(subsets[0].size), int(len(y_te)), metric, mean, low, high,
                                 std, tuple(values), interval, float(alpha), int(seed)))
    return points


# ------------------------------------------------------------------------------------------------- multi-label
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
