"""Weighted k-nearest-neighbour probe, the DINO evaluation protocol, and a multi-k evaluation in one search.

The DINO kNN classifier (Caron et al., 2021, ``eval_knn.py``) L2-normalizes features, finds the ``k`` train
features of highest cosine similarity ``s_j`` to each test feature, and votes with weights ``exp(s_j / T)``:

    ``votes[c] = sum_{j in top-k} exp(s_j / T) * [y_j == c]``,    ``p(c) = votes[c] / sum(votes)``

:class:`KNNProbe` is that classifier as a scikit-learn estimator. :func:`knn_eval` is the protocol's
evaluation: one neighbour search (``torch.topk`` of ``max(ks)`` neighbours per chunk of test rows, so memory
stays at ``chunk_size x n_train`` similarities) serves every ``k``. :func:`select_k` picks ``k`` on a
validation split.

Example:
    >>> import numpy as np
    >>> from probewise.probes.knn import KNNProbe, knn_eval, select_k
    >>> rng = np.random.default_rng(0)
    >>> centers = rng.normal(size=(3, 16))
    >>> y = rng.integers(0, 3, size=400)
    >>> X = centers[y] + 0.5 * rng.normal(size=(400, 16))
    >>> probe = KNNProbe(k=10).fit(X[:300], y[:300])
    >>> probe.score(X[300:], y[300:]) > 0.9, probe.predict_proba(X[:2]).shape
    (True, (2, 3))
    >>> accs = knn_eval(X[:300], y[:300], X[300:], y[300:], ks=(1, 10, 50))
    >>> sorted(accs), all(a > 0.9 for a in accs.values())
    ([1, 10, 50], True)
    >>> best_k, val_accs = select_k(X[:200], y[:200], X[200:300], y[200:300], ks=(1, 10, 50))
    >>> best_k in (1, 10, 50)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from probewise.errors import ConfigError, DataError
from probewise.fit._common import resolve_device
from probewise.probes.base import ProbeBase

__all__ = ["KNNProbe", "knn_eval", "knn_votes", "select_k"]

_METRICS = ("cosine", "dot")
_DTYPES = (torch.float32, torch.float64)


# ---------------------------------------------------------------------------------------------- checks
def _check_k(k: Any, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"{name} must be an integer >= 1 (number of neighbours), got {k!r}.")
    return int(k)


def _check_ks(ks: Any) -> list[int]:
    """The distinct neighbour counts of ``ks`` (an int or a non-empty sequence), in their given order."""
    if isinstance(ks, int | np.integer) and not isinstance(ks, bool):
        ks = (ks,)
    if not isinstance(ks, Sequence | np.ndarray) or len(ks) == 0:
        raise ConfigError(f"ks must be a non-empty sequence of neighbour counts, e.g. (10, 20, 100, 200); got {ks!r}.")
    return list(dict.fromkeys(_check_k(k, "every k in ks") for k in ks))


def _check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float | np.number) or not temperature > 0:
        raise ConfigError(f"temperature must be a number > 0 (DINO uses 0.07; inf gives uniform votes), "
                          f"got {temperature!r}.")
    return float(temperature)


def _check_metric(metric: Any) -> str:
    if metric not in _METRICS:
        raise ConfigError(f"metric must be one of {list(_METRICS)}, got {metric!r}.")
    return str(metric)


def _check_chunk(chunk_size: Any) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be an integer >= 1 (test rows per similarity block), got {chunk_size!r}.")
    return int(chunk_size)


def _as_tensor(X: Any, device: torch.device, what: str) -> torch.Tensor:
    """``X`` as a 2-D float32/float64 tensor on ``device`` (other float types become float32)."""
    t = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    if t.ndim != 2:
        raise DataError(f"{what} must be 2-D [n, d], got shape {tuple(t.shape)}.")
    if t.dtype not in _DTYPES:
        t = t.to(torch.float32)
    return t.to(device)


def _normalize(X: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm (all-zero rows stay zero)."""
    return X / X.norm(dim=1, keepdim=True).clamp_min(1e-12)


