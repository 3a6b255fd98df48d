"""`probewise steer` and `probewise monitor`: a probe artifact put to work on a model.

Example:
    $ probewise monitor --model gpt2-folder --probe probes/tox --prompts prompts.txt --generate 20 \
          --out scores.jsonl --html view.html
    $ probewise steer --model gpt2-folder --probe probes/tox --prompts prompts.txt --alphas 0,1,2,4,8 \
          --max-ppl-factor 1.5 --out steer.json

PROMPTS is a text file with one prompt per line, or a ``.jsonl`` file whose lines hold ``{"text": ...}``,
``{"prompt": ...}`` or a conversation ``{"messages": [{"role": ..., "content": ...}, ...]}`` (rendered with the
tokenizer's chat template when it has one). Errors are `ProbewiseError` subclasses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from probewise.errors import ConfigError, DataError, SourceError

if TYPE_CHECKING:
    import torch

__all__ = ["add_parsers", "cmd_monitor", "cmd_steer", "read_prompts"]


# ------------------------------------------------------------------------------------------------ inputs
def _render_messages(messages: list, tokenizer: Any) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages)


def read_prompts(path: str | Path, tokenizer: Any = None) -> list[str]:
    """Prompts from a text file (one per line, blank lines skipped) or a JSONL file (text / prompt / messages)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"prompts file {p} does not exist; give a text file with one prompt per line.")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{p} is not UTF-8 text: {e}") from e
    out: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if p.suffix.lower() != ".jsonl":
            out.append(line)
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{p}:{n} is not valid JSON ({e}).") from e
        if isinstance(obj, str):
            out.append(obj)
        elif isinstance(obj, dict) and isinstance(obj.get("messages"), list):
            out.append(_render_messages(obj["messages"], tokenizer))
        elif isinstance(obj, dict) and isinstance(obj.get("text", obj.get("prompt")), str):
            out.append(obj.get("text", obj.get("prompt")))
        else:
            raise DataError(f"{p}:{n} needs a string, or an object with 'text', 'prompt' or 'messages'.")
    if not out:
        raise DataError(f"{p} holds no prompts.")
    return out


def _load(model_id: str, device: str, generate: bool, gguf_file: str | None = None,
          args: argparse.Namespace | None = None) -> tuple[Any, Any, torch.device]:
    """(model, tokenizer, device): a causal LM for decoders, the bare model for encoders, in float32 as
    extraction runs it by default; `args` may carry --device-map / --max-memory / --offload-folder."""
    import transformers

    from probewise.model.loading import LoadPlan, load_base_model
    from probewise.sources.base import resolve_device
    from probewise.sources.hf import CAUSAL_MODEL_TYPES, resolve_model

    path = resolve_model(model_id, gguf_file)
    try:
        config = transformers.AutoConfig.from_pretrained(path)
        tok = transformers.AutoTokenizer.from_pretrained(path)
    except Exception as e:
        raise SourceError(f"could not load a config and tokenizer from {path!r}: {e}") from e
    causal = getattr(config, "model_type", None) in CAUSAL_MODEL_TYPES or bool(getattr(config, "is_decoder", False))
    if generate and not causal:
        raise ConfigError(f"{model_id!r} is an encoder ({config.model_type}); it cannot generate. Drop --generate "
                          "to score the prompts as they are.")
    dev = resolve_device(device)
    plan = LoadPlan("float32", dev, device_map=getattr(args, "device_map", None),
                    max_memory=getattr(args, "max_memory", None), offload_folder=getattr(args, "offload_folder", None))
    model = load_base_model(path, plan, causal=causal)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return model, tok, dev


def _encode(tok: Any, text: str, device: torch.device, max_length: int | None) -> dict:
    """The tokenizer's outputs, all of them, as extraction (:class:`~probewise.sources.hf.HFSource`) passes them:
    the monitor must see the activations the probe was trained on."""
    enc = tok(text, return_tensors="pt", truncation=max_length is not None, max_length=max_length)
    return {k: v.to(device) for k, v in enc.items()}


