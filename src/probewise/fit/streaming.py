"""Ridge for every alpha from features streamed shard by shard: memory `O(d²)`, never `O(n·d)`.

Example:
    >>> import torch
    >>> from probewise.fit.streaming import RidgeAccumulator
    >>> acc = RidgeAccumulator()
    >>> for _ in range(3):
    ...     X = torch.randn(50, 4, dtype=torch.float64); acc.update(X, X @ torch.ones(4, 1))
    >>> coef, intercept = acc.solve([1e-6])
    >>> torch.allclose(coef[0], torch.ones(4, 1), atol=1e-4)
    True

The sufficient statistics of ridge with an intercept (and of standardization) are sums: the count, the
column sums, `XᵀX`, the target sums and `XᵀY`. They are accumulated in float64 one batch at a time (one
store shard in memory at a time), then one eigendecomposition of the standardized, centred Gram matrix
gives every alpha at once. The result equals `StandardScaler` + `Ridge(alpha)` fitted on all rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from probewise.errors import DataError

_F64 = torch.float64


class RidgeAccumulator:
    """Accumulates `n`, `Σx`, `XᵀX`, `Σy`, `XᵀY` over batches; `solve(alphas)` → coefficients for every alpha."""

    def __init__(self) -> None:
        self.n = 0
        self.sx: torch.Tensor | None = None
        self.sxx: torch.Tensor | None = None
        self.sy: torch.Tensor | None = None
        self.sxy: torch.Tensor | None = None

    def update(self, X: torch.Tensor, Y: torch.Tensor) -> None:
        """Add a batch: features `[b, d]`, targets `[b, t]`."""
        X, Y = X.to(_F64), Y.to(_F64)
        if not torch.isfinite(X).all():
            raise DataError("NaN/inf features in a streamed batch; re-extract with model_dtype float32.")
        if self.sx is None:
            d, t = X.shape[1], Y.shape[1]
            self.sx, self.sxx = X.new_zeros(d), X.new_zeros(d, d)
            self.sy, self.sxy = X.new_zeros(t), X.new_zeros(d, t)
        self.n += X.shape[0]
        self.sx += X.sum(0)
        self.sxx += X.T @ X
        self.sy += Y.sum(0)
        self.sxy += X.T @ Y

    def solve(self, alphas: Sequence[float], standardize: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Coefficients `[A, d, t]` and intercepts `[A, t]` in the original feature space."""
        if self.n < 2 or self.sx is None:
            raise DataError("ridge needs at least two rows; the stream was empty.")
        n = self.n
        mu, ybar = self.sx / n, self.sy / n
        G = self.sxx - n * torch.outer(mu, mu)
        C = self.sxy - n * torch.outer(mu, ybar)
        if standardize:
            scale = torch.sqrt(torch.clamp(torch.diagonal(G) / n, min=0.0))
            scale = torch.where(scale < 10 * torch.finfo(_F64).eps, torch.ones_like(scale), scale)
        else:
            scale = torch.ones_like(mu)
        Gs = G / torch.outer(scale, scale)
        Cs = C / scale[:, None]
        lam, V = torch.linalg.eigh((Gs + Gs.T) / 2)
        lam = torch.clamp(lam, min=0.0)  # post-LayerNorm features are rank-deficient: clamp round-off below 0
        VtC = V.T @ Cs
        coefs, intercepts = [], []
        for a in alphas:
            Ws = V @ (VtC / (lam + float(a))[:, None])
            W = Ws / scale[:, None]
            coefs.append(W)
            intercepts.append(ybar - mu @ W)
        return torch.stack(coefs), torch.stack(intercepts)


def fit_ridge_classifier_streaming(store, layer, alphas: Sequence[float], split: str = "train",
                                   standardize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """`RidgeClassifier` targets (±1 one-vs-all) on one store layer, read one shard at a time.

    Returns `coef [A, d, t]`, `intercept [A, t]` (t = 1 for two classes, else one column per class).
    """
    k = len(store.classes)
    acc = RidgeAccumulator()
    for X, idx in store.iter_batches(layer, split, dtype=_F64):
        codes = torch.as_tensor(np.asarray(store.labels)[idx])
        Y = torch.nn.functional.one_hot(codes, k).to(_F64) * 2 - 1
        acc.update(X, Y[:, 1:] if k == 2 else Y)
    return acc.solve(alphas, standardize)
