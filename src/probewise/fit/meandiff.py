"""Difference-of-means ("mass-mean") probes for every layer, optionally whitened (LDA-like).

Direction: for two classes ``v = mu_1 - mu_0``; for ``k > 2`` one direction per class, ``v_c = mu_c - mu``
(class mean minus the grand mean of all examples). With ``whiten=True`` each direction becomes
``Sigma^+ v`` where ``Sigma`` is the pooled within-class covariance (examples minus their class mean,
divided by ``n``), shrunk towards ``trace(Sigma)/d * I``: ``(1 - s) Sigma + s trace(Sigma)/d I`` with ``s``
given or the Ledoit-Wolf estimate (``shrinkage="auto"``, the formula of
``sklearn.covariance.ledoit_wolf_shrinkage`` on the pooled residuals). Features after LayerNorm make
``Sigma`` exactly singular, so the inverse is a pseudo-inverse: eigenvalues below ``rcond`` times the
largest are dropped.

Threshold (``threshold=``):

* ``"midpoint"`` (default): the decision boundary passes through the midpoint of the class means,
  ``b = -v . (mu_0 + mu_1) / 2``; for ``k > 2`` the rule is the nearest class mean in the metric of the
  directions, ``score_c(x) = v_c . (x - mu) - v_c . (mu_c - mu) / 2`` (equal priors).
* ``"logistic"``: the projections ``x . v`` are fed to a weakly regularized logistic regression
  (``C = 1e4`` on standardized projections, :func:`probewise.fit.fit_logistic`), which fits the scale and
  the offsets; the direction is unchanged, the scores become calibrated log-odds.

Example:
    >>> import torch
    >>> from probewise.fit import fit_meandiff
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(2, 100, 8, generator=g, dtype=torch.float64)
    >>> y = (torch.arange(100) % 2)
    >>> X[:, y == 1, 0] += 3.0
    >>> fit = fit_meandiff(X, y)
    >>> fit.coef.shape, bool((fit.predict(X) == y).float().mean() > 0.9)
    (torch.Size([2, 8, 1]), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from probewise.errors import ConfigError
from probewise.fit._common import (
    as_layers,
    chunks,
    encode_labels,
    layer_block,
    layer_inputs,
    resolve_device,
    resolve_dtype,
    torch_threads,
)

__all__ = ["MeanDiffFit", "fit_meandiff", "ledoit_wolf_shrinkage"]


@dataclass
class MeanDiffFit:
    """Mean-difference probes of every layer.

    Attributes:
        coef: ``[L, d, k]`` directions (``k = 1`` for two classes, else one per class).
        intercept: ``[L, k]``.
        classes: the sorted class labels.
        class_means: ``[L, n_classes, d]``.
        shrinkage: ``[L]`` the shrinkage used (``nan`` when ``whiten=False``).
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    classes: np.ndarray
    class_means: torch.Tensor
    shrinkage: torch.Tensor

    def decision_function(self, X: Any) -> torch.Tensor:
        """Scores ``[L, m, k]`` of features ``X [L, m, d]`` (or ``[m, d]`` applied to every layer)."""
        Xt = layer_inputs(X, self.coef)
        return Xt @ self.coef + self.intercept[:, None, :]

    def predict(self, X: Any) -> torch.Tensor:
        """Predicted class indices ``[L, m]``."""
        z = self.decision_function(X)
        if z.shape[-1] == 1:
            return (z[..., 0] > 0).long()
        return z.argmax(dim=-1)


def ledoit_wolf_shrinkage(R: torch.Tensor) -> torch.Tensor:
    """Ledoit-Wolf shrinkage of centred data ``R [G, n, d]`` (scikit-learn's formula), per layer ``[G]``."""
    n, d = R.shape[1], R.shape[2]
    R2 = R.square()
    emp_trace = R2.sum(dim=1) / n  # [G, d] diagonal of the covariance
    mu = emp_trace.sum(dim=1) / d  # [G]
    S = R.transpose(1, 2) @ R  # [G, d, d]  (n * covariance)
    beta_ = (R2.transpose(1, 2) @ R2).sum(dim=(1, 2))
    delta_ = S.square().sum(dim=(1, 2)) / n**2
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * emp_trace.sum(dim=1) + d * mu**2) / d
    beta = torch.minimum(beta, delta)
    return torch.where(beta == 0, torch.zeros_like(beta), beta / delta.clamp_min(torch.finfo(R.dtype).tiny))


