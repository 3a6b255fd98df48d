"""Monitor overhead benchmark: tokens/s of generate() with and without probes attached, in one process run.

A runnable benchmark, not a test. The model is a random GPT-2 (n_embd 512, 6 blocks, 8 heads, the MiniLM
tokenizer's 30522-token vocabulary: big enough that the forward pass dominates), saved with `save_pretrained` and
loaded with `AutoModelForCausalLM.from_pretrained`. Greedy decoding, batch 1, the same prompts and number of new
tokens in every condition:

    plain     `model.generate(...)`
    linear    the same inside `Monitor(model, {"lin": logistic probe, running mean, layer 3})`
    multimax  the same inside `Monitor(model, {"mm": MultiMaxProbe(n_heads=4), layer 3})`
    both      both probes attached

The monitor's stopping criterion is passed in the monitored conditions (what `Monitor.generate` does); the
extra step `Monitor.generate(score_last=True)` runs to score the final token is left out (it is one more forward
pass per call, i.e. `1 / new_tokens` more work, by design). Conditions are interleaved within each repetition (in
rotating order, prompt by prompt); reported are medians over repetitions and, less sensitive to a shared
machine's drift, the median over (repetition, prompt) pairs of the ratio to plain generation of the same prompt,
in wall and in process CPU time. A second, instrumented run times the monitor's hooks alone (time inside
the base pre-hook and the layer hooks) per generated token, so the overhead can be attributed.

Run (from the repository root):
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/monitor.py --threads 1          # about 3 minutes on 2 cores
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/monitor.py --threads 1 --quick  # about 1 minute, noisier
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/monitor.py --n-embd 1024 --n-layer 12 --threads 1  # a larger model
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/monitor.py --model smollm2 --threads 1  # SmolLM2-135M, 30 blocks

On a shared 2-core machine pass --threads 1: torch's two intra-op threads then contend with other processes and
decoding ran 8x slower (150 vs 19 ms per token) in our runs, which would hide any overhead in noise.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

PROMPTS = [
    "the cat sat on the mat", "stocks fell sharply on monday after the report", "she did not like the movie at all",
    "the committee approved the new budget today", "he plays the violin every evening in the small room upstairs",
    "we walked home", "a dog barked", "rain again",
]


def loadavg() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def build(tmp: str, n_embd: int = 512, n_layer: int = 6):
    import transformers

    from probewise.sources.hf import resolve_model

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=30522, n_embd=n_embd, n_layer=n_layer, n_head=8, n_positions=256,
                                  bos_token_id=0, eos_token_id=0)
    transformers.AutoModel.from_config(cfg).save_pretrained(tmp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = transformers.AutoModelForCausalLM.from_pretrained(tmp).eval()
    tok = transformers.AutoTokenizer.from_pretrained(resolve_model("default"))
    return model, tok


def build_named(name: str):
    """A real causal LM resolved by name (e.g. 'smollm2', SmolLM2-135M-Instruct, 30 Llama blocks)."""
    import transformers

    from probewise.sources.hf import resolve_model

    path = resolve_model(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    return model, transformers.AutoTokenizer.from_pretrained(path)


def artifacts(model, d: int = 512, layer: int = 3):
    from probewise.artifact import ProbeArtifact, model_fingerprint
    from probewise.probes import LogisticProbe
    from probewise.probes.longcontext import MultiMaxProbe

    fp = model_fingerprint(model)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, d))
    lin = LogisticProbe().fit(X, (X[:, 0] > 0).astype(int))
    x = torch.as_tensor(rng.normal(size=(64, 16, d)), dtype=torch.float32)
    mm = MultiMaxProbe(n_heads=4, epochs=1).fit(x, torch.arange(64) % 2)
    big = 1e30  # never flags: every token takes the full path, no early stop
    return {"lin": ProbeArtifact(lin, "bench-gpt2", fp, layer, "mean", threshold=big),
            "mm": ProbeArtifact(mm, "bench-gpt2", fp, layer, "tokens", threshold=big)}


def run_condition(model, encs, new_tokens, monitor=None) -> float:
    """Seconds to generate `new_tokens` for every prompt (batch 1)."""
    kw = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "pad_token_id": 0}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for enc in encs:
            if monitor is None:
                model.generate(**enc, **kw)
            else:
                model.generate(**enc, stopping_criteria=monitor.stopping_criteria(), **kw)
    return time.perf_counter() - t0


def hook_time(model, encs, new_tokens, arts) -> dict[str, float]:
    """Microseconds per generated token spent inside the monitor's hooks (instrumented, separate run)."""
    from probewise.monitor import Monitor

    out = {}
    for name, probes in (("linear", {"lin": arts["lin"]}), ("multimax", {"mm": arts["mm"]})):
        mon = Monitor(model, probes)
        spent = [0.0]
        begin, feed = mon._begin, mon._feed

        def timed_begin(*a, _f=begin, _s=spent, **k):
            t = time.perf_counter()
            _f(*a, **k)
            _s[0] += time.perf_counter() - t

        def timed_feed(*a, _f=feed, _s=spent, **k):
            t = time.perf_counter()
            _f(*a, **k)
            _s[0] += time.perf_counter() - t

        mon._begin, mon._feed = timed_begin, timed_feed
        with mon:
            run_condition(model, encs, new_tokens, mon)
        steps = len(encs) * new_tokens
        out[name] = 1e6 * spent[0] / steps
    return out


