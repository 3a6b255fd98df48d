"""Batched L2 logistic regression: every layer x every C in one tensor program.

The objective of one problem is scikit-learn's ``LogisticRegression(C=C, penalty='l2', fit_intercept=True)``::

    C * sum_i loss_i(x_i @ W + b) + 0.5 * ||W||^2          (the intercept b is not penalized)

with the binomial loss on one logit for two classes and the full softmax with ``k`` logits for more (as
scikit-learn >= 1.5 does with lbfgs).

Stopping rule. A problem stops when two rules hold: scikit-learn's own (the largest absolute entry of the
gradient of ``mean_i loss_i + ||W||^2 / (2 C n)`` is at most ``tol``) and a relative one (the preconditioned
gradient, which is the Newton step once the exact Hessian preconditions, is at most ``rtol * ||W||``). The
first alone scales the gradient by ``1 / (C n)`` and stops far from the optimum at large C: scikit-learn's
defaults move the validation accuracy of the MiniLM benchmark by up to 3.7 points from the exact optimum; with
the second, probewise matches the exact optimum at every grid point (``BENCHMARKS.md``). ``rtol=0`` restores
scikit-learn's rule.

Method. Features are centred (an exact reparametrization of the intercept) and, by default, scaled to unit
variance per layer. The C values are solved in ascending order, all layers of a chunk together, each problem
warm-started from the solution at the previous C or its linear extrapolation in log C from the two previous
ones, whichever has the lower objective (at large C the path of separable data is close to linear in log C).
Each iteration is a *sequential subspace optimization*: the preconditioned gradient and the last ``memory``
steps span a small subspace in which the objective is minimized by Newton steps with an exact line search.
Because the model is linear, the images ``X @ s`` of the subspace directions are kept, so an iteration costs
one forward and one backward product with the data and nothing else of size ``n x d``. Two preconditioners:

* ``(C * mean(D) * X^T X + I)^-1`` from one eigendecomposition of the Gram matrix per layer (``D`` the logistic
  curvature ``p (1 - p)``), exact while every ``D`` is about equal (small C);
* the exact Hessian ``C X^T diag(D) X + I`` (Cholesky, float64; refreshed every ``NEWTON_EVERY`` iterations),
  built for a problem once its ``D`` spans more than a factor ``NEWTON_SPREAD`` (large C, where ``D`` differs
  across examples by orders of magnitude and the scalar preconditioner needs hundreds of iterations). It costs
  ``n d^2`` per build (rows of negligible curvature left out) and is used for ``d <= NEWTON_MAX_DIM``. With
  the warm start, a large-C problem then converges in 2-7 iterations.

When ``d > n`` the problem is first reduced exactly to the ``n``-dimensional span of the examples (representer
theorem), where the scalar preconditioner is diagonal. ``warm_start=False`` solves all C values jointly from
the same cold start instead (one matrix-matrix product per pass; every problem independent of the grid).

Example:
    >>> import torch
    >>> from probewise.fit import fit_logistic
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(3, 200, 16, generator=g)          # [layers, n, d]
    >>> y = (X[1, :, 0] > 0).long()
    >>> path = fit_logistic(X, y, Cs=[0.01, 1.0])
    >>> path.coef.shape, path.intercept.shape              # [L, C, d, k], [L, C, k]
    (torch.Size([3, 2, 16, 1]), torch.Size([3, 2, 1]))
    >>> bool(path.converged.all())
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from probewise.errors import ConfigError
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
from probewise.fit._precondition import Basis, NewtonFactors, newton_apply, plan

__all__ = ["LogisticPath", "fit_logistic"]

_F64 = torch.float64
#: Iteration from which a problem still running may use the exact-Hessian preconditioner (cold starts;
#: warm-started problems may from the first).
NEWTON_AFTER = 4
#: The same for warm-started problems (their start is already close to the optimum).
NEWTON_AFTER_WARM = 2
#: Iterations each problem runs on the plain gradient before the eigendecomposition preconditioner is built
#: (well-conditioned problems converge within them and never pay for it).
LAZY_ITERS = 3
#: Iterations between refreshes of the exact-Hessian preconditioner.
NEWTON_EVERY = 5
#: The exact Hessian preconditions once the curvature p (1 - p) of some example exceeds another's this many times.
NEWTON_SPREAD = 4.0


@dataclass
class LogisticPath:
    """Fitted coefficients of every (layer, C) problem, in the original feature space.

    Attributes:
        coef: ``[L, C, d, k]`` weights (``k = 1`` logit for two classes, else one per class).
        intercept: ``[L, C, k]``.
        Cs: ``[C]`` the inverse regularization strengths, in the order given.
        classes: ``[n_classes]`` the sorted class labels; logit ``j`` of a multiclass model is ``classes[j]``,
            the single binary logit is ``classes[1]``.
        n_iter: ``[L, C]`` iterations run (each costs one forward and one backward pass over the data).
        converged: ``[L, C]`` whether the scaled gradient reached ``tol`` within ``max_iter``.
        grad_norm: ``[L, C]`` final max-abs gradient of ``mean loss + ||W||^2 / (2 C n)`` (solver space).
        objective: ``[L, C]`` final ``C * sum loss + 0.5 ||W||^2`` in the solver space (standardized
            features when ``standardize=True``).
        mean: ``[L, d]`` column means used for centring (float64).
        scale: ``[L, d]`` column scales (ones when ``standardize=False``; float64).
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    Cs: torch.Tensor
    classes: np.ndarray
    n_iter: torch.Tensor
    converged: torch.Tensor
    grad_norm: torch.Tensor
    objective: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor

    def decision_function(self, X: Any) -> torch.Tensor:
        """Logits ``[L, C, m, k]`` of features ``X [L, m, d]`` (or ``[m, d]`` applied to every layer)."""
        Xt = layer_inputs(X, self.coef)
        return torch.einsum("lmd,lcdk->lcmk", Xt, self.coef) + self.intercept[:, :, None, :]

    def predict(self, X: Any) -> torch.Tensor:
        """Predicted class indices ``[L, C, m]`` (indices into :attr:`classes`)."""
        z = self.decision_function(X)
        if z.shape[-1] == 1:
            return (z[..., 0] > 0).long()
        return z.argmax(dim=-1)


