"""The sweep's headline number: probewise vs the scikit-learn loop a user would write, on real MiniLM features.

One process, the same features for both: the embedded all-MiniLM-L6-v2's 7 hidden states (mean-pooled) of a
built-in task, every layer × 10 C values.

* probewise: `probewise.fit.fit_logistic` (all layers × all C in one batched, warm-started call; features
  standardized per layer) and `fit_ridge_classifier` (all alphas from one tridiagonal reduction per layer, or
  one eigendecomposition when the leave-one-out residuals are asked for).
* scikit-learn: `StandardScaler` + `LogisticRegression(C, lbfgs)` in a loop over layers × C, at its defaults
  (max_iter=100) and at its best on 2 cores (the same loop under OPENBLAS_NUM_THREADS=1, in a subprocess since
  the variable must be set before numpy loads); `StandardScaler` + `RidgeClassifierCV(alphas)` per layer, on
  the float32 features and on float64 copies (probewise's ridge: float64, with and without LOO residuals).

Reported: wall-time ratios, the (layer, C) each selects on validation (ties → smaller C, then lower layer,
the sweep's rule), and the largest validation-accuracy difference over the whole grid.

Run:  python benchmarks/sweep.py                 (task bigram_shift, 2000 sentences)
      python benchmarks/sweep.py --quick         (600 sentences)
      python benchmarks/sweep.py --ridge-only    (the ridge lines alone)
      python benchmarks/sweep.py --scaling       (also synthetic n ∈ {10k, 100k} × d ∈ {384, 1024, 4096},
                                                 each against the scikit-learn loop, --scaling-budget s per cell)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

CS = [float(c) for c in np.logspace(-4, 5, 10)]
ALPHAS = [float(a) for a in np.logspace(-2, 7, 10)]


def features(task: str, n: int, cache: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from probewise import HFSource, extract, open_store
    from probewise.data.tasks import make_task
    from probewise.extract import task_examples

    path = os.path.join(cache, f"{task}-{n}")
    if not os.path.exists(os.path.join(path, "manifest.json")):
        extract(HFSource("default", device="cpu"), task_examples(make_task(task, n=n)), path, progress=False)
    store = open_store(path)
    X = {s: np.stack([store.read(l, s).numpy() for l in store.layers]) for s in ("train", "val")}
    y = {s: store.labels[store.indices(s)] for s in ("train", "val")}
    return X, y


def select(acc: np.ndarray) -> tuple[int, int]:
    """(layer, C index) with the best val accuracy; ties → smaller C, then lower layer (acc is [L, C])."""
    best = acc.max()
    for c in range(acc.shape[1]):
        for layer in range(acc.shape[0]):
            if acc[layer, c] == best:
                return layer, c
    raise AssertionError


def sklearn_loop(X, y, max_iter: int, tol: float = 1e-4) -> tuple[float, np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    acc = np.zeros((X["train"].shape[0], len(CS)))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for layer in range(X["train"].shape[0]):
            sc = StandardScaler().fit(X["train"][layer])
            Xtr, Xva = sc.transform(X["train"][layer]), sc.transform(X["val"][layer])
            for j, c in enumerate(CS):
                m = LogisticRegression(C=c, max_iter=max_iter, tol=tol).fit(Xtr, y["train"])
                acc[layer, j] = (m.predict(Xva) == y["val"]).mean()
    return time.perf_counter() - t0, acc


def probewise_logistic(X, y) -> tuple[float, np.ndarray]:
    import torch

    from probewise.fit import fit_logistic

    Xtr = torch.as_tensor(X["train"])
    t0 = time.perf_counter()
    path = fit_logistic(Xtr, y["train"], CS)
    pred = path.predict(torch.as_tensor(X["val"])).numpy()  # [L, C, m]
    seconds = time.perf_counter() - t0
    return seconds, (pred == y["val"][None, None]).mean(-1)


def exact_optimum(X, y) -> np.ndarray:
    """Validation accuracy ``[L, C]`` at the exact optimum (untimed): probewise in float64 at tol=1e-11,
    rtol=1e-9 (checked against scikit-learn at tol=1e-10 in tests/fit)."""
    import torch

    from probewise.fit import fit_logistic

    path = fit_logistic(torch.as_tensor(X["train"]), y["train"], CS, dtype="float64", tol=1e-11, rtol=1e-9,
                        max_iter=20000)
    assert bool(path.converged.all())
    pred = path.predict(torch.as_tensor(X["val"])).numpy()
    return (pred == y["val"][None, None]).mean(-1)


def ridge_both(X, y, repeats: int = 3) -> dict:
    """probewise's ridge (float64, every alpha of every layer) vs ``StandardScaler`` + ``RidgeClassifierCV`` per
    layer, each the best of ``repeats`` runs after a warm-up. probewise is timed three times: with the
    leave-one-out residuals ``RidgeClassifierCV`` computes (``loo=True``, one eigendecomposition per layer), and
    without them (what ``probewise sweep`` runs: it selects on validation) by its default solver (one tridiagonal
    reduction per layer) and by ``solver="eigh"``. scikit-learn is timed on the float32 features as the store
    gives them (it then computes in float32) and on float64 copies (the precision probewise computes in)."""
    import torch
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.preprocessing import StandardScaler

    from probewise.fit import fit_ridge_classifier

    Xtr, Xva = torch.as_tensor(X["train"]), torch.as_tensor(X["val"])

    def probewise(how: str):
        t0 = time.perf_counter()
        solver = "eigh" if how == "eigh" else "auto"
        path = fit_ridge_classifier(Xtr, y["train"], ALPHAS, loo=how == "loo", solver=solver)
        path.predict(Xva)
        return time.perf_counter() - t0, path

    def sklearn(dtype):
        tr, va = X["train"].astype(dtype), X["val"].astype(dtype)
        t0 = time.perf_counter()
        alphas, scores = [], []
        for layer in range(tr.shape[0]):
            sc = StandardScaler().fit(tr[layer])
            m = RidgeClassifierCV(alphas=ALPHAS).fit(sc.transform(tr[layer]), y["train"])
            alphas.append(ALPHAS.index(float(m.alpha_)))
            scores.append(m.decision_function(sc.transform(va[layer])).astype(np.float64))
        return time.perf_counter() - t0, (alphas, scores)

    def best(fn, arg):
        fn(arg)  # warm-up
        return min((fn(arg) for _ in range(repeats)), key=lambda r: r[0])

    t_loo, path = best(probewise, "loo")
    t_val, tri = best(probewise, "auto")
    t_eigh, _ = best(probewise, "eigh")
    z = path.decision_function(Xva).numpy()[..., 0]  # [L, A, m], float64: the exact solutions
    zt = tri.decision_function(Xva).numpy()[..., 0]
    tri_rel = float((np.linalg.norm(zt - z, axis=-1) / np.linalg.norm(z, axis=-1)).max())
    pw_acc = (path.predict(Xva).numpy() == y["val"][None, None]).mean(-1)  # [L, A]
    pw_loo_alpha = path.loo_mse.mean(-1).argmin(1).numpy()  # the alpha probewise's own LOO errors choose
    out = {"probewise_s": t_loo, "probewise_val_only_s": t_val, "probewise_val_only_eigh_s": t_eigh,
           "tridiagonal_max_rel_diff_val_scores": tri_rel,
           "tridiagonal_same_predictions": bool((tri.predict(Xva) == path.predict(Xva)).all())}
    for name, dtype in (("float32", np.float32), ("float64", np.float64)):
        t, (alphas, scores) = best(sklearn, dtype)
        rel = [np.linalg.norm(scores[i] - z[i, a]) / np.linalg.norm(z[i, a]) for i, a in enumerate(alphas)]
        acc = np.array([((s > 0).astype(int) == y["val"]).mean() for s in scores])
        out[name] = {"sklearn_s": t, "ratio": t / t_loo, "ratio_val_only": t / t_val, "ratio_eigh": t / t_eigh,
                     "max_rel_err_val_scores": float(max(rel)),
                     "max_val_acc_diff_at_sklearn_alpha": float(np.abs(pw_acc[np.arange(len(alphas)), alphas]
                                                                       - acc).max()),
                     "same_loo_alpha": bool((pw_loo_alpha == np.asarray(alphas)).all())}
    return out


def child(task, n, cache, max_iter, tol):
    X, y = features(task, n, cache)
    t, acc = sklearn_loop(X, y, max_iter, tol)
    print(json.dumps({"seconds": t, "acc": acc.tolist()}))


def synthetic(n: int, d: int, kind: str = "hidden", n_val: int = 2000):
    """``X [1, n + n_val, d]`` float32 and labels ``y``.

    * ``isotropic``: two Gaussian classes, means 0.3 apart on every coordinate (separable for large d, and
      so well conditioned that scikit-learn's default stopping rule is met after one or two iterations);
    * ``hidden``: like a transformer's hidden states: 32 latent factors with power-law scales mixed into all
      coordinates, small isotropic noise, rows centred (LayerNorm-like, rank-deficient), and the class means
      2.5 noise standard deviations apart in Mahalanobis distance (about 89 % Bayes accuracy).
    """
    import torch

    g = torch.Generator().manual_seed(0)
    m = n + n_val
    y = torch.randint(0, 2, (m,), generator=g)
    if kind == "isotropic":
        X = torch.randn(1, m, d, generator=g) + 0.3 * y[None, :, None].float()
        return X, y.numpy()
    scales = torch.arange(1, 33, dtype=torch.float32) ** -0.7
    mix = torch.randn(32, d, generator=g)
    X = (torch.randn(m, 32, generator=g) * scales) @ mix + 0.1 * torch.randn(m, d, generator=g)
    u = torch.randn(d, generator=g)
    u /= u.norm()
    # Mahalanobis norm of u under the noise covariance 0.01 I + mix^T diag(scales^2) mix (Woodbury): the
    # class means are placed 2.5 noise standard deviations apart in the best direction.
    mu = (mix @ u).double()
    inner = torch.diag(0.01 / scales.double() ** 2) + (mix @ mix.T).double()
    maha = (1.0 - mu @ torch.linalg.solve(inner, mu)) / 0.01
    X += (y.float() - 0.5)[:, None] * float(2.5 / maha.sqrt()) * u
    X -= X.mean(dim=1, keepdim=True)
    return X[None], y.numpy()


def scaling_child(n: int, d: int, kind: str, budget: float) -> None:
    """The scikit-learn loop on one synthetic cell, C ascending, until ``budget`` seconds are spent."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = synthetic(n, d, kind)
    X = X[0].numpy()
    sc = StandardScaler().fit(X[:n])
    Xtr, Xva = sc.transform(X[:n]), sc.transform(X[n:])
    acc, t0 = [], time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in CS:
            m = LogisticRegression(C=c).fit(Xtr, y[:n])
            acc.append(float((m.predict(Xva) == y[n:]).mean()))
            if time.perf_counter() - t0 > budget:
                break
    print(json.dumps({"seconds": time.perf_counter() - t0, "acc": acc}))


def scaling(budget: float = 300.0) -> list[dict]:
    """probewise (1 layer x 10 C) on synthetic cells vs the scikit-learn loop (one BLAS thread, its fastest
    setting here) in a subprocess, which stops after ``budget`` seconds (its ratio is then a lower bound)."""
    from probewise.fit import fit_logistic

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = []
    cells = [(k, n, d) for k in ("hidden", "isotropic") for n in (10_000, 100_000) for d in (384, 1024, 4096)]
    for kind, n, d in cells:
        if n * d * 4 > 2.5e9:
            rows.append({"kind": kind, "n": n, "d": d, "seconds": None, "note": "skipped: > 2.5 GB of features"})
            continue
        X, y = synthetic(n, d, kind)
        t0 = time.perf_counter()
        path = fit_logistic(X[:, :n], y[:n], CS)
        t_pw = time.perf_counter() - t0
        acc_pw = (path.predict(X[:, n:])[0].numpy() == y[None, n:]).mean(-1)
        del X
        out = subprocess.run([sys.executable, __file__, "--child-scaling", f"{n},{d},{kind},{budget}"], env=env,
                             capture_output=True, text=True, check=True)
        sk = json.loads(out.stdout.strip().splitlines()[-1])
        done = len(sk["acc"])
        rows.append({"kind": kind, "n": n, "d": d, "seconds": round(t_pw, 2), "max_iter_used": int(path.n_iter.max()),
                     "sklearn_seconds": round(sk["seconds"], 1), "sklearn_C_done": done,
                     "ratio": round(sk["seconds"] / t_pw, 1), "lower_bound": done < len(CS),
                     "max_val_acc_diff_points": round(100 * float(np.abs(acc_pw[:done] - sk["acc"]).max()), 2)})
        print(rows[-1], file=sys.stderr)
    return rows


def logistic_tables(args, X, y) -> None:
    """The logistic table: probewise vs the scikit-learn loop (default threads, one thread, converged) and
    the exact optimum."""
    L = X["train"].shape[0]
    probewise_logistic(X, y)  # warm-up
    t_pw, acc_pw = min((probewise_logistic(X, y) for _ in range(3)), key=lambda r: r[0])
    t_sk, acc_sk = sklearn_loop(X, y, 100)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def one_thread(max_iter: int, tol: float) -> tuple[float, np.ndarray]:
        out = subprocess.run([sys.executable, __file__, "--task", args.task, "--n", str(args.n), "--cache",
                              args.cache, "--child-max-iter", str(max_iter), "--child-tol", str(tol)]
                             + (["--quick"] if args.quick else []),
                             env=env, capture_output=True, text=True, check=True)
        best = json.loads(out.stdout.strip().splitlines()[-1])
        return best["seconds"], np.asarray(best["acc"])

    t_sk1, acc_sk1 = one_thread(100, 1e-4)
    # scikit-learn run until it converges (its defaults stop far from the optimum at large C)
    t_skc, acc_skc = one_thread(100_000, 1e-8)
    rows = {
        "probewise logistic (all layers × C)": (t_pw, acc_pw),
        "sklearn loop, default threads": (t_sk, acc_sk),
        "sklearn loop, OPENBLAS_NUM_THREADS=1": (t_sk1, acc_sk1),
        "sklearn loop, 1 thread, tol=1e-8 (converged)": (t_skc, acc_skc),
    }
    print(f"{'solver':46s} {'seconds':>9s} {'vs probewise':>13s} {'selected (layer, C)':>22s} {'best val acc':>13s}")
    for name, (t, acc) in rows.items():
        lay, c = select(acc)
        print(f"{name:46s} {t:9.2f} {t / t_pw:12.1f}× {f'({lay}, {CS[c]:g})':>22s} {acc.max():13.3f}")
    diff = max(np.abs(acc_pw - acc_sk).max(), np.abs(acc_pw - acc_sk1).max())
    print(f"largest |val accuracy difference| over the grid, probewise vs scikit-learn converged: "
          f"{100 * np.abs(acc_pw - acc_skc).max():.2f} points")
    print(f"largest |val accuracy difference| over the {L}×{len(CS)} grid, probewise vs scikit-learn defaults: "
          f"{100 * diff:.2f} points")
    acc_ex = exact_optimum(X, y)
    lay, c = select(acc_ex)
    print(f"exact optimum (float64, tol 1e-11): selected ({lay}, {CS[c]:g}), best val acc {acc_ex.max():.3f}")
    for name, acc in (("probewise", acc_pw), ("sklearn defaults", acc_sk), ("sklearn 1 thread", acc_sk1),
                      ("sklearn converged", acc_skc)):
        per_c = 100 * np.abs(acc - acc_ex).max(0)
        print(f"  {name:18s} vs exact optimum: largest diff {per_c.max():.2f} points; per C: "
              + " ".join(f"{v:.2f}" for v in per_c))


def ridge_table(X, y) -> None:
    """The ridge lines: probewise with and without LOO residuals vs RidgeClassifierCV on float32 and float64."""
    L = X["train"].shape[0]
    r = ridge_both(X, y)
    print(f"ridge ({L} layers × {len(ALPHAS)} alphas, float64): probewise {r['probewise_s']:.3f} s with LOO residuals "
          f"(eigh), {r['probewise_val_only_s']:.3f} s without (tridiagonal: what the sweep runs), "
          f"{r['probewise_val_only_eigh_s']:.3f} s without by eigh")
    print(f"  tridiagonal vs eigh: val scores {r['tridiagonal_max_rel_diff_val_scores']:.1e} apart (relative), "
          f"same predictions: {r['tridiagonal_same_predictions']}")
    for name in ("float32", "float64"):
        q = r[name]
        print(f"  RidgeClassifierCV on {name} features {q['sklearn_s']:6.3f} s → {q['ratio']:.1f}× (with LOO), "
              f"{q['ratio_val_only']:.1f}× (without), {q['ratio_eigh']:.1f}× (without, eigh); at its alpha: val scores "
              f"{100 * q['max_rel_err_val_scores']:.2g} % from the exact solution, val acc diff "
              f"{100 * q['max_val_acc_diff_at_sklearn_alpha']:.2f} points; same LOO alpha: {q['same_loo_alpha']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="bigram_shift")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--ridge-only", action="store_true", help="only the ridge comparison")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "probewise-bench"))
    ap.add_argument("--child-max-iter", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-tol", type=float, default=1e-4, help=argparse.SUPPRESS)
    ap.add_argument("--child-scaling", help=argparse.SUPPRESS)
    ap.add_argument("--scaling-budget", type=float, default=300.0,
                    help="seconds the scikit-learn loop may spend per scaling cell (default 300)")
    args = ap.parse_args()
    n = 600 if args.quick else args.n
    if args.child_scaling:
        cn, cd, ck, cb = args.child_scaling.split(",")
        return scaling_child(int(cn), int(cd), ck, float(cb))
    if args.child_max_iter:
        return child(args.task, n, args.cache, args.child_max_iter, args.child_tol)
    import torch

    X, y = features(args.task, n, args.cache)
    L, ntr, d = X["train"].shape
    print(f"# {args.task}: {L} layers, n_train={ntr}, n_val={len(y['val'])}, d={d}, {len(CS)} C values; "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    if not args.ridge_only:
        logistic_tables(args, X, y)
    ridge_table(X, y)
    if args.scaling:
        print("scaling (logistic, 1 layer × 10 C, synthetic; scikit-learn loop with one BLAS thread):")
        for row in scaling(args.scaling_budget):
            if row["seconds"] is None:
                print(f"  {row['kind']:9s} n={row['n']:>7d} d={row['d']:>5d}  {row['note']}")
                continue
            bound = "≥ " if row["lower_bound"] else ""
            print(f"  {row['kind']:9s} n={row['n']:>7d} d={row['d']:>5d}  probewise {row['seconds']:7.2f} s  "
                  f"scikit-learn "
                  f"{row['sklearn_seconds']:7.1f} s ({row['sklearn_C_done']}/{len(CS)} C)  {bound}{row['ratio']}×  "
                  f"max val-acc diff {row['max_val_acc_diff_points']:.2f} points")


if __name__ == "__main__":
    main()
