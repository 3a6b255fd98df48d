"""Shifted solves ``(S + alpha I)^-1 R`` for many alphas from one tridiagonal reduction of ``S`` (LAPACK, CPU).

``S = Q T Q^T`` (Householder reduction, LAPACK ``dsytrd``) costs about a third of a symmetric
eigendecomposition's work. Every shift is then ``Q (T + alpha I)^-1 Q^T R``: an ``O(d)`` tridiagonal solve
per alpha and column (``dptsv``) and two applications of the reflectors (``dormqr``). Ridge for every alpha
needs nothing more when no leave-one-out diagonal is asked for.

Example:
    >>> import numpy as np
    >>> from probewise.fit._tridiag import shifted_solves
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 5))
    >>> S, R = X.T @ X, rng.standard_normal((5, 2))
    >>> W = shifted_solves(S.copy(), R, [0.1, 10.0])            # [alphas, d, t]
    >>> bool(np.allclose(W[1], np.linalg.solve(S + 10.0 * np.eye(5), R)))
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from scipy.linalg import lapack

__all__ = ["shifted_solves"]

#: Up to this size the reduction runs on one BLAS thread. Right after torch's products, torch's OpenMP threads
#: keep spinning, and a second OpenBLAS thread mostly waits for them (2 cores, ridge of 7 layers at d = 384:
#: 52 ms end to end on one thread, 101 ms on two; of 2 layers at d = 1024: 182 vs 221 ms; at d = 2048, where
#: each reduction is long, two threads win: 1.11 vs 1.43 s).
ONE_THREAD_MAX_DIM = 1024

_controller = None


@contextmanager
def _blas_threads(d: int) -> Iterator[None]:
    global _controller
    if d > ONE_THREAD_MAX_DIM:
        yield
        return
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield


def shifted_solves(S: np.ndarray, R: np.ndarray, alphas: Sequence[float]) -> np.ndarray | None:
    """``W[a] = (S + alphas[a] I)^-1 R`` for a symmetric positive semi-definite ``S``.

    Args:
        S: ``[d, d]`` float64, C-ordered; only its upper triangle is read, and it is overwritten.
        R: ``[d, t]`` right-hand sides.
        alphas: shifts, each > 0.

    Returns:
        ``[A, d, t]`` float64, or ``None`` when some ``T + alpha I`` is not numerically positive definite
        (an alpha below the rounding error of ``S``'s smallest eigenvalues); the caller then falls back to an
        eigendecomposition, which clamps those eigenvalues at zero.
    """
    d = S.shape[0]
    R = np.asarray(R, dtype=np.float64)
    t = R.shape[1]
    A = len(alphas)
    if d == 1:  # nothing to reduce (and LAPACK's tridiagonal solver wants an off-diagonal)
        shifted = S[0, 0] + np.asarray(alphas, dtype=np.float64)
        return None if (shifted <= 0).any() else R[None] / shifted[:, None, None]
    with _blas_threads(d):
        # S is C-ordered with its upper triangle set: S.T is the same memory, Fortran-ordered, lower triangle set.
        lwork, info = lapack.dsytrd_lwork(d, lower=1)  # the blocked algorithm needs its optimal workspace
        _check("dsytrd_lwork", info)
        a, diag, off, tau, info = lapack.dsytrd(S.T, lower=1, lwork=int(lwork), overwrite_a=1)
        _check("dsytrd", info)
        reflect = a[1:, : d - 1]  # Q = H(1) ... H(d-1): a QR-shaped reflector block acting on rows 1..d-1
        c = np.array(R, order="F")
        c[1:], _, info = lapack.dormqr("L", "T", reflect, tau, c[1:], max(1, t) * 64)
        _check("dormqr", info)
        Z = np.empty((d, A * t), order="F")
        for i, alpha in enumerate(alphas):
            _, _, z, info = lapack.dptsv(diag + alpha, off, c)
            if info > 0:  # a non-positive pivot: T + alpha I is not positive definite
                return None
            _check("dptsv", info)
            Z[:, i * t : (i + 1) * t] = z
        Z[1:], _, info = lapack.dormqr("L", "N", reflect, tau, Z[1:], A * t * 64)
        _check("dormqr", info)
    return np.ascontiguousarray(Z.reshape(d, A, t).transpose(1, 0, 2))


def _check(routine: str, info: int) -> None:
    if info != 0:  # only for invalid arguments, which would be a bug here
        raise RuntimeError(f"LAPACK {routine} failed (info={info}).")
