"""Representations from any `torch.nn.Module` through forward hooks on named submodules.

Example:
    >>> import torch, torch.nn as nn
    >>> from probewise.sources.module import ModuleSource
    >>> net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    >>> src = ModuleSource(net, layers=["0", "2"], pooling="none")
    >>> {k: tuple(v.shape) for k, v in src.run_batch(torch.randn(5, 8)).items()}
    {'0': (5, 16), '2': (5, 4)}

Outputs are read by rank: `[b, d]` is used as is (pooling 'none'); `[b, t, d]` is a token sequence
pooled over t; `[b, c, h, w]` (conv maps) becomes `h*w` tokens of c channels. A tuple output uses its
first element. The forward pass stops once every requested module has fired.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from probewise.errors import SourceError
from probewise.sources.base import Source, StopForward, resolve_device, weights_fingerprint
from probewise.sources.pooling import POOLINGS, pool, unpad

MODULE_POOLINGS = (*POOLINGS, "none")


def _first_tensor(out: object) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    if isinstance(out, dict):
        for v in out.values():
            if isinstance(v, torch.Tensor):
                return v
    raise SourceError(f"a hooked module returned {type(out).__name__}; probewise needs a tensor output.")


class ModuleSource(Source):
    """Any `nn.Module` (EEG, audio, 3D, custom encoders) as a representation source.

    Args:
        module: the frozen model; it is put in eval mode and never modified.
        layers: names of submodules (as in `module.named_modules()`) whose outputs to capture.
        pooling: none (outputs already `[b, d]`) | mean | max | first | last | tokens.
        to_input: turns a batch of items (rows of the inputs array) into the module's argument;
            default: `torch.as_tensor` of the stacked rows.
        name: a model id for the manifest.
    """

    def __init__(
        self,
        module: nn.Module,
        layers: Sequence[str],
        pooling: str = "none",
        *,
        device: str | None = "auto",
        to_input: Callable[[Sequence], object] | None = None,
        name: str | None = None,
    ) -> None:
        if pooling not in MODULE_POOLINGS:
            raise SourceError(f"unknown pooling {pooling!r}; choose one of {', '.join(MODULE_POOLINGS)}.")
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        self.pooling = pooling
        self.modality = "tensor"
        self.to_input = to_input
        self.name = name or type(module).__name__
        named = dict(module.named_modules())
        unknown = [n for n in layers if n not in named]
        if unknown:
            options = [n for n in named if n][:12]
            raise SourceError(f"module has no submodule {unknown[0]!r}; some of its names: {options}.")
        if not layers:
            raise SourceError("ModuleSource needs at least one layer name.")
        self.layer_names = [str(n) for n in layers]
        self._modules = {n: named[n] for n in self.layer_names}
        self._fingerprint: str | None = None

    def describe(self) -> dict:
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.module)
        return {"kind": "module", "model": self.name, "architecture": type(self.module).__name__,
                "fingerprint": self._fingerprint, "modality": "tensor"}

    def _tokens(self, name: str, t: torch.Tensor) -> torch.Tensor | None:
        if t.dim() == 2:
            return None
        if t.dim() == 3:
            return t
        if t.dim() == 4:
            return t.flatten(2).transpose(1, 2)
        raise SourceError(f"module {name!r} outputs a tensor of shape {tuple(t.shape)}; expected 2 to 4 dims.")

    @torch.inference_mode()
    def run_batch(self, items: Sequence) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        if self.to_input is not None:
            x = self.to_input(items)
        else:
            x = torch.as_tensor(np.asarray(items) if not isinstance(items, torch.Tensor) else items)
        if isinstance(x, torch.Tensor):
            x = x.to(self.device)
        captured: dict[str, torch.Tensor] = {}
        handles = []
        for n, m in self._modules.items():
            def hook(_m, _args, out, n=n):
                captured[n] = _first_tensor(out)
                if len(captured) == len(self._modules):
                    raise StopForward
            handles.append(m.register_forward_hook(hook))
        try:
            self.module(x)
        except StopForward:
            pass
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in self.layer_names if n not in captured]
        if missing:
            raise SourceError(f"module {missing[0]!r} never ran during the forward pass; check the layer names.")
        out: dict[str, torch.Tensor | list[torch.Tensor]] = {}
        for n in self.layer_names:
            t = captured[n]
            tokens = self._tokens(n, t)
            if tokens is None:
                if self.pooling not in ("none", "mean", "max"):
                    raise SourceError(
                        f"pooling {self.pooling!r} is not available for module {n!r}: it outputs [b, d] with no "
                        "token axis. Use pooling 'none'."
                    )
                out[n] = t
                continue
            if self.pooling == "none":
                raise SourceError(
                    f"module {n!r} outputs {tuple(t.shape)} (tokens or a feature map); choose a pooling: "
                    "mean, max, first, last or tokens."
                )
            mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
            out[n] = unpad(tokens, mask) if self.pooling == "tokens" else pool(tokens, mask, self.pooling)
        return out
