"""Ridge regression and ridge classification for every layer and every alpha from one eigendecomposition.

One problem is scikit-learn's ``Ridge(alpha, fit_intercept=True)``::

    ||Y - X W - 1 b||^2 + alpha * ||W||^2          (intercept not penalized)

and the classifier is ``RidgeClassifier``: targets ``+1``/``-1`` (one column for two classes, the positive
one being ``classes[1]``; one column per class otherwise), prediction by sign or argmax.

With ``X`` centred, ``W(alpha) = (X^T X + alpha I)^-1 X^T Y``. Per layer one symmetric eigendecomposition
gives every alpha at once: of the ``d x d`` Gram matrix when ``n >= d`` (primal) or of the ``n x n`` kernel
``X X^T`` when ``d > n`` (dual). The same decomposition gives the exact leave-one-out residuals of every
alpha, ``e_i = (y_i - yhat_i) / (1 - h_ii)`` with the hat matrix ``H = 11^T/n + X (X^T X + alpha I)^-1 X^T``
(what ``RidgeCV``/``RidgeClassifierCV`` use to choose alpha).

Example:
    >>> import torch
    >>> from probewise.fit import fit_ridge_classifier
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(2, 100, 8, generator=g, dtype=torch.float64)
    >>> y = (X[0, :, 0] > 0).long()
    >>> path = fit_ridge_classifier(X, y, alphas=[0.1, 1.0, 10.0], loo=True)
    >>> path.coef.shape, path.loo_mse.shape                  # [L, A, d, t], [L, A, t]
    (torch.Size([2, 3, 8, 1]), torch.Size([2, 3, 1]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from probewise.errors import ConfigError, DataError
from probewise.fit._common import (
    as_grid,
    as_layers,
    center_scale_,
    chunks,
    encode_labels,
    layer_block,
    layer_inputs,
    resolve_device,
    resolve_dtype,
    torch_threads,
)

__all__ = ["RidgePath", "fit_ridge", "fit_ridge_classifier", "ridge_targets"]


@dataclass
class RidgePath:
    """Ridge solutions of every (layer, alpha), in the original feature space.

    Attributes:
        coef: ``[L, A, d, t]`` (``t`` targets).
        intercept: ``[L, A, t]``.
        alphas: ``[A]`` in the order given.
        mean: ``[L, d]`` column means (float64).
        scale: ``[L, d]`` column scales (ones when ``standardize=False``; float64).
        classes: the sorted class labels for a classifier, else ``None``.
        loo_mse: ``[L, A, t]`` mean squared leave-one-out residual per target, if asked for.
        loo_residuals: ``[L, A, n, t]`` leave-one-out residuals ``y_i - yhat_{-i}``, if asked for.
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    alphas: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor
    classes: np.ndarray | None = None
    loo_mse: torch.Tensor | None = None
    loo_residuals: torch.Tensor | None = None

    def decision_function(self, X: Any) -> torch.Tensor:
        """Outputs ``[L, A, m, t]`` for features ``X [L, m, d]`` (or ``[m, d]`` applied to every layer)."""
        Xt = layer_inputs(X, self.coef)
        return torch.einsum("lmd,ladt->lamt", Xt, self.coef) + self.intercept[:, :, None, :]

    def predict(self, X: Any) -> torch.Tensor:
        """Class indices ``[L, A, m]`` for a classifier; outputs ``[L, A, m, t]`` for a regressor."""
        z = self.decision_function(X)
        if self.classes is None:
            return z
        if z.shape[-1] == 1:
            return (z[..., 0] > 0).long()
        return z.argmax(dim=-1)


