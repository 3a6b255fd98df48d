"""Ridge for every alpha from features streamed shard by shard: memory `O(d²)`, never `O(n·d)`.

Example:
    >>> import torch
    >>> from probewise.fit.streaming import RidgeAccumulator
    >>> acc = RidgeAccumulator()
    >>> ones = torch.ones(4, 1, dtype=torch.float64)
    >>> for _ in range(3):
    ...     X = torch.randn(50, 4, dtype=torch.float64); acc.update(X, X @ ones)
    >>> coef, intercept = acc.solve([1e-6])
    >>> torch.allclose(coef[0], ones, atol=1e-4)
    True

The sufficient statistics of ridge with an intercept (and of standardization) are sums: the count, the
column sums, `XᵀX`, the target sums and `XᵀY`. They are accumulated in float64 one batch at a time (one
store shard in memory at a time), then one eigendecomposition of the standardized, centred Gram matrix
gives every alpha at once. The result equals `StandardScaler` + `Ridge(alpha)` fitted on all rows.

The same one-shard-at-a-time reading serves the other sweep probes (`ShardStream` over a store split):
`fit_meandiff_streaming` (class means and the pooled within-class scatter, merged shard by shard with Chan's
update, then the logistic threshold on the `[n]` projections) and `fit_logistic_streaming` (full-batch L-BFGS over
every C at once, one pass over the shards per objective/gradient evaluation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from probewise.errors import ConfigError, DataError
from probewise.fit.logistic import LogisticPath, fit_logistic

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
                                   standardize: bool = True, labels: np.ndarray | None = None
                                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """`RidgeClassifier` targets (±1 one-vs-all) on one store layer, read one shard at a time.

    Returns `coef [A, d, t]`, `intercept [A, t]` (t = 1 for two classes, else one column per class present in
    the split). `labels` (aligned with `store.indices(split)`) replace the store's labels.
    """
    return fit_ridge_streaming(ShardStream(store, layer, split, labels), alphas, standardize)


# --------------------------------------------------------------------------------------------------------
# Shard streams of a store split, with label codes and value checks.

#: Bytes of one float64 row block (a shard is cut into blocks of about this size before it is widened).
BLOCK_BYTES = 16 << 20


def block_rows(d: int) -> int:
    """Rows of width `d` per streamed block: about `BLOCK_BYTES` once converted to float64."""
    return max(256, BLOCK_BYTES // (8 * d))


def checked_batches(store, layer: int | str, split: str | None) -> Iterator[tuple[torch.Tensor, np.ndarray]]:
    """`store.iter_batches(layer, split)` as float32 blocks of at most `BLOCK_BYTES` of float64 rows (never a
    whole shard at once), raising `DataError` (naming the layer) on NaN/inf."""
    name = store.resolve_layer(layer)
    rows = block_rows(store.dims[name])
    for X, idx in store.iter_batches(name, split, dtype=torch.float32, max_rows=rows):
        finite = torch.isfinite(X).all(dim=1)
        if not bool(finite.all()):
            bad = int(idx[int((~finite).nonzero()[0, 0])])
            raise DataError(f"layer {name!r} of store {store.root} holds NaN/inf features (example {bad} first); "
                            "re-extract that layer (with model_dtype float32) or drop the example.")
        yield X, idx


class ShardStream:
    """One layer × split of a pooled store as float32 row blocks with label codes, one shard in memory at a time.

    `labels` (aligned with `store.indices(split)`) replace the store's labels; labels are encoded as indices
    into their sorted unique values (`classes`), like the in-memory solvers do. Iterating yields
    `(X [r, d] float32, codes [r] int64, positions [r])`, positions into `store.indices(split)`.

    Raises:
        DataError: an empty split, labels of the wrong length, fewer than two classes; while iterating, a
            shard holding NaN or infinity (naming the layer and the first bad example).
    """

    def __init__(self, store, layer: int | str, split: str = "train", labels: np.ndarray | None = None) -> None:
        self.store, self.layer, self.split = store, store.resolve_layer(layer), split
        self.indices = store.indices(split)
        n = len(self.indices)
        if n == 0:
            raise DataError(f"split {split!r} of store {store.root} is empty; nothing to fit on layer {self.layer!r}.")
        lab = np.asarray(store.labels)[self.indices] if labels is None else np.asarray(labels)
        if lab.ndim != 1 or lab.shape[0] != n:
            raise DataError(f"labels must be a vector of length {n} (one per {split!r} example of "
                            f"{store.root}), got shape {lab.shape}.")
        classes, codes = np.unique(lab, return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"split {split!r} of store {store.root} has a single class ({classes.tolist()!r}); "
                            f"a probe on layer {self.layer!r} needs at least two.")
        self.classes: np.ndarray = classes
        self.codes = np.asarray(codes, dtype=np.int64).reshape(-1)
        self.n, self.d = n, int(store.dims[self.layer])
        self.rows = block_rows(self.d)

    def shards(self) -> Iterator[tuple[torch.Tensor, np.ndarray]]:
        """`(X [rows, d] float32, positions [rows])` per shard, checked for NaN/inf."""
        for X, idx in checked_batches(self.store, self.layer, self.split):
            yield X, np.searchsorted(self.indices, idx)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, np.ndarray]]:
        for X, pos in self.shards():
            codes = torch.as_tensor(self.codes[pos])
            for s in range(0, len(pos), self.rows):
                yield X[s:s + self.rows], codes[s:s + self.rows], pos[s:s + self.rows]


class ScatterAccumulator:
    """Counts, means and the pooled within-group scatter `Σ_g Σ_{i∈g} (x_i - μ_g)(x_i - μ_g)ᵀ`, in float64.

    Blocks are centred on their own group means and merged with Chan's update, so the scatter keeps its
    precision when the means are large next to the spread (no `XᵀX - n μμᵀ` cancellation). With one group
    the scatter is the centred Gram matrix and its diagonal / n the population variance.
    """

    def __init__(self, n_groups: int, d: int) -> None:
        self.counts = torch.zeros(n_groups, dtype=_F64)
        self.means = torch.zeros(n_groups, d, dtype=_F64)
        self.scatter = torch.zeros(d, d, dtype=_F64)

    def update(self, X: torch.Tensor, groups: torch.Tensor) -> None:
        """Add rows `X [r, d]` of groups `groups [r]` (int64 in `[0, n_groups)`)."""
        X = X.to(_F64)
        onehot = torch.nn.functional.one_hot(groups, self.counts.shape[0]).to(_F64)  # [r, g]
        nb = onehot.sum(0)
        mb = (onehot.T @ X) / nb.clamp_min(1.0)[:, None]
        R = X - mb[groups]
        self.scatter += R.T @ R
        na = self.counts
        n = na + nb
        delta = mb - self.means
        w = torch.where(n > 0, na * nb / n.clamp_min(1.0), torch.zeros_like(n))
        self.scatter += (delta * w[:, None]).T @ delta
        self.means += delta * torch.where(n > 0, nb / n.clamp_min(1.0), torch.zeros_like(n))[:, None]
        self.counts = n


# --------------------------------------------------------------------------------------------------------
# Ridge classifier with labels, mean difference and logistic regression, streamed.

def fit_ridge_streaming(stream: ShardStream, alphas: Sequence[float], standardize: bool = True
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """`RidgeClassifier` (±1 one-vs-all targets) of every alpha from one pass: `coef [A, d, t]`, `intercept [A, t]`.

    Example:
        >>> # coef, intercept = fit_ridge_streaming(ShardStream(store, "3"), [0.1, 1.0, 10.0])
    """
    k = len(stream.classes)
    acc = RidgeAccumulator()
    for X, codes, _ in stream:
        Y = torch.nn.functional.one_hot(codes, k).to(_F64) * 2 - 1
        acc.update(X, Y[:, 1:] if k == 2 else Y)
    return acc.solve(alphas, standardize)


def fit_meandiff_streaming(stream: ShardStream, shrinkages: Sequence[float], rcond: float = 1e-6
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """`fit_meandiff(..., threshold="logistic")` for every value from two passes: `coef [G, d, k]`, `intercept [G, k]`.

    A value `v < 1` whitens with shrinkage `v`, `v >= 1` does not whiten (the sweep's meandiff grid). Pass one
    accumulates class counts, class means and the pooled within-class scatter (float64); pass two projects the
    rows on every direction (`[G, n, k]`, small) for the logistic threshold, fitted by `fit_logistic` exactly as
    the in-memory probe does.

    Example:
        >>> # coef, intercept = fit_meandiff_streaming(ShardStream(store, "3"), [0.0, 0.1, 1.0])
    """
    vals = [float(v) for v in shrinkages]
    if not vals or any(not np.isfinite(v) or v < 0 for v in vals):
        raise ConfigError(f"meandiff values must be finite shrinkages >= 0 (>= 1: no whitening), got "
                          f"{list(shrinkages)}.")
    nc, d, n = len(stream.classes), stream.d, stream.n
    k = 1 if nc == 2 else nc
    acc = ScatterAccumulator(nc, d)
    for X, codes, _ in stream:
        acc.update(X, codes)
    mu_c = acc.means
    mu = (acc.counts[:, None] * mu_c).sum(0) / n
    V0 = (mu_c[1] - mu_c[0])[:, None] if k == 1 else (mu_c - mu).T  # [d, k]
    directions = []
    if any(v < 1.0 for v in vals):
        lam, E = torch.linalg.eigh((acc.scatter + acc.scatter.T) / 2)
        lam = lam.clamp_min(0) / n
        tr_mean = lam.sum() / d
        proj = E.T @ V0
    for v in vals:
        if v >= 1.0:
            directions.append(V0)
            continue
        spec = (1 - v) * lam + v * tr_mean  # the shrunk covariance's eigenvalues (as fit_meandiff's _whiten)
        top = torch.maximum(spec.max(), v * tr_mean)
        inv = torch.where(spec > rcond * top, 1.0 / spec.clamp_min(torch.finfo(_F64).tiny), torch.zeros_like(spec))
        directions.append(E @ (proj * inv[:, None]))
    V = torch.stack(directions)  # [G, d, k]
    G = V.shape[0]
    P = torch.empty(G, n, k, dtype=_F64)
    Vcat = V.permute(1, 0, 2).reshape(d, G * k)
    for X, _, pos in stream:
        P[:, torch.as_tensor(pos)] = (X.to(_F64) @ Vcat).reshape(-1, G, k).permute(1, 0, 2)
    path = fit_logistic(P, stream.codes, [1e4], standardize=True, tol=1e-8, max_iter=500, dtype=_F64)
    coef = V @ path.coef[:, 0].to(_F64)  # [G, d, k]
    return coef, path.intercept[:, 0].to(_F64)


@dataclass
class StreamedLogistic(LogisticPath):
    """A :class:`~probewise.fit.LogisticPath` of one layer (``L = 1``: ``coef [1, C, d, k]``, float64, the
    objective on standardized features) plus ``n_passes``, the passes over the data (the statistics pass
    included)."""

    n_passes: int = 0


def fit_logistic_streaming(stream: ShardStream, Cs: Sequence[float], *, tol: float = 1e-4, max_iter: int = 500,
                           memory: int = 10) -> StreamedLogistic:
    """L2 logistic regression of every C, full batch, one pass over the shards per objective/gradient evaluation.

    The objective and the stopping rule are `fit_logistic`'s (scikit-learn's): `C Σ loss + ½||W||²` on features
    standardized with the population std (constant columns keep scale 1), intercept unpenalized, binomial loss
    on one logit for two classes, softmax otherwise; stop when the max-abs gradient of `mean loss + ||W||²/(2Cn)`
    is `<= tol`. Method: a first pass accumulates the mean, the variance and the centred Gram matrix (float64,
    `O(d²)`); then all C values run L-BFGS in lockstep (one pass evaluates every problem's loss and gradient at
    its trial point), preconditioned by `(c XᵀX + I)⁻¹` with `c = C · mean p(1-p)` at the current iterate
    (the exact inverse Hessian at the start), with a backtracking line search (Armijo, or a non-positive slope,
    which on a convex objective is a decrease; secant steps on the slope). Everything is float64 and summed in
    shard order: the result is bit-for-bit the same run to run on one machine.

    Example:
        >>> # fit = fit_logistic_streaming(ShardStream(store, "3"), [0.01, 1.0, 100.0])
    """
    if not (isinstance(tol, int | float) and tol >= 0):
        raise ConfigError(f"tol must be a number >= 0, got {tol!r}.")
    if not (isinstance(max_iter, int) and max_iter >= 0):
        raise ConfigError(f"max_iter must be an integer >= 0, got {max_iter!r}.")
    if not (isinstance(memory, int) and memory >= 1):
        raise ConfigError(f"memory must be an integer >= 1, got {memory!r}.")
    grid = [float(c) for c in Cs]
    if not grid or any(not np.isfinite(c) or c <= 0 for c in grid):
        raise ConfigError(f"every C must be finite and > 0, got {list(Cs)}.")
    nc, d, n = len(stream.classes), stream.d, stream.n
    k = 1 if nc == 2 else nc

    # Pass 1: statistics.
    acc = ScatterAccumulator(1, d)
    counts = torch.zeros(nc, dtype=_F64)
    for X, codes, _ in stream:
        acc.update(X, torch.zeros_like(codes))
        counts += torch.bincount(codes, minlength=nc).to(_F64)
    mean = acc.means[0]
    var = torch.diagonal(acc.scatter) / n
    eps = torch.finfo(_F64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2  # StandardScaler's rule, as center_scale_
    scale = torch.where(constant, torch.ones_like(var), var.sqrt())
    Gs = acc.scatter / torch.outer(scale, scale)
    lam, V = torch.linalg.eigh((Gs + Gs.T) / 2)
    lam = lam.clamp_min(0.0)
    del acc, Gs
    prior = counts / n
    b_init = torch.log(prior[1] / prior[0]).reshape(1) if k == 1 else torch.log(prior) - torch.log(prior).mean()

    solver = _Lbfgs(stream, mean, scale, lam, V, k, torch.tensor(grid, dtype=_F64), memory)
    W, b, n_iter, conv, gnorm, obj = solver.run(b_init, tol, max_iter)
    coef = W / scale[None, :, None]
    intercept = b - torch.einsum("d,gdk->gk", mean, coef)
    return StreamedLogistic(coef=coef[None], intercept=intercept[None], Cs=torch.tensor(grid, dtype=_F64),
                            classes=stream.classes, n_iter=n_iter[None], converged=conv[None],
                            grad_norm=gnorm[None], objective=obj[None], mean=mean[None], scale=scale[None],
                            n_passes=solver.passes + 1)


class _Lbfgs:
    """Batched preconditioned L-BFGS over the C values of one layer; every evaluation is one pass."""

    def __init__(self, stream: ShardStream, mean: torch.Tensor, scale: torch.Tensor, lam: torch.Tensor,
                 V: torch.Tensor, k: int, Cs: torch.Tensor, memory: int) -> None:
        self.stream, self.mean, self.scale, self.lam, self.V, self.k = stream, mean, scale, lam, V, k
        self.Cs, self.memory, self.passes = Cs, memory, 0

    def evaluate(self, W: torch.Tensor, b: torch.Tensor, C: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass: objective `[a]`, gradients `[a, d, k]`, `[a, k]` and mean curvature `mean p(1-p)` `[a]`."""
        self.passes += 1
        a, d, k = W.shape
        Weff = W / self.scale[None, :, None]
        beff = b - torch.einsum("d,adk->ak", self.mean, Weff)
        Wcat = Weff.permute(1, 0, 2).reshape(d, a * k)
        loss = torch.zeros(a, dtype=_F64)
        curv = torch.zeros(a, dtype=_F64)
        A = torch.zeros(d, a * k, dtype=_F64)
        sR = torch.zeros(a * k, dtype=_F64)
        for X, codes, _ in self.stream:
            Xd = X.to(_F64)
            Z = (Xd @ Wcat).reshape(-1, a, k) + beff
            if k == 1:
                z = Z[..., 0]
                y = codes.to(_F64)[:, None]
                loss += (z.clamp_min(0) + torch.log1p(torch.exp(-z.abs())) - y * z).sum(0)
                p = torch.sigmoid(z)
                curv += (p * (1 - p)).sum(0)
                R = (p - y)[..., None]
            else:
                onehot = torch.nn.functional.one_hot(codes, k).to(_F64)[:, None, :]
                loss += (torch.logsumexp(Z, 2) - (Z * onehot).sum(2)).sum(0)
                p = torch.softmax(Z, 2)
                curv += (p * (1 - p)).mean(2).sum(0)
                R = p - onehot
            R = (R * C[None, :, None]).reshape(-1, a * k)
            A += Xd.T @ R
            sR += R.sum(0)
        A = A.reshape(d, a, k).permute(1, 0, 2)
        gb = sR.reshape(a, k)
        gW = (A - self.mean[None, :, None] * gb[:, None, :]) / self.scale[None, :, None] + W
        f = C * loss + 0.5 * W.square().sum(dim=(1, 2))
        return f, gW, gb, curv / self.stream.n

    def precondition(self, qW: torch.Tensor, qb: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(c XsᵀXs + I)⁻¹ qW` and `qb / (c n + 1)` per problem (`c [a]`)."""
        T = torch.einsum("de,adk->aek", self.V, qW) / (c[:, None] * self.lam[None, :] + 1.0)[..., None]
        return torch.einsum("de,aek->adk", self.V, T), qb / (c * self.stream.n + 1.0)[:, None]

    def direction(self, gW, gb, c, SW, Sb, YW, Yb, rho):
        """Two-loop recursion (histories newest first, `rho = 0` marks an empty slot): `-H g`."""
        qW, qb = gW.clone(), gb.clone()
        m = rho.shape[1]
        alpha = torch.zeros_like(rho)
        for i in range(m):
            alpha[:, i] = rho[:, i] * ((SW[:, i] * qW).sum((1, 2)) + (Sb[:, i] * qb).sum(1))
            qW -= alpha[:, i, None, None] * YW[:, i]
            qb -= alpha[:, i, None] * Yb[:, i]
        rW, rb = self.precondition(qW, qb, c)
        for i in reversed(range(m)):
            beta = rho[:, i] * ((YW[:, i] * rW).sum((1, 2)) + (Yb[:, i] * rb).sum(1))
            rW += (alpha[:, i] - beta)[:, None, None] * SW[:, i]
            rb += (alpha[:, i] - beta)[:, None] * Sb[:, i]
        return -rW, -rb

    def run(self, b_init: torch.Tensor, tol: float, max_iter: int) -> tuple[torch.Tensor, ...]:
        G, d, k, n, m = self.Cs.shape[0], self.V.shape[0], self.k, self.stream.n, self.memory
        C = self.Cs
        W = torch.zeros(G, d, k, dtype=_F64)
        b = b_init.to(_F64).expand(G, k).clone()
        f, gW, gb, curv = self.evaluate(W, b, C)
        SW, YW = torch.zeros(G, m, d, k, dtype=_F64), torch.zeros(G, m, d, k, dtype=_F64)
        Sb, Yb = torch.zeros(G, m, k, dtype=_F64), torch.zeros(G, m, k, dtype=_F64)
        rho = torch.zeros(G, m, dtype=_F64)
        n_iter = torch.zeros(G, dtype=torch.int64)
        gmax = torch.maximum(gW.abs().amax((1, 2)), gb.abs().amax(1)) / (C * n)
        live = ~(gmax <= tol) if max_iter > 0 else torch.zeros(G, dtype=torch.bool)
        dW, db = self.direction(gW, gb, C * curv, SW, Sb, YW, Yb, rho)
        slope0 = (dW * gW).sum((1, 2)) + (db * gb).sum(1)
        t = torch.ones(G, dtype=_F64)
        while bool(live.any()):
            ids = live.nonzero()[:, 0]
            Wt = W[ids] + t[ids, None, None] * dW[ids]
            bt = b[ids] + t[ids, None] * db[ids]
            ft, gWt, gbt, curvt = self.evaluate(Wt, bt, C[ids])
            st = (gWt * dW[ids]).sum((1, 2)) + (gbt * db[ids]).sum(1)
            s0, f0, ti = slope0[ids], f[ids], t[ids]
            ok = torch.isfinite(ft) & ((ft <= f0 + 1e-4 * ti * s0) | (st <= 0))
            # Rejected: shrink the step (secant on the slope when it is positive, else a tenth).
            secant = ti * s0 / (s0 - st)
            shrunk = torch.where(torch.isfinite(ft) & (st > 0) & torch.isfinite(secant),
                                 torch.minimum(torch.maximum(secant, 0.1 * ti), 0.9 * ti), 0.1 * ti)
            t[ids] = torch.where(ok, ti, shrunk)
            stuck = ~ok & (shrunk < 1e-12)
            live[ids[stuck]] = False
            acc = ids[ok]
            if acc.numel() == 0:
                continue
            sel = ok.nonzero()[:, 0]
            sW, sb = Wt[sel] - W[acc], bt[sel] - b[acc]
            yW, yb = gWt[sel] - gW[acc], gbt[sel] - gb[acc]
            sy = (sW * yW).sum((1, 2)) + (sb * yb).sum(1)
            good = sy > 1e-12 * ((sW.square().sum((1, 2)) + sb.square().sum(1)).sqrt()
                                 * (yW.square().sum((1, 2)) + yb.square().sum(1)).sqrt())
            upd = acc[good]
            if upd.numel():
                SW[upd], YW[upd] = torch.roll(SW[upd], 1, 1), torch.roll(YW[upd], 1, 1)
                Sb[upd], Yb[upd] = torch.roll(Sb[upd], 1, 1), torch.roll(Yb[upd], 1, 1)
                rho[upd] = torch.roll(rho[upd], 1, 1)
                SW[upd, 0], YW[upd, 0], Sb[upd, 0], Yb[upd, 0] = sW[good], yW[good], sb[good], yb[good]
                rho[upd, 0] = 1.0 / sy[good]
            W[acc], b[acc], f[acc], gW[acc], gb[acc] = Wt[sel], bt[sel], ft[sel], gWt[sel], gbt[sel]
            curv[acc] = curvt[sel]
            n_iter[acc] += 1
            gmax[acc] = torch.maximum(gW[acc].abs().amax((1, 2)), gb[acc].abs().amax(1)) / (C[acc] * n)
            done = (gmax[acc] <= tol) | (n_iter[acc] >= max_iter)
            live[acc[done]] = False
            go = acc[~done]
            if go.numel() == 0:
                continue
            nW, nb = self.direction(gW[go], gb[go], C[go] * curv[go], SW[go], Sb[go], YW[go], Yb[go], rho[go])
            sl = (nW * gW[go]).sum((1, 2)) + (nb * gb[go]).sum(1)
            reset = ~(sl < 0)  # not a descent direction (round-off): forget the history, precondition only
            if bool(reset.any()):
                r = go[reset]
                rho[r] = 0.0
                pW, pb = self.precondition(gW[r], gb[r], C[r] * curv[r])
                nW[reset], nb[reset] = -pW, -pb
                sl[reset] = (nW[reset] * gW[r]).sum((1, 2)) + (nb[reset] * gb[r]).sum(1)
            dW[go], db[go], slope0[go], t[go] = nW, nb, sl, 1.0
        return W, b, n_iter, gmax <= tol, gmax, f
