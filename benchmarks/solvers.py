"""Batched solvers vs the scikit-learn loop a user would otherwise run.

Synthetic layer features ``[layers, n_train + n_test, d]`` (clustered latent data through a random projection,
a GELU and a LayerNorm per layer, so rank-deficient like a transformer's) and a grid of C / alpha values.

* logistic: ``probewise.fit.fit_logistic`` (every layer x every C in one call) against
  ``StandardScaler`` + ``LogisticRegression(C)`` (lbfgs, its defaults) in a loop over layers x C;
* ridge: ``probewise.fit.fit_ridge_classifier`` (every alpha from one eigendecomposition, with leave-one-out
  errors) against ``StandardScaler`` + ``RidgeClassifierCV(alphas)`` per layer.

scikit-learn is timed with its default threads and with ``OPENBLAS_NUM_THREADS=1`` (which must be set before
numpy is imported, so that run is a subprocess of this script); on a 2-core machine the latter is its best.
probewise is timed with torch's default threads and with one thread. Every time is the best of ``--repeats``
runs. Accuracy is on the held-out split, at every (layer, grid value), for each solver at its defaults
(``tol=1e-4``, scikit-learn's ``max_iter=100``) and for the exact optimum (scikit-learn with ``tol=1e-8``,
``max_iter=10000``, untimed). At large C the ``tol=1e-4`` rule of both solvers stops far from the optimum
(the gradient is scaled by ``1/(C n)``), so "equal accuracy" is measured against the exact optimum.

Run:  python benchmarks/solvers.py            (full: 7 layers, n=2000, d=384, 10 values)
      python benchmarks/solvers.py --quick    (small smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np


def make_features(layers: int, n: int, d: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[layers, n, d]`` float32 and labels ``[n]``."""
    rng = np.random.default_rng(seed)
    latent = 48
    y = rng.integers(0, n_classes, size=n)
    centers = rng.normal(size=(n_classes, 3, latent))
    z = centers[y, rng.integers(0, 3, size=n)] * 0.6 + rng.normal(size=(n, latent))
    flip = rng.random(n) < 0.1
    y = np.where(flip, rng.integers(0, n_classes, size=n), y)
    out = []
    for layer in range(layers):
        P = rng.normal(size=(latent, d)) / np.sqrt(latent)
        h = z @ P * (0.5 + 0.25 * layer) + 0.3 * rng.normal(size=(n, d))
        h = 0.5 * h * (1 + np.tanh(0.79788456 * (h + 0.044715 * h**3)))
        h = (h - h.mean(1, keepdims=True)) / np.sqrt(h.var(1, keepdims=True) + 1e-5)
        out.append(h * rng.lognormal(sigma=0.5, size=d) + rng.normal(size=d) * 0.2)
    return np.stack(out).astype(np.float32), y


def _split(args: argparse.Namespace):
    X, y = make_features(args.layers, args.n + args.n_test, args.d, args.classes)
    return X[:, : args.n], y[: args.n], X[:, args.n :], y[args.n :]