def _gen_kwargs(args: argparse.Namespace, tok: Any, n: int) -> dict:
    kw: dict[str, Any] = {"max_new_tokens": n, "pad_token_id": tok.pad_token_id}
    if args.sample:
        kw.update(do_sample=True, temperature=args.temperature, top_p=args.top_p)
    else:
        kw.update(do_sample=False)
    return kw


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed one sampled generation in a forked RNG (no global RNG state changes); None: nothing to seed."""
    import torch

    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_available() else []):
        torch.manual_seed(seed)
        yield


def _pieces(tok: Any, ids: list[int]) -> list[str]:
    """How each token reads in the decoded text (incremental decoding)."""
    out, prev = [], ""
    for j in range(len(ids)):
        text = tok.decode(ids[: j + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        out.append(text[len(prev):] if text.startswith(prev) else tok.convert_ids_to_tokens(ids[j]))
        prev = text
    return out


def _probe_names(paths: list[str]) -> list[str]:
    names: list[str] = []
    for p in paths:
        base = Path(p).name.removesuffix(".json").removesuffix(".safetensors") or "probe"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


# ------------------------------------------------------------------------------------------------ monitor
def cmd_monitor(args: argparse.Namespace) -> int:
    """Score every prompt (and what the model generates from it) token by token; write JSONL and an HTML view."""
    import torch

    from probewise.artifact import ProbeArtifact
    from probewise.monitor import Monitor
    from probewise.monitor.view import write_view

    model, tok, dev = _load(args.model, args.device, args.generate > 0, args.gguf_file, args)
    if not args.probe:
        raise ConfigError("give the probe artifact(s) to run with --artifact PATH (repeat for several).")
    arts = {name: ProbeArtifact.load(p) for name, p in zip(_probe_names(args.probe), args.probe, strict=True)}
    prompts = read_prompts(args.prompts, tok)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records = []
    with Monitor(model, arts, allow_mismatch=args.allow_mismatch, stop_on_flag=args.stop_on_flag,
                 blocks_path=args.blocks_path) as mon, torch.no_grad(), out.open("w", encoding="utf-8") as f:
        for i, text in enumerate(prompts):
            enc = _encode(tok, text, dev, args.max_length)
            n_prompt = int(enc["input_ids"].shape[1])
            if args.generate > 0:
                with _seeded(args.seed + i if args.sample else None):
                    seq = mon.generate(**enc, **_gen_kwargs(args, tok, args.generate))
                new_ids = seq[0, n_prompt:].tolist()
            else:
                model(**enc)
                new_ids = []
            tr = mon.traces[0]
            rec = {
                "index": i, "prompt": text,
                "generated": tok.decode(new_ids, skip_special_tokens=True) if new_ids else "",
                "n_prompt_tokens": n_prompt,
                "token_ids": tr.token_ids, "tokens": tok.convert_ids_to_tokens(tr.token_ids),
                "pieces": _pieces(tok, tr.token_ids), "positions": tr.positions,
                "scores": {k: [round(v, 6) for v in s] for k, s in tr.scores.items()},
                "score": {k: tr.score(k) for k in arts},
                "probability": {k: float(a.probability(tr.score(k))) for k, a in arts.items()},
                "threshold": {k: a.threshold for k, a in arts.items()},
                "flagged": {k: (None if a.threshold is None else bool(tr.score(k) >= a.threshold))
                            for k, a in arts.items()},
                "first_flag": tr.first_flag, "stopped": tr.stopped,
            }
            f.write(json.dumps(rec) + "\n")
            records.append(rec)
    n_flag = {k: sum(bool(r["flagged"][k]) for r in records) for k in arts}
    print(f"wrote {out} ({len(records)} prompts)")
    for k, a in arts.items():
        thr = "no threshold" if a.threshold is None else f"flagged {n_flag[k]}/{len(records)} at threshold " \
            f"{a.threshold:.4g} (target FPR {a.target_fpr})"
        print(f"  {k}: layer {mon.layers[k]}, {a.aggregation}; {thr}")
    if args.html:
        print(f"wrote {write_view(records, args.html, title=f'probewise monitor: {args.model}')}")
    return 0


# ------------------------------------------------------------------------------------------------ steer
def _reference_pass(model: Any, ids: torch.Tensor, n_prompt: int, stack: Any, layer: int, enc: dict
                    ) -> tuple[float, int, float]:
    """Unsteered model on prompt + continuation: (continuation NLL sum, its token count, residual norm at layer)."""
    import torch

    norms: list[torch.Tensor] = []

    def grab(h: torch.Tensor) -> None:
        norms.append(torch.linalg.vector_norm(h.detach().float(), dim=-1).mean())

    if layer < stack.n_layers:
        handle = stack.blocks[layer].register_forward_pre_hook(
            lambda _m, a, k: grab(a[0] if a else k["hidden_states"]), with_kwargs=True)
    else:
        handle = stack.base.register_forward_hook(lambda _m, _a, o: grab(o[0] if isinstance(o, tuple) else
                                                                          o.last_hidden_state))
    extra = {}
    tt = enc.get("token_type_ids")
    if tt is not None:  # as generate() extended them: the last value repeated
        extra["token_type_ids"] = torch.cat([tt, tt[:, -1:].expand(1, ids.shape[1] - tt.shape[1])], 1)
    try:
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False, **extra).logits
    finally:
        handle.remove()
    tgt = ids[0, n_prompt:]
    if tgt.numel() == 0:
        return 0.0, 0, float(norms[0]) if norms else math.nan
    logp = torch.log_softmax(logits[0, n_prompt - 1 : -1].float(), dim=-1)
    nll = -logp.gather(1, tgt[:, None]).sum()
    return float(nll), int(tgt.numel()), float(norms[0]) if norms else math.nan


def cmd_steer(args: argparse.Namespace) -> int:
    """Generate with and without steering along the probe's direction over a grid of alphas; choose the largest
    alpha whose text keeps the reference perplexity within --max-ppl-factor of the unsteered text's."""
    import torch

    from probewise.artifact import ProbeArtifact
    from probewise.monitor import Monitor
    from probewise.steer import concept_vector, resolve_stack, steer

    model, tok, dev = _load(args.model, args.device, True, args.gguf_file, args)
    if not args.probe:
        raise ConfigError("give the probe artifact whose direction steers with --artifact PATH.")
    art = ProbeArtifact.load(args.probe)
    layer = art.check_model(model, args.layer, allow_mismatch=args.allow_mismatch, blocks_path=args.blocks_path)
    stack = resolve_stack(model, args.blocks_path)
    try:
        alphas = sorted({float(a) for a in str(args.alphas).split(",") if a.strip()})
    except ValueError as e:
        raise ConfigError(f"--alphas must be numbers separated by commas, got {args.alphas!r}.") from e
    if not alphas or args.max_ppl_factor < 1:
        raise ConfigError("give at least one alpha, and --max-ppl-factor >= 1.")
    grid = sorted({0.0, *alphas})
    v = concept_vector(art)
    prompts = read_prompts(args.prompts, tok)
    name = "probe"
    # the probe is read at its own layer, in the steered model (while generating) and in the unsteered one
    reader = Monitor(model, {name: art}, allow_mismatch=args.allow_mismatch, blocks_path=args.blocks_path)
    rows = []
    for alpha in grid:
        nll = 0.0
        count = 0
        steered_scores, text_scores, norms, samples = [], [], [], []
        for i, text in enumerate(prompts):
            enc = _encode(tok, text, dev, args.max_length)
            n_prompt = int(enc["input_ids"].shape[1])
            with torch.no_grad(), _seeded(args.seed + i if args.sample else None), \
                    steer(model, {layer: v}, alpha=alpha, mode=args.mode, positions=args.positions,
                          blocks_path=args.blocks_path), reader, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seq = reader.generate(**enc, **_gen_kwargs(args, tok, args.max_new_tokens))
                steered_scores.append(reader.traces[0].score(name))
            with torch.no_grad(), reader:
                s, c, norm = _reference_pass(model, seq, n_prompt, stack, layer, enc)
                text_scores.append(reader.traces[0].score(name))
            nll, count = nll + s, count + c
            norms.append(norm)
            samples.append({"prompt": text, "continuation": tok.decode(seq[0, n_prompt:], skip_special_tokens=True)})
        rows.append({"alpha": alpha, "in_grid": alpha in alphas, "score_steered": float(np.mean(steered_scores)),
                     "score_text": float(np.mean(text_scores)), "ppl": math.exp(nll / count) if count else math.nan,
                     "tokens": count, "residual_norm": float(np.nanmean(norms)), "samples": samples})
    base = rows[0]
    for r in rows:
        r["score_steered_shift"] = r["score_steered"] - base["score_steered"]
        r["score_text_shift"] = r["score_text"] - base["score_text"]
        r["ppl_factor"] = r["ppl"] / base["ppl"] if base["ppl"] and math.isfinite(base["ppl"]) else math.nan
        r["within"] = bool(r["ppl_factor"] <= args.max_ppl_factor) if math.isfinite(r["ppl_factor"]) else False
    ok = [r["alpha"] for r in rows if r["in_grid"] and (r["within"] or r["alpha"] == 0.0)]
    chosen = max(ok) if ok else None
    result = {
        "format": "probewise-steer", "model": args.model, "probe": str(args.probe), "layer": layer,
        "probe_layer": art.layer, "mode": args.mode, "positions": args.positions,
        "decoding": {"sample": bool(args.sample), "seed": args.seed, "temperature": args.temperature,
                     "top_p": args.top_p, "max_new_tokens": args.max_new_tokens},
        "max_ppl_factor": args.max_ppl_factor, "chosen_alpha": chosen, "n_prompts": len(prompts),
        "notes": "score_steered: the probe read inside the steered model while it generated; score_text: the probe "
                 "read by the unsteered model over prompt + steered continuation; ppl: perplexity of the steered "
                 "continuation under the unsteered model (reference); alpha 0 is always run as the baseline.",
        "alphas": rows,
    }
    print(f"{'alpha':>8} {'score(steered)':>15} {'shift':>9} {'score(text)':>12} {'shift':>9} {'ppl':>10} "
          f"{'x ppl':>7}  ok")
    for r in rows:
        mark = "*" if r["alpha"] == chosen else ("y" if r["within"] else "n")
        print(f"{r['alpha']:>8.3g} {r['score_steered']:>15.4f} {r['score_steered_shift']:>+9.4f} "
              f"{r['score_text']:>12.4f} {r['score_text_shift']:>+9.4f} {r['ppl']:>10.4g} {r['ppl_factor']:>7.3f}  "
              f"{mark}")
    print(f"chosen alpha: {chosen} (largest in --alphas with perplexity <= {args.max_ppl_factor} x unsteered; "
          f"residual norm at layer {layer}: {base['residual_norm']:.3g})")
    if args.out:
        p = Path(args.out)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"wrote {p}")
    return 0


