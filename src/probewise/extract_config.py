"""`ExtractConfig`: the options of one extraction, in a module that imports nothing heavy (the CLI reads its
defaults to show them in ``--help`` without loading torch).

Example:
    >>> from probewise.extract_config import ExtractConfig
    >>> ExtractConfig(out="runs/x").pooling
    'mean'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExtractConfig:
    """Everything that defines one extraction; `probewise extract` flags map one-to-one onto it.

    Exactly one data source: `data` (CSV/TSV/JSONL/Parquet file, or array data: an `.npy`/`.npz` file or a
    folder of `.npy` windows with `labels`, a CSV of labels/groups/split), `image_folder`, `hf_dataset` or `task`
    (a built-in diagnostic task, see `probewise tasks list`). `model`: a transformers folder/hub id/GGUF file, an
    ONNX file or a Python `module:attr` nn.Module (see :mod:`probewise.sources.kinds`); for the last two `layers`
    names nodes/submodules and `layout` says how to read outputs of rank ≥ 3. `threads`:
    `torch.set_num_threads` for the run (None: torch's default). Models bigger than memory: `device_map` /
    `max_memory` / `offload_folder` (accelerate's offloading, :class:`probewise.model.LoadPlan`), or `blockwise`
    (one block's weights at a time, :class:`probewise.sources.blockwise.BlockwiseSource`; its progress is saved
    after a block at most every `save_every` seconds in `<out>.blockwise/`).
    """

    out: str
    model: str = "default"
    gguf_file: str | None = None
    device_map: str | None = None
    max_memory: str | None = None
    offload_folder: str | None = None
    blockwise: bool = False
    save_every: float = 60.0
    data: str | None = None
    image_folder: str | None = None
    hf_dataset: str | None = None
    task: str | None = None
    task_size: int = 2000
    text_column: str = "text"
    label_column: str = "label"
    split_column: str | None = None
    group_column: str | None = None
    image_column: str | None = None
    labels: str | None = None
    layers: str = "all"
    layout: str | None = None
    pooling: str = "mean"
    dtype: str = "float32"
    model_dtype: str = "float32"
    batch_size: int = 32
    shard_size: int = 1024
    max_length: int | None = None
    device: str = "auto"
    threads: int | None = None
    trust_remote_code: bool = False
    val_frac: float = 0.15
    test_frac: float = 0.15
    seed: int = 0
    overwrite: bool = False
    progress: bool = True