# ---------------------------------------------------------------------------------------------- core
def knn_votes(
    bank: torch.Tensor,
    bank_codes: torch.Tensor,
    queries: torch.Tensor,
    ks: Sequence[int],
    n_classes: int,
    temperature: float = 0.07,
    chunk_size: int = 1024,
) -> dict[int, torch.Tensor]:
    """Normalized temperature-weighted votes of the nearest train rows, for several ``k`` from one search.

    Similarities are ``queries @ bank.T`` (normalize both first for cosine similarity). For each chunk of
    ``chunk_size`` query rows, ``torch.topk`` takes the ``min(max(ks), n_bank)`` most similar bank rows once;
    the votes for every ``k`` are then running sums over that sorted list. Weights are
    ``exp((s_j - s_max) / T)``, the DINO weights ``exp(s_j / T)`` divided by a per-row constant, which
    leaves the normalized votes unchanged and never overflows; ``T = inf`` gives uniform votes. A ``k``
    larger than the bank uses the whole bank.

    Args:
        bank: ``[n, d]`` train features (float32 or float64), on the device to compute on.
        bank_codes: ``[n]`` int64 class codes in ``[0, n_classes)``, same device.
        queries: ``[m, d]`` query features, same device and dtype as ``bank``.
        ks: neighbour counts.
        n_classes: number of classes (columns of the votes).
        temperature: ``T > 0``.
        chunk_size: query rows per similarity block ``[chunk_size, n]``.

    Returns:
        ``{k: votes [m, n_classes]}`` on the bank's device, rows summing to 1.
    """
    ks = sorted(_check_ks(ks))
    temperature = _check_temperature(temperature)
    chunk_size = _check_chunk(chunk_size)
    n, m = int(bank.shape[0]), int(queries.shape[0])
    if n == 0:
        raise DataError("the neighbour bank (train features) is empty; fit on at least one example.")
    kmax = min(ks[-1], n)
    out = {k: bank.new_zeros((m, n_classes)) for k in ks}
    for start in range(0, m, chunk_size):
        q = queries[start : start + chunk_size]
        sims = q @ bank.T  # [c, n]: the only block of size chunk x n_train
        top_sims, top_idx = torch.topk(sims, kmax, dim=1, largest=True, sorted=True)
        del sims
        if math.isinf(temperature):
            weights = torch.ones_like(top_sims)
        else:
            weights = torch.exp((top_sims - top_sims[:, :1]) / temperature)
        labels = bank_codes[top_idx]  # [c, kmax]
        votes = q.new_zeros((q.shape[0], n_classes))
        done = 0
        for k in ks:
            upto = min(k, kmax)
            if upto > done:
                votes.scatter_add_(1, labels[:, done:upto], weights[:, done:upto])
                done = upto
            out[k][start : start + q.shape[0]] = votes / votes.sum(dim=1, keepdim=True)
    return out


