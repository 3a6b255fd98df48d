"""Feature access for the sweep: pooled `[n, d]` or token `Ragged` inputs per layer and split, read once.

Example:
    >>> # feats = Features(store); X = feats.get("3", "train", "pooled"); R = feats.get("3", "val", "tokens")

A layer name "a+b+c" is the concatenation of pooled layers a, b and c (multi-block linear evaluation).
On a store extracted with `--pooling tokens`, pooled probes see `token_pooling` (mean by default) of the
tokens; token probes (attentive, long-context, ...) need such a store. With `stream=True` (the sweep's
stream engine) `get` hands out `LayerSplit` handles and nothing is read here.
"""

from __future__ import annotations

import numpy as np
import torch

from probewise.errors import ConfigError, DataError
from probewise.store.ragged import Ragged
from probewise.store.reader import Store
from probewise.sweeps.streaming import LayerSplit


def check_finite(X: torch.Tensor, layer: str, split: str) -> None:
    bad = ~torch.isfinite(X)
    if bad.any():
        rows = torch.nonzero(bad.reshape(len(X), -1).any(1)).flatten()[:5].tolist()
        raise DataError(f"layer {layer} has NaN/inf features in the {split} split (rows {rows}); "
                        "re-extract with model_dtype float32.")


class Features:
    """Features and labels per split. At level 'token', every labelled token (label != -100) is one example."""

    def __init__(self, store: Store, token_pooling: str = "mean", level: str = "example",
                 stream: bool = False) -> None:
        self.store = store
        self.stream = stream
        self.token_pooling = token_pooling
        self.level = level
        self._cache: dict[tuple[str, str, str], torch.Tensor | Ragged] = {}
        if level == "token" and store.token_classes is None:
            raise ConfigError(
                f"level 'token' needs per-token labels; {store.root} has none. Extract word-labelled data "
                "(e.g. --task pos_tags) with --pooling tokens."
            )

    @property
    def classes(self) -> list:
        return list(self.store.token_classes) if self.level == "token" else self.store.classes

    def _token_keep(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        labels = self.store.read_token_labels(split).values
        keep = labels != -100
        return keep, labels[keep]

    def labels(self, split: str) -> np.ndarray:
        if self.level == "token":
            return self._token_keep(split)[1].numpy()
        return self.store.labels[self.store.indices(split)]

    def control_labels(self, seed: int) -> dict[str, np.ndarray]:
        """Control-task labels per split: a seeded permutation, or (token level) one random label per word type."""
        from probewise.evaluation.controls import control_labels

        splits = ("train", "val", "test")
        ys = [self.labels(s) for s in splits]
        ids = None
        if self.level == "token":
            ids = np.concatenate([self.store.read_token_ids(s).values[self._token_keep(s)[0]].numpy() for s in splits])
        yc = control_labels(np.concatenate(ys), seed=seed, token_ids=ids)
        cuts = np.cumsum([len(y) for y in ys])[:-1]
        return dict(zip(splits, np.split(yc, cuts), strict=True))

    def get(self, name: str, split: str, kind: str = "pooled") -> torch.Tensor | Ragged | LayerSplit:
        if self.stream:  # the streamed family reads the layer shard by shard itself
            return LayerSplit(self.store, name, split)
        key = (name, split, kind)
        if key not in self._cache:
            self._cache[key] = self._read(name, split, kind)
        return self._cache[key]

    def _read(self, name: str, split: str, kind: str) -> torch.Tensor | Ragged:
        if kind == "tokens":
            if "+" in name:
                raise ConfigError("combined layers are for pooled probes only.")
            if self.level == "token":
                raise ConfigError("token-level labels are probed per token: use pooled probes (logistic, ridge, "
                                  "meandiff, mlp, knn), not sequence probes.")
            if self.store.pooling != "tokens":
                raise ConfigError(
                    f"token probes need a store extracted with --pooling tokens; {self.store.root} holds "
                    f"{self.store.pooling!r} vectors. Re-extract with --pooling tokens."
                )
            r = self.store.read_tokens(name, split)
            check_finite(r.values, name, split)
            return r
        if "+" in name:
            return torch.cat([self.get(part, split, "pooled") for part in name.split("+")], 1)
        if self.level == "token":
            X = self.store.read_tokens(name, split).values[self._token_keep(split)[0]]
        elif self.store.pooling == "tokens":
            X = self.store.read_pooled(name, split, how=self.token_pooling)
        else:
            X = self.store.read(name, split)
        check_finite(X, name, split)
        return X
