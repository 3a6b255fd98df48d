"""Out-of-distribution detection from frozen representations: logit scores, Mahalanobis, kNN; per layer.

Every score is oriented so that **higher means more OOD**; AUROC takes OOD as the positive class, and FPR at 95%
TPR is the fraction of in-distribution (ID) test examples scoring at or above the threshold that catches 95% of
the OOD ones. Fit statistics (class means, covariance, the kNN bank) come from ID *training* features only; ID
test and OOD test features must not overlap them.

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import ood_by_layer
    >>> rng = np.random.default_rng(0)
    >>> shift = np.eye(8)[:2] * 4.0                                  # ID and OOD differ in their mean direction
    >>> tr = {0: rng.normal(size=(400, 8)) + shift[0]}; y = (tr[0][:, 1] > 0).astype(int)
    >>> id_te, ood_te = {0: rng.normal(size=(200, 8)) + shift[0]}, {0: rng.normal(size=(200, 8)) + shift[1]}
    >>> rows = ood_by_layer(tr, y, id_te, ood_te, methods=("mahalanobis", "knn"), k=10, n_boot=0)
    >>> [(r.method, r.auroc.value > 0.95) for r in rows]
    [('mahalanobis', True), ('knn', True)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from probewise.errors import ConfigError, DataError
from probewise.evaluation.targets import as_features, check_positive_int
from probewise.metrics import Estimate, auroc, bootstrap_ci
from probewise.metrics._checks import as_labels, as_scores, check_fraction, check_lengths

__all__ = [
    "LOGIT_METHODS",
    "METHODS",
    "MahalanobisModel",
    "OODRow",
    "energy_score",
    "fit_mahalanobis",
    "fpr_at_tpr",
    "knn_score",
    "mahalanobis_score",
    "max_logit_score",
    "msp_score",
    "ood_by_layer",
    "ood_metrics",
]

LOGIT_METHODS = ("msp", "max_logit", "energy")
METHODS = (*LOGIT_METHODS, "mahalanobis", "knn")

#: Entries of the largest temporary matrix (rows x train examples, or rows x classes) built at once.
_CHUNK_ELEMENTS = 1 << 24


def _logits(logits: Any) -> np.ndarray:
    a = as_scores(logits, "logits")
    if a.ndim != 2:
        raise DataError(f"logits must be [n, k] class logits (k >= 2), got shape {a.shape}.")
    return a


# ------------------------------------------------------------------------------------------------ logit scores
def msp_score(logits: Any) -> np.ndarray:
    """Negative maximum softmax probability ``[n]`` (higher = more OOD).

    Example:
        >>> msp_score([[5.0, 0.0], [0.0, 0.0]]).round(3).tolist()
        [-0.993, -0.5]
    """
    a = _logits(logits)
    return -np.exp(a.max(axis=1) - logsumexp(a, axis=1))


def max_logit_score(logits: Any) -> np.ndarray:
    """Negative maximum logit ``[n]`` (higher = more OOD).

    Example:
        >>> max_logit_score([[5.0, 0.0], [0.0, 1.0]]).tolist()
        [-5.0, -1.0]
    """
    return -_logits(logits).max(axis=1)


def energy_score(logits: Any, temperature: float = 1.0) -> np.ndarray:
    """Free energy ``-T * logsumexp(logits / T)`` ``[n]`` (higher = more OOD; Liu et al. 2020).

    Example:
        >>> energy_score([[0.0, 0.0]]).round(4).tolist()
        [-0.6931]
    """
    t = float(temperature)
    if not t > 0 or math.isinf(t):
        raise ConfigError(f"temperature must be a positive finite number, got {temperature!r}.")
    return -t * logsumexp(_logits(logits) / t, axis=1)


# ------------------------------------------------------------------------------------------------- Mahalanobis
@dataclass(frozen=True, eq=False)
class MahalanobisModel:
    """Class-conditional Gaussians with a shared covariance (Lee et al. 2018), spectrum clamped.

    Attributes:
        classes: Class labels ``[c]``.
        means: Class means ``[c, d]``.
        whiten: ``V diag(lambda_clamped ** -0.5)`` ``[d, d]``: ``||(x - mu) @ whiten||^2`` is the squared distance.
        eigvals: Eigenvalues of the shared covariance after clamping ``[d]``.
        n_clamped: Eigenvalues raised to the floor (rank deficiency; LayerNorm features have at least one).
    """

    classes: np.ndarray
    means: np.ndarray
    whiten: np.ndarray
    eigvals: np.ndarray
    n_clamped: int


def fit_mahalanobis(X_train: Any, y_train: Any, *, rcond: float = 1e-6) -> MahalanobisModel:
    """Fit class means and the pooled within-class covariance, clamping eigenvalues below ``rcond * max``.

    The covariance is ``(1/n) sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T``. Features after LayerNorm are exactly
    rank-deficient, so inverting it as is would divide by zero; eigenvalues below ``rcond * lambda_max`` are
    raised to that floor.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(100, 4)); X -= X.mean(axis=1, keepdims=True)  # rank 3
        >>> m = fit_mahalanobis(X, np.arange(100) % 2)
        >>> m.means.shape, m.n_clamped
        ((2, 4), 1)

    Args:
        X_train: ID training features ``[n, d]``.
        y_train: Class labels ``[n]``.
        rcond: Relative eigenvalue floor, in (0, 1).

    Returns:
        A :class:`MahalanobisModel`.
    """
    X = as_features(X_train, "X_train").astype(np.float64)
    y = as_labels(y_train, "y_train")
    check_lengths(X_train=X, y_train=y)
    rcond = check_fraction(rcond, "rcond")
    classes, inv = np.unique(y, return_inverse=True)
    counts = np.bincount(inv).astype(np.float64)
    means = np.zeros((classes.size, X.shape[1]))
    np.add.at(means, inv, X)
    means /= counts[:, None]
    R = X - means[inv]
    lam, V = np.linalg.eigh(R.T @ R / X.shape[0])
    floor = max(float(lam.max()) * rcond, np.finfo(np.float64).tiny)
    n_clamped = int(np.count_nonzero(lam < floor))
    lam = np.maximum(lam, floor)
    return MahalanobisModel(classes, means, V / np.sqrt(lam)[None, :], lam, n_clamped)


def mahalanobis_score(model: MahalanobisModel, X: Any) -> np.ndarray:
    """Squared Mahalanobis distance to the closest class mean ``[n]`` (higher = more OOD).

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(200, 3))
        >>> m = fit_mahalanobis(X, np.zeros(200, int))
        >>> bool(mahalanobis_score(m, np.full((1, 3), 5.0))[0] > mahalanobis_score(m, np.zeros((1, 3)))[0])
        True
    """
    X = as_features(X, "X").astype(np.float64)
    if X.shape[1] != model.means.shape[1]:
        raise DataError(f"X has {X.shape[1]} features but the model was fitted on {model.means.shape[1]}.")
    M = model.means @ model.whiten
    m2 = (M**2).sum(axis=1)
    out = np.empty(X.shape[0])
    rows = max(1, _CHUNK_ELEMENTS // max(X.shape[1], M.shape[0]))
    for i in range(0, X.shape[0], rows):
        Z = X[i : i + rows] @ model.whiten
        d2 = (Z**2).sum(axis=1)[:, None] - 2.0 * Z @ M.T + m2[None, :]
        out[i : i + rows] = np.maximum(d2.min(axis=1), 0.0)
    return out


# --------------------------------------------------------------------------------------------------------- kNN
def _unit_rows(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def knn_score(X_train: Any, X: Any, k: int = 50, *, chunk_rows: int | None = None) -> np.ndarray:
    """Cosine distance ``1 - cos`` to the k-th nearest training example ``[n]`` (higher = more OOD; Sun et al. 2022).

    Rows are L2-normalised (a zero row has similarity 0 to everything). Queries are processed in chunks so that
    no more than about 16M similarities are held at once. Queries must not be in ``X_train`` (a point is its own
    nearest neighbour). Float32 inputs are computed in float32, others in float64.

    Example:
        >>> import numpy as np
        >>> bank = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> knn_score(bank, np.array([[1.0, 0.1]]), k=1).round(4).tolist()
        [0.005]

    Args:
        X_train: ID training features ``[n_train, d]`` (the neighbour bank).
        X: Query features ``[n, d]``.
        k: Which neighbour, 1 <= k <= n_train.
        chunk_rows: Queries per chunk (default: from the memory bound).

    Returns:
        Distances ``[n]`` in [0, 2].
    """
    bank, Q = as_features(X_train, "X_train"), as_features(X, "X")
    if bank.shape[1] != Q.shape[1]:
        raise DataError(f"X has {Q.shape[1]} features but X_train has {bank.shape[1]}.")
    k = check_positive_int(k, "k")
    if k > bank.shape[0]:
        raise ConfigError(f"k={k} exceeds the {bank.shape[0]} training examples; lower k.")
    dtype = np.float32 if bank.dtype == np.float32 and Q.dtype == np.float32 else np.float64
    bank, Q = _unit_rows(bank.astype(dtype)), _unit_rows(Q.astype(dtype))
    rows = chunk_rows or max(1, _CHUNK_ELEMENTS // bank.shape[0])
    rows = check_positive_int(rows, "chunk_rows")
    out = np.empty(Q.shape[0], dtype=np.float64)
    for i in range(0, Q.shape[0], rows):
        sims = Q[i : i + rows] @ bank.T
        kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1]
        out[i : i + rows] = 1.0 - kth.astype(np.float64)
    return np.clip(out, 0.0, 2.0)


# ------------------------------------------------------------------------------------------------------ metrics
def fpr_at_tpr(y_true: Any, y_score: Any, tpr: float = 0.95) -> float:
    """FPR at the highest threshold reaching TPR >= ``tpr`` (the lowest FPR among such ROC points).

    Example:
        >>> fpr_at_tpr([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9, 0.8, 0.95], tpr=0.5)
        0.0

    Args:
        y_true: Binary labels ``[n]`` (1 = positive, here OOD).
        y_score: Scores ``[n]``.
        tpr: Target TPR in (0, 1).

    Returns:
        The FPR in [0, 1].
    """
    tpr = check_fraction(tpr, "tpr")
    y = as_labels(y_true, "y_true")
    s = as_scores(y_score, "y_score", allow_2d=False)
    check_lengths(y_true=y, y_score=s)
    pos, neg = np.sort(s[y == 1])[::-1], s[y == 0]
    if pos.size == 0 or neg.size == 0:
        raise DataError("fpr_at_tpr needs both positives (OOD) and negatives (ID).")
    m = int(math.ceil(tpr * pos.size))  # the fewest positives to catch, as an ROC curve's TPR is computed
    while m > 1 and (m - 1) / pos.size >= tpr:
        m -= 1
    while m < pos.size and m / pos.size < tpr:
        m += 1
    return float(np.count_nonzero(neg >= pos[m - 1]) / neg.size)


def ood_metrics(
    id_scores: Any, ood_scores: Any, *, tpr: float = 0.95, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> dict[str, Estimate]:
    """AUROC (OOD positive) and FPR at ``tpr`` TPR of OOD scores, each with a bootstrap interval.

    Example:
        >>> res = ood_metrics([0.1, 0.2, 0.3], [0.25, 0.8, 0.9], n_boot=0)
        >>> round(res["auroc"].value, 4), res["fpr_at_tpr"].value
        (0.8889, 0.3333333333333333)

    Args:
        id_scores: Scores of ID test examples ``[n_id]``.
        ood_scores: Scores of OOD test examples ``[n_ood]``.
        tpr: TPR at which the FPR is read, in (0, 1).
        n_boot: Resamples (over the pooled examples; 0: point estimates).
        alpha: Miscoverage.
        seed: Seed of the resampling.

    Returns:
        ``{"auroc": Estimate, "fpr_at_tpr": Estimate}``.
    """
    a = as_scores(id_scores, "id_scores", allow_2d=False)
    b = as_scores(ood_scores, "ood_scores", allow_2d=False)
    y = np.r_[np.zeros(a.size, np.int64), np.ones(b.size, np.int64)]
    s = np.r_[a, b]
    kw = {"n_boot": n_boot, "alpha": alpha, "seed": seed}
    return {"auroc": bootstrap_ci(auroc, y, s, **kw),
            "fpr_at_tpr": bootstrap_ci(fpr_at_tpr, y, s, metric_kwargs={"tpr": tpr}, **kw)}


# ---------------------------------------------------------------------------------------------------- per layer
@dataclass(frozen=True)
class OODRow:
    """One (layer, method) result.

    Attributes:
        layer: The layer key.
        method: One of :data:`METHODS`.
        auroc: AUROC with OOD as positive.
        fpr_at_tpr: FPR on ID at ``tpr`` TPR on OOD (lower is better).
        tpr: The TPR level (0.95 for the usual FPR@95).
        n_id: ID test examples.
        n_ood: OOD test examples.
        n_train: ID training examples used for fitting.
    """

    layer: Any
    method: str
    auroc: Estimate
    fpr_at_tpr: Estimate
    tpr: float
    n_id: int
    n_ood: int
    n_train: int

    def to_dict(self) -> dict[str, Any]:
        """Flat dict for tables: intervals spelled out as ``auroc_low``, ``auroc_high``, ..."""
        out = {"layer": self.layer, "method": self.method, "tpr": self.tpr, "n_id": self.n_id, "n_ood": self.n_ood,
               "n_train": self.n_train}
        for name in ("auroc", "fpr_at_tpr"):
            est = asdict(getattr(self, name))
            out.update({name: est["value"], f"{name}_low": est["low"], f"{name}_high": est["high"]})
        return out


def _layer_scores(method: str, ctx: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if method == "mahalanobis":
        model = fit_mahalanobis(ctx["train"], ctx["y"], rcond=ctx["rcond"])
        return mahalanobis_score(model, ctx["id"]), mahalanobis_score(model, ctx["ood"])
    if method == "knn":
        return knn_score(ctx["train"], ctx["id"], ctx["k"]), knn_score(ctx["train"], ctx["ood"], ctx["k"])
    fn = {"msp": msp_score, "max_logit": max_logit_score}.get(method)
    if fn is None:
        return energy_score(ctx["id_logits"], ctx["temperature"]), energy_score(ctx["ood_logits"], ctx["temperature"])
    return fn(ctx["id_logits"]), fn(ctx["ood_logits"])


def ood_by_layer(
    id_train: Mapping[Any, Any],
    y_train: Any,
    id_test: Mapping[Any, Any],
    ood_test: Mapping[Any, Any],
    methods: Sequence[str] | None = None,
    *,
    id_logits: Mapping[Any, Any] | None = None,
    ood_logits: Mapping[Any, Any] | None = None,
    k: int = 50,
    temperature: float = 1.0,
    rcond: float = 1e-6,
    tpr: float = 0.95,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> list[OODRow]:
    """Every OOD method on every layer: fit on ID train, score ID test and OOD test, report AUROC and FPR@TPR.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> tr = {"l1": rng.normal(size=(300, 6))}; y = rng.integers(0, 3, 300)
        >>> te, same = {"l1": rng.normal(size=(150, 6))}, {"l1": rng.normal(size=(150, 6))}
        >>> row = ood_by_layer(tr, y, te, same, methods=("knn",), k=5, n_boot=0)[0]
        >>> row.layer, abs(row.auroc.value - 0.5) < 0.1
        ('l1', True)

    Args:
        id_train: ``{layer: [n_train, d]}`` ID training features (means, covariance, kNN bank).
        y_train: ID training class labels ``[n_train]`` (Mahalanobis).
        id_test: ``{layer: [n_id, d]}`` ID test features, same layers.
        ood_test: ``{layer: [n_ood, d]}`` OOD test features, same layers.
        methods: Subset of :data:`METHODS`; default: all that the inputs allow (logit methods need logits).
        id_logits: ``{layer: [n_id, c]}`` a fitted classifier's logits on ID test (for msp/max_logit/energy).
        ood_logits: ``{layer: [n_ood, c]}`` its logits on OOD test.
        k: Neighbour for kNN.
        temperature: Energy temperature.
        rcond: Eigenvalue floor of the Mahalanobis covariance, relative to the largest.
        tpr: TPR at which FPR is reported.
        n_boot: Bootstrap resamples per metric (0: point estimates).
        alpha: Miscoverage.
        seed: Seed of the resampling.

    Returns:
        One :class:`OODRow` per (layer, method), layers in the order of ``id_train``.

    Raises:
        ConfigError: Unknown method, or a logit method without logits.
        DataError: Layers missing from a mapping, mismatched sizes, NaN/inf features.
    """
    has_logits = id_logits is not None and ood_logits is not None
    if methods is None:
        methods = METHODS if has_logits else ("mahalanobis", "knn")
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown OOD method(s) {unknown}; choose from {METHODS}.")
    if not has_logits and any(m in LOGIT_METHODS for m in methods):
        raise ConfigError(f"methods {[m for m in methods if m in LOGIT_METHODS]} need a classifier's logits: pass "
                          "id_logits and ood_logits ({layer: [n, c]}), or use 'mahalanobis'/'knn'.")
    mappings = {"id_test": id_test, "ood_test": ood_test}
    if has_logits and any(m in LOGIT_METHODS for m in methods):
        mappings.update(id_logits=id_logits, ood_logits=ood_logits)
    for name, mapping in mappings.items():
        missing = [layer for layer in id_train if layer not in mapping]
        if missing:
            raise DataError(f"{name} lacks layers {missing} present in id_train; pass the same layers everywhere.")
    y = as_labels(y_train, "y_train")
    rows = []
    for layer, X_train in id_train.items():
        ctx = {"train": as_features(X_train, f"id_train[{layer!r}]"), "y": y, "k": k, "rcond": rcond,
               "id": as_features(id_test[layer], f"id_test[{layer!r}]"), "temperature": temperature,
               "ood": as_features(ood_test[layer], f"ood_test[{layer!r}]")}
        check_lengths(id_train=ctx["train"], y_train=y)
        if "id_logits" in mappings:
            ctx["id_logits"], ctx["ood_logits"] = _logits(id_logits[layer]), _logits(ood_logits[layer])
            check_lengths(id_test=ctx["id"], id_logits=ctx["id_logits"])
            check_lengths(ood_test=ctx["ood"], ood_logits=ctx["ood_logits"])
        for method in methods:
            s_id, s_ood = _layer_scores(method, ctx)
            res = ood_metrics(s_id, s_ood, tpr=tpr, n_boot=n_boot, alpha=alpha, seed=seed)
            rows.append(OODRow(layer, method, res["auroc"], res["fpr_at_tpr"], float(tpr), int(s_id.size),
                               int(s_ood.size), int(y.size)))
    return rows
