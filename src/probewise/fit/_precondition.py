"""The preconditioners of the batched logistic solver (:mod:`probewise.fit.logistic`).

* :class:`Basis`: the design the solver iterates in (the features, or their exact reduction to the span of the
  examples when ``d > n``) and the scalar-curvature preconditioner ``(c X^T X + I)^-1`` from one
  eigendecomposition (or a randomized low-rank one) of the Gram matrix per layer;
* :class:`NewtonFactors`: Cholesky factors of each problem's exact Hessian, for large C;
* :func:`plan`: which basis a problem size calls for.

Example:
    >>> import torch
    >>> from probewise.fit._precondition import Basis, plan
    >>> X = torch.randn(2, 50, 8, dtype=torch.float64)     # [layers, n, d]
    >>> basis = Basis(X, plan("auto", 50, 8, 1))
    >>> g = torch.ones(2, 1, 1, 8, dtype=torch.float64)       # [layers, problems, logits, d]
    >>> basis.precondition(g, torch.ones(2, 1, 1, dtype=torch.float64)).shape
    torch.Size([2, 1, 1, 8])
"""

from __future__ import annotations

import torch

__all__ = ["Basis", "HESSIAN_DROP", "LOWRANK", "NEWTON_MAX_DIM", "NewtonFactors", "newton_apply", "plan"]

F64 = torch.float64
#: Rank of the low-rank (randomized) preconditioner.
LOWRANK = 128
#: Largest solver dimension (``d``, or ``n`` in the dual basis) for the exact-Hessian preconditioner.
NEWTON_MAX_DIM = 1024
#: Rows whose curvature is below this fraction of the largest are left out of the exact-Hessian preconditioner.
HESSIAN_DROP = 1e-3


def plan(precondition: bool | str, n: int, d: int, columns: int) -> str:
    """Which basis to solve in: ``"plain"``, ``"primal"``, ``"dual"`` (exact) or ``"lowrank"``."""
    if precondition is False:
        return "plain"
    exact = "dual" if d > n else "primal"
    if precondition == "exact":
        return exact
    m = min(n, d)
    if precondition == "lowrank":
        return "lowrank" if d > LOWRANK + 16 else exact
    exact_cost = n * d * m + 4 * m**3  # Gram (or kernel) product + eigendecomposition
    lowrank_cost = 10 * n * d * (LOWRANK + 16) if d > LOWRANK + 16 else float("inf")  # 5 wide passes
    if exact == "dual":  # the exact reduction also makes every later pass cheaper (n x n instead of n x d)
        exact_cost /= 2
    kind, cost = (exact, exact_cost) if exact_cost <= lowrank_cost else ("lowrank", lowrank_cost)
    one_pass = 4 * n * d * max(columns, 8)  # forward + backward product (narrow products run as ~8 wide)
    if precondition == "auto" and cost > 50 * one_pass:
        return "plain"
    return kind


