"""Token-level probes: one label per token, scores per token, per span and per sequence.

Per-token targets (a hallucinated span, part-of-speech tags) come as a :class:`~probewise.store.ragged.Ragged`
label array aligned with the token activations: int64 values ``[T]`` with the activations' offsets, and
``ignore_index`` (``-100``, the Hugging Face convention) at positions that carry no label (special tokens,
non-first sub-tokens of a word, padding). :func:`flatten_tokens` turns both into a plain ``[m, d]`` training
set without the ignored positions; :class:`TokenProbe` trains any classifier on it and maps its scores back
onto sequences, spans of tokens and whole sequences.

Example:
    >>> import numpy as np, torch
    >>> from probewise.store.ragged import Ragged
    >>> from probewise.probes.token import TokenProbe, flatten_tokens
    >>> rng = np.random.default_rng(0)
    >>> y = torch.as_tensor(rng.integers(0, 2, size=400))
    >>> X = Ragged(torch.as_tensor(rng.normal(size=(400, 4))) + 3 * y[:, None], torch.arange(0, 401, 20))
    >>> labels = Ragged(torch.where(torch.arange(400) % 20 == 0, -100, y), X.offsets)  # first token: none
    >>> X_flat, y_flat, example = flatten_tokens(X, labels)
    >>> X_flat.shape, y_flat.shape, example[:3].tolist()
    ((380, 4), (380,), [0, 0, 0])
    >>> probe = TokenProbe().fit(X, labels)
    >>> scores = probe.token_scores(X)                  # one [t_i] array of P(label 1) per sequence
    >>> len(scores), scores[0].shape, probe.score(X, labels) > 0.95
    (20, (20,), True)
    >>> probe.span_scores(X, [[(0, 3), (5, 6)]] + [[]] * 19)[0].shape
    (2,)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from probewise.errors import ConfigError, DataError, ProbeError
from probewise.store.ragged import Ragged

__all__ = ["TokenProbe", "flatten_tokens"]

_REDUCE = ("max", "mean")
_META_KEY = "token_probe"
#: Tokens scored per call of the wrapped estimator (bounds the float64 copies it makes).
_SCORE_CHUNK = 65536


# ---------------------------------------------------------------------------------------------- inputs
def _check_ragged(X: Any, what: str = "X") -> Ragged:
    if not isinstance(X, Ragged):
        raise DataError(f"{what} must be a probewise.store.ragged.Ragged of token activations (values [T, d], "
                        f"offsets [n + 1]), got {type(X).__name__}.")
    if X.values.ndim != 2:
        raise DataError(f"{what}.values must be [T, d] token activations, got shape {tuple(X.values.shape)}.")
    return X


def _as_label_ragged(labels: Any) -> Ragged:
    """Labels as a Ragged of 1-D int64 values; a list of per-sequence sequences is accepted too."""
    if isinstance(labels, Ragged):
        values = labels.values
        if values.ndim != 1:
            raise DataError(f"token labels must be 1-D values [T], got shape {tuple(values.shape)}.")
        return labels
    if isinstance(labels, Sequence):
        return Ragged.from_list([torch.as_tensor(np.asarray(part, dtype=np.int64).reshape(-1)) for part in labels])
    raise DataError(f"token labels must be a Ragged (values [T], offsets [n + 1]) or a list of per-sequence label "
                    f"lists, got {type(labels).__name__}.")


def _values_numpy(X: Ragged) -> np.ndarray:
    """The activations ``[T, d]`` as a float32/float64 numpy array (other float types become float32)."""
    values = X.values.detach()
    if values.dtype not in (torch.float32, torch.float64):
        values = values.to(torch.float32)
    return values.cpu().numpy()


def _bounds(X: Ragged) -> np.ndarray:
    return X.offsets.detach().cpu().numpy().astype(np.int64)


def _positions(bounds: np.ndarray) -> np.ndarray:
    """Row indices ``[sum of lengths]`` of every sequence's tokens, in order (offsets need not start at 0)."""
    lengths = np.diff(bounds)
    within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(bounds[:-1], lengths) + within


