"""Probe families for the sweep: each fits a whole hyperparameter grid on several layers at once.

A family turns training features (one `[n, d]` tensor per layer) into one `GridModel` per layer,
which predicts class probabilities for any grid point. The sweep never sees how: the `torch`
engine solves every layer × grid point in batched tensor programs; the `sklearn` engine is the
reference loop over scikit-learn estimators, kept for verification and benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from probewise.errors import ConfigError

DEFAULT_C_GRID = tuple(float(c) for c in np.logspace(-4, 5, 10))
DEFAULT_ALPHA_GRID = tuple(float(a) for a in np.logspace(-2, 7, 10))
DEFAULT_SHRINKAGE_GRID = (0.01, 0.1, 0.5, 0.9, 1.0)


class GridModel(Protocol):
    def predict_proba(self, X: torch.Tensor, g: int) -> np.ndarray:
        """Class probabilities `[n, k]` of grid point `g` for features `X [n, d]`."""


class Family(Protocol):
    name: str
    param: str

    def fit_grid(self, Xs: Sequence[torch.Tensor], y: np.ndarray, values: Sequence[float], n_classes: int,
                 seed: int) -> list[GridModel]:
        """One GridModel per layer in `Xs`, each fitted at every value of the grid on (`Xs[l]`, `y`)."""


def _softmax_np(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# -- scikit-learn reference engine ----------------------------------------------------------------
@dataclass
class _SklearnGrid:
    models: list

    def predict_proba(self, X: torch.Tensor, g: int) -> np.ndarray:
        m = self.models[g]
        Xn = X.double().numpy()
        if hasattr(m, "predict_proba"):
            return m.predict_proba(Xn)
        z = m.decision_function(Xn)
        z = np.stack([-z, z], 1) if z.ndim == 1 else z
        return _softmax_np(z)


class SklearnFamily:
    """The loop a user would write: StandardScaler + a scikit-learn estimator per layer and grid value."""

    def __init__(self, name: str) -> None:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.linear_model import LogisticRegression, RidgeClassifier

        self.name = name
        makers = {
            "logistic": ("C", lambda v, seed: LogisticRegression(C=v, max_iter=1000, random_state=seed)),
            "ridge": ("alpha", lambda v, seed: RidgeClassifier(alpha=v)),
            "meandiff": ("shrinkage", lambda v, seed: LinearDiscriminantAnalysis(solver="lsqr", shrinkage=v)),
        }
        if name not in makers:
            raise ConfigError(f"the sklearn engine has no probe {name!r}; it has {sorted(makers)}.")
        self.param, self._make = makers[name]

    def fit_grid(self, Xs, y, values, n_classes, seed):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        out = []
        for X in Xs:
            Xn = X.double().numpy()
            out.append(_SklearnGrid([make_pipeline(StandardScaler(), self._make(v, seed)).fit(Xn, y)
                                     for v in values]))
        return out


# -- registry -------------------------------------------------------------------------------------
PROBES = ("logistic", "ridge", "meandiff")
ENGINES = ("torch", "sklearn")


def get_family(name: str, engine: str = "torch") -> Family:
    if name not in PROBES:
        raise ConfigError(f"unknown probe {name!r}; the sweep takes {', '.join(PROBES)}.")
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; use {' or '.join(ENGINES)}.")
    if engine == "sklearn":
        return SklearnFamily(name)
    from probewise.sweep.torch_families import TORCH_FAMILIES

    return TORCH_FAMILIES[name]()


def default_grid(name: str) -> tuple[float, ...]:
    return {"logistic": DEFAULT_C_GRID, "ridge": DEFAULT_ALPHA_GRID, "meandiff": DEFAULT_SHRINKAGE_GRID}[name]
