"""A transformers checkpoint's safetensors files, read one tensor (or a few values) at a time.

Example:
    >>> import tempfile, torch
    >>> from safetensors.torch import save_file
    >>> from probewise.model.checkpoint import Checkpoint
    >>> folder = tempfile.mkdtemp()
    >>> save_file({"model.w": torch.arange(6.0).reshape(2, 3)}, folder + "/model.safetensors")
    >>> ckpt = Checkpoint(folder, prefix="model")
    >>> ckpt.key("w"), ckpt.tensor("w").tolist(), ckpt.values("w", [0, 4, 5]).tolist()
    ('model.w', [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], [0.0, 4.0, 5.0])

What loading a model block by block (:mod:`probewise.sources.blockwise`) and fingerprinting weights that are
not in memory (:func:`probewise.model.loading.fingerprint`) need: where each tensor lives, read without
loading the rest. Names are the base model's parameter names; a checkpoint saved from a head model
(``model.layers.0...`` for a ``LlamaForCausalLM``) is matched through the base model's ``prefix``.
Only safetensors are read (never pickle).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from probewise.errors import SourceError

__all__ = ["Checkpoint"]


class Checkpoint:
    """The safetensors files of a model folder, indexed by tensor name.

    Args:
        folder: the model folder (``model.safetensors`` or sharded ``model-0000x-of-0000y.safetensors``).
        prefix: the base model's ``base_model_prefix`` (``"model"``, ``"transformer"``, ``"bert"``, ...).
    """

    def __init__(self, folder: str | Path, prefix: str = "") -> None:
        from safetensors import safe_open

        self.folder = Path(folder)
        self.prefix = prefix
        files = sorted(self.folder.glob("*.safetensors"))
        if not files:
            others = sorted(p.name for ext in ("*.bin", "*.pt", "*.pth") for p in self.folder.glob(ext))
            raise SourceError(
                f"{self.folder} has no safetensors weights"
                + (f" (only {', '.join(others[:3])})" if others else "")
                + ": reading a model block by block needs them. Convert once with "
                "`transformers.AutoModel.from_pretrained(folder).save_pretrained(new_folder)` (safetensors is the "
                "default), or extract without block-by-block loading.")
        self._where: dict[str, Path] = {}
        for f in files:
            with safe_open(f, "pt") as h:
                for k in h.keys():  # noqa: SIM118 - safe_open has keys(), not iteration
                    self._where[k] = f

    def key(self, name: str) -> str | None:
        """The checkpoint's key for the base model's tensor ``name`` (None if the checkpoint lacks it)."""
        for k in (name, f"{self.prefix}.{name}" if self.prefix else None):
            if k is not None and k in self._where:
                return k
        return None

    def _open(self, name: str):
        from safetensors import safe_open

        k = self.key(name)
        if k is None:
            raise SourceError(f"{self.folder} holds no tensor for {name!r}; the checkpoint does not match the "
                              "model's architecture.")
        return safe_open(self._where[k], "pt"), k

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of tensor ``name``, read from the file's header."""
        h, k = self._open(name)
        with h:
            return tuple(h.get_slice(k).get_shape())

    def tensor(self, name: str) -> torch.Tensor:
        """The whole tensor ``name`` (read from disk now)."""
        h, k = self._open(name)
        with h:
            return h.get_tensor(k)

    def tensors(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Several tensors, each file opened once."""
        by_file: dict[Path, list[str]] = {}
        for n in names:
            k = self.key(n)
            if k is None:
                self._open(n)  # raises the error naming it
            by_file.setdefault(self._where[k], []).append(n)
        from safetensors import safe_open

        out = {}
        for f, ns in by_file.items():
            with safe_open(f, "pt") as h:
                for n in ns:
                    out[n] = h.get_tensor(self.key(n))
        return out

    def values(self, name: str, flat_index: Sequence[int]) -> torch.Tensor:
        """Elements of tensor ``name`` at positions ``flat_index`` of its flattened form, read one by one (a few
        hundred bytes from disk, not the tensor)."""
        h, k = self._open(name)
        with h:
            sl = h.get_slice(k)
            shape = tuple(sl.get_shape())
            if not shape:
                return h.get_tensor(k).reshape(1)[list(flat_index)]
            out = []
            for j in flat_index:
                idx = []
                for dim in reversed(shape):
                    idx.append(j % dim)
                    j //= dim
                out.append(sl[tuple(slice(i, i + 1) for i in reversed(idx))].reshape(1))
            return torch.cat(out) if out else torch.empty(0)