def _encode(y_train: Any, y_test: Any | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(classes, train codes, test codes)``; a test label absent from train gets code -1."""
    y_train = np.asarray(y_train).reshape(-1)
    classes, codes = np.unique(y_train, return_inverse=True)
    if y_test is None:
        return classes, codes.astype(np.int64), None
    y_test = np.asarray(y_test).reshape(-1)
    pos = np.clip(np.searchsorted(classes, y_test), 0, len(classes) - 1)
    test_codes = np.where(classes[pos] == y_test, pos, -1).astype(np.int64)
    return classes, codes.astype(np.int64), test_codes


def knn_eval(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    ks: Sequence[int] = (10, 20, 100, 200),
    temperature: float = 0.07,
    chunk_size: int = 1024,
    metric: str = "cosine",
    device: str | torch.device | None = None,
) -> dict[int, float]:
    """Accuracy of the weighted kNN classifier for every ``k`` in ``ks``, from one neighbour search.

    Equal to ``KNNProbe(k, temperature, metric).fit(X_train, y_train).score(X_test, y_test)`` for each ``k``
    (up to ties among neighbours' similarities), at the cost of the largest ``k`` alone. A vote tie goes to
    the class that sorts first; a test label never seen in train counts as an error.

    Args:
        X_train: ``[n, d]`` train features (array or tensor; a tensor keeps its device unless ``device``).
        y_train: ``[n]`` train labels (any sortable type).
        X_test: ``[m, d]`` test features.
        y_test: ``[m]`` test labels.
        ks: neighbour counts; a ``k`` above ``n`` uses all ``n`` train rows.
        temperature: ``T > 0`` of the weights ``exp(s / T)`` (``float('inf')``: uniform votes).
        chunk_size: test rows per similarity block; peak memory is about ``chunk_size * n`` similarities.
        metric: ``"cosine"`` (features L2-normalized) or ``"dot"`` (raw inner products).
        device: torch device (default: the device of ``X_train`` if a tensor, else CPU).

    Returns:
        ``{k: accuracy}`` in the order of ``ks``.

    Raises:
        ConfigError: a bad ``k``, temperature, metric or chunk size.
        DataError: shapes that do not match.

    Example:
        >>> import numpy as np
        >>> from probewise.probes.knn import knn_eval
        >>> X = np.array([[1.0, 0.1], [1.0, -0.1], [0.1, 1.0], [-0.1, 1.0]])
        >>> knn_eval(X, [0, 0, 1, 1], X, [0, 0, 1, 1], ks=(1, 2))
        {1: 1.0, 2: 1.0}
    """
    order = _check_ks(ks)
    metric = _check_metric(metric)
    dev = resolve_device(device, X_train)
    train, test = _as_tensor(X_train, dev, "X_train"), _as_tensor(X_test, dev, "X_test")
    test = test.to(train.dtype)
    if train.shape[1] != test.shape[1]:
        raise DataError(f"X_train has {train.shape[1]} features but X_test has {test.shape[1]}.")
    classes, codes, test_codes = _encode(y_train, y_test)
    if len(codes) != train.shape[0] or len(test_codes) != test.shape[0]:
        raise DataError(f"labels do not match the features: {len(codes)} train labels for {train.shape[0]} rows, "
                        f"{len(test_codes)} test labels for {test.shape[0]} rows.")
    if metric == "cosine":
        train, test = _normalize(train), _normalize(test)
    if len(test_codes) == 0:
        raise DataError("X_test is empty; there is nothing to evaluate.")
    votes = knn_votes(train, torch.as_tensor(codes, device=dev), test, order, len(classes), temperature, chunk_size)
    truth = torch.as_tensor(test_codes, device=dev)
    return {k: int((votes[k].argmax(dim=1) == truth).sum()) / len(test_codes) for k in order}


def select_k(
    X_train: Any,
    y_train: Any,
    X_val: Any,
    y_val: Any,
    ks: Sequence[int] = (1, 5, 10, 20, 50, 100, 200),
    temperature: float = 0.07,
    chunk_size: int = 1024,
    metric: str = "cosine",
    device: str | torch.device | None = None,
) -> tuple[int, dict[int, float]]:
    """Choose ``k`` by validation accuracy (one :func:`knn_eval` search); ties go to the smallest ``k``.

    Fit the final probe on train (or train + val) with the chosen ``k`` and score it once on test.

    Returns:
        ``(best_k, {k: validation accuracy})``.

    Example:
        >>> import numpy as np
        >>> from probewise.probes.knn import KNNProbe, select_k
        >>> rng = np.random.default_rng(1)
        >>> X, y = rng.normal(size=(120, 4)), rng.integers(0, 2, size=120)
        >>> k, accs = select_k(X[:80], y[:80], X[80:], y[80:], ks=(3, 15))
        >>> accs[k] == max(accs.values())
        True
    """
    accs = knn_eval(X_train, y_train, X_val, y_val, ks, temperature, chunk_size, metric, device)
    best = max(accs.values())
    return min(k for k, a in accs.items() if a == best), accs


# ---------------------------------------------------------------------------------------------- estimator
class KNNProbe(ProbeBase):
    """Temperature-weighted kNN classifier on cosine similarity (the DINO kNN protocol).

    ``fit`` stores the L2-normalized train features ``train_features_ [n, d]`` (float32 or float64, as
    given) and their class codes ``train_codes_ [n]``; ``predict_proba`` returns the normalized votes
    ``sum_j exp(s_j / T) [y_j == c]`` over the ``k`` most similar train rows (all of them if ``k > n``),
    computed in chunks of ``chunk_size`` rows with :func:`knn_votes` on ``device``. ``predict`` is the
    class of most votes (ties: the class that sorts first). ``decision_function`` is the vote margin
    ``p(classes_[1]) - p(classes_[0])`` for two classes, the votes ``[n, k]`` otherwise. ``save`` and
    ``load_probe`` keep the train features in safetensors: the artifact is as large as the train set.

    Args:
        k: number of neighbours (DINO reports 10, 20, 100 and 200).
        temperature: ``T > 0``; DINO uses 0.07. ``float('inf')`` gives uniform votes (plain kNN).
        metric: ``"cosine"`` (default) or ``"dot"`` (inner products of the raw features).
        chunk_size: test rows per similarity block ``[chunk_size, n_train]``.
        device: torch device for the search (``None``: CPU); results are numpy float64.

    Example:
        >>> import numpy as np
        >>> from probewise.probes.knn import KNNProbe
        >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
        >>> probe = KNNProbe(k=2, temperature=0.1).fit(X, ["a", "a", "b", "b"])
        >>> probe.predict([[1.0, 0.2], [0.2, 1.0]]).tolist()
        ['a', 'b']
    """

    def __init__(self, k: int = 20, temperature: float = 0.07, metric: str = "cosine", chunk_size: int = 1024,
                 device: str | None = None) -> None:
        self.k = k
        self.temperature = temperature
        self.metric = metric
        self.chunk_size = chunk_size
        self.device = device

    def fit(self, X: Any, y: Any) -> KNNProbe:
        """Store ``X [n, d]`` (L2-normalized for cosine) and the labels ``y [n]``; returns ``self``."""
        _check_k(self.k)
        _check_temperature(self.temperature)
        _check_chunk(self.chunk_size)
        metric = _check_metric(self.metric)
        X, codes = self._check_fit_inputs(X, y)
        X = np.array(X, copy=True)
        if metric == "cosine":
            norms = np.linalg.norm(X, axis=1, keepdims=True)
            X = X / np.maximum(norms, 1e-12)
        self.train_features_ = np.ascontiguousarray(X)
        self.train_codes_ = codes
        return self

    def _votes(self, X: Any) -> np.ndarray:
        X = self._check_predict_input(X)
        dev = resolve_device(self.device, None)
        bank = torch.as_tensor(self.train_features_, device=dev)
        queries = torch.as_tensor(np.asarray(X), device=dev).to(bank.dtype)
        if self.metric == "cosine":
            queries = _normalize(queries)
        codes = torch.as_tensor(self.train_codes_, device=dev)
        k = _check_k(self.k)
        votes = knn_votes(bank, codes, queries, [k], len(self.classes_), self.temperature, self.chunk_size)[k]
        return votes.to("cpu", torch.float64).numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Normalized weighted votes ``[n, n_classes]`` of the ``k`` nearest train rows."""
        return self._votes(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba` (``-inf`` for a class without votes)."""
        with np.errstate(divide="ignore"):
            return np.log(self._votes(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Vote margin ``[n]`` of ``classes_[1]`` over ``classes_[0]`` for two classes, votes ``[n, k]`` else."""
        votes = self._votes(X)
        return votes[:, 1] - votes[:, 0] if votes.shape[1] == 2 else votes

    def predict(self, X: Any) -> np.ndarray:
        """The class with the most weighted votes ``[n]`` (ties: the class that sorts first)."""
        votes = self._votes(X)
        return self.classes_[np.argmax(votes, axis=1)]