def flatten_tokens(
    X: Ragged, labels: Ragged | Sequence[Sequence[int]], ignore_index: int = -100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labelled tokens of ragged sequences as one training set, without the ``ignore_index`` positions.

    Args:
        X: token activations, values ``[T, d]`` with offsets ``[n + 1]``.
        labels: int labels aligned with ``X``: a Ragged with values ``[T]`` and the same sequence lengths, or a
            list of ``n`` per-sequence label lists.
        ignore_index: the label of positions to drop.

    Returns:
        ``(X_flat [m, d], y_flat [m], example_index [m])`` as numpy arrays (float32/float64, int64, int64):
        the kept tokens in order, their labels, and the sequence each one comes from.

    Raises:
        DataError: ``X`` not a Ragged, or labels whose sequence count or lengths differ from ``X``.

    Example:
        >>> import torch
        >>> from probewise.store.ragged import Ragged
        >>> from probewise.probes.token import flatten_tokens
        >>> X = Ragged(torch.arange(10.).reshape(5, 2), torch.tensor([0, 2, 5]))
        >>> X_flat, y, example = flatten_tokens(X, [[-100, 1], [0, -100, 1]])
        >>> X_flat.tolist(), y.tolist(), example.tolist()
        ([[2.0, 3.0], [4.0, 5.0], [8.0, 9.0]], [1, 0, 1], [0, 1, 1])
    """
    X = _check_ragged(X)
    labels = _as_label_ragged(labels)
    if len(labels) != len(X):
        raise DataError(f"labels hold {len(labels)} sequences but X holds {len(X)}; align them one to one.")
    lengths, label_lengths = X.lengths.cpu(), labels.lengths.cpu()
    if not torch.equal(lengths, label_lengths):
        i = int(torch.nonzero(lengths != label_lengths)[0, 0])
        raise DataError(f"sequence {i} has {int(lengths[i])} token activations but {int(label_lengths[i])} labels; "
                        "label every token (ignore_index where there is no label).")
    values, bounds = _values_numpy(X), _bounds(X)
    label_values, label_bounds = labels.values.detach().cpu().numpy(), _bounds(labels)
    if label_values.dtype.kind not in "iu":
        if label_values.dtype.kind == "f" and np.all(np.mod(label_values, 1) == 0):
            label_values = label_values.astype(np.int64)
        else:
            raise DataError(f"token labels must be integers, got dtype {label_values.dtype}.")
    ys = label_values[_positions(label_bounds)].astype(np.int64)
    example = np.repeat(np.arange(len(X), dtype=np.int64), lengths.numpy())
    keep = ys != ignore_index
    return values[_positions(bounds)[keep]], ys[keep], example[keep]


def _check_reduce(reduce: str) -> str:
    if reduce not in _REDUCE:
        raise ConfigError(f"reduce must be one of {list(_REDUCE)}, got {reduce!r}.")
    return reduce


def _reduce(scores: np.ndarray, reduce: str) -> float:
    return float(scores.max() if reduce == "max" else scores.mean())


# ---------------------------------------------------------------------------------------------- probe
class TokenProbe(BaseEstimator):
    """Any classifier trained on the labelled tokens of ragged sequences, scored per token, span or sequence.

    ``fit`` flattens the sequences with :func:`flatten_tokens` (dropping ``ignore_index`` positions) and fits
    a clone of ``base_estimator``; the other methods score every token of each sequence and split the scores
    back. A token's score (binary tasks) is the estimator's ``predict_proba`` of ``classes_[1]``, or its
    ``decision_function`` if it has no ``predict_proba``.

    Args:
        base_estimator: an unfitted scikit-learn or probewise classifier on ``[m, d]`` arrays (default:
            :class:`probewise.probes.LogisticProbe` with ``max_iter=1000``).
        ignore_index: the label of positions that are never trained on.

    Fitted attributes: ``estimator_`` (the fitted clone), ``classes_``, ``n_features_in_`` and ``n_tokens_``
    (how many tokens it was trained on).

    Example:
        >>> import torch
        >>> from sklearn.linear_model import LogisticRegression
        >>> from probewise.store.ragged import Ragged
        >>> from probewise.probes.token import TokenProbe
        >>> X = Ragged(torch.tensor([[0.0], [3.0], [0.2], [2.8], [3.1]]), torch.tensor([0, 2, 5]))
        >>> probe = TokenProbe(LogisticRegression()).fit(X, [[0, 1], [0, 1, -100]])
        >>> [p.tolist() for p in probe.predict(X)]
        [[0, 1], [0, 1, 1]]
        >>> (probe.sequence_scores(X) > 0.5).tolist()       # max over each sequence's tokens
        [True, True]
    """

    def __init__(self, base_estimator: Any = None, ignore_index: int = -100) -> None:
        self.base_estimator = base_estimator
        self.ignore_index = ignore_index

    def _make_estimator(self) -> Any:
        if self.base_estimator is None:
            from probewise.probes.linear import LogisticProbe

            return LogisticProbe(max_iter=1000)
        if not hasattr(self.base_estimator, "fit"):
            raise ConfigError(f"base_estimator must be a classifier with fit/predict, got {self.base_estimator!r}.")
        return clone(self.base_estimator)

    def fit(self, X: Ragged, labels: Ragged | Sequence[Sequence[int]]) -> TokenProbe:
        """Fit on the tokens of ``X`` whose label is not ``ignore_index``; returns ``self``.

        Raises:
            DataError: misaligned labels, or no labelled token at all.
        """
        if isinstance(self.ignore_index, bool) or not isinstance(self.ignore_index, int | np.integer):
            raise ConfigError(f"ignore_index must be an integer (usually -100), got {self.ignore_index!r}.")
        X_flat, y_flat, _ = flatten_tokens(X, labels, int(self.ignore_index))
        if len(y_flat) == 0:
            raise DataError(f"every token label is ignore_index={self.ignore_index}; there is nothing to train on.")
        estimator = self._make_estimator()
        estimator.fit(X_flat, y_flat)
        self.estimator_ = estimator
        self.classes_ = np.asarray(estimator.classes_)
        self.n_features_in_ = int(X_flat.shape[1])
        self.n_tokens_ = int(len(y_flat))
        return self

    # -- per-token outputs ----------------------------------------------------------------------------

    def _flat(self, X: Ragged, fn: str) -> tuple[np.ndarray, np.ndarray]:
        """``getattr(estimator_, fn)`` on every token ``[T, ...]``, and the sequence bounds."""
        check_is_fitted(self)
        X = _check_ragged(X)
        values = _values_numpy(X)
        if values.shape[1] != self.n_features_in_:
            raise DataError(f"X has {values.shape[1]} features per token but the probe was fitted on "
                            f"{self.n_features_in_}.")
        method = getattr(self.estimator_, fn)
        parts = [np.asarray(method(values[s : s + _SCORE_CHUNK])) for s in range(0, len(values), _SCORE_CHUNK)]
        if parts:
            return np.concatenate(parts), _bounds(X)
        if fn == "predict":
            return np.empty(0, dtype=self.classes_.dtype), _bounds(X)
        return np.empty((0, len(self.classes_)) if fn == "predict_proba" else (0,)), _bounds(X)

    @staticmethod
    def _split(flat: np.ndarray, bounds: np.ndarray) -> list[np.ndarray]:
        return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def predict(self, X: Ragged) -> list[np.ndarray]:
        """Predicted labels, one array ``[t_i]`` per sequence."""
        return self._split(*self._flat(X, "predict"))

    def token_proba(self, X: Ragged) -> list[np.ndarray]:
        """Class probabilities, one array ``[t_i, n_classes]`` per sequence (needs ``predict_proba``)."""
        check_is_fitted(self)
        if not hasattr(self.estimator_, "predict_proba"):
            raise ProbeError(f"{type(self.estimator_).__name__} has no predict_proba; use token_scores or predict.")
        return self._split(*self._flat(X, "predict_proba"))

    def token_scores(self, X: Ragged) -> list[np.ndarray]:
        """Positive-class scores, one array ``[t_i]`` per sequence (binary probes only).

        The score is ``P(classes_[1])`` from ``predict_proba``, or ``decision_function`` if the estimator
        has no ``predict_proba``.

        Raises:
            ProbeError: the probe was fitted on more than two classes (use :meth:`token_proba`).
        """
        check_is_fitted(self)
        if len(self.classes_) != 2:
            raise ProbeError(f"token_scores needs a binary probe, this one has {len(self.classes_)} classes; "
                             "use token_proba or predict.")
        if hasattr(self.estimator_, "predict_proba"):
            proba, bounds = self._flat(X, "predict_proba")
            flat = proba[:, 1]
        else:
            flat, bounds = self._flat(X, "decision_function")
            flat = flat.reshape(-1)
        return self._split(np.asarray(flat, dtype=np.float64), bounds)

    # -- spans and sequences --------------------------------------------------------------------------

    def span_scores(
        self, X: Ragged, spans: Sequence[Sequence[tuple[int, int]]], reduce: str = "max"
    ) -> list[np.ndarray]:
        """One score per span: the max (or mean) token score over the span's tokens.

        Args:
            X: token activations of ``n`` sequences.
            spans: ``n`` lists of ``(start, end)`` token positions within their sequence, ``end`` exclusive
                (``0 <= start < end <= t_i``); a sequence may have no span.
            reduce: ``"max"`` or ``"mean"``.

        Returns:
            ``n`` float64 arrays ``[s_i]`` (``s_i`` spans of sequence ``i``).

        Raises:
            DataError: a span list per sequence missing, or a span that is empty or out of range.
        """
        reduce = _check_reduce(reduce)
        if len(spans) != len(X):
            raise DataError(f"spans hold {len(spans)} lists but X holds {len(X)} sequences; give one (possibly "
                            "empty) list of (start, end) spans per sequence.")
        scores = self.token_scores(X)
        out = []
        for i, (seq, seq_spans) in enumerate(zip(scores, spans, strict=True)):
            values = []
            for span in seq_spans:
                start, end = (int(v) for v in span)
                if not 0 <= start < end <= len(seq):
                    raise DataError(f"span {tuple(span)} of sequence {i} is empty or outside its {len(seq)} tokens; "
                                    "spans are (start, end) token positions with end exclusive.")
                values.append(_reduce(seq[start:end], reduce))
            out.append(np.asarray(values, dtype=np.float64))
        return out

    def sequence_scores(self, X: Ragged, reduce: str = "max", mask: Ragged | None = None) -> np.ndarray:
        """One score per sequence ``[n]``: the max (or mean) token score over its tokens.

        Args:
            X: token activations of ``n`` sequences.
            reduce: ``"max"`` or ``"mean"``.
            mask: optional Ragged of bools ``[T]`` aligned with ``X``: only tokens marked True count (e.g.
                ``labels.values != -100`` to skip special tokens). A sequence without a counted token scores NaN.
        """
        reduce = _check_reduce(reduce)
        scores = self.token_scores(X)
        if mask is not None:
            if not isinstance(mask, Ragged) or len(mask) != len(X) or not torch.equal(mask.lengths.cpu(),
                                                                                    X.lengths.cpu()):
                raise DataError("mask must be a Ragged of bools with the same sequence lengths as X.")
            keep = self._split(mask.values.detach().cpu().numpy().astype(bool), _bounds(mask))
            scores = [s[k] for s, k in zip(scores, keep, strict=True)]
        return np.array([_reduce(s, reduce) if len(s) else np.nan for s in scores], dtype=np.float64)

    def score(self, X: Ragged, labels: Ragged | Sequence[Sequence[int]]) -> float:
        """Token accuracy over the positions whose label is not ``ignore_index``."""
        check_is_fitted(self)
        X_flat, y_flat, _ = flatten_tokens(X, labels, int(self.ignore_index))
        if len(y_flat) == 0:
            raise DataError("no labelled token to score.")
        return float(np.mean(np.asarray(self.estimator_.predict(X_flat)) == y_flat))

    # -- artifacts ------------------------------------------------------------------------------------

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> tuple[Path, Path]:
        """Save the wrapped probewise probe (``path.safetensors`` + ``path.json``), with ``ignore_index``.

        Raises:
            ProbeError: the wrapped estimator is not a probewise probe (it has no ``save``).
        """
        check_is_fitted(self)
        if not hasattr(self.estimator_, "save"):
            raise ProbeError(f"{type(self.estimator_).__name__} cannot be saved without pickle; use a probewise "
                             "probe (LogisticProbe, RidgeProbe, KNNProbe, ...) as base_estimator to save.")
        if metadata is not None and not isinstance(metadata, dict):
            raise ProbeError(f"metadata must be a dict, got {type(metadata).__name__}.")
        meta = {**(metadata or {}), _META_KEY: {"ignore_index": int(self.ignore_index), "n_tokens": self.n_tokens_}}
        return self.estimator_.save(path, metadata=meta)

    @classmethod
    def load(cls, path: str | Path) -> TokenProbe:
        """Load a token probe written by :meth:`save` (``metadata_`` holds the caller's metadata)."""
        from probewise.probes.base import load_probe

        estimator = load_probe(path)
        meta = dict(getattr(estimator, "metadata_", {}) or {})
        info = meta.pop(_META_KEY, None)
        if not isinstance(info, dict):
            raise ProbeError(f"{path} holds a plain {type(estimator).__name__}, not a TokenProbe; load it with "
                             "load_probe.")
        estimator.metadata_ = meta
        probe = cls(base_estimator=clone(estimator), ignore_index=int(info["ignore_index"]))
        probe.estimator_ = estimator
        probe.classes_ = np.asarray(estimator.classes_)
        probe.n_features_in_ = int(estimator.n_features_in_)
        probe.n_tokens_ = int(info.get("n_tokens", -1))
        probe.metadata_ = meta
        return probe