class Basis:
    """The design the solver sees, and its preconditioner.

    * plain: ``F = X``, no preconditioner;
    * primal: ``F = X`` with ``X^T X = V diag(lam) V^T``;
    * dual (``d > n``): ``X X^T = Q diag(lam) Q^T``, ``F = Q sqrt(lam)`` (``[n, r]``, the exact reduction of
      the problem to the span of the examples; ``||w|| = ||a||`` for ``w = X^T Q lam^-1/2 a``) and a
      diagonal preconditioner;
    * lowrank: ``F = X`` with the top ``rank`` eigenpairs of ``X^T X`` from a randomized range finder (one
      power iteration, a fixed seed) and the rest of the spectrum replaced by its mean (a Nystrom-type
      preconditioner): no ``d x d`` Gram matrix and no ``d x d`` eigendecomposition.
    """

    def __init__(self, X: torch.Tensor, kind: str) -> None:
        self.X = X
        self.kind = kind
        self.ready = True  # the preconditioner is built (primal and low-rank: on first use)
        # the exact-Hessian preconditioner is used where an r x r system is cheap (see NewtonFactors)
        self.newton_ok = kind in ("primal", "dual") and min(X.shape[1:]) <= NEWTON_MAX_DIM
        self.V: torch.Tensor | None = None
        self.lam: torch.Tensor | None = None
        if kind == "plain":
            self.F, self.Ft = X, X.transpose(1, 2).contiguous()
            self.lam_w = None
            return
        if kind in ("primal", "lowrank"):
            # The eigendecomposition is built on first use (`ready`): well-conditioned problems converge
            # without it (see LAZY_ITERS), and then never pay for it.
            self.F, self.Ft = X, X.transpose(1, 2).contiguous()
            self.ready = False
            return
        eps = torch.finfo(X.dtype).eps
        # The kernel is decomposed in float64: the map back to feature space divides by sqrt(lam).
        X64 = X.to(F64)
        lam, Q = torch.linalg.eigh(X64 @ X64.transpose(1, 2))  # [G, n], [G, n, n], ascending
        cut = lam.amax(dim=1, keepdim=True) * (max(X.shape[1:]) * eps)
        keep = lam > cut
        r = max(1, int(keep.sum(dim=1).max()))
        lam, Q, keep = lam[:, -r:], Q[:, :, -r:], keep[:, -r:]
        lam = torch.where(keep, lam, torch.zeros_like(lam))
        self.lam = lam
        self.lam_w = lam.to(X.dtype)
        self.Q = Q * keep.to(F64)[:, None, :]
        self.X = X64
        self.F = (self.Q * lam.sqrt()[:, None, :]).to(X.dtype).contiguous()
        self.Ft = self.F.transpose(1, 2).contiguous()

    def build(self) -> None:
        """The eigenpairs of ``X^T X`` behind the primal or low-rank preconditioner."""
        if self.kind == "lowrank":
            self._lowrank(self.X, LOWRANK)
        else:
            lam, V = torch.linalg.eigh(self.Ft @ self.F)
            self.lam, self.V, self.Vt = lam.to(F64).clamp_min(0.0), V, V.transpose(1, 2).contiguous()
            self.lam_w = self.lam.to(self.X.dtype)
        self.ready = True

    def _lowrank(self, X: torch.Tensor, rank: int) -> None:
        G, n, d = X.shape
        width = rank + 16
        gen = torch.Generator(device=X.device).manual_seed(0)
        omega = torch.randn(G, d, width, generator=gen, device=X.device, dtype=X.dtype)
        Y = self.Ft @ (self.F @ omega)
        Q = torch.linalg.qr(Y).Q
        Q = torch.linalg.qr(self.Ft @ (self.F @ Q)).Q  # one power iteration
        XQ = self.F @ Q  # [G, n, width]
        mu, E = torch.linalg.eigh(XQ.transpose(1, 2) @ XQ)  # Rayleigh-Ritz, ascending
        mu, E = mu[:, -rank:], E[:, :, -rank:]
        self.V = Q @ E  # [G, d, rank]
        self.Vt = self.V.transpose(1, 2).contiguous()
        self.lam = mu.to(F64).clamp_min(0.0)
        self.lam_w = self.lam.to(X.dtype)
        trace = X.square().sum(dim=(1, 2), dtype=F64)
        self.tail = ((trace - self.lam.sum(dim=1)).clamp_min(0.0) / (d - rank)).to(X.dtype)  # [G]

    def precondition(self, g: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Apply ``(c X^T X + I)^-1`` to ``g [G, a, k, r]``, with ``c [G, a, k]`` one curvature per row of
        ``g`` (per class eigen-direction); plain basis: identity."""
        if self.kind == "plain":
            return g
        if not self.ready:
            self.build()
        s = 1.0 / (c[..., None] * self.lam_w[:, None, None, :] + 1.0)  # [G, a, k, r]
        if self.kind == "dual":
            return g * s
        G, a, k, r = g.shape
        if self.kind == "lowrank":
            s_tail = 1.0 / (c * self.tail[:, None, None] + 1.0)  # [G, a, k]
            q = self.V.shape[2]
            gv = (g.reshape(G, a * k, r) @ self.V).reshape(G, a, k, q) * (s - s_tail[..., None])
            return g * s_tail[..., None] + (gv.reshape(G, a * k, q) @ self.Vt).reshape(G, a, k, r)
        gv = (g.reshape(G, a * k, r) @ self.V).reshape(G, a, k, r) * s
        return (gv.reshape(G, a * k, r) @ self.Vt).reshape(G, a, k, r)

    def largest_column_norm(self) -> torch.Tensor:
        """``[G]`` the largest column norm of the design (cached)."""
        if getattr(self, "_col_norm", None) is None:
            self._col_norm = self.F.square().sum(dim=1).amax(dim=1).sqrt()
        return self._col_norm

    def design_with_ones(self) -> torch.Tensor:
        """``[F 1]`` (``[G, n, r + 1]``), the design with the intercept's column; built on first use."""
        if getattr(self, "_F1", None) is None:
            ones = torch.ones(*self.F.shape[:2], 1, dtype=self.F.dtype, device=self.F.device)
            self._F1 = torch.cat([self.F, ones], dim=2)
        return self._F1

    def to_features(self, W: torch.Tensor) -> torch.Tensor:
        """Map solver weights ``[G, P, k, r]`` to feature weights ``[G, P, k, d]`` (float64)."""
        if self.kind != "dual":
            return W.to(F64)
        G, P, k, r = W.shape
        inv = torch.where(self.lam > 0, self.lam.rsqrt(), torch.zeros_like(self.lam))  # [G, r]
        coef_q = (W.to(F64) * inv[:, None, None, :]).reshape(G, P * k, r)
        wq = coef_q @ self.Q.transpose(1, 2)  # [G, P*k, n]
        return (wq @ self.X).reshape(G, P, k, -1)



class NewtonFactors:
    """Cholesky factors of the exact Hessian of ``C sum loss + ||W||^2/2`` in (W, b), per problem: of the whole
    Hessian for one logit, of its class-diagonal blocks for the softmax. ``chol_t [G, a, k, r+1, r+1]`` and the
    Jacobi scaling ``dg [G, a, k, r+1]`` (float64); ``built [G, a]`` the iteration of each problem's last
    build (-1: none yet, the problem uses the scalar-curvature preconditioner).

    ``H = C [F 1]^T diag(D) [F 1] + I`` is one product ``(sqrt(D) [F 1])^T (sqrt(D) [F 1])`` in the working
    dtype per problem and class (``n r^2``, about 15 passes over the data at ``r = 384``, fewer rows at large
    C, see ``HESSIAN_DROP``), then a Jacobi scaling and a Cholesky factorization in float64 (``r^3 / 3``).
    Only the problems that need one are built.
    """

    def __init__(self, G: int, a: int, k: int, r1: int, device: torch.device) -> None:
        # identity factors until built, so that one solve over the whole batch needs no gathering; kept
        # transposed, so that ``chol_t.mT`` has the column-major layout LAPACK solves with, without a copy
        self.chol_t = torch.eye(r1, dtype=F64, device=device).expand(G, a, k, r1, r1).clone()
        self.dg = torch.ones(G, a, k, r1, dtype=F64, device=device)
        self.built = torch.full((G, a), -1, dtype=torch.int64, device=device)

    def keep(self, cols: torch.Tensor) -> None:
        self.chol_t, self.dg, self.built = self.chol_t[:, cols], self.dg[:, cols], self.built[:, cols]

    def solve(self, g: torch.Tensor) -> torch.Tensor:
        """``H^-1 g`` for ``g [G, a, k, r+1]`` (float64; ``g`` itself for the problems not built yet)."""
        return torch.cholesky_solve((self.dg * g.to(F64))[..., None], self.chol_t.mT)[..., 0] * self.dg

    def update(self, basis: Basis, p: torch.Tensor, Cw: torch.Tensor, need: torch.Tensor, it: int) -> None:
        """(Re)build the factors of the problems ``need [G, a]`` at the probabilities ``p [G, a, k, n]``."""
        F1 = basis.design_with_ones()  # [G, n, r + 1]
        r1 = F1.shape[2]
        k = p.shape[2]
        gi, ai = need.nonzero(as_tuple=True)
        q = gi.shape[0]
        D = p[gi, ai] * (1.0 - p[gi, ai])  # [q, k, n]
        H = torch.empty(q, k, r1, r1, dtype=F64, device=F1.device)
        for t in range(q):
            for j in range(k):
                # Rows whose curvature is below HESSIAN_DROP of the largest add almost nothing (a preconditioner
                # need not be exact; the subspace step uses the exact curvature): at large C most rows.
                Dj = D[t, j]
                rows = (Dj >= Dj.amax() * HESSIAN_DROP).nonzero()[:, 0]
                Fa = F1[gi[t]].index_select(0, rows) * Dj.index_select(0, rows).sqrt()[:, None]
                H[t, j] = Fa.T @ Fa
        H *= Cw[gi, ai].to(F64)[:, None, None, None]
        idx = torch.arange(r1, device=F1.device)
        # (the intercept is not penalized; as a preconditioner, a unit floor keeps separable data tame)
        H[..., idx, idx] += 1.0
        dg = H.diagonal(dim1=-2, dim2=-1).clamp_min(1e-300).rsqrt()
        Hs = H.mul_(dg[..., :, None]).mul_(dg[..., None, :])
        eye = torch.eye(r1, dtype=F64, device=F1.device)
        ok = torch.isfinite(Hs.sum(dim=(-2, -1)))  # (a sum is NaN or infinite if any entry is)
        if not bool(ok.all()):
            Hs = torch.where(ok[..., None, None], Hs, eye)
        Hs[..., idx, idx] += 1e-12
        chol, info = torch.linalg.cholesky_ex(Hs)
        bad = info != 0
        if bool(bad.any()):  # numerically singular: fall back to the identity for those problems
            chol = torch.where(bad[..., None, None], eye, chol)
            dg = torch.where(bad[..., None], torch.ones_like(dg), dg)
        self.chol_t[gi, ai], self.dg[gi, ai] = chol.mT, dg
        self.built[gi, ai] = it


def newton_apply(factor: NewtonFactors, Gw: torch.Tensor, gb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``H^-1 (Gw, gb)`` for the factors of :class:`NewtonFactors`: ``(S0 [G, a, k, r], sb0 [G, a, k])``."""
    r, k = Gw.shape[-1], Gw.shape[2]
    # Softmax: the loss does not change when the same vector is added to every class's weights (or the same
    # number to every intercept), so along those directions the curvature is the penalty's alone: the
    # class-diagonal blocks act on the class-centred gradient, the common part takes its exact Newton step
    # (weights: the mean gradient; intercepts: none, they are defined up to a constant).
    gbar = Gw.mean(dim=2, keepdim=True) if k > 1 else None
    g = torch.cat([Gw - gbar if k > 1 else Gw, gb[..., None]], dim=-1)  # [G, a, k, r + 1]
    x = factor.solve(g).to(Gw.dtype)
    S0, sb0 = x[..., :r], x[..., r]
    if k > 1:
        S0 = S0 - S0.mean(dim=2, keepdim=True) + gbar
        sb0 = sb0 - sb0.mean(dim=-1, keepdim=True)
    return S0.contiguous(), sb0.contiguous()
