"""EEG journey at full size: the brainmaze spindle detector (ONNX) probed layer by layer on real SCP EEG trials of two
subjects, leave-one-subject-out (train and validate on one subject, test on the other).

    python benchmarks/eeg_scp.py --per-subject 200 --out runs/bench-eeg --threads 1

Prints a JSON summary (per held-out subject: the layer chosen on validation, its test accuracy with a 95% bootstrap
interval, and every layer's test accuracy) and writes it to OUT/summary.json. Same seed, same numbers on CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import probewise as pw
from probewise.data.bundled_eeg import write_scp_windows
from probewise.extract import ExtractConfig, run_extract
from probewise.sources.onnx import OnnxSource

BLOCKS = "/model/model/conv/conv_net/conv_net.*/Add"  # the 12 residual blocks of the dilated TCN


def spindle_onnx() -> str:
    import brainmaze_eeg_models

    return str(Path(brainmaze_eeg_models.__file__).parent / "spindles/_models/spindle-detector-eeg.onnx")


def loso(store: pw.Store, out: Path, seed: int = 0, val_frac: float = 0.2) -> dict:
    """Leave one subject out: test = that subject; train/val = a stratified split of the other subject(s)."""
    groups = np.asarray(store.manifest["dataset"]["group_names"])[store.groups]
    labels = np.asarray(store.classes)[store.labels]
    feats = {layer: store.read(layer).numpy() for layer in store.layers}
    folds = {}
    for held in sorted(set(groups.tolist())):
        rng = np.random.default_rng(seed)
        split = np.where(groups == held, "test", "train").astype(object)
        for c in sorted(set(labels.tolist())):
            rows = rng.permutation(np.flatnonzero((groups != held) & (labels == c)))
            split[rows[: int(round(val_frac * len(rows)))]] = "val"
        fold = pw.write_features(str(out / f"loso-{held}"), feats, labels, split=list(split), name=f"scp-loso-{held}",
                                 model="spindle-detector-eeg", overwrite=True)
        res = pw.sweep(fold, pw.SweepConfig(probes=("logistic",), seed=seed, n_boot=1000))
        sel = res.selected["logistic"]
        rows = [{"layer": r["layer"], "val_accuracy": r["val"]["accuracy"], "test_accuracy": r["test"]["accuracy"]}
                for r in res.per_layer if r["probe"] == "logistic"]
        folds[held] = {"selected": sel, "per_layer": rows,
                       "n": {s: int((split == s).sum()) for s in ("train", "val", "test")}}
    return folds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-subject", type=int, default=200)
    ap.add_argument("--out", default="runs/bench-eeg")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    t0 = time.perf_counter()
    data = write_scp_windows(out / "data", per_subject=args.per_subject, seed=args.seed)
    t1 = time.perf_counter()
    store = run_extract(ExtractConfig(out=str(out / "store"), model=spindle_onnx(), data=str(data / "windows.npz"),
                                      labels=str(data / "labels.csv"), group_column="subject", layers=BLOCKS,
                                      layout="bct", pooling="mean", batch_size=8, threads=args.threads,
                                      seed=args.seed, progress=False))
    t2 = time.perf_counter()
    folds = loso(store, out, args.seed)
    summary = {"command": f"python benchmarks/eeg_scp.py --per-subject {args.per_subject} --out {args.out} "
                          f"--threads {args.threads} --seed {args.seed}",
               "model": OnnxSource.__name__ + ":spindle-detector-eeg.onnx", "n_windows": store.n,
               "seconds": {"windows": round(t1 - t0, 1), "extract": round(t2 - t1, 1)}, "folds": folds}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
