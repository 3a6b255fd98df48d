"""Ridge regression and ridge classification for every layer and every alpha from one decomposition per layer.

One problem is scikit-learn's ``Ridge(alpha, fit_intercept=True)``::

    ||Y - X W - 1 b||^2 + alpha * ||W||^2          (intercept not penalized)

and the classifier is ``RidgeClassifier``: targets ``+1``/``-1`` (one column for two classes, the positive
one being ``classes[1]``; one column per class otherwise), prediction by sign or argmax.

With ``X`` centred, ``W(alpha) = (X^T X + alpha I)^-1 X^T Y``. Per layer one symmetric eigendecomposition
gives every alpha at once: of the ``d x d`` Gram matrix when ``n >= d`` (primal) or of the ``n x n`` kernel
``X X^T`` when ``d > n`` (dual). The same decomposition gives the exact leave-one-out residuals of every
alpha, ``e_i = (y_i - yhat_i) / (1 - h_ii)`` with the hat matrix ``H = 11^T/n + X (X^T X + alpha I)^-1 X^T``
(what ``RidgeCV``/``RidgeClassifierCV`` use to choose alpha).

Without leave-one-out residuals, a primal float64 fit on the CPU does not need eigenvectors: one Householder
reduction of the Gram matrix to tridiagonal form, ``Q T Q^T``, costs about a third of an eigendecomposition,
and each alpha is then a tridiagonal solve (``solver="tridiagonal"``, taken by ``"auto"``; see
:mod:`probewise.fit._tridiag`).

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
    _NOT_FINITE,
    as_grid,
    as_layers,
    center_scale_,
    chunks,
    column_scale,
    encode_labels,
    layer_block,
    layer_inputs,
    resolve_device,
    resolve_dtype,
    torch_threads,
)
from probewise.fit._tridiag import shifted_solves

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
    solver: str = "auto",
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
        solver=solver,
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
    solver: str = "auto",
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
        mode: ``"primal"`` (decompose the ``d x d`` Gram matrix ``X^T X``), ``"dual"`` (the ``n x n`` kernel
            ``X X^T``) or ``"auto"`` (primal when ``n >= d``).
        solver: ``"eigh"`` (one eigendecomposition per layer), ``"tridiagonal"`` (one Householder reduction
            ``Q T Q^T`` of the Gram matrix per layer, then a tridiagonal solve per alpha: about 2x faster on
            CPU; primal, float64, CPU, without leave-one-out only) or ``"auto"`` (tridiagonal wherever it
            applies). Both give the same solution to rounding.
        loo: also compute the mean squared leave-one-out residuals ``[L, A, t]``.
        return_loo_residuals: also keep every leave-one-out residual ``[L, A, n, t]`` (implies ``loo``).
        max_bytes: memory budget of the working tensors of one chunk of layers (default 1 GiB) for
            ``eigh``; ``tridiagonal`` works one layer at a time (a ``d x d`` matrix and a 16 MiB buffer).
        num_threads: run with this many torch threads (restored afterwards); ``None`` leaves the setting.

    Returns:
        A :class:`RidgePath`.
    """
    with torch_threads(num_threads):
        return _fit_ridge(X, Y, alphas, standardize, dtype, device, mode, solver, loo, return_loo_residuals,
                          max_bytes)


SOLVERS = ("auto", "eigh", "tridiagonal")

#: Elements of a layer's rows converted to float64 at a time by the tridiagonal path (16 MiB).
_BLOCK_ELEMS = 1 << 21


def _fit_ridge(X: Any, Y: Any, alphas: Any, standardize: bool, dtype: Any, device: Any, mode: str, solver: str,
               loo: bool, return_loo_residuals: bool, max_bytes: int | None) -> RidgePath:
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
    tridiagonal = _use_tridiagonal(solver, primal, want_loo, dev, wdt)

    al = torch.tensor(grid, dtype=wdt, device=dev)
    coef = torch.empty(L, A, d, t, dtype=wdt, device=dev)
    intercept = torch.empty(L, A, t, dtype=wdt, device=dev)
    means = torch.empty(L, d, dtype=torch.float64, device=dev)
    scales = torch.empty(L, d, dtype=torch.float64, device=dev)
    loo_mse = torch.empty(L, A, t, dtype=wdt, device=dev) if want_loo else None
    loo_res = torch.empty(L, A, n, t, dtype=wdt, device=dev) if return_loo_residuals else None
    y_mean = Yt.mean(dim=0)
    Yc = Yt - y_mean

    if tridiagonal:  # one layer at a time: its normal equations, then their reduction
        blocks: Any = (slice(i, i + 1) for i in range(L))
    else:
        es = torch.finfo(wdt).bits // 8
        m = d if primal else n
        per_layer = es * (n * d * (2 if want_loo else 1) + 2 * m * m + A * d * t + (A * n * t * 2 if want_loo else 0))
        blocks = chunks(L, per_layer, max_bytes)
    for sl in blocks:
        part = _tridiagonal_layer(Xl, sl.start, Yc, grid, standardize) if tridiagonal else None
        if part is None:  # the eigendecomposition path (or the fallback of a layer the reduction could not take)
            part = _eigh_layers(Xl, sl, Yc, al, wdt, dev, standardize, primal, want_loo)
        w, mean, scale, res = part
        means[sl], scales[sl] = mean, scale
        w = w / scale.to(wdt)[:, None, :, None]
        coef[sl] = w
        intercept[sl] = y_mean - torch.einsum("gadt,gd->gat", w, mean.to(wdt))
        if want_loo:
            loo_mse[sl] = res.square().mean(dim=2)
            if loo_res is not None:
                loo_res[sl] = res
    return RidgePath(
        coef=coef,
        intercept=intercept,
        alphas=al,
        mean=means,
        scale=scales,
        loo_mse=loo_mse,
        loo_residuals=loo_res,
    )