# ------------------------------------------------------------------------------------------------ parsers
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="local folder, hub id or .gguf file; 'default' = the embedded "
                                                  "all-MiniLM-L6-v2, 'smollm2' = SmolLM2-135M-Instruct (GGUF)")
    p.add_argument("--gguf-file", help="a GGUF checkpoint's file name inside the --model folder")
    p.add_argument("--device-map", help="'auto': accelerate puts weights on GPUs, CPU and disk as they fit")
    p.add_argument("--max-memory", help="budgets for --device-map, e.g. cpu=2GiB or 0=20GiB,cpu=64GiB")
    p.add_argument("--offload-folder", help="where --device-map offloads weights to disk (default: the cache)")
    p.add_argument("--prompts", required=True, help="text file, one prompt per line (or .jsonl: text/prompt/messages)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--max-length", type=int, help="truncate prompts to this many tokens")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="use the probe on a model or layer it was not trained on (a warning instead of an error)")
    p.add_argument("--blocks-path", help="attribute path of the block ModuleList, for unknown architectures")
    p.add_argument("--sample", action="store_true", help="sample (seeded) instead of greedy decoding")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling (prompt i uses seed + i)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (with --sample)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (with --sample)")


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add the `steer` and `monitor` sub-commands (each sets ``func``, taking the namespace, returning a code)."""
    p = subparsers.add_parser("monitor", help="score prompts (and generations) token by token with probe artifacts")
    _common(p)
    p.add_argument("--artifact", dest="probe", action="append",
                   help="probe artifact (path without suffix, or its .json); repeat for several (required)")
    p.add_argument("--probe", dest="probe", action="append", help=argparse.SUPPRESS)  # the old name of --artifact
    p.add_argument("--generate", type=int, default=0, metavar="N",
                   help="generate N new tokens per prompt and score them too (decoders; default 0: score the prompts)")
    p.add_argument("--out", required=True, help="JSONL file: one record per prompt with per-token scores")
    p.add_argument("--html", help="also write a self-contained HTML view colouring tokens by score")
    p.add_argument("--stop-on-flag", action="store_true", help="stop generating a text once a probe flags it")
    p.set_defaults(func=cmd_monitor)

    p = subparsers.add_parser("steer", help="steer generation along a probe's direction; pick the largest alpha "
                                            "that keeps perplexity within a factor")
    _common(p)
    p.add_argument("--artifact", dest="probe",
                   help="probe artifact: its concept vector is the steering direction (required)")
    p.add_argument("--probe", dest="probe", help=argparse.SUPPRESS)  # the old name of --artifact
    p.add_argument("--alphas", default="0,1,2,4,8", help="comma-separated grid of alphas (default 0,1,2,4,8)")
    p.add_argument("--max-ppl-factor", type=float, default=1.5,
                   help="largest allowed perplexity of steered text relative to unsteered text (default 1.5)")
    p.add_argument("--max-new-tokens", type=int, default=20, help="tokens generated per prompt (default 20)")
    p.add_argument("--layer", type=int, help="steer at this layer (default: the probe's layer)")
    p.add_argument("--mode", default="add", choices=("add", "project_out", "clamp"),
                   help="add alpha × direction, remove the direction, or clamp its coordinate to alpha")
    p.add_argument("--positions", default="all", choices=("all", "last"),
                   help="steer every position, or only the last (the token being generated)")
    p.add_argument("--out", help="JSON file for the full results")
    p.set_defaults(func=cmd_steer)
