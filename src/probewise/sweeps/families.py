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
    input_kind: str  # "pooled" ([n, d] tensors) or "tokens" (Ragged)

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
        z = np.stack([np.zeros_like(z), z], 1) if z.ndim == 1 else z  # binary: sigmoid(z), as the torch engine
        return _softmax_np(z)


class SklearnFamily:
    """The loop a user would write: StandardScaler + a scikit-learn estimator per layer and grid value."""

    input_kind = "pooled"

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


# -- probe-zoo estimators ------------------------------------------------------------------------
@dataclass
class _EstimatorGrid:
    models: list

    def predict_proba(self, X, g: int) -> np.ndarray:
        return np.asarray(self.models[g].predict_proba(X))


@dataclass(frozen=True)
class ZooSpec:
    """A probewise estimator swept over one hyperparameter; `kind` says whether it reads pooled vectors or tokens."""

    module: str
    cls: str
    param: str
    grid: tuple
    kind: str


ZOO = {
    "mlp": ZooSpec("probewise.probes.mlp", "MLPProbe", "weight_decay", (1e-3, 1e-1), "pooled"),
    "knn": ZooSpec("probewise.probes.knn", "KNNProbe", "k", (10, 20, 100, 200), "pooled"),
    "efficient": ZooSpec("probewise.probes.attentive", "EfficientProbe", "weight_decay", (1e-3, 1e-1), "tokens"),
    "attentive": ZooSpec("probewise.probes.attentive", "AttentivePoolerProbe", "weight_decay", (1e-3, 1e-1),
                         "tokens"),
    "moment": ZooSpec("probewise.probes.moment", "MomentProbe", "weight_decay", (1e-3, 1e-1), "tokens"),
    "mean_linear": ZooSpec("probewise.probes.longcontext", "MeanLinearProbe", "weight_decay", (1e-3, 1e-1), "tokens"),
    "ema_max": ZooSpec("probewise.probes.longcontext", "EMAMaxProbe", "weight_decay", (1e-3, 1e-1), "tokens"),
    "attention": ZooSpec("probewise.probes.longcontext", "AttentionProbe", "weight_decay", (1e-3, 1e-1), "tokens"),
    "multimax": ZooSpec("probewise.probes.longcontext", "MultiMaxProbe", "weight_decay", (1e-3, 1e-1), "tokens"),
    "rolling": ZooSpec("probewise.probes.longcontext", "RollingAttentionProbe", "weight_decay", (1e-3, 1e-1),
                       "tokens"),
}


class EstimatorFamily:
    """A zoo probe fitted per layer and grid value (non-convex probes early-stop on a seeded 10% of train)."""

    def __init__(self, name: str, spec: ZooSpec) -> None:
        import importlib

        self.name, self.param, self.input_kind = name, spec.param, spec.kind
        self._cls = getattr(importlib.import_module(spec.module), spec.cls)

    def fit_grid(self, Xs, y, values, n_classes, seed):
        out = []
        for X in Xs:
            models = []
            for v in values:
                est = self._cls(**{self.param: type(getattr(self._cls(), self.param))(v)})
                if "seed" in est.get_params():
                    est.set_params(seed=seed)
                models.append(est.fit(X, y))
            out.append(_EstimatorGrid(models))
        return out


# -- registry -------------------------------------------------------------------------------------
LINEAR_PROBES = ("logistic", "ridge", "meandiff")
PROBES = (*LINEAR_PROBES, *ZOO)
ENGINES = ("torch", "sklearn", "stream")


def get_family(name: str, engine: str = "torch") -> Family:
    if name not in PROBES:
        raise ConfigError(f"unknown probe {name!r}; the sweep takes {', '.join(PROBES)}.")
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; use {' or '.join(ENGINES)}.")
    if engine == "stream":
        from probewise.sweeps.streaming import StreamedFamily

        return StreamedFamily(name)
    if name in ZOO:
        return EstimatorFamily(name, ZOO[name])
    if engine == "sklearn":
        return SklearnFamily(name)
    from probewise.sweeps.torch_families import TORCH_FAMILIES

    return TORCH_FAMILIES[name]()


def default_grid(name: str) -> tuple[float, ...]:
    if name in ZOO:
        return ZOO[name].grid
    return {"logistic": DEFAULT_C_GRID, "ridge": DEFAULT_ALPHA_GRID, "meandiff": DEFAULT_SHRINKAGE_GRID}[name]