def fit_logistic(
    X: Any,
    y: Any,
    Cs: Any = 1.0,
    *,
    standardize: bool = True,
    tol: float = 1e-4,
    rtol: float = 3e-4,
    max_iter: int = 100,
    warm_start: bool = True,
    dtype: str | torch.dtype = "float32",
    device: str | torch.device | None = None,
    precondition: bool | str = "auto",
    memory: int = 4,
    newton_steps: int = 1,
    max_bytes: int | None = None,
    num_threads: int | None = None,
) -> LogisticPath:
    """Fit L2 logistic regression for every layer of ``X`` and every value in ``Cs`` at once.

    Args:
        X: features ``[L, n, d]`` or ``[n, d]`` (tensor on any device, or array-like).
        y: labels ``[n]`` (any sortable labels; at least two classes).
        Cs: inverse regularization strengths (scalar or list), as in scikit-learn.
        standardize: scale columns to unit variance per layer before solving (the penalty then acts on the
            standardized weights, like ``StandardScaler`` followed by ``LogisticRegression``); returned
            coefficients are always mapped back to the original feature space.
        tol: stop a problem when the max-abs gradient of ``mean loss + ||W||^2/(2Cn)`` is ``<= tol``
            (scikit-learn's lbfgs ``gtol``; its default is also 1e-4) **and** the ``rtol`` rule holds.
        rtol: and when the preconditioned gradient (the Newton step, once the exact Hessian preconditions) is
            ``<= rtol * ||W||`` (standardized space), an estimate of the relative error of the weights; in
            float32 a floor for the rounding of ``X^T R`` is allowed for. The ``tol`` rule alone scales the
            gradient by ``1/(C n)`` and stops far from the optimum at large C; ``rtol=0`` turns this rule off
            (scikit-learn's behaviour).
        max_iter: cap on iterations per problem.
        warm_start: solve the C values in ascending order, each from the previous solution (default); else all
            jointly from the same cold start.
        dtype: ``"float32"`` (default) or ``"float64"``: the data, the iterates and the products; the small
            subspace systems are always solved in float64. Use float64 for tolerances below ~1e-6.
        device: where to compute; default: the device of ``X`` if it is a tensor, else CPU.
        precondition: ``"auto"`` (default: the cheaper of ``"exact"`` and ``"lowrank"``, when it costs less
            than about 50 passes over the data), ``True`` (the cheaper of the two, always), ``"exact"`` (an
            eigendecomposition of ``X^T X``, or of ``X X^T`` when ``d > n``), ``"lowrank"`` (randomized
            top-128 eigenpairs, the rest of the spectrum flattened), or ``False`` (none).
        memory: number of past steps kept in the subspace (>= 0).
        newton_steps: Newton steps in the subspace per iteration (>= 1).
        max_bytes: memory budget of the working tensors of one chunk of problems (default 1 GiB).
        num_threads: run with this many torch threads (restored afterwards); ``None`` leaves the setting.

    Returns:
        A :class:`LogisticPath` with coefficients ``[L, C, d, k]`` in the original feature space.

    Raises:
        DataError: bad shapes, NaN/inf features, fewer than two classes.
        ConfigError: invalid options.
    """
    if not (isinstance(tol, int | float) and tol >= 0):
        raise ConfigError(f"tol must be a number >= 0, got {tol!r}.")
    if not (isinstance(rtol, int | float) and rtol >= 0):
        raise ConfigError(f"rtol must be a number >= 0, got {rtol!r}.")
    if not (isinstance(max_iter, int) and max_iter >= 0):
        raise ConfigError(f"max_iter must be an integer >= 0, got {max_iter!r}.")
    if not (isinstance(memory, int) and memory >= 0):
        raise ConfigError(f"memory must be an integer >= 0, got {memory!r}.")
    if not (isinstance(newton_steps, int) and newton_steps >= 1):
        raise ConfigError(f"newton_steps must be an integer >= 1, got {newton_steps!r}.")
    if precondition not in (True, False, "auto", "exact", "lowrank"):
        raise ConfigError(
            f"precondition must be 'auto', 'exact', 'lowrank', True or False, got {precondition!r}."
        )
    with torch_threads(num_threads):
        return _fit(X, y, Cs, standardize, tol, rtol, max_iter, warm_start, dtype, device, precondition, memory,
                    newton_steps, max_bytes)


