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


def weights_fingerprint(model: nn.Module) -> str:
    """A cheap, weight-dependent fingerprint: names, shapes, dtypes and a strided sample of every tensor.

    Reading every weight of a 7B model would take minutes; 192 values per tensor tell models apart.
    """
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        flat = t.detach().reshape(-1)
        if flat.numel():
            step = max(1, flat.numel() // 64)
            sample = torch.cat([flat[:64], flat[::step][:64], flat[-64:]]).to("cpu", torch.float64)
            h.update(sample.numpy().tobytes())
    return h.hexdigest()[:32]


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
