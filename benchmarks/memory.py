"""Peak memory of the streamed sweep fits on a store whose train split is >= 5x a memory budget (issue 8).

A synthetic pooled store (one layer, float32, ~50 MB shards, two classes with a linear signal in a low-rank
structure plus noise) is written with ``StoreWriter`` into a temporary folder (or ``--dir``). Each fit then runs in
a fresh subprocess, which reports its peak memory:

* ``VmHWM`` (peak resident set, from ``/proc/self/status``): counts the file-backed pages of the memory-mapped
  shard files that the reader touched as well as anonymous memory;
* peak anonymous memory, sampled every 10 ms from ``/proc/self/smaps_rollup`` (``Anonymous``): what the process
  itself allocated (arrays, tensors, the Python heap); the part a memory budget is about;
* both also minus the baseline after the imports (torch, probewise) and opening the store.

(a) streamed: ``probewise.sweeps.streaming.stream_fit_grid`` for ridge, meandiff and logistic (three grid values
each) on the large store; (b) in memory: ``store.read`` of the train split + the in-memory family's ``fit_grid``
(what the sweep does today), on the large store when its estimated peak (scaled from the small store) leaves half
the available memory free, else estimated. Accuracy agreement (validation accuracy and predicted labels of
streamed vs in-memory) is measured on a smaller store. The store is deleted at the end unless ``--keep``.

Run:  flock -x /tmp/pw-cpu.lock .venv/bin/python benchmarks/memory.py               (full: n=380k, d=1024)
      .venv/bin/python benchmarks/memory.py --n 40000 --d 256 --budget-mib 32       (quick)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

GRIDS = {"ridge": [0.1, 10.0, 1000.0], "meandiff": [0.0, 0.1, 1.0], "logistic": [0.01, 1.0, 100.0]}
MiB = 1 << 20


def write_store(root: Path, n: int, d: int, shard_mb: float, seed: int = 0) -> None:
    """A pooled float32 store, one layer "0", split 90/5/5 (train/val/test), labels 0/1."""
    import torch

    from probewise.data import Examples
    from probewise.store import StoreWriter

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    split = np.zeros(n, np.int8)
    split[np.arange(n) % 20 == 18] = 1
    split[np.arange(n) % 20 == 19] = 2
    ex = Examples(np.zeros((n, 1), np.float32), y, ("neg", "pos"), split, "tensor", name=f"synthetic{n}x{d}")
    rows = max(1, int(shard_mb * MiB) // (4 * d))
    ident = {"source": {"kind": "synthetic"}, "dataset_fingerprint": ex.fingerprint(), "layers": ["0"],
             "pooling": "none", "dtype": "float32", "shard_size": rows}
    latent = 64
    A = rng.normal(size=(latent, d)).astype(np.float32) / np.sqrt(latent)
    v = rng.normal(size=d).astype(np.float32)
    v *= 1.5 / np.linalg.norm(v)
    with StoreWriter(root, ident, ex) as w:
        for k in w.pending():
            r = w.shard_rows(k)
            g = np.random.default_rng([seed, k])
            z = g.standard_normal((len(r), latent), dtype=np.float32)
            X = z @ A + g.standard_normal((len(r), d), dtype=np.float32) + 2.0
            X += (y[r.start:r.stop, None] - 0.5).astype(np.float32) * v
            w.write_shard(k, {"layer.0": torch.from_numpy(X)})
        w.finalize()


# -- the child: one fit, its peak memory --------------------------------------------------------------------

def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _anon() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) * 1024
    return 0


def child(store_path: str, mode: str, probe: str) -> dict:
    import torch

    from probewise.store import open_store
    from probewise.sweeps.streaming import stream_fit_grid
    from probewise.sweeps.torch_families import TORCH_FAMILIES

    store = open_store(store_path)
    base_rss, base_anon = _status("VmRSS"), _anon()
    peak = {"anon": base_anon}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["anon"] = max(peak["anon"], _anon())
            time.sleep(0.01)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    values = GRIDS[probe]
    extra: dict = {}
    if mode == "stream":
        model = stream_fit_grid(store, "0", probe, values)
    else:
        X = store.read("0", "train")
        y = store.labels[store.indices("train")]
        model = TORCH_FAMILIES[probe]().fit_grid([X], y, values, 2, 0)[0]
        del X
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    peak["anon"] = max(peak["anon"], _anon())
    extra["coef"] = model.coef.double().flatten().tolist() if model.coef.numel() <= 4096 else None
    return {"mode": mode, "probe": probe, "wall_s": wall, "vmhwm": _status("VmHWM"), "base_rss": base_rss,
            "peak_anon": peak["anon"], "base_anon": base_anon, "threads": torch.get_num_threads(), **extra}


def run_child(store: Path, mode: str, probe: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, probe, "--dir", str(store)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {mode} {probe} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- accuracy agreement on a small store --------------------------------------------------------------------

def agreement(store_path: Path) -> list[dict]:
    from probewise.store import open_store
    from probewise.sweeps.streaming import stream_fit_grid, stream_proba
    from probewise.sweeps.torch_families import TORCH_FAMILIES

    store = open_store(store_path)
    X = store.read("0", "train")
    y = store.labels[store.indices("train")]
    Xv = store.read("0", "val")
    yv = store.labels[store.indices("val")]
    rows = []
    for probe, values in GRIDS.items():
        t0 = time.perf_counter()
        streamed = stream_fit_grid(store, "0", probe, values)
        ts = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = TORCH_FAMILIES[probe]().fit_grid([X], y, values, 2, 0)[0]
        tm = time.perf_counter() - t0
        proba = stream_proba(store, "0", "val", streamed)
        for g, v in enumerate(values):
            ps, pm = proba[g], ref.predict_proba(Xv, g)
            rows.append({"probe": probe, "value": v, "acc_stream": float((ps.argmax(1) == yv).mean()),
                         "acc_memory": float((pm.argmax(1) == yv).mean()),
                         "label_agreement": float((ps.argmax(1) == pm.argmax(1)).mean()),
                         "max_abs_proba_diff": float(np.abs(ps - pm).max()), "wall_stream_s": ts, "wall_memory_s": tm})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=380_000)
    ap.add_argument("--d", type=int, default=1024)
    ap.add_argument("--budget-mib", type=float, default=256.0)
    ap.add_argument("--shard-mb", type=float, default=50.0)
    ap.add_argument("--small-n", type=int, default=40_000)
    ap.add_argument("--small-d", type=int, default=256)
    ap.add_argument("--dir", type=str, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--skip-memory-large", action="store_true", help="estimate the in-memory fits on the large store")
    ap.add_argument("--json", type=str, default=None, help="also write the results here")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PROBE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.dir, *args.child)))
        return

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="pw-memory-"))
    base.mkdir(parents=True, exist_ok=True)
    large, small = base / "large", base / "small"
    budget = int(args.budget_mib * MiB)
    res: dict = {"n": args.n, "d": args.d, "budget_bytes": budget, "load_before": os.getloadavg()}
    try:
        t0 = time.perf_counter()
        write_store(large, args.n, args.d, args.shard_mb)
        write_store(small, args.small_n, args.small_d, args.shard_mb / 16)
        res["write_s"] = time.perf_counter() - t0
        n_train = int(np.sum(np.arange(args.n) % 20 < 18))
        res["train_bytes"] = n_train * args.d * 4
        res["store_bytes"] = sum(p.stat().st_size for p in large.iterdir())
        print(f"store {large}: train split {res['train_bytes'] / MiB:.0f} MiB = "
              f"{res['train_bytes'] / budget:.2f} x budget ({args.budget_mib:.0f} MiB)", flush=True)
        res["agreement"] = agreement(small)
        small_train = int(np.sum(np.arange(args.small_n) % 20 < 18)) * args.small_d * 4
        fits = []
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        for probe in GRIDS:
            s = run_child(large, "stream", probe)
            print(json.dumps({k: s[k] for k in s if k != "coef"}), flush=True)
            m_small = run_child(small, "memory", probe)
            per_byte = (m_small["peak_anon"] - m_small["base_anon"]) / small_train
            est = per_byte * res["train_bytes"]
            m = None
            if not args.skip_memory_large and est < 0.5 * avail:
                m = run_child(large, "memory", probe)
                print(json.dumps({k: m[k] for k in m if k != "coef"}), flush=True)
            fits.append({"probe": probe, "stream": {k: s[k] for k in s if k != "coef"},
                         "memory": None if m is None else {k: m[k] for k in m if k != "coef"},
                         "memory_estimate_anon_bytes": est})
        res["fits"] = fits
        res["load_after"] = os.getloadavg()
    finally:
        if not args.keep:
            shutil.rmtree(large, ignore_errors=True)
            shutil.rmtree(small, ignore_errors=True)
            if not args.dir:
                shutil.rmtree(base, ignore_errors=True)
    report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


def report(res: dict) -> None:
    b = res["budget_bytes"]
    print(f"\nn={res['n']} d={res['d']}: train split {res['train_bytes'] / MiB:.0f} MiB = "
          f"{res['train_bytes'] / b:.2f} x the budget of {b / MiB:.0f} MiB; load {res['load_before']}")
    print("| probe | fit | wall s | VmHWM MiB (/budget) | VmHWM - base MiB (/budget) "
          "| peak anon - base MiB (/budget) |")
    print("|---|---|---|---|---|---|")
    for f in res["fits"]:
        for kind in ("stream", "memory"):
            r = f[kind]
            if r is None:
                est = f["memory_estimate_anon_bytes"]
                print(f"| {f['probe']} | in memory (estimated) | - | - | - | ~{est / MiB:.0f} ({est / b:.1f}) |")
                continue
            hwm, dh, da = r["vmhwm"], r["vmhwm"] - r["base_rss"], r["peak_anon"] - r["base_anon"]
            print(f"| {f['probe']} | {'streamed' if kind == 'stream' else 'in memory'} | {r['wall_s']:.1f} | "
                  f"{hwm / MiB:.0f} ({hwm / b:.2f}) | {dh / MiB:.0f} ({dh / b:.2f}) | {da / MiB:.0f} ({da / b:.2f}) |")
    print("\n| probe | value | val acc streamed | val acc in memory | same label | max abs proba diff |")
    print("|---|---|---|---|---|---|")
    for r in res["agreement"]:
        print(f"| {r['probe']} | {r['value']:g} | {r['acc_stream']:.4f} | {r['acc_memory']:.4f} | "
              f"{r['label_agreement']:.4f} | {r['max_abs_proba_diff']:.1e} |")


if __name__ == "__main__":
    main()
