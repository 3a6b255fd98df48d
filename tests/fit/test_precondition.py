"""The logistic solver's preconditioners against the matrices they stand for, built explicitly in numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probewise.fit._precondition import Basis, NewtonFactors, newton_apply, plan
from tests.conftest import run_doctests


def _features(L: int, n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(L, n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g, dtype=torch.float64)


def test_plan_picks_the_exact_basis_by_shape_and_honours_the_switches():
    assert plan("auto", 500, 64, 1) == "primal"
    assert plan("auto", 50, 400, 1) == "dual"
    assert plan(False, 500, 64, 1) == "plain"
    assert plan("exact", 50, 4000, 1) == "dual"
    assert plan("lowrank", 5000, 2048, 1) == "lowrank"
    assert plan("lowrank", 5000, 100, 1) == "primal"  # too narrow for a rank-128 sketch to save anything


def test_primal_preconditioner_is_the_inverse_of_c_gram_plus_identity():
    X = _features(2, 80, 6)
    basis = Basis(X, "primal")
    g = torch.randn(2, 3, 1, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    c = torch.tensor([[[0.5], [2.0], [10.0]], [[1.0], [0.1], [3.0]]], dtype=torch.float64)
    out = basis.precondition(g, c).numpy()
    for layer in range(2):
        gram = X[layer].numpy().T @ X[layer].numpy()
        for a in range(3):
            want = np.linalg.solve(c[layer, a, 0].item() * gram + np.eye(6), g[layer, a, 0].numpy())
            np.testing.assert_allclose(out[layer, a, 0], want, rtol=1e-9, atol=1e-12)


def test_dual_basis_is_an_exact_reduction_to_the_span_of_the_examples():
    X = _features(1, 12, 40)  # d > n
    basis = Basis(X, "dual")
    assert basis.F.shape == (1, 12, 12)
    a = torch.randn(1, 1, 1, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    w = basis.to_features(a)[0, 0, 0]  # feature-space weights of solver weights a
    # same scores on every example and the same norm (the penalty is unchanged by the reduction)
    np.testing.assert_allclose((X[0] @ w).numpy(), (basis.F[0] @ a[0, 0, 0]).numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(w.norm().item(), a.norm().item(), rtol=1e-8)


def test_newton_factors_solve_with_the_exact_hessian():
    G, a, n, r = 2, 2, 60, 5
    X = _features(G, n, r)
    basis = Basis(X, "primal")
    gen = torch.Generator().manual_seed(3)
    p = torch.rand(G, a, 1, n, generator=gen, dtype=torch.float64) * 0.6 + 0.2  # curvature within 1e-3 of max
    Cw = torch.tensor([[0.5, 4.0], [1.0, 20.0]], dtype=torch.float64)
    factors = NewtonFactors(G, a, 1, r + 1, torch.device("cpu"))
    need = torch.tensor([[True, True], [False, True]])
    factors.update(basis, p, Cw, need, it=0)
    Gw = torch.randn(G, a, 1, r, generator=gen, dtype=torch.float64)
    gb = torch.randn(G, a, 1, generator=gen, dtype=torch.float64)
    S, sb = newton_apply(factors, Gw, gb)
    for gi in range(G):
        F1 = np.hstack([X[gi].numpy(), np.ones((n, 1))])
        for ai in range(a):
            g = np.append(Gw[gi, ai, 0].numpy(), gb[gi, ai, 0].item())
            got = np.append(S[gi, ai, 0].numpy(), sb[gi, ai, 0].item())
            if need[gi, ai]:
                D = (p[gi, ai, 0] * (1 - p[gi, ai, 0])).numpy()
                H = Cw[gi, ai].item() * (F1 * D[:, None]).T @ F1 + np.eye(r + 1)
                np.testing.assert_allclose(got, np.linalg.solve(H, g), rtol=1e-8, atol=1e-12)
            else:  # not built: the identity
                np.testing.assert_allclose(got, g, rtol=0, atol=0)
    assert factors.built.tolist() == [[0, 0], [-1, 0]]


FIT_MODULES = ["_precondition", "_tridiag", "logistic", "ridge", "meandiff", "streaming", "trainer"]


@pytest.mark.parametrize("module", FIT_MODULES)
def test_docstring_examples_run(module):
    result = run_doctests(f"probewise.fit.{module}", ignore_warnings=True)
    assert result.failed == 0 and result.attempted > 0
