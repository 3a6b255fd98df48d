"""Probe zoo benchmark: what each torch-module probe solves, its size and cost, against what a user would run.

A runnable benchmark, not a test. Three parts, all on seeded synthetic data (no model, no download):

Part 1 - tasks that separate the families (test accuracy, trainable parameters, training seconds, epochs):
    xor      pooled [n, 8]; label = sign(x0) * sign(x1). Baseline: scikit-learn LogisticRegression.
    needle   64 noise tokens [t=64, d=16]; one token at a random position carries +-8 along e_y (random sign),
             so the mean of the tokens carries nothing. Baseline: LogisticRegression on mean-pooled tokens.
    cov      32 zero-mean tokens [d=8]; channels 2 and 5 correlate +0.6 (class 1) or -0.6 (class 0).
             Baseline: LogisticRegression on mean-pooled tokens.
Part 2 - several layers at once: `MLPProbe.fit_layers` on L layers against a loop of `MLPProbe.fit` and a
    loop of scikit-learn `MLPClassifier(early_stopping=True)` (what a user would otherwise run), same process;
    reports the time ratios and the largest per-layer accuracy difference.
Part 3 - streaming: microseconds per `stream().update(token)` for each long-context probe (d = 256).
Part 4 (--minilm) - real token activations: the embedded all-MiniLM-L6-v2, layer 3, every token kept, on
    built-in tasks; test accuracy, parameters and training seconds of every probe family, next to logistic on
    mean-pooled tokens. `AttentivePoolerProbe` is the standard multi-head attention pooler (one learned query,
    q/k/v/out projections, width d = 384); `EfficientProbe` is timed against it at the same width.

Run (from the repository root):
    .venv/bin/python benchmarks/zoo.py            # about a minute on 2 cores
    .venv/bin/python benchmarks/zoo.py --quick    # smaller, noisier
    .venv/bin/python benchmarks/zoo.py --threads 1
    .venv/bin/python benchmarks/zoo.py --minilm   # part 4 only, a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from probewise.probes.attentive import AttentivePoolerProbe, EfficientProbe
from probewise.probes.longcontext import (
    AttentionProbe,
    EMAMaxProbe,
    MeanLinearProbe,
    MultiMaxProbe,
    RollingAttentionProbe,
)
from probewise.probes.mlp import MLPProbe
from probewise.probes.moment import MomentProbe


def xor(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    return X, (np.sign(X[:, 0]) * np.sign(X[:, 1]) > 0).astype(np.int64)


def needle(n, seed, t=64, d=16, mu=8.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, d, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = torch.randint(0, t, (n,), generator=g)
    sign = (torch.randint(0, 2, (n,), generator=g) * 2 - 1).float()
    x[torch.arange(n), pos, y] += mu * sign
    return x, y


def cov(n, seed, t=32, d=8, rho=0.6):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, t, d, generator=g)
    r = ((2 * y - 1).float() * rho)[:, None]
    x[:, :, 5] = r * x[:, :, 2] + (1 - rho**2) ** 0.5 * x[:, :, 5]
    return x, y


def row(task, name, acc, params, seconds, epochs, n_train, n_test):
    print(f"{task:7s} {name:24s} acc {acc:6.3f}  params {params:>8}  train {seconds:7.2f} s  epochs {epochs!s:>4}"
          f"  (n_train {n_train}, n_test {n_test})")


def part1(n, quick):
    print("\n== Part 1: tasks (accuracy on a held-out test set) ==")
    epochs = 10 if quick else 20
    X, y = xor(n, 0)
    Xt, yt = xor(2 * n, 1)
    t0 = time.perf_counter()
    lr = LogisticRegression().fit(X, y)
    row("xor", "sklearn logistic", lr.score(Xt, yt), X.shape[1] + 1, time.perf_counter() - t0, "-", n, len(yt))
    p = MLPProbe(hidden_sizes=(32,), lr=1e-2, epochs=2 * epochs).fit(X, y)
    r = p.report_
    row("xor", "MLPProbe(32)", p.score(Xt, yt), r["parameters"], r["train_seconds"], r["epochs_run"], n, len(yt))

    kw = dict(lr=2e-2, epochs=epochs, batch_size=64)
    for task, make, probes in [
        ("needle", needle, [EfficientProbe(n_queries=4, **kw), AttentivePoolerProbe(n_heads=4, **kw),
                            MeanLinearProbe(**kw), EMAMaxProbe(alpha=0.5, **kw), AttentionProbe(n_heads=4, **kw),
                            MultiMaxProbe(n_heads=4, **kw), RollingAttentionProbe(n_heads=4, window=8, **kw)]),
        ("cov", cov, [MomentProbe(second_order=False, lr=1e-2, epochs=epochs),
                      MomentProbe(proj_dim=16, groups=4, lr=1e-2, epochs=epochs), EfficientProbe(n_queries=4, **kw),
                      AttentivePoolerProbe(n_heads=4, **kw)]),
    ]:
        x, y = make(n, 0)
        xt, yt = make(n, 1)
        t0 = time.perf_counter()
        base = LogisticRegression().fit(x.mean(1), y)
        row(task, "sklearn logistic (mean)", base.score(xt.mean(1), yt), x.shape[2] + 1, time.perf_counter() - t0,
            "-", n, n)
        for p in probes:
            p.fit(x, y)
            r = p.report_
            name = type(p).__name__ + ("(1st only)" if getattr(p, "second_order", True) is False else "")
            row(task, name, p.score(xt, yt), r["parameters"], r["train_seconds"], r["epochs_run"], n, n)


def part2(n, n_layers, d, quick):
    print(f"\n== Part 2: {n_layers} layers x [n={n}, d={d}] at once (XOR signal in every third layer) ==")
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(n_layers, 2 * n, d)).astype(np.float32)
    y = (np.sign(Xs[0, :, 0]) * np.sign(Xs[0, :, 1]) > 0).astype(np.int64)
    for layer in range(0, n_layers, 3):
        Xs[layer, :, :2] = Xs[0, :, :2] * (1 + layer / n_layers)
    train, test = slice(0, n), slice(n, 2 * n)
    kw = dict(hidden_sizes=(64,), dropout=0.0, lr=1e-2, epochs=15 if quick else 30, patience=5)
    t0 = time.perf_counter()
    joint = MLPProbe(**kw).fit_layers(Xs[:, train], y[train])
    t_joint = time.perf_counter() - t0
    t0 = time.perf_counter()
    alone = [MLPProbe(**kw).fit(Xs[i, train], y[train]) for i in range(n_layers)]
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    sk = [MLPClassifier(hidden_layer_sizes=(64,), early_stopping=True, learning_rate_init=1e-2,
                        max_iter=kw["epochs"], random_state=0).fit(Xs[i, train], y[train]) for i in range(n_layers)]
    t_sk = time.perf_counter() - t0
    acc_j = np.array([p.score(Xs[i, test], y[test]) for i, p in enumerate(joint)])
    acc_a = np.array([p.score(Xs[i, test], y[test]) for i, p in enumerate(alone)])
    acc_s = np.array([p.score(Xs[i, test], y[test]) for i, p in enumerate(sk)])
    print(f"fit_layers (one batched run)   {t_joint:7.2f} s   mean acc {acc_j.mean():.3f}")
    print(f"loop of MLPProbe.fit           {t_loop:7.2f} s   mean acc {acc_a.mean():.3f}   "
          f"ratio {t_loop / t_joint:.1f}x   max |acc diff| {np.abs(acc_j - acc_a).max():.3f}")
    print(f"loop of sklearn MLPClassifier  {t_sk:7.2f} s   mean acc {acc_s.mean():.3f}   "
          f"ratio {t_sk / t_joint:.1f}x   max |acc diff| {np.abs(acc_j - acc_s).max():.3f}")


def part3(d, n_tokens):
    print(f"\n== Part 3: streaming, microseconds per token (d={d}, {n_tokens} tokens, after warm-up) ==")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 8, d, generator=g)
    y = torch.arange(32) % 2
    seq = torch.randn(n_tokens, d, generator=g)
    for p in [MeanLinearProbe(epochs=1), EMAMaxProbe(epochs=1), AttentionProbe(n_heads=8, epochs=1),
              MultiMaxProbe(n_heads=8, epochs=1), RollingAttentionProbe(n_heads=8, window=64, epochs=1)]:
        p.fit(x, y)
        state = p.stream()
        for tok in seq[:50]:
            state.update(tok)
        state.reset()
        t0 = time.perf_counter()
        for tok in seq:
            state.update(tok)
        us = (time.perf_counter() - t0) / n_tokens * 1e6
        t0 = time.perf_counter()
        p.decision_function(seq[None])
        batch_ms = (time.perf_counter() - t0) * 1e3
        print(f"{type(p).__name__:22s} {us:7.1f} us/token   (batch form of the whole sequence: {batch_ms:.1f} ms)")


def part4(tasks=("negation", "bigram_shift", "who_did_what"), n=600, layer=3):
    import os
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from probewise import HFSource, extract
    from probewise.data.tasks import make_task
    from probewise.extract import task_examples
    from probewise.probes import KNNProbe, LogisticProbe

    src = HFSource("default", layers=[layer], pooling="tokens", device="cpu")
    kw = dict(seed=0)
    probes = {
        "logistic (mean-pooled)": lambda: LogisticProbe(C=0.1),
        "knn k=20 (mean-pooled)": lambda: KNNProbe(k=20),
        "mlp (mean-pooled)": lambda: MLPProbe(**kw),
        "efficient (EP, 8 queries)": lambda: EfficientProbe(**kw),
        "attentive pooler (MHA)": lambda: AttentivePoolerProbe(**kw),
        "moment": lambda: MomentProbe(**kw),
        "mean_linear": lambda: MeanLinearProbe(**kw),
        "multimax": lambda: MultiMaxProbe(**kw),
        "attention (4 heads)": lambda: AttentionProbe(**kw),
    }
    print(f"\n## Part 4: MiniLM layer {layer} token activations, {n} sentences per task")
    print(f"{'task':14s} {'probe':28s} {'test acc':>9s} {'params':>9s} {'train s':>8s}")
    root = tempfile.mkdtemp()
    for task in tasks:
        store = extract(src, task_examples(make_task(task, n=n)), f"{root}/{task}", progress=False)
        R = {s: store.read_tokens(layer, s) for s in ("train", "val", "test")}
        y = {s: store.labels[store.indices(s)] for s in ("train", "val", "test")}
        pooled = {s: store.read_pooled(layer, s).numpy() for s in R}
        for name, make in probes.items():
            probe = make()
            t0 = time.perf_counter()
            if name.startswith(("logistic", "knn")):
                probe.fit(pooled["train"], y["train"])
                acc = probe.score(pooled["test"], y["test"])
                params = int(np.prod(getattr(probe, "coef_", np.zeros(0)).shape)) or None
            else:
                X_tr = pooled["train"] if name.startswith("mlp") else R["train"]
                X_va = pooled["val"] if name.startswith("mlp") else R["val"]
                probe.fit(X_tr, y["train"], X_val=X_va, y_val=y["val"])
                acc = probe.score(pooled["test"] if name.startswith("mlp") else R["test"], y["test"])
                params = probe.report_["parameters"]
            seconds = time.perf_counter() - t0
            print(f"{task:14s} {name:28s} {acc:9.3f} {params if params else '-':>9} {seconds:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--minilm", action="store_true", help="run part 4 (real MiniLM token activations) only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"python {platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}")
    if args.minilm:
        part4(n=300 if args.quick else 600)
        return
    n = 400 if args.quick else 800
    part1(n, args.quick)
    part2(1000 if args.quick else 2000, 6 if args.quick else 12, 64, args.quick)
    part3(256, 500 if args.quick else 2000)


if __name__ == "__main__":
    main()