def stream_micro(arts, d: int = 512, n: int = 2000) -> dict[str, float]:
    """Microseconds per token of the bare stream updates (no model): the monitor's batched form and, for MultiMax,
    the probe's own `ScoreStream.update`."""
    from probewise.monitor.streams import _make_stream

    x = torch.randn(1, 1, d)
    m = np.ones((1, 1), dtype=bool)
    out = {}
    for name, art in arts.items():
        s = _make_stream(art)
        s.start(1)
        t0 = time.perf_counter()
        for _ in range(n):
            s.feed(x, m)
        out[f"{name} monitor stream (chunk path)"] = 1e6 * (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            s.step(x, [0])
        out[f"{name} monitor stream (decoding step)"] = 1e6 * (time.perf_counter() - t0) / n
    st = arts["mm"].probe.stream()
    t0 = time.perf_counter()
    for _ in range(n):
        st.update(x[0, 0])
    out["mm ScoreStream.update"] = 1e6 * (time.perf_counter() - t0) / n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=9, help="interleaved repetitions (median reported)")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="3 repetitions, 16 new tokens")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--n-embd", type=int, default=512, help="width of the random GPT-2 (default 512)")
    ap.add_argument("--n-layer", type=int, default=6, help="its blocks (default 6); probes read the middle one")
    ap.add_argument("--model", help="a real causal LM instead of the random GPT-2 (e.g. 'smollm2'); probes read its "
                    "middle block")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    reps, new_tokens = (3, 16) if args.quick else (args.reps, args.new_tokens)
    from probewise.monitor import Monitor

    if args.model:
        model, tok = build_named(args.model)
        args.n_embd, args.n_layer = model.config.hidden_size, model.config.num_hidden_layers
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model, tok = build(tmp, args.n_embd, args.n_layer)
    arts = artifacts(model, args.n_embd, args.n_layer // 2)
    encs = [{k: v for k, v in tok(p, return_tensors="pt").items() if k in ("input_ids", "attention_mask")}
            for p in PROMPTS]
    monitors = {"plain": None, "linear": Monitor(model, {"lin": arts["lin"]}),
                "multimax": Monitor(model, {"mm": arts["mm"]}), "both": Monitor(model, arts)}
    names = list(monitors)
    print(f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cpus, load {loadavg()}")
    desc = args.model or "random GPT-2"
    print(f"model: {desc} {args.n_embd}x{args.n_layer} (from_pretrained), {len(PROMPTS)} prompts x "
          f"{new_tokens} new tokens, greedy, batch 1, {reps} interleaved reps")
    for name in names:  # warm-up
        run_condition(model, encs[:2], 4, monitors[name])
    # interleaved at the finest grain: for every prompt, every condition in turn (rotating order), so that the
    # conditions compared share the machine's state; wall and process CPU seconds are both recorded
    wall: dict[str, list[float]] = {n: [] for n in names}  # one entry per (repetition, prompt)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(reps):
        for i, enc in enumerate(encs):
            k = (r * len(encs) + i) % len(names)
            for name in names[k:] + names[:k]:
                mon = monitors[name]
                c0 = time.process_time()
                if mon is None:
                    wall[name].append(run_condition(model, [enc], new_tokens))
                else:
                    with mon:
                        wall[name].append(run_condition(model, [enc], new_tokens, mon))
                cpu[name].append(time.process_time() - c0)
    total = len(encs) * new_tokens

    def per_rep(xs: list[float]) -> list[float]:
        return [sum(xs[j : j + len(encs)]) for j in range(0, len(xs), len(encs))]

    base = statistics.median(per_rep(wall["plain"]))
    print(f"\n{'condition':<10} {'tokens/s':>9} {'wall s':>8} {'slower':>8} {'paired':>8} {'cpu paired':>11}   "
          f"paired wall slowdown, quartiles")
    for name in names:
        med = statistics.median(per_rep(wall[name]))
        paired = [t / b - 1 for t, b in zip(wall[name], wall["plain"], strict=True)]
        cpaired = [t / b - 1 for t, b in zip(cpu[name], cpu["plain"], strict=True)]
        q1, _, q3 = statistics.quantiles(paired, n=4)
        print(f"{name:<10} {total / med:>9.1f} {med:>8.3f} {100 * (med / base - 1):>+7.2f}% "
              f"{100 * statistics.median(paired):>+7.2f}% {100 * statistics.median(cpaired):>+10.2f}%   "
              f"{100 * q1:+.2f}% .. {100 * q3:+.2f}%")
    print(f"(tokens/s, wall s, slower: medians over repetitions of the whole prompt set; paired: median over the "
          f"{len(paired)} (repetition, prompt) pairs of the time ratio to plain generation of the same prompt)")
    per_tok_ms = 1e3 * base / total
    hooks = hook_time(model, encs, new_tokens, arts)
    print(f"\nplain generation: {per_tok_ms:.2f} ms per token")
    for name, us in hooks.items():
        print(f"time inside the monitor's hooks ({name}): {us:.1f} us per token = "
              f"{100 * us / (1e3 * per_tok_ms):.2f}% of a plain token")
    for name, us in stream_micro(arts, args.n_embd).items():
        print(f"{name}: {us:.1f} us per token (no model)")
    print(f"load after: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
