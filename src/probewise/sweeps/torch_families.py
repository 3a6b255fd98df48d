"""The batched torch engine: every layer × every grid value of a family in one solver call.

- logistic: `fit_logistic` solves all layers × C values at once (standardized, warm-started path).
- ridge: `fit_ridge_classifier` solves all alphas of a layer from one tridiagonal reduction of its Gram matrix.
  Its probabilities are a softmax of the decision values: fine for ranking (AUROC), not calibrated.
- meandiff: the grid is the covariance shrinkage in [0, 1]; 1.0 is the plain difference of means
  (no whitening), smaller values whiten with a shrunk pooled covariance (LDA-like). A 1-D logistic on
  the projections gives probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from probewise.fit import fit_logistic, fit_meandiff, fit_ridge_classifier


@dataclass
class LinearGrid:
    """Linear models of one layer for every grid value: `coef [G, d, k]`, `intercept [G, k]` (k = 1: binary)."""

    coef: torch.Tensor
    intercept: torch.Tensor
    temperature: float = 1.0

    def logits(self, X: torch.Tensor, g: int) -> torch.Tensor:
        X = X.to(self.coef.device, self.coef.dtype)
        return (X @ self.coef[g] + self.intercept[g]) / self.temperature

    def predict_proba(self, X: torch.Tensor, g: int) -> np.ndarray:
        z = self.logits(X, g).double()
        if z.shape[1] == 1:
            p = torch.sigmoid(z[:, 0])
            return torch.stack([1 - p, p], 1).cpu().numpy()
        return torch.softmax(z, 1).cpu().numpy()


def _stack(Xs: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([x.float() for x in Xs])


class SolverFamily:
    """A family whose batched solver fits every layer × grid value in one call and returns `coef [L, G, d, k]`."""

    input_kind = "pooled"

    def __init__(self, name: str, param: str, solver) -> None:
        self.name, self.param, self._solver = name, param, solver

    def fit_grid(self, Xs, y, values, n_classes, seed):
        path = self._solver(_stack(Xs), np.asarray(y), list(values))
        return [LinearGrid(path.coef[i], path.intercept[i]) for i in range(len(Xs))]


class MeanDiffFamily:
    input_kind = "pooled"
    name, param = "meandiff", "shrinkage"

    def fit_grid(self, Xs, y, values, n_classes, seed):
        X = _stack(Xs)
        fits = [fit_meandiff(X, np.asarray(y), whiten=v < 1.0, shrinkage=float(v) if v < 1.0 else None,
                             threshold="logistic") for v in values]
        return [LinearGrid(torch.stack([f.coef[i] for f in fits]), torch.stack([f.intercept[i] for f in fits]))
                for i in range(len(Xs))]


TORCH_FAMILIES = {
    "logistic": lambda: SolverFamily("logistic", "C", fit_logistic),
    "ridge": lambda: SolverFamily("ridge", "alpha", fit_ridge_classifier),
    "meandiff": MeanDiffFamily,
}
