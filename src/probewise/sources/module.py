"""Representations from any `torch.nn.Module` through forward hooks on named submodules.

Example:
    >>> import torch, torch.nn as nn
    >>> from probewise.sources.module import ModuleSource
    >>> net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    >>> src = ModuleSource(net, layers=["0", "2"], pooling="none")
    >>> {k: tuple(v.shape) for k, v in src.run_batch(torch.randn(5, 8)).items()}
    {'0': (5, 16), '2': (5, 4)}

Outputs are read by their layout (:mod:`probewise.sources.layouts`): `[b, d]` is used as is; an output of
rank 3 or more is read by the layout you give (`layout="bct"` for `[b, channels, time]`, `"btd"` for
`[b, tokens, features]`, `"bchw"` for conv maps, a dict for per-layer choices) or, for torch's own layer types,
by the layout torch documents (`Conv1d` → `bct`, `Conv2d` → `bchw`); any other output of rank ≥ 3 without a
layout is an error, never a guess. Tokens are pooled by `pooling`. A tuple output uses its first element; a
model taking several inputs gets a tuple (positional) or a dict (keyword arguments) from `to_input`. The
forward pass stops once every requested module has fired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

from probewise.errors import SourceError
from probewise.sources.base import Source, StopForward, resolve_device, weights_fingerprint
from probewise.sources.layouts import as_tokens, check_layout, default_layout, layout_error
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
        to_input: turns a batch of items (rows of the inputs array) into the module's argument (a tuple:
            positional arguments; a dict: keyword arguments); default: `torch.as_tensor` of the stacked rows.
        name: a model id for the manifest.
        layout: how to read outputs of rank ≥ 3: one layout for every layer (`"bct"`, `"btd"`, `"bchw"`, ...)
            or a dict layer → layout; None: torch's documented layout for its own layer types, an error
            for any other module (see :mod:`probewise.sources.layouts`).
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
        layout: str | Mapping[str, str] | None = None,
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
        if isinstance(layout, Mapping):
            extra = [k for k in layout if k not in self._modules]
            if extra:
                raise SourceError(f"layout names {extra[0]!r}, which is not one of the layers {self.layer_names}.")
            self.layouts = {n: check_layout(layout[n]) for n in self.layer_names if n in layout}
        else:
            self.layouts = {n: check_layout(layout) for n in self.layer_names} if layout is not None else {}
        self._fingerprint: str | None = None

    def describe(self) -> dict:
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.module)
        return {"kind": "module", "model": self.name, "architecture": type(self.module).__name__,
                "fingerprint": self._fingerprint, "modality": "tensor",
                **({"layouts": dict(self.layouts)} if self.layouts else {})}

    def layout_of(self, name: str, t: torch.Tensor) -> str:
        """The layout `name`'s output `t` is read by: the one given, else torch's documented one, else an error."""
        given = self.layouts.get(name)
        if given is not None:
            return given
        found = default_layout(self._modules[name], t.dim())
        if found is None:
            raise layout_error(name, tuple(t.shape), self._modules[name])
        return found

    def _tokens(self, name: str, t: torch.Tensor) -> torch.Tensor | None:
        """`[b, tokens, d]`, or None for a `[b, d]` output (layout 'bd' or 'flat')."""
        x = as_tokens(t, self.layout_of(name, t), name)
        return None if x.dim() == 2 else x

    def _call(self, x: object) -> None:
        if isinstance(x, tuple):
            self.module(*x)
        elif isinstance(x, dict):
            self.module(**x)
        else:
            self.module(x)

    @torch.inference_mode()
    def run_batch(self, items: Sequence) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        if self.to_input is not None:
            x = self.to_input(items)
        else:
            x = torch.as_tensor(np.asarray(items) if not isinstance(items, torch.Tensor) else items)
        if isinstance(x, torch.Tensor):
            x = x.to(self.device)
        elif isinstance(x, tuple):
            x = tuple(v.to(self.device) if isinstance(v, torch.Tensor) else v for v in x)
        elif isinstance(x, dict):
            x = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in x.items()}
        captured: dict[str, torch.Tensor] = {}
        handles = []
        for n, m in self._modules.items():
            def hook(_m, _args, out, n=n):
                captured[n] = _first_tensor(out)
                if len(captured) == len(self._modules):
                    raise StopForward
            handles.append(m.register_forward_hook(hook))
        try:
            self._call(x)
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
                        "token axis (or is read as one vector, layout 'flat'). Use pooling 'none'."
                    )
                out[n] = t if t.dim() == 2 else t.reshape(t.shape[0], -1)
                continue
            if self.pooling == "none":
                raise SourceError(
                    f"module {n!r} outputs {tuple(t.shape)} (tokens or a feature map); choose a pooling: "
                    "mean, max, first, last or tokens."
                )
            mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
            out[n] = unpad(tokens, mask) if self.pooling == "tokens" else pool(tokens, mask, self.pooling)
        return out