def fit_meandiff(
    X: Any,
    y: Any,
    *,
    whiten: bool = False,
    shrinkage: str | float | None = "auto",
    threshold: str = "midpoint",
    rcond: float = 1e-6,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device | None = None,
    max_bytes: int | None = None,
    num_threads: int | None = None,
) -> MeanDiffFit:
    """Fit a difference-of-means probe on every layer of ``X``.

    Args:
        X: features ``[L, n, d]`` or ``[n, d]``.
        y: labels ``[n]`` (at least two classes).
        whiten: multiply the directions by the pseudo-inverse of the shrunk pooled within-class covariance.
        shrinkage: ``"auto"`` (Ledoit-Wolf), a float in ``[0, 1]``, or ``None`` (no shrinkage); used only
            when ``whiten=True``.
        threshold: ``"midpoint"`` or ``"logistic"`` (see the module docstring).
        rcond: eigenvalues of the covariance below ``rcond * max`` are treated as zero.
        dtype: ``"float64"`` (default) or ``"float32"``.
        device: where to compute; default: the device of ``X`` if it is a tensor, else CPU.
        max_bytes: memory budget of the working tensors of one chunk of layers (default 1 GiB).
        num_threads: run with this many torch threads (restored afterwards); ``None`` leaves the setting.

    Returns:
        A :class:`MeanDiffFit`.
    """
    with torch_threads(num_threads):
        return _fit_meandiff(X, y, whiten, shrinkage, threshold, rcond, dtype, device, max_bytes)


def _fit_meandiff(X: Any, y: Any, whiten: bool, shrinkage: Any, threshold: str, rcond: float, dtype: Any,
                  device: Any, max_bytes: int | None) -> MeanDiffFit:
    if threshold not in ("midpoint", "logistic"):
        raise ConfigError(f"threshold must be 'midpoint' or 'logistic', got {threshold!r}.")
    if shrinkage is not None and shrinkage != "auto":
        if isinstance(shrinkage, bool) or not isinstance(shrinkage, int | float) or not 0 <= shrinkage <= 1:
            raise ConfigError(f"shrinkage must be 'auto', None or a number in [0, 1], got {shrinkage!r}.")
    if not (isinstance(rcond, int | float) and 0 <= rcond < 1):
        raise ConfigError(f"rcond must be a number in [0, 1), got {rcond!r}.")
    Xl = as_layers(X)
    L, n, d = Xl.shape
    dev = resolve_device(device, X)
    wdt = resolve_dtype(dtype)
    codes, classes = encode_labels(y, n, dev)
    nc = len(classes)
    k = 1 if nc == 2 else nc
    onehot = torch.nn.functional.one_hot(codes, nc).to(wdt)  # [n, nc]
    counts = onehot.sum(dim=0)
    es = torch.finfo(wdt).bits // 8
    m = min(n, d)
    per_layer = es * (2 * n * d + (3 * m * m + d * m if whiten else 0) + 4 * nc * d)

    coef = torch.empty(L, d, k, dtype=wdt, device=dev)
    intercept = torch.empty(L, k, dtype=wdt, device=dev)
    cmeans = torch.empty(L, nc, d, dtype=wdt, device=dev)
    shrink_out = torch.full((L,), float("nan"), dtype=torch.float64, device=dev)

    for sl in chunks(L, per_layer, max_bytes):
        Xb = layer_block(Xl, sl, wdt, dev)
        G = Xb.shape[0]
        mu_c = (onehot.T @ Xb) / counts[None, :, None]  # [G, nc, d]
        mu = Xb.mean(dim=1)  # [G, d]
        cmeans[sl] = mu_c
        if k == 1:
            V = (mu_c[:, 1] - mu_c[:, 0])[:, :, None]  # [G, d, 1]
            center = 0.5 * (mu_c[:, 0] + mu_c[:, 1])  # [G, d]
        else:
            V = (mu_c - mu[:, None, :]).transpose(1, 2)  # [G, d, k]
            center = mu
        if whiten:
            R = Xb - mu_c[:, codes]  # within-class residuals [G, n, d]
            if shrinkage == "auto":
                s = ledoit_wolf_shrinkage(R)
            else:
                s = torch.full((G,), float(shrinkage or 0.0), dtype=wdt, device=dev)
            shrink_out[sl] = s.to(torch.float64)
            V = _whiten(R, V, s, rcond)
            del R
        if k == 1:
            b = -(center[:, None, :] @ V)[:, 0, :]  # [G, 1]
        else:
            diff = (mu_c - mu[:, None, :])  # [G, k, d]
            b = -(mu[:, None, :] @ V)[:, 0, :] - 0.5 * (diff * V.transpose(1, 2)).sum(dim=2)
        coef[sl] = V
        intercept[sl] = b
    fit = MeanDiffFit(coef=coef, intercept=intercept, classes=classes, class_means=cmeans, shrinkage=shrink_out)
    if threshold == "logistic":
        _calibrate(fit, Xl, codes, dev, wdt, max_bytes)
    return fit


