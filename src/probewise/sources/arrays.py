"""Features computed elsewhere (your own pipeline, another framework, a paper's released embeddings) as a source.

An `ArraySource` has no model: "running" it on a batch of row indices returns those rows of every layer. With
it, :func:`probewise.write_features` turns arrays into a store, and everything downstream (sweeps, reports,
probes) works as on a store extracted from a model.

Example:
    >>> import numpy as np
    >>> from probewise.sources.arrays import ArraySource
    >>> X = np.arange(24, dtype=np.float32).reshape(2, 4, 3)       # [layers, n, d]
    >>> src = ArraySource(X)
    >>> src.layer_names, src.n, src.run_batch(np.array([3, 0]))["1"].tolist()
    (['0', '1'], 4, [[21.0, 22.0, 23.0], [12.0, 13.0, 14.0]])
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from probewise.errors import DataError
from probewise.sources.base import Source

__all__ = ["ArraySource"]

_HASH_ROWS_BYTES = 1 << 24  # features are hashed 16 MiB of rows at a time (never copied whole)


def _as_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        arr = (x.float() if x.dtype == torch.bfloat16 else x).numpy()  # (numpy has no bfloat16)
    else:
        arr = np.asarray(x)
    if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and arr.dtype.itemsize > 8):
        raise DataError(f"layer {name!r}: features of dtype {arr.dtype}; give float16/32/64, integer or bool "
                        "arrays.")
    return arr


class ArraySource(Source):
    """Precomputed features as a source: one ``[n, d]`` array per layer.

    Args:
        features: ``[n, d]`` (one layer, named ``"0"``), ``[L, n, d]`` (layers ``"0"`` … ``"L-1"``) or a mapping
            layer name → ``[n, d]`` (numpy arrays, memmaps or torch tensors; ``d`` may differ between layers).
        name: what the features are, for the store's manifest (e.g. ``"my-eeg-encoder"``).
    """

    has_model = False  # (NaN/inf in what is stored cannot come from a model's dtype)

    def __init__(self, features: Any, *, name: str = "arrays") -> None:
        if isinstance(features, Mapping):
            layers = {str(k): _as_array(v, str(k)) for k, v in features.items()}
        else:
            arr = _as_array(features, "0")
            if arr.ndim == 2:
                layers = {"0": arr}
            elif arr.ndim == 3:
                layers = {str(i): arr[i] for i in range(arr.shape[0])}
            else:
                raise DataError(f"features of shape {arr.shape}: give [n, d], [layers, n, d] or a mapping "
                                "layer name → [n, d].")
        if not layers:
            raise DataError("no features given: pass at least one layer.")
        sizes = {k: v.shape for k, v in layers.items()}
        bad = {k: s for k, s in sizes.items() if len(s) != 2 or s[1] < 1}
        if bad:
            k, s = next(iter(bad.items()))
            raise DataError(f"layer {k!r} has shape {s}; every layer must be [n, d] (pool token sequences first, "
                            "e.g. mean over tokens).")
        ns = {s[0] for s in sizes.values()}
        if len(ns) != 1:
            raise DataError(f"layers hold different numbers of rows: {({k: s[0] for k, s in sizes.items()})}; "
                            "every layer needs one row per example.")
        self._layers = layers
        self.n = ns.pop()
        self.name = name
        self.layer_names = list(layers)
        self.pooling = "none"
        self.modality = "tensor"
        self._fingerprint: str | None = None

    def describe(self) -> dict:
        if self._fingerprint is None:
            self._fingerprint = self._hash()
        return {"kind": "arrays", "model": self.name, "fingerprint": self._fingerprint, "modality": "tensor",
                "shapes": {k: list(v.shape) for k, v in self._layers.items()}, "dtypes":
                {k: str(v.dtype) for k, v in self._layers.items()}}

    def _hash(self) -> str:
        """sha256 of every layer's name, shape, dtype and values: the same arrays give the same store identity."""
        h = hashlib.sha256()
        for k, v in self._layers.items():
            h.update(f"{k}:{v.shape}:{v.dtype}".encode())
            step = max(1, _HASH_ROWS_BYTES // max(1, v[:1].nbytes))
            for s in range(0, v.shape[0], step):
                h.update(np.ascontiguousarray(v[s : s + step]).data)
        return h.hexdigest()[:32]

    def run_batch(self, items: Sequence) -> dict[str, torch.Tensor]:
        """Rows ``items`` (row indices into the features) of every layer, as ``[b, d]`` tensors."""
        idx = np.asarray(items, dtype=np.int64)
        out = {}
        for k, v in self._layers.items():
            rows = np.ascontiguousarray(v[idx])
            if rows.dtype.kind == "f" and not np.isfinite(rows).all():
                bad = int(idx[np.flatnonzero(~np.isfinite(rows).all(axis=1))[0]])
                raise DataError(f"layer {k!r} holds NaN/inf (row {bad}, 0-based); drop or repair those rows first.")
            out[k] = torch.from_numpy(rows)
        return out
