"""Models bigger than memory (issue 20): peak memory and throughput of each loading mode against the full load.

Every mode extracts the same texts from the same model into a fresh store, in a fresh subprocess that reports its
peak resident set (``VmHWM``) and the extraction time; the baseline process only imports probewise and loads the
tokenizer, and its peak is subtracted (``delta``), so what remains is what the model and the activations cost.

Modes (SmolLM2-135M-Instruct by default, or ``--model``):
* ``full``: every block loaded, all 31 hidden states;
* ``full→10``: every block loaded (``partial=False``), layers 0-10 asked for (the forward pass stops at block 10);
* ``partial→10``: the same request, blocks 10-29 never loaded;
* ``offload``: all layers, ``--device-map auto --max-memory cpu=<budget>`` (weights beyond the budget read from
  the safetensors file when their block runs);
* ``blockwise``: all layers, one block's weights at a time over each shard.

Each store is compared with the full load's (the layers it has): ``max|diff|`` (0.0 = bit-identical).

Run:  .venv/bin/python benchmarks/bigmodel.py                      (SmolLM2, 512 texts, shard 256)
      .venv/bin/python benchmarks/bigmodel.py --n 64 --quick       (a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time, os
import torch
torch.set_num_threads(int(os.environ.get("PW_THREADS", "1")))
from probewise import Examples, HFSource, extract
from probewise.sources.blockwise import BlockwiseSource
from probewise.sources.hf import resolve_model
cfg = json.loads(sys.argv[1])
path = resolve_model(cfg["model"])
words = "alpha beta gamma delta river mountain quiet loud red blue green stone cloud apple".split()
texts = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(8 + i % 24)) for i in range(cfg["n"])]
ex = Examples.from_lists(texts, [i % 2 for i in range(cfg["n"])], seed=0)
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
t0 = time.perf_counter()
mode = cfg["mode"]
if mode == "baseline":
    import transformers
    transformers.AutoTokenizer.from_pretrained(path)
    print(json.dumps({"peak": peak(), "seconds": 0.0})); sys.exit()
kw = dict(layers=cfg["layers"], pooling="mean", device="cpu")
if mode == "blockwise":
    src = BlockwiseSource(path, work_dir=cfg["out"] + ".blockwise", checkpoint_seconds=1e9, **kw)
elif mode == "offload":
    src = HFSource(path, device_map="auto", max_memory={"cpu": cfg["budget"]}, **kw)
else:
    src = HFSource(path, partial=mode.startswith("partial"), **kw)
t1 = time.perf_counter()
extract(src, ex, cfg["out"], batch_size=16, shard_size=cfg["shard"], progress=False)
t2 = time.perf_counter()
print(json.dumps({"peak": peak(), "load_seconds": t1 - t0, "seconds": t2 - t1}))
"""


def run(mode: str, args: argparse.Namespace, layers: str, out: str) -> dict:
    cfg = {"mode": mode, "model": args.model, "n": args.n, "layers": layers, "out": out, "shard": args.shard,
           "budget": args.budget}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PW_THREADS": str(args.threads)}
    p = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"{mode} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def max_diff(a: str, b: str) -> float:
    from probewise import open_store

    sa, sb = open_store(a), open_store(b)
    return max(float((sa.read(layer) - sb.read(layer)).abs().max()) for layer in sa.layers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--n", type=int, default=512, help="texts to extract")
    ap.add_argument("--shard", type=int, default=256, help="shard size (blockwise keeps one shard's residual stream)")
    ap.add_argument("--budget", default="100MiB", help="max_memory of the offload mode")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="skip the offload mode (the slowest)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from probewise.sources.hf import resolve_model

    resolve_model(args.model)  # convert once (GGUF) before timing anything
    tmp = tempfile.mkdtemp(prefix="pw-bigmodel-")
    base = run("baseline", args, "all", f"{tmp}/base")
    modes = [("full", "all"), ("full→10", "0-10"), ("partial→10", "0-10"), ("blockwise", "all")]
    if not args.quick:
        modes.insert(3, ("offload", "all"))
    rows = {}
    for mode, layers in modes:
        key = {"full→10": "full", "partial→10": "partial"}.get(mode, mode)
        rows[mode] = run(key, args, layers, f"{tmp}/{mode}")
        print(f"{mode:>11}: peak {rows[mode]['peak'] / 2**20:7.0f} MiB, {rows[mode]['seconds']:.2f} s", flush=True)
    ref = f"{tmp}/full"
    print(f"\nmodel {args.model}, {args.n} texts, shard {args.shard}, {args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.2f}; baseline process {base['peak'] / 2**20:.0f} MiB")
    print(f"{'mode':>11} {'peak MiB':>9} {'delta MiB':>10} {'vs full':>8} {'extract s':>10} {'ex/s':>8} "
          f"{'speed vs full':>14} {'max|diff|':>10}")
    results = {}
    for mode, r in rows.items():
        delta = r["peak"] - base["peak"]
        same = "full→10" if mode == "partial→10" else "full"
        full_delta = rows[same]["peak"] - base["peak"]
        diff = max_diff(f"{tmp}/{mode}", ref) if mode != "full" else 0.0
        speed = rows[same]["seconds"] / r["seconds"]
        results[mode] = {**r, "delta": delta, "memory_ratio": delta / full_delta, "speed_ratio": speed,
                         "max_diff": diff}
        print(f"{mode:>11} {r['peak'] / 2**20:9.0f} {delta / 2**20:10.0f} {delta / full_delta:8.2f} "
              f"{r['seconds']:10.2f} {args.n / r['seconds']:8.1f} {speed:14.2f} {diff:10.2e}")
    print("(vs full: partial→10 against full→10, the others against full)")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "baseline": base, "modes": results,
                                              "time": time.strftime("%Y-%m-%d %H:%M")}, indent=1))


if __name__ == "__main__":
    main()