def _fit(X: Any, y: Any, Cs: Any, standardize: bool, tol: float, rtol: float, max_iter: int, warm_start: bool,
         dtype: Any, device: Any, precondition: bool | str, memory: int, newton_steps: int,
         max_bytes: int | None) -> LogisticPath:
    Xl = as_layers(X)
    L, n, d = Xl.shape
    dev = resolve_device(device, X)
    wdt = resolve_dtype(dtype)
    codes, classes = encode_labels(y, n, dev)
    n_classes = len(classes)
    k = 1 if n_classes == 2 else n_classes
    grid = as_grid(Cs, "Cs")
    P = len(grid)

    # Targets: [n] in {0,1} for one logit, one-hot [k, n] for the softmax.
    if k == 1:
        target = codes.to(_F64)[None, :]
    else:
        target = torch.nn.functional.one_hot(codes, k).T.to(_F64)
    prior = torch.bincount(codes, minlength=n_classes).to(_F64) / n
    if k == 1:
        b0 = torch.log(prior[1] / prior[0]).reshape(1)
    else:
        b0 = torch.log(prior) - torch.log(prior).mean()

    m_dim = min(n, d)
    kind = plan(precondition, n, d, P * k)
    dual = kind == "dual"
    r = n if dual else d
    esize = torch.finfo(wdt).bits // 8
    fixed = 2 * n * d * esize + (2 * m_dim * m_dim * esize if kind in ("primal", "dual") else 0)
    if dual:  # float64 copy of the layer, kernel and eigenvectors, reduced design and its transpose
        fixed += 8 * n * d + 16 * n * n + 2 * n * r * esize
    per_problem = esize * k * (n + r) * (memory + 8)
    if warm_start:  # one C at a time, with its exact-Hessian factors (float64) and their build
        c_size = 1
        per_problem += 8 * k * (r + 1) ** 2 * 3 + esize * n * (r + 1) * 2
    budget = max_bytes if max_bytes is not None else (1 << 30)
    if not warm_start:
        c_size = max(1, min(P, (budget - fixed) // per_problem)) if fixed + P * per_problem > budget else P
    per_layer = fixed + c_size * per_problem
    # On CPU keep one layer per chunk (its data stays in cache); accelerators take as many as fit.
    cap = 1 if dev.type == "cpu" and n * d * esize > (1 << 20) and not warm_start else None
    order = sorted(range(P), key=lambda j: grid[j])  # warm start: ascending C

    coef = torch.empty(L, P, d, k, dtype=wdt, device=dev)
    intercept = torch.empty(L, P, k, dtype=wdt, device=dev)
    n_iter = torch.zeros(L, P, dtype=torch.int64, device=dev)
    converged = torch.zeros(L, P, dtype=torch.bool, device=dev)
    grad_norm = torch.zeros(L, P, dtype=_F64, device=dev)
    objective = torch.zeros(L, P, dtype=_F64, device=dev)
    means = torch.empty(L, d, dtype=_F64, device=dev)
    scales = torch.empty(L, d, dtype=_F64, device=dev)
    Cs_t = torch.tensor(grid, dtype=_F64, device=dev)

    for sl in chunks(L, per_layer, budget, cap):
        Xb = layer_block(Xl, sl, wdt, dev, check_finite=False)
        mean, scale = center_scale_(Xb, standardize)
        means[sl], scales[sl] = mean, scale
        basis = Basis(Xb, kind)
        path: list[tuple[float, torch.Tensor, torch.Tensor]] = []  # (C, W, b) solved so far in this chunk
        for cs in [slice(j, j + 1) for j in order] if warm_start else chunks(P, 1, c_size):
            res = _solve(basis, target, Cs_t[cs], b0, k, tol, max_iter, memory, newton_steps, rtol,
                         NEWTON_AFTER_WARM if warm_start else NEWTON_AFTER, _warm_starts(path, float(Cs_t[cs][0])))
            W, b, iters, conv, gnorm, obj = res
            if warm_start:
                path.append((float(Cs_t[cs][0]), W, b))
            w = basis.to_features(W)  # [G, p, k, d] in the standardized space
            w = w / scale[:, None, None, :]
            b = b - torch.einsum("gpkd,gd->gpk", w, mean)
            coef[sl, cs] = w.transpose(2, 3).to(wdt)
            intercept[sl, cs] = b.to(wdt)
            n_iter[sl, cs], converged[sl, cs] = iters, conv
            grad_norm[sl, cs], objective[sl, cs] = gnorm, obj
        del Xb, basis
    return LogisticPath(
        coef=coef,
        intercept=intercept,
        Cs=Cs_t,
        classes=classes,
        n_iter=n_iter,
        converged=converged,
        grad_norm=grad_norm,
        objective=objective,
        mean=means,
        scale=scales,
    )


def _warm_starts(path: list[tuple[float, torch.Tensor, torch.Tensor]],
                 C: float) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """Starting points for the problem at ``C`` from the solutions at smaller C: the last one, and its linear
    extrapolation in log C from the two last (at large C the path of separable data is close to linear in
    log C: the weights grow along the max-margin direction). ``None`` on a cold start."""
    if not path:
        return None
    c1, W1, b1 = path[-1]
    starts = [(W1, b1)]
    if len(path) >= 2 and C > c1 > path[-2][0]:
        c0, W0, b0 = path[-2]
        f = float(np.log(C / c1) / np.log(c1 / c0))
        starts.append((W1 + f * (W1 - W0), b1 + f * (b1 - b0)))
    return starts


def _probs(Z: torch.Tensor, k: int) -> torch.Tensor:
    return torch.sigmoid(Z) if k == 1 else torch.softmax(Z, dim=2)


def _residual(Z: torch.Tensor, p: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """``p - target`` without cancellation: for the true class ``1 - p`` is computed as the probability of
    the other classes (in float32 ``p - 1`` is 0 or a multiple of 6e-8 once ``p > 1 - 6e-8``, a gradient
    floor that grows with C)."""
    if k == 1:
        s = 1.0 - 2.0 * target  # +1 for class 0, -1 for class 1
        return s * torch.sigmoid(s * Z)
    other = (p * (1.0 - target)).sum(dim=2, keepdim=True)  # [.., 1, n]: 1 - p_true
    return torch.where(target > 0, -other, p)




def _curvature(p: torch.Tensor, U: torch.Tensor, Cw: torch.Tensor, k: int) -> torch.Tensor:
    """``C * sum_i u_i^T H_i u_i`` for subspace images ``U [G, a, m, k, n]``; returns ``[G, a, m, m]``."""
    G, a, m, _, n = U.shape
    Uf = U.reshape(G * a, m, k * n)
    if k == 1:
        H = (Uf * (p * (1.0 - p)).reshape(G * a, 1, n)) @ Uf.transpose(1, 2)
    else:
        Up = U * p[:, :, None]  # [G, a, m, k, n]
        H = Up.reshape(G * a, m, k * n) @ Uf.transpose(1, 2)
        q = Up.sum(dim=3).reshape(G * a, m, n)
        H = H - q @ q.transpose(1, 2)
    return H.reshape(G, a, m, m) * Cw[:, :, None, None]


def _solve_small(H: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Solve the batched SPD systems ``H x = g`` (``[..., m, m]``, ``[..., m]``) in float64, Jacobi-scaled."""
    H, g = H.to(_F64), g.to(_F64)
    m = H.shape[-1]
    dg = H.diagonal(dim1=-2, dim2=-1).clamp_min(1e-300).rsqrt()
    Hs = H * dg[..., :, None] * dg[..., None, :]
    eye = torch.eye(m, dtype=_F64, device=H.device)
    rhs = (dg * g)[..., None]
    # A problem whose system overflowed (separable data at a huge C) takes a zero step instead of aborting the
    # whole batch inside LAPACK; its iterate stays and max_iter bounds it.
    ok = torch.isfinite(Hs).flatten(-2).all(-1) & torch.isfinite(rhs).flatten(-2).all(-1)
    Hs = torch.where(ok[..., None, None], Hs, eye)
    rhs = torch.where(ok[..., None, None], rhs, torch.zeros_like(rhs))
    chol, info = torch.linalg.cholesky_ex(Hs + 1e-12 * eye)
    if bool((info != 0).any()):  # degenerate subspace (repeated directions): the minimum-norm solution
        # from a symmetric eigendecomposition (batched `lstsq` on CPU is not reproducible on singular systems)
        lam, V = torch.linalg.eigh(Hs)
        inv = torch.where(lam > lam.amax(dim=-1, keepdim=True).clamp_min(0.0) * (m * 1e-12),
                          1.0 / lam.clamp_min(1e-300), torch.zeros_like(lam))
        x = (V @ (inv[..., None] * (V.transpose(-2, -1) @ rhs)))[..., 0]
    else:
        x = torch.cholesky_solve(rhs, chol)[..., 0]
    x = torch.where(ok[..., None], x, torch.zeros_like(x))
    return torch.where(ok[..., None], dg * x, torch.zeros_like(x))


def _solve(
    basis: Basis,
    target: torch.Tensor,
    Cs: torch.Tensor,
    b0: torch.Tensor,
    k: int,
    tol: float,
    max_iter: int,
    memory: int,
    newton_steps: int,
    rtol: float = 0.0,
    newton_after: int = 1 << 30,
    init: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[torch.Tensor, ...]:
    """Solve all problems ``[G layers, P values of C]`` of one chunk, each from whichever of the starting points
    ``init = [(W [G, P, k, r], b [G, P, k]), ...]`` has the lowest objective (default: weights zero,
    intercepts at the class log-priors).

    The iterates live in the working dtype; only the ``m x m`` subspace systems are solved in float64.
    Returns ``(W [G, P, k, r], b [G, P, k], n_iter [G, P], converged [G, P], grad_norm [G, P],
    objective [G, P])``.
    """
    F, Ft = basis.F, basis.Ft
    G, n, r = F.shape
    P = Cs.shape[0]
    dev, dt = F.device, F.dtype
    target = target.to(dt)
    # Final results, indexed by the original problem number.
    Cw = Cs.to(dt)[None, :].expand(G, P).clone()  # [G, a]
    if not init:
        init = [(torch.zeros(G, P, k, r, dtype=dt, device=dev), b0.to(device=dev, dtype=dt).expand(G, P, k))]
    W_out, b_out, Z = _best_start(init, Ft, target, Cw, k)
    it_out = torch.zeros(G, P, dtype=torch.int64, device=dev)
    conv_out = torch.zeros(G, P, dtype=torch.bool, device=dev)
    gn_out = torch.zeros(G, P, dtype=_F64, device=dev)
    obj_out = torch.zeros(G, P, dtype=_F64, device=dev)
    # Working state of the problems still running in some layer of the chunk.
    ids = torch.arange(P, device=dev)
    W = W_out.clone()
    b = b_out.clone()
    Sh = torch.zeros(G, P, 0, k, r, dtype=dt, device=dev)  # past steps (unit norm)
    Sbh = torch.zeros(G, P, 0, k, dtype=dt, device=dev)
    Uh = torch.zeros(G, P, 0, k, n, dtype=dt, device=dev)  # their images X @ s
    live = torch.ones(G, P, dtype=torch.bool, device=dev)  # per (layer, C): still iterating
    stalled = torch.zeros(G, P, dtype=torch.bool, device=dev)  # the last iteration could not decrease the objective
    factor: NewtonFactors | None = None  # exact-Hessian preconditioners, once in use
    eps = torch.finfo(dt).eps
    f_norm = basis.largest_column_norm()[:, None]  # [G, 1]
    # A layer without features (every column constant, so zero once centred) has its optimum at the default start:
    # W = 0, intercepts at the class log-priors. Its steps are rounding noise, which no stopping rule can
    # tell from progress: left to iterate it ran to max_iter and, in float32, drifted to an overflowed intercept.
    empty = f_norm == 0

    for it in range(max_iter + 1):
        a = ids.shape[0]
        p = _probs(Z, k)
        R = _residual(Z, p, target, k) * Cw[:, :, None, None]  # [G, a, k, n]
        if a * k == 1:  # a matrix-vector product runs faster against the transposed copy
            Gw = (Ft @ R.reshape(G, a * k, n).transpose(1, 2)).transpose(1, 2).reshape(G, a, k, r) + W
        else:
            Gw = (R.reshape(G, a * k, n) @ F).reshape(G, a, k, r) + W
        gb = R.sum(dim=3)
        gmax = torch.maximum(Gw.abs().amax(dim=(2, 3)), gb.abs().amax(dim=2)) / (Cw * n)
        # New direction: the preconditioned gradient, unit norm. Where the curvature p (1 - p) varies over
        # examples by more than NEWTON_SPREAD (large C), which the scalar-curvature preconditioner ignores,
        # the exact Hessian of the loss preconditions instead (from iteration `newton_after` on).
        has = None  # [G, a] problems preconditioned by their exact Hessian
        if it >= newton_after and basis.newton_ok:
            if factor is None:
                factor = NewtonFactors(G, a, k, r + 1, dev)
            curv = p * (1.0 - p)
            wide = curv.amax(dim=(2, 3)) > NEWTON_SPREAD * curv.amin(dim=(2, 3))
            has = factor.built >= 0
            need = live & ((has & (it - factor.built >= NEWTON_EVERY)) | (~has & wide))
            if bool(need.any()):
                factor.update(basis, p, Cw, need, it)
                has = factor.built >= 0
        if has is not None and bool((has | ~live).all()):  # (the scalar preconditioner, and its build, unused)
            S0, sb0 = newton_apply(factor, Gw, gb)
        else:
            S0, sb0 = _direction(basis, p, Gw, gb, Cw, n, lazy=it < LAZY_ITERS)
            if has is not None and bool(has.any()):
                S1, sb1 = newton_apply(factor, Gw, gb)
                S0 = torch.where(has[..., None, None], S1, S0)
                sb0 = torch.where(has[..., None], sb1, sb0)
        # Relative rule: the preconditioned gradient (the Newton step, once the exact Hessian is in use) is an
        # estimate of the distance to the optimum; stop when it is below rtol * ||W||. The gradient rule alone,
        # scaled by 1/(C n), stops far from the optimum at large C.
        # In float32 the rounding error of X^T R (about eps ||R|| ||F_j||, growing with C) is a floor for the step
        # along directions with little curvature (the null space of rank-deficient features): it is allowed for,
        # and a problem whose objective cannot decrease any more at the working precision (`stalled`) is done.
        nrm = (S0.square().sum(dim=(2, 3)) + sb0.square().sum(dim=2)).sqrt()
        floor = eps * R.square().sum(dim=(2, 3)).sqrt() * f_norm
        ok = gmax <= tol
        if rtol > 0:
            ok &= (nrm <= rtol * W.square().sum(dim=(2, 3)).sqrt() + floor) | stalled
        ok |= empty
        done = live & ok if it < max_iter else live.clone()
        if bool(done.any()):
            gi, pi = done.nonzero(as_tuple=True)
            oi = ids[pi]
            W_out[gi, oi], b_out[gi, oi] = W[gi, pi], b[gi, pi]
            it_out[gi, oi] = it
            conv_out[gi, oi] = ok[gi, pi]
            gn_out[gi, oi] = gmax[gi, pi].to(_F64)
            obj_out[gi, oi] = _objective(Z[gi, pi], target, W[gi, pi], Cw[gi, pi], k)
            live = live & ~done
            keep = live.any(dim=0)
            if not bool(keep.any()):
                break
            if not bool(keep.all()):
                ids = ids[keep]
                Cw, W, b, Z, Sh, Sbh, Uh, live, stalled = (t[:, keep] for t in (Cw, W, b, Z, Sh, Sbh, Uh, live,
                                                                                  stalled))
                if factor is not None:
                    factor.keep(keep)
                p, R, Gw, gb = p[:, keep], R[:, keep], Gw[:, keep], gb[:, keep]
                S0, sb0, nrm = S0[:, keep], sb0[:, keep], nrm[:, keep]
                a = ids.shape[0]

        nrm = nrm.clamp_min(1e-30)
        S0 = S0 / -nrm[:, :, None, None]
        sb0 = sb0 / -nrm[:, :, None]
        U0 = (S0.reshape(G, a * k, r) @ Ft).reshape(G, a, k, n) + sb0[..., None]

        # Subspace [new direction, past steps]: minimize the objective over it by Newton steps.
        S = torch.cat([S0[:, :, None], Sh], dim=2)  # [G, a, m, k, r]
        Sb = torch.cat([sb0[:, :, None], Sbh], dim=2)  # [G, a, m, k]
        U = torch.cat([U0[:, :, None], Uh], dim=2)  # [G, a, m, k, n]
        Sf = S.reshape(G * a, -1, k * r)
        SS = (Sf @ Sf.transpose(1, 2)).reshape(G, a, -1, S.shape[2])
        Sw = (Sf @ W.reshape(G * a, k * r, 1)).reshape(G, a, -1)
        grad = (Sf @ Gw.reshape(G * a, k * r, 1)).reshape(G, a, -1) + (Sb * gb[:, :, None]).sum(dim=3)
        beta = torch.zeros_like(grad)
        dz = torch.zeros_like(Z)
        for step in range(newton_steps):
            if step > 0:
                p = _probs(Z + dz, k)
                Rt = (_residual(Z + dz, p, target, k) * Cw[:, :, None, None]).reshape(G * a, k * n, 1)
                grad = (U.reshape(G * a, -1, k * n) @ Rt).reshape(G, a, -1) + Sw + (SS @ beta[..., None])[..., 0]
            H = _curvature(p, U, Cw, k) + SS
            dbeta = (-_solve_small(H, grad)).to(dt)
            dbeta = torch.where(torch.isfinite(dbeta), dbeta, torch.zeros_like(dbeta))  # (float32 overflow)
            dd = (dbeta[:, :, :, None, None] * U).sum(dim=2)
            t = _line_search(Z + dz, dd, target, Cw, k, grad, dbeta, SS)
            t = torch.where(torch.isfinite(t), t, torch.zeros_like(t))
            beta = beta + t[:, :, None] * dbeta
            dz = dz + t[:, :, None, None] * dd
        beta = beta * live.to(dt)[:, :, None]  # finished (layer, C) pairs stay put
        stalled = (beta == 0).all(dim=-1)
        dz = dz * live.to(dt)[:, :, None, None]
        step_w = (beta.reshape(G * a, 1, -1) @ Sf).reshape(G, a, k, r)
        step_b = (beta[..., None] * Sb).sum(dim=2)
        W = W + step_w
        b = b + step_b
        Z = Z + dz
        if memory > 0:
            pn = (step_w.square().sum(dim=(2, 3)) + step_b.square().sum(dim=2)).sqrt()
            inv = torch.where(pn > 0, 1.0 / pn.clamp_min(1e-30), torch.zeros_like(pn))
            Sh = torch.cat([(step_w * inv[:, :, None, None])[:, :, None], Sh[:, :, : memory - 1]], dim=2)
            Sbh = torch.cat([(step_b * inv[:, :, None])[:, :, None], Sbh[:, :, : memory - 1]], dim=2)
            Uh = torch.cat([(dz * inv[:, :, None, None])[:, :, None], Uh[:, :, : memory - 1]], dim=2)
    return W_out, b_out, it_out, conv_out, gn_out, obj_out


def _best_start(starts: list[tuple[torch.Tensor, torch.Tensor]], Ft: torch.Tensor, target: torch.Tensor,
                Cw: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per problem, the starting point of lowest objective: ``(W [G, P, k, r], b [G, P, k], Z [G, P, k, n])``."""
    G, P = Cw.shape
    r, n = Ft.shape[1:]
    best: tuple[torch.Tensor, ...] | None = None
    for W0, b0 in starts:
        W = W0.to(Ft.dtype).expand(G, P, k, r).clone()
        b = b0.to(Ft.dtype).expand(G, P, k).clone()
        Z = (W.reshape(G, P * k, r) @ Ft).reshape(G, P, k, n) + b[..., None]
        if len(starts) == 1:
            return W, b, Z
        f = _objective(Z.reshape(G * P, k, n), target, W.reshape(G * P, k, r), Cw.reshape(-1), k).reshape(G, P)
        if best is None:
            best = (W, b, Z, f)
            continue
        take = f < best[3]
        best = (torch.where(take[..., None, None], W, best[0]), torch.where(take[..., None], b, best[1]),
                torch.where(take[..., None, None], Z, best[2]), torch.where(take, f, best[3]))
    assert best is not None
    return best[0], best[1], best[2]


def _direction(
    basis: Basis, p: torch.Tensor, Gw: torch.Tensor, gb: torch.Tensor, Cw: torch.Tensor, n: int,
    lazy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Preconditioned gradient ``(S0 [G, a, k, r], sb0 [G, a, k])`` (not yet normalized); with ``lazy``, the
    plain gradient while the preconditioner is not built yet.

    The Hessian of the loss is approximated by ``C * mean(D) * X^T X`` with ``D = p (1 - p)`` averaged over
    examples and logits, plus the identity of the penalty. (A class-coupled ``k x k`` curvature in place of
    the scalar was tried: no fewer iterations, slower ones.)
    """
    if basis.kind == "plain" or (lazy and not basis.ready):
        return Gw, gb
    c = Cw * (p * (1.0 - p)).mean(dim=(2, 3))  # [G, a]
    S0 = basis.precondition(Gw, c[..., None].expand(*c.shape, Gw.shape[2]))
    return S0, gb / (c * n + 1.0)[..., None]


def _line_search(
    Z: torch.Tensor,
    dd: torch.Tensor,
    target: torch.Tensor,
    Cw: torch.Tensor,
    k: int,
    grad: torch.Tensor,
    dbeta: torch.Tensor,
    SS: torch.Tensor,
) -> torch.Tensor:
    """Step ``t [G, a]`` along ``dbeta``: the Newton step ``t = 1`` when the objective still decreases
    there, else the zero of the (increasing) directional derivative, by regula falsi."""
    # psi'(t) = sum_i r_i(Z + t dd) . dd + (penalty slope at t = 0) + t dbeta^T SS dbeta
    quad = (dbeta[..., None, :] @ SS @ dbeta[..., :, None])[..., 0, 0]
    lin0 = (grad * dbeta).sum(dim=-1)  # psi'(0) < 0 for a descent direction
    pen0 = lin0 - _residual_dot(Z, dd, target, Cw, k)

    def slope(t: torch.Tensor) -> torch.Tensor:
        return _residual_dot(Z + t[:, :, None, None] * dd, dd, target, Cw, k) + pen0 + t * quad

    t_hi = torch.ones_like(lin0)
    s_hi = slope(t_hi)
    need = s_hi > 0.0
    if not bool(need.any()):
        return torch.where(lin0 < 0, t_hi, torch.zeros_like(t_hi))
    t_lo = torch.zeros_like(lin0)
    s_lo = lin0.clone()
    t = t_hi.clone()
    for _ in range(30):
        cand = t_lo - s_lo * (t_hi - t_lo) / (s_hi - s_lo)
        cand = torch.where(torch.isfinite(cand), cand, 0.5 * (t_lo + t_hi))
        t = torch.where(need, torch.minimum(torch.maximum(cand, t_lo), t_hi), t)
        st = slope(t)
        need = need & (st.abs() > 0.1 * lin0.abs())
        if not bool(need.any()):
            break
        up = need & (st < 0)
        down = need & (st >= 0)
        t_lo, s_lo = torch.where(up, t, t_lo), torch.where(up, st, s_lo)
        t_hi, s_hi = torch.where(down, t, t_hi), torch.where(down, st, s_hi)
    return torch.where(lin0 < 0, t, torch.zeros_like(t))


def _residual_dot(Z: torch.Tensor, dd: torch.Tensor, target: torch.Tensor, Cw: torch.Tensor, k: int) -> torch.Tensor:
    return (_residual(Z, _probs(Z, k), target, k) * dd).sum(dim=(2, 3)) * Cw


def _objective(Z: torch.Tensor, target: torch.Tensor, W: torch.Tensor, Cw: torch.Tensor, k: int) -> torch.Tensor:
    """``C * sum loss + 0.5 ||W||^2`` (float64) for rows ``Z [q, k, n]``, ``W [q, k, r]``, ``Cw [q]``."""
    Z, target, W, Cw = Z.to(_F64), target.to(_F64), W.to(_F64), Cw.to(_F64)
    if k == 1:
        loss = (torch.nn.functional.softplus(Z) - target * Z).sum(dim=(1, 2))
    else:
        loss = (torch.logsumexp(Z, dim=1) - (target * Z).sum(dim=1)).sum(dim=1)
    return Cw * loss + 0.5 * W.square().sum(dim=(1, 2))