def _use_tridiagonal(solver: str, primal: bool, want_loo: bool, dev: torch.device, wdt: torch.dtype) -> bool:
    """Whether to solve by tridiagonal reduction: ``"auto"`` takes it wherever it applies."""
    if solver not in SOLVERS:
        raise ConfigError(f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {solver!r}.")
    why = None
    if not primal:
        why = "it solves the primal problem (n >= d, or mode='primal')"
    elif want_loo:
        why = "leave-one-out residuals need the eigendecomposition (loo=False)"
    elif dev.type != "cpu":
        why = "it runs LAPACK on the CPU (device='cpu')"
    elif wdt != torch.float64:
        why = "it computes in float64 (dtype='float64')"
    if solver == "tridiagonal" and why is not None:
        raise ConfigError(f"solver='tridiagonal' cannot be used here: {why}; or use solver='eigh'.")
    return solver == "tridiagonal" or (solver == "auto" and why is None)


def _tridiagonal_layer(Xl: Any, layer: int, Yc: torch.Tensor, grid: list[float], standardize: bool) -> Any:
    """Every alpha of one layer (primal, float64, CPU): its normal equations, then one tridiagonal reduction
    (:func:`probewise.fit._tridiag.shifted_solves`).

    Returns:
        ``(w [1, A, d, t] in standardized space, mean [1, d], scale [1, d], None)``, or ``None`` when some
        alpha is below the rounding error of the smallest eigenvalues (the caller falls back to ``eigh``,
        which clamps them at zero).
    """
    S, R, mean, scale = _normal_equations(Xl, layer, Yc, standardize)
    W = shifted_solves(S.numpy(), R.numpy(), grid)
    return None if W is None else (torch.from_numpy(W)[None], mean[None], scale[None], None)


def _normal_equations(Xl: Any, layer: int, Yc: torch.Tensor, standardize: bool) -> tuple[torch.Tensor, ...]:
    """The standardized ``X^T X`` (upper triangle only) and ``X^T Y`` of one layer, float64 on the CPU, with
    the column means and scales: ``(S [d, d], R [d, t], mean [d], scale [d])``.

    Rows are converted to float64 a block at a time into one buffer and centred on the exact float64 mean;
    the upper triangle of the Gram matrix is formed in 4 column blocks. The column variances are its diagonal,
    so the features are never rescaled: the Gram matrix and ``X^T Y`` are, a ``d x d`` operation.
    """
    f64 = torch.float64
    raw = Xl[layer : layer + 1][0]  # a tensor, or an array (maybe a read-only memmap: never made a tensor)
    n, d = raw.shape
    rows = max(1, min(n, _BLOCK_ELEMS // d))
    buf = torch.empty(rows, d, dtype=f64)
    spans = [(s, min(n, s + rows)) for s in range(0, n, rows)]
    exact = torch.zeros(d, dtype=f64)

    def fill(x: torch.Tensor, s: int, e: int) -> None:
        if isinstance(raw, torch.Tensor):
            x.copy_(raw[s:e])
        else:
            np.copyto(x.numpy(), raw[s:e], casting="unsafe")

    for s, e in spans:
        x = buf[: e - s]
        fill(x, s, e)
        exact += x.sum(dim=0)
    exact /= n
    if not bool(torch.isfinite(exact).all()):
        raise DataError(_NOT_FINITE)
    k = 4 if d >= 256 else 1
    edges = [round(i * d / k) for i in range(k + 1)]
    S = torch.zeros(d, d, dtype=f64)
    R = torch.zeros(d, Yc.shape[1], dtype=f64)
    Ycpu = Yc.to(device="cpu", dtype=f64)
    for s, e in spans:
        x = buf[: e - s]
        if len(spans) > 1:
            fill(x, s, e)
        x.sub_(exact)
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            S[a:b, a:] += x[:, a:b].T @ x[:, a:]
        R += x.T @ Ycpu[s:e]
    if standardize:
        scale = column_scale(S.diagonal() / n, exact, n)
        S /= scale[:, None] * scale[None, :]
        R /= scale[:, None]
    else:
        scale = torch.ones(d, dtype=f64)
    return S, R, exact, scale


def _eigh_layers(Xl: Any, sl: slice, Yc: torch.Tensor, al: torch.Tensor, wdt: torch.dtype, dev: torch.device,
                 standardize: bool, primal: bool, want_loo: bool) -> Any:
    """Every alpha of layers ``sl`` from one eigendecomposition per layer, with the leave-one-out residuals
    if asked: ``(w [G, A, d, t] in standardized space, mean [G, d], scale [G, d], residuals [G, A, n, t] | None)``.
    """
    Xb = layer_block(Xl, sl, wdt, dev, check_finite=False)
    mean, scale = center_scale_(Xb, standardize)
    G, n, d = Xb.shape
    A, t = len(al), Yc.shape[1]
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
    res = (Yc[None, None] - fit) / (1.0 - h.transpose(1, 2))[..., None] if want_loo else None  # [G, A, n, t]
    return w, mean, scale, res
