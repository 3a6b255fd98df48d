"""The `Source` contract: a frozen model that turns a batch of inputs into per-layer representations.

A source owns the model, its preprocessing, the layers asked for and the pooling. Extraction
(`probewise.extract`) sorts each shard's inputs by length, then calls `run_batch` per batch; it knows
nothing about models. A source may offer `encode_shard` (text models: tokenize a shard once, sort by the
attention mask and hand each batch its rows via `run_batch(..., encoded=...)`); otherwise extraction
calls `lengths` to sort. Sources know nothing about probes or stores.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn as nn

from probewise.errors import SourceError


class StopForward(Exception):
    """Raised inside a hook once the deepest requested layer is captured, to skip the rest of the model."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    """`auto`/None → CUDA if present, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise SourceError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N.") from e


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
           "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_dtype(name: str | torch.dtype) -> torch.dtype:
    if isinstance(name, torch.dtype):
        return name
    if name not in _DTYPES:
        raise SourceError(f"unknown dtype {name!r}: use float32, float16 or bfloat16.")
    return _DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def sample_index(numel: int) -> list[int]:
    """Flat positions a weights fingerprint reads from a tensor of ``numel`` elements: the first 64, 64 spread
    evenly, the last 64."""
    step = max(1, numel // 64)
    return [*range(min(64, numel)), *range(0, numel, step)[:64], *range(max(0, numel - 64), numel)]


def fingerprint_entries(entries) -> str:
    """The fingerprint of ``(name, shape, dtype, read)`` entries, ``read(positions)`` giving the values at those
    flat positions; :func:`weights_fingerprint` of a model is this over its state dict."""
    h = hashlib.sha256()
    for name, shape, dtype, read in sorted(entries, key=lambda e: e[0]):
        h.update(f"{name}:{tuple(shape)}:{dtype}".encode())
        numel = 1
        for s in shape:
            numel *= int(s)
        if numel:
            h.update(read(sample_index(numel)).to("cpu", torch.float64).numpy().tobytes())
    return h.hexdigest()[:32]


def weights_fingerprint(model: nn.Module) -> str:
    """A cheap, weight-dependent fingerprint: names, shapes, dtypes and a strided sample of every tensor.

    Reading every weight of a 7B model would take minutes; 192 values per tensor tell models apart.
    """
    return fingerprint_entries(
        (name, t.shape, t.dtype, lambda idx, t=t: t.detach().reshape(-1)[idx])
        for name, t in model.state_dict().items())


class Source(ABC):
    """Base class of representation sources.

    Attributes set by subclasses: `layer_names` (list[str], the requested layers in order),
    `pooling` (str), `modality` ("text" | "image" | "tensor"); `has_model` is False for a source that runs no
    model (precomputed features), so no error blames a model's dtype.
    """

    layer_names: list[str]
    pooling: str
    modality: str
    has_model: bool = True

    @abstractmethod
    def describe(self) -> dict:
        """JSON-able identity of the source: kind, model id, weights fingerprint, settings that change outputs."""

    def lengths(self, items: Sequence, words: bool = False) -> list[int]:
        """Cost proxy per item (token count) used to batch similar lengths together."""
        return [1] * len(items)

    @abstractmethod
    def run_batch(self, items: Sequence) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Representations of a batch: layer → `[b, d]` (pooled) or a list of `[t_i, d]` (pooling='tokens').

        With pooling='tokens' and text input, the key `"__token_ids__"` holds a list of `[t_i]` token ids.
        """