def _whiten(R: torch.Tensor, V: torch.Tensor, s: torch.Tensor, rcond: float) -> torch.Tensor:
    """``Sigma^+ V`` for ``Sigma = (1-s) R^T R / n + s tr/d I`` from the eigendecomposition of the smaller
    of ``R^T R`` and ``R R^T``; eigenvalues below ``rcond * max`` count as zero."""
    G, n, d = R.shape
    if d <= n:
        lam, E = torch.linalg.eigh(R.transpose(1, 2) @ R)  # [G, d], [G, d, d]
    else:
        lam, Uk = torch.linalg.eigh(R @ R.transpose(1, 2))  # [G, n], [G, n, n]
        keep = lam > lam.amax(dim=1, keepdim=True) * (n * torch.finfo(R.dtype).eps)
        inv_sqrt = torch.where(keep, lam.clamp_min(torch.finfo(R.dtype).tiny).rsqrt(), torch.zeros_like(lam))
        E = R.transpose(1, 2) @ (Uk * inv_sqrt[:, None, :])  # [G, d, n] orthonormal columns (or zero)
        lam = torch.where(keep, lam, torch.zeros_like(lam))
    lam = lam.clamp_min(0) / n
    tr_mean = lam.sum(dim=1) / d  # trace(Sigma) / d
    sv = s.to(lam.dtype)[:, None]
    spec = (1 - sv) * lam + sv * tr_mean[:, None]  # eigenvalues of the shrunk covariance on span(E)
    floor = sv[:, 0] * tr_mean  # eigenvalue on the complement of span(E)
    top = torch.maximum(spec.amax(dim=1), floor)
    cut = rcond * top
    inv = torch.where(spec > cut[:, None], 1.0 / spec.clamp_min(torch.finfo(R.dtype).tiny), torch.zeros_like(spec))
    proj = E.transpose(1, 2) @ V  # [G, r, k]
    out = E @ (proj * inv[:, :, None])
    if d > n:  # the complement of span(E) has eigenvalue s * tr/d
        inv_floor = torch.where(floor > cut, 1.0 / floor.clamp_min(torch.finfo(R.dtype).tiny), torch.zeros_like(floor))
        out = out + (V - E @ proj) * inv_floor[:, None, None]
    return out


def _calibrate(fit: MeanDiffFit, Xl: Any, codes: torch.Tensor, dev: torch.device, wdt: torch.dtype,
               max_bytes: int | None) -> None:
    """Replace the midpoint threshold by a logistic fit on the projections (scale and offsets)."""
    from probewise.fit.logistic import fit_logistic

    L = fit.coef.shape[0]
    proj = torch.empty(L, Xl.shape[1], fit.coef.shape[2], dtype=wdt, device=dev)
    for sl in chunks(L, 1, 1):
        proj[sl] = layer_block(Xl, sl, wdt, dev) @ fit.coef[sl]
    path = fit_logistic(proj, codes, [1e4], standardize=True, tol=1e-8, max_iter=500, dtype=wdt, device=dev,
                        max_bytes=max_bytes)
    A = path.coef[:, 0].to(wdt)  # [L, k_proj, k]
    c = path.intercept[:, 0].to(wdt)  # [L, k]
    fit.coef = fit.coef @ A
    fit.intercept = c