def _best(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def sklearn_side(args: argparse.Namespace) -> dict:
    """The scikit-learn loops: times and held-out accuracies ``[layers, values]``."""
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, RidgeClassifierCV
    from sklearn.preprocessing import StandardScaler

    Xtr, ytr, Xte, yte = _split(args)
    Cs, alphas = np.logspace(*args.c_range, args.values), np.logspace(*args.alpha_range, args.values)

    def logistic():
        acc = np.zeros((args.layers, len(Cs)))
        iters = np.zeros((args.layers, len(Cs)), dtype=int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter=100 is part of the defaults
            for layer in range(args.layers):
                scaler = StandardScaler().fit(Xtr[layer])
                A, B = scaler.transform(Xtr[layer]), scaler.transform(Xte[layer])
                for j, C in enumerate(Cs):
                    model = LogisticRegression(C=C).fit(A, ytr)
                    acc[layer, j] = model.score(B, yte)
                    iters[layer, j] = model.n_iter_[0]
        return acc, iters

    def ridge():
        chosen, acc = [], []
        for layer in range(args.layers):
            scaler = StandardScaler().fit(Xtr[layer])
            model = RidgeClassifierCV(alphas=alphas).fit(scaler.transform(Xtr[layer]), ytr)
            chosen.append(float(model.alpha_))
            acc.append(model.score(scaler.transform(Xte[layer]), yte))
        return chosen, acc

    t_log, (acc, iters) = _best(logistic, args.repeats)
    exact = np.zeros((args.layers, len(Cs)))
    if args.reference:  # untimed: the exact optimum's accuracy
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for layer in range(args.layers):
                scaler = StandardScaler().fit(Xtr[layer])
                A, B = scaler.transform(Xtr[layer]), scaler.transform(Xte[layer])
                for j, C in enumerate(Cs):
                    model = LogisticRegression(C=C, tol=1e-8, max_iter=10000).fit(A.astype(np.float64), ytr)
                    exact[layer, j] = model.score(B, yte)
    t_ridge, (chosen, racc) = _best(ridge, args.repeats)
    grid = np.zeros((args.layers, len(alphas)))  # untimed: accuracy of every alpha, for the comparison
    for layer in range(args.layers):
        scaler = StandardScaler().fit(Xtr[layer])
        for j, a in enumerate(alphas):
            m = RidgeClassifier(alpha=a).fit(scaler.transform(Xtr[layer]), ytr)
            grid[layer, j] = m.score(scaler.transform(Xte[layer]), yte)
    return {
        "logistic_s": t_log, "logistic_acc": acc.tolist(), "logistic_iters": iters.tolist(),
        "logistic_exact_acc": exact.tolist(),
        "ridge_s": t_ridge, "ridge_alpha": chosen, "ridge_acc": racc, "ridge_grid_acc": grid.tolist(),
    }


def probewise_side(args: argparse.Namespace, num_threads: int | None) -> dict:
    import torch

    from probewise.fit import fit_logistic, fit_ridge_classifier

    Xtr, ytr, Xte, yte = _split(args)
    Cs, alphas = np.logspace(*args.c_range, args.values), np.logspace(*args.alpha_range, args.values)
    Xtr_t, Xte_t = torch.from_numpy(Xtr), torch.from_numpy(Xte)
    fit_logistic(Xtr_t[:1, :200], ytr[:200], Cs[:2], num_threads=num_threads)  # warm-up (lazy inits)

    t_log, path = _best(lambda: fit_logistic(Xtr_t, ytr, Cs, num_threads=num_threads), args.repeats)
    acc = (path.predict(Xte_t).numpy() == yte).mean(axis=2)
    t_ridge, rpath = _best(
        lambda: fit_ridge_classifier(Xtr_t, ytr, alphas, loo=True, num_threads=num_threads), args.repeats
    )
    best = rpath.loo_mse.mean(dim=-1).argmin(dim=1).numpy()
    racc_grid = (rpath.predict(Xte_t).numpy() == yte).mean(axis=2)
    return {
        "threads": num_threads or torch.get_num_threads(),
        "logistic_s": t_log, "logistic_acc": acc.tolist(), "logistic_iters": path.n_iter.tolist(),
        "converged": bool(path.converged.all()),
        "ridge_s": t_ridge, "ridge_alpha": [float(alphas[i]) for i in best],
        "ridge_acc": [float(racc_grid[layer, i]) for layer, i in enumerate(best)],
        "ridge_grid_acc": racc_grid.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000, help="training examples")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--values", type=int, default=10, help="grid size of C and of alpha")
    parser.add_argument("--c-range", type=float, nargs=2, default=(-4.0, 4.0), help="log10 range of C")
    parser.add_argument("--alpha-range", type=float, nargs=2, default=(-2.0, 5.0), help="log10 range of alpha")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--skip-default-threads", action="store_true",
                        help="do not time scikit-learn with its default threads (slow on a busy machine)")
    parser.add_argument("--sklearn-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.layers, args.n, args.n_test, args.d, args.values, args.repeats = 2, 300, 200, 32, 4, 1
    if args.sklearn_only:  # child process: print the scikit-learn results as JSON
        print(json.dumps(sklearn_side(args)))
        return

    def sklearn_in_child(env_extra: dict, reference: bool) -> dict:
        cmd = [sys.executable, __file__, "--sklearn-only"] + [a for a in sys.argv[1:] if not a.startswith("--json")]
        if args.json:
            cmd = [c for c in cmd if c != args.json]
        if reference:
            cmd.append("--reference")
        res = subprocess.run(cmd, env={**os.environ, **env_extra}, capture_output=True, text=True, check=True)
        return json.loads(res.stdout.strip().splitlines()[-1])

    results = {
        "config": {k: v for k, v in vars(args).items() if k not in ("json", "sklearn_only", "reference")},
        "load_before": os.getloadavg(),
        "sklearn_1thread": sklearn_in_child({"OPENBLAS_NUM_THREADS": "1"}, reference=True),
        "sklearn_default": None if args.skip_default_threads else sklearn_in_child({}, reference=False),
        "probewise_default": probewise_side(args, None),
        "probewise_1thread": probewise_side(args, 1),
        "load_after": os.getloadavg(),
    }
    report(results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


def report(r: dict) -> None:
    c = r["config"]
    print(f"features [{c['layers']} layers, n={c['n']} train / {c['n_test']} test, d={c['d']}], "
          f"{c['classes']} classes, {c['values']} values per grid; best of {c['repeats']}; "
          f"load average {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}")
    sks = [name for name in ("sklearn_default", "sklearn_1thread") if r[name] is not None]
    print("\nlogistic (every layer x C), wall time of the whole grid:")
    for sk_name in sks:
        sk = r[sk_name]
        for pw_name in ("probewise_default", "probewise_1thread"):
            pw = r[pw_name]
            diff = np.abs(np.array(pw["logistic_acc"]) - np.array(sk["logistic_acc"])) * 100
            print(f"  {sk_name:16s} {sk['logistic_s']:8.3f}s  vs {pw_name:18s} {pw['logistic_s']:7.3f}s  "
                  f"ratio {sk['logistic_s'] / pw['logistic_s']:7.1f}x   max |acc diff| {diff.max():.2f} pts")
    sk, pw = r["sklearn_1thread"], r["probewise_1thread"]
    exact = np.array(sk["logistic_exact_acc"])
    d_sk = np.abs(np.array(sk["logistic_acc"]) - exact) * 100
    d_pw = np.abs(np.array(pw["logistic_acc"]) - exact) * 100
    print(f"  held-out accuracy vs the exact optimum, max over the grid: scikit-learn defaults {d_sk.max():.2f} pts, "
          f"probewise defaults {d_pw.max():.2f} pts")
    print(f"  iterations: scikit-learn lbfgs max {np.max(sk['logistic_iters'])} (cap 100, "
          f"{int((np.array(sk['logistic_iters']) >= 100).sum())} capped), probewise max "
          f"{np.max(pw['logistic_iters'])}, all converged: {pw['converged']}")
    print("\nridge (every layer x alpha, leave-one-out selection):")
    for sk_name in sks:
        sk = r[sk_name]
        for pw_name in ("probewise_default", "probewise_1thread"):
            pw = r[pw_name]
            diff = np.abs(np.array(pw["ridge_grid_acc"]) - np.array(sk["ridge_grid_acc"])) * 100
            same = pw["ridge_alpha"] == sk["ridge_alpha"]
            print(f"  {sk_name:16s} {sk['ridge_s']:8.3f}s  vs {pw_name:18s} {pw['ridge_s']:7.3f}s  "
                  f"ratio {sk['ridge_s'] / pw['ridge_s']:7.1f}x   max |acc diff| {diff.max():.2f} pts, "
                  f"same alphas chosen: {same}")


if __name__ == "__main__":
    main()
