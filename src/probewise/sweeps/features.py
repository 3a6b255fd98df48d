"""Feature access for the sweep: pooled `[n, d]` or token `Ragged` inputs per layer and split, read once.

Example:
    >>> # feats = Features(store); X = feats.get("3", "train", "pooled"); R = feats.get("3", "val", "tokens")

A layer name "a+b+c" is the concatenation of pooled layers a, b and c (multi-block linear evaluation).
On a store extracted with `--pooling tokens`, pooled probes see `token_pooling` (mean by default) of the
tokens; token probes (attentive, long-context, ...) need such a store.
"""

from __future__ import annotations

import torch

from probewise.errors import ConfigError, DataError
from probewise.store.ragged import Ragged
from probewise.store.reader import Store


def check_finite(X: torch.Tensor, layer: str, split: str) -> None:
    bad = ~torch.isfinite(X)
    if bad.any():
        rows = torch.nonzero(bad.reshape(len(X), -1).any(1)).flatten()[:5].tolist()
        raise DataError(f"layer {layer} has NaN/inf features in the {split} split (rows {rows}); "
                        "re-extract with model_dtype float32.")


class Features:
    def __init__(self, store: Store, token_pooling: str = "mean") -> None:
        self.store = store
        self.token_pooling = token_pooling
        self._cache: dict[tuple[str, str, str], torch.Tensor | Ragged] = {}

    def get(self, name: str, split: str, kind: str = "pooled") -> torch.Tensor | Ragged:
        key = (name, split, kind)
        if key not in self._cache:
            self._cache[key] = self._read(name, split, kind)
        return self._cache[key]

    def _read(self, name: str, split: str, kind: str) -> torch.Tensor | Ragged:
        if kind == "tokens":
            if "+" in name:
                raise ConfigError("combined layers are for pooled probes only.")
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
        if self.store.pooling == "tokens":
            X = self.store.read_pooled(name, split, how=self.token_pooling)
        else:
            X = self.store.read(name, split)
        check_finite(X, name, split)
        return X
