"""Memory-bounded sweep fits: every grid value of a linear probe from a pooled store read one shard at a time.

Example:
    >>> import tempfile, numpy as np, torch
    >>> from probewise import Examples, ModuleSource, extract
    >>> from probewise.sweeps.streaming import stream_fit_grid, stream_proba
    >>> x = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
    >>> y = ["pos" if v > 0 else "neg" for v in x[:, 0]]
    >>> net = torch.nn.Sequential(torch.nn.Linear(6, 8))
    >>> store = extract(ModuleSource(net, ["0"], device="cpu"), Examples.from_lists(x, y, modality="tensor"),
    ...                 tempfile.mkdtemp() + "/s", shard_size=64, progress=False)
    >>> model = stream_fit_grid(store, "0", "logistic", [0.1, 10.0])
    >>> model.coef.shape, stream_proba(store, "0", "val", model).shape   # [G, d, k], [G, n_val, 2]
    (torch.Size([2, 8, 1]), (2, 30, 2))

Memory is `O(d² + G·d·k + one shard)` for the fits (plus `O(G·n)` projections for meandiff's logistic threshold)
and never `O(n·d)`: the Gram / covariance statistics are accumulated in float64 shard by shard and the logistic
solver makes one pass over the shards per objective and gradient evaluation (see `probewise.fit.streaming`).
The fits optimize the same objectives as the in-memory families of `probewise.sweeps.torch_families`
(`fit_logistic`, `fit_ridge_classifier`, `fit_meandiff(..., threshold="logistic")`), so they agree with them up to
the solvers' tolerances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from probewise.errors import ConfigError
from probewise.fit.streaming import (
    ShardStream,
    checked_batches,
    fit_logistic_streaming,
    fit_meandiff_streaming,
    fit_ridge_streaming,
)
from probewise.sweeps.torch_families import LinearGrid

__all__ = ["STREAMED_PROBES", "LayerSplit", "StreamedFamily", "stream_fit_grid", "stream_proba"]

#: Probes `stream_fit_grid` can fit, and the meaning of their grid values.
STREAMED_PROBES = {"logistic": "C", "ridge": "alpha", "meandiff": "shrinkage"}


def stream_fit_grid(store, layer: str, probe: str, values: Sequence[float], *, split: str = "train",
                    labels: np.ndarray | None = None, seed: int = 0, max_iter: int = 500, tol: float = 1e-4
                    ) -> LinearGrid:
    """Fit every grid value of `probe` (logistic | ridge | meandiff) on one pooled store layer, reading one shard at a
    time: memory O(d² + G·d·k + one shard), never O(n·d). `labels` (codes aligned with store.indices(split)) overrides
    the store's labels (the sweep's control task passes permuted labels).

    Grid values: logistic C, ridge alpha, meandiff shrinkage (`< 1`: whitened with that shrinkage, `>= 1`: not
    whitened). `max_iter` and `tol` are the logistic solver's (its stopping rule is `fit_logistic`'s). The fits are
    deterministic (`seed` is accepted for parity with the in-memory families and unused). Coefficients are float64.

    Raises:
        ConfigError: an unknown probe or a bad grid value.
        DataError: NaN/inf in a shard (naming the layer), an empty split, labels of the wrong length, one class.
    """
    if probe not in STREAMED_PROBES:
        raise ConfigError(f"probe {probe!r} cannot be streamed; streamed probes are {sorted(STREAMED_PROBES)}.")
    vals = [float(v) for v in values]
    if not vals:
        raise ConfigError(f"the {probe} grid is empty; give at least one {STREAMED_PROBES[probe]} value.")
    stream = ShardStream(store, layer, split, labels)
    if probe == "logistic":
        fit = fit_logistic_streaming(stream, vals, tol=tol, max_iter=max_iter)
        return LinearGrid(fit.coef[0], fit.intercept[0])
    if probe == "ridge":
        if any(not np.isfinite(v) or v <= 0 for v in vals):
            raise ConfigError(f"every ridge alpha must be finite and > 0, got {vals}.")
        coef, intercept = fit_ridge_streaming(stream, vals)
        return LinearGrid(coef, intercept)
    coef, intercept = fit_meandiff_streaming(stream, vals)
    return LinearGrid(coef, intercept)


def stream_proba(store, layer: str, split: str, model: LinearGrid) -> np.ndarray:
    """Class probabilities [G, n_split, k'] (k' = number of classes, binary → 2 columns) for every grid point,
    one shard at a time, rows in the order of store.indices(split).

    Raises:
        DataError: NaN/inf in a shard (naming the layer).
    """
    name = store.resolve_layer(layer)
    G, k = model.coef.shape[0], model.coef.shape[2]
    indices = store.indices(split)
    out = np.empty((G, len(indices), 2 if k == 1 else k), dtype=np.float64)
    for X, idx in checked_batches(store, name, split):
        pos = np.searchsorted(indices, idx)
        for g in range(G):
            out[g, pos] = model.predict_proba(X, g)
    return out



# -- the sweep's "stream" engine ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSplit:
    """A pooled store layer's split, handed to the streamed family instead of a tensor: read shard by shard."""

    store: object
    layer: str
    split: str


@dataclass
class _StreamedGrid:
    model: LinearGrid
    _probs: dict = field(default_factory=dict)

    def predict_proba(self, X: LayerSplit, g: int) -> np.ndarray:
        key = (X.layer, X.split)
        if key not in self._probs:  # one pass over the split's shards scores every grid point
            self._probs[key] = stream_proba(X.store, X.layer, X.split, self.model)
        return self._probs[key][g]


class StreamedFamily:
    """The sweep family of `engine="stream"`: `fit_grid` takes `LayerSplit`s and never holds a layer in memory."""

    input_kind = "pooled"

    def __init__(self, name: str) -> None:
        if name not in STREAMED_PROBES:
            raise ConfigError(f"the stream engine fits {', '.join(STREAMED_PROBES)}; {name!r} needs the features in "
                              "memory (use --engine torch).")
        self.name, self.param = name, STREAMED_PROBES[name]

    def fit_grid(self, Xs: Sequence[LayerSplit], y: np.ndarray, values: Sequence[float], n_classes: int,
                 seed: int) -> list[_StreamedGrid]:
        return [_StreamedGrid(stream_fit_grid(X.store, X.layer, self.name, values, split=X.split, labels=y,
                                              seed=seed)) for X in Xs]