def ridge_targets(codes: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """``RidgeClassifier`` targets ``[n, t]``: ``+1``/``-1``, one column for 2 classes, else one per class."""
    Y = torch.nn.functional.one_hot(codes, n_classes).to(dtype) * 2 - 1
    return Y[:, 1:] if n_classes == 2 else Y


def fit_ridge_classifier(
    X: Any,
    y: Any,
    alphas: Any = 1.0,
    *,
    standardize: bool = True,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device | None = None,
    mode: str = "auto",
    loo: bool = False,
    return_loo_residuals: bool = False,
    max_bytes: int | None = None,
    num_threads: int | None = None,
) -> RidgePath:
    """Fit ``RidgeClassifier`` for every layer and alpha (see :func:`fit_ridge` for the arguments).

    With ``standardize=True`` (default) this equals ``StandardScaler`` followed by ``RidgeClassifier``;
    ``standardize=False`` equals ``RidgeClassifier`` on the raw features.
    """
    Xl = as_layers(X)
    dev = resolve_device(device, X)
    codes, classes = encode_labels(y, Xl.shape[1], dev)
    Y = ridge_targets(codes, len(classes), torch.float64)
    path = fit_ridge(
        Xl,
        Y,
        alphas,
        standardize=standardize,
        dtype=dtype,
        device=dev,
        mode=mode,
        loo=loo,
        return_loo_residuals=return_loo_residuals,
        max_bytes=max_bytes,
        num_threads=num_threads,
    )
    path.classes = classes
    return path


def fit_ridge(
    X: Any,
    Y: Any,
    alphas: Any = 1.0,
    *,
    standardize: bool = True,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device | None = None,
    mode: str = "auto",
    loo: bool = False,
    return_loo_residuals: bool = False,
    max_bytes: int | None = None,
    num_threads: int | None = None,
) -> RidgePath:
    """Fit ridge regression (with intercept) for every layer of ``X`` and every alpha.

    Args:
        X: features ``[L, n, d]`` or ``[n, d]``.
        Y: targets ``[n]`` or ``[n, t]``.
        alphas: penalty strengths (scalar or list, each > 0).
        standardize: scale columns to unit variance per layer first (penalty on standardized weights, as
            ``StandardScaler`` + ``Ridge``); coefficients are returned in the original feature space.
        dtype: ``"float64"`` (default) or ``"float32"``; float32 loses accuracy when alpha is tiny relative
            to the spectrum of rank-deficient features (the zero eigenvalues come out as +-1e-7 * max).
        device: where to compute; default: the device of ``X`` if it is a tensor, else CPU.
        mode: ``"primal"`` (eigendecomposition of ``X^T X``), ``"dual"`` (of ``X X^T``) or ``"auto"``
            (primal when ``n >= d``).
        loo: also compute the mean squared leave-one-out residuals ``[L, A, t]``.
        return_loo_residuals: also keep every leave-one-out residual ``[L, A, n, t]`` (implies ``loo``).
        max_bytes: memory budget of the working tensors of one chunk of layers (default 1 GiB).
        num_threads: run with this many torch threads (restored afterwards); ``None`` leaves the setting.

    Returns:
        A :class:`RidgePath`.
    """
    with torch_threads(num_threads):
        return _fit_ridge(X, Y, alphas, standardize, dtype, device, mode, loo, return_loo_residuals, max_bytes)


def _fit_ridge(X: Any, Y: Any, alphas: Any, standardize: bool, dtype: Any, device: Any, mode: str, loo: bool,
               return_loo_residuals: bool, max_bytes: int | None) -> RidgePath:
    if mode not in ("auto", "primal", "dual"):
        raise ConfigError(f"mode must be 'auto', 'primal' or 'dual', got {mode!r}.")
    Xl = as_layers(X)
    L, n, d = Xl.shape
    dev = resolve_device(device, X)
    wdt = resolve_dtype(dtype)
    grid = as_grid(alphas, "alphas")
    A = len(grid)
    Yt = Y.detach() if isinstance(Y, torch.Tensor) else torch.as_tensor(np.asarray(Y, dtype=np.float64))
    Yt = Yt.to(device=dev, dtype=wdt)
    if Yt.ndim == 1:
        Yt = Yt[:, None]
    if Yt.ndim != 2 or Yt.shape[0] != n:
        raise DataError(f"targets must be [n] or [n, t] with n={n}, got shape {tuple(Yt.shape)}.")
    if not bool(torch.isfinite(Yt).all()):
        raise DataError("targets contain NaN or infinity; clean them before fitting.")
    t = Yt.shape[1]
    primal = mode == "primal" or (mode == "auto" and n >= d)
    want_loo = loo or return_loo_residuals
    es = torch.finfo(wdt).bits // 8
    m = d if primal else n
    per_layer = es * (n * d * (2 if want_loo else 1) + 2 * m * m + A * d * t + (A * n * t * 2 if want_loo else 0))

    al = torch.tensor(grid, dtype=wdt, device=dev)
    coef = torch.empty(L, A, d, t, dtype=wdt, device=dev)
    intercept = torch.empty(L, A, t, dtype=wdt, device=dev)
    means = torch.empty(L, d, dtype=torch.float64, device=dev)
    scales = torch.empty(L, d, dtype=torch.float64, device=dev)
    loo_mse = torch.empty(L, A, t, dtype=wdt, device=dev) if want_loo else None
    loo_res = torch.empty(L, A, n, t, dtype=wdt, device=dev) if return_loo_residuals else None
    y_mean = Yt.mean(dim=0)
    Yc = Yt - y_mean

    for sl in chunks(L, per_layer, max_bytes):
        Xb = layer_block(Xl, sl, wdt, dev, check_finite=False)
        mean, scale = center_scale_(Xb, standardize)
        means[sl], scales[sl] = mean, scale
        G = Xb.shape[0]
        if primal:
            lam, V = torch.linalg.eigh(Xb.transpose(1, 2) @ Xb)  # [G, d], [G, d, d]
            lam = lam.clamp_min(0)
            Q = V.transpose(1, 2) @ (Xb.transpose(1, 2) @ Yc)  # [G, d, t]
            inv = 1.0 / (lam[:, None, :] + al[None, :, None])  # [G, A, d]
            Qa = Q[:, None] * inv[..., None]  # [G, A, d, t]
            Qf = Qa.permute(0, 2, 1, 3).reshape(G, d, A * t)  # all alphas as the columns of one product
            w = (V @ Qf).reshape(G, d, A, t).permute(0, 2, 1, 3)  # [G, A, d, t]
            if want_loo:
                B = Xb @ V  # [G, n, d]
                h = (B.square() @ inv.transpose(1, 2)) + 1.0 / n  # [G, n, A]
                fit = (B @ Qf).reshape(G, n, A, t).permute(0, 2, 1, 3)  # [G, A, n, t] centred predictions
        else:
            lam, U = torch.linalg.eigh(Xb @ Xb.transpose(1, 2))  # [G, n], [G, n, n]
            lam = lam.clamp_min(0)
            UY = U.transpose(1, 2) @ Yc  # [G, n, t]
            inv = 1.0 / (lam[:, None, :] + al[None, :, None])  # [G, A, n]
            c = (U @ (UY[:, None] * inv[..., None]).permute(0, 2, 1, 3).reshape(G, n, A * t))
            c = c.reshape(G, n, A, t).permute(0, 2, 1, 3)  # [G, A, n, t] dual coefficients
            w = (Xb.transpose(1, 2) @ c.permute(0, 2, 1, 3).reshape(G, n, A * t)).reshape(G, d, A, t)
            w = w.permute(0, 2, 1, 3)
            if want_loo:
                shrink = lam[:, None, :] * inv  # [G, A, n]
                h = (U.square() @ shrink.transpose(1, 2)) + 1.0 / n  # [G, n, A]
                fit = (U @ (UY[:, None] * shrink[..., None]).permute(0, 2, 1, 3).reshape(G, n, A * t))
                fit = fit.reshape(G, n, A, t).permute(0, 2, 1, 3)  # [G, A, n, t]
        w = w / scale.to(wdt)[:, None, :, None]
        coef[sl] = w
        intercept[sl] = y_mean - torch.einsum("gadt,gd->gat", w, mean.to(wdt))
        if want_loo:
            res = (Yc[None, None] - fit) / (1.0 - h.transpose(1, 2))[..., None]  # [G, A, n, t]
            loo_mse[sl] = res.square().mean(dim=2)
            if loo_res is not None:
                loo_res[sl] = res
        del Xb
    return RidgePath(
        coef=coef,
        intercept=intercept,
        alphas=al,
        mean=means,
        scale=scales,
        loo_mse=loo_mse,
        loo_residuals=loo_res,
    )
