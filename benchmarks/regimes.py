"""Regime benchmark (issue 22): probewise ``fit_logistic`` vs scikit-learn's ``LogisticRegression`` loop.

Regimes: classes in {2, 3, 10, 77}, isotropic (well-conditioned) or hidden-state-like (ill-conditioned,
``benchmarks/solvers.make_features``) features, d in {384, 1024, 4096}, n in {1k, 10k}. Both sides run on one
thread (torch ``num_threads=1``; scikit-learn inside ``threadpoolctl.threadpool_limits(1)``), both at the default
``tol=1e-4`` and "converged" (``tol=1e-8``, ``max_iter=10000``). Reported per regime: time ratio sklearn/probewise
(> 1 means probewise is faster), held-out accuracy of each, and the relative objective gap of each to the
best objective found (the converged scikit-learn fit), both in the standardized space.

Run:  python benchmarks/regimes.py --quick     (a few minutes: d=384, n=1000, classes 2 and 10)
      python benchmarks/regimes.py             (the full grid; hours on a 2-core machine)
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from solvers import make_features  # noqa: E402

from probewise.fit import fit_logistic  # noqa: E402


def isotropic(n: int, d: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features with class means on a random direction set; labels with 10% noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    means = rng.normal(size=(k, d)) * (1.5 / np.sqrt(d))
    X = rng.normal(size=(n, d)) + means[y] * np.sqrt(d) / 4
    flip = rng.random(n) < 0.1
    y = np.where(flip, rng.integers(0, k, size=n), y)
    return X.astype(np.float32), y


def objective(W: np.ndarray, b: np.ndarray, Xs: np.ndarray, y: np.ndarray, C: float) -> float:
    """``C * sum log-loss + 0.5 ||W||^2`` (multinomial for k > 2, binary logit otherwise)."""
    Z = Xs.astype(np.float64) @ W + b
    if W.shape[1] == 1:
        s = np.where(y == 1, 1.0, -1.0)
        loss = np.logaddexp(0, -s * Z[:, 0]).sum()
    else:
        m = Z.max(1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(Z - m).sum(1)))
        loss = (lse - Z[np.arange(len(y)), y]).sum()
    return float(C * loss + 0.5 * (W**2).sum())


def run_regime(kind: str, k: int, d: int, n: int, C: float, n_test: int = 1000) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if kind == "isotropic":
        X, y = isotropic(n + n_test, d, k)
    else:
        Xl, y = make_features(1, n + n_test, d, k)
        X = Xl[0]
    Xtr, ytr, Xte, yte = X[:n], y[:n], X[n:], y[n:]
    sc = StandardScaler().fit(Xtr)
    Xs, Xts = sc.transform(Xtr), sc.transform(Xte)
    row = {"features": kind, "classes": k, "d": d, "n": n, "C": C}
    for label, tol, max_iter in (("default", 1e-4, 100), ("converged", 1e-8, 10000)):
        t = time.perf_counter()
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = LogisticRegression(C=C, tol=tol, max_iter=max_iter).fit(Xs, ytr)
        t_sk = time.perf_counter() - t
        t = time.perf_counter()
        p = fit_logistic(Xtr, ytr, [C], tol=tol, max_iter=max_iter, num_threads=1)
        t_pw = time.perf_counter() - t
        W = m.coef_.T if k > 2 else m.coef_.T
        obj_sk = objective(W, m.intercept_, Xs, ytr, C)
        # probewise coefficients are in the original space: map back to the standardized one
        Wp = (p.coef[0, 0].double().numpy() * sc.scale_[:, None])
        bp = p.intercept[0, 0].double().numpy() + sc.mean_ @ p.coef[0, 0].double().numpy()
        obj_pw = objective(Wp, bp, Xs, ytr, C)
        acc_pw = float((p.predict(torch.from_numpy(Xte))[0, 0].numpy() == yte).mean())
        row[label] = {"sklearn_s": t_sk, "probewise_s": t_pw, "ratio": t_sk / t_pw,
                      "acc_sklearn": float(m.score(Xts, yte)), "acc_probewise": acc_pw,
                      "obj_sklearn": obj_sk, "obj_probewise": obj_pw}
    best = min(row["converged"]["obj_sklearn"], row["converged"]["obj_probewise"])
    for label in ("default", "converged"):
        for who in ("sklearn", "probewise"):
            row[label][f"gap_{who}"] = (row[label][f"obj_{who}"] - best) / abs(best)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--json", type=str, default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.quick:
        grid = itertools.product(["isotropic", "hidden"], [2, 10], [384], [1000])
    else:
        grid = itertools.product(["isotropic", "hidden"], [2, 3, 10, 77], [384, 1024, 4096], [1000, 10000])
    rows = []
    print("features  k    d      n | default: ratio acc_sk acc_pw gap_sk gap_pw | converged: ratio gap_sk gap_pw")
    for kind, k, d, n in grid:
        r = run_regime(kind, k, d, n, a.C)
        rows.append(r)
        df, cv = r["default"], r["converged"]
        print(f"{kind:9s} {k:2d} {d:5d} {n:6d} | {df['ratio']:5.2f}x {df['acc_sklearn']:.3f} "
              f"{df['acc_probewise']:.3f} {df['gap_sklearn']:.1e} {df['gap_probewise']:.1e} | "
              f"{cv['ratio']:5.2f}x {cv['gap_sklearn']:.1e} {cv['gap_probewise']:.1e}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
