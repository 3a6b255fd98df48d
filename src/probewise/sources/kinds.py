"""The four kinds of model ``--model`` names, told apart in one place: a transformers folder or hub id (GGUF files and
the embedded aliases included), an ONNX file, or a Python ``module:attr`` naming an ``nn.Module``.

Example:
    >>> from probewise.sources.kinds import model_kind
    >>> [model_kind(m) for m in ("default", "model.onnx", "smollm2", "mypkg.nets:encoder")]
    ['hf', 'onnx', 'hf', 'module']
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch.nn as nn

from probewise.errors import SourceError

__all__ = ["load_module", "model_kind", "module_source"]

_MODULE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def model_kind(model: str, gguf_file: str | None = None) -> str:
    """``"onnx"`` (a ``.onnx`` file), ``"module"`` (``package.module:attr``) or ``"hf"`` (everything else)."""
    text = str(model)
    if gguf_file is None and text.lower().endswith(".onnx"):
        return "onnx"
    if gguf_file is None and _MODULE_SPEC.match(text) and not Path(text).exists():
        return "module"
    return "hf"


def load_module(spec: str) -> nn.Module:
    """The ``nn.Module`` that ``"package.module:attr"`` names (an instance, or a callable returning one without
    arguments); the current folder is importable, as with ``python -m``. This runs that module's code: name only
    code you trust."""
    mod_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise SourceError(f"could not import {mod_name!r} for --model {spec!r}: {e}. Run from the folder that holds "
                          "it, or install it.") from e
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    obj: object = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SourceError(f"{mod_name!r} has no attribute {attr!r} (--model {spec!r}).")
        obj = getattr(obj, part)
    if not isinstance(obj, nn.Module) and callable(obj):
        try:
            obj = obj()
        except TypeError as e:
            raise SourceError(f"{spec} is a callable that needs arguments ({e}); point --model at an nn.Module "
                              "instance or a function that builds one without arguments.") from e
    if not isinstance(obj, nn.Module):
        raise SourceError(f"{spec} is a {type(obj).__name__}, not a torch.nn.Module.")
    return obj


def _module_layers(module: nn.Module, layers: Sequence[str] | str, spec: str) -> list[str]:
    from probewise.sources.onnx import node_glob

    items = [s.strip() for s in layers.split(",") if s.strip()] if isinstance(layers, str) else list(layers)
    names = [n for n, _ in module.named_modules() if n]
    out: list[str] = []
    for item in items:
        if any(ch in item for ch in "*?"):
            pattern = node_glob(item)
            out += [n for n in names if pattern.fullmatch(n)] or _no_layer(item, names, spec)
        else:
            out.append(item)
    return list(dict.fromkeys(out))


def _no_layer(item: str, names: list[str], spec: str) -> list[str]:
    raise SourceError(f"no submodule of {spec} matches {item!r}; list them with `probewise layers {spec}`.")


def module_source(model: str, layers: Sequence[str] | str, pooling: str = "mean", *,
                  layout: str | Mapping[str, str] | None = None, device: str | None = "auto"):
    """The source for an ONNX file or a ``module:attr`` nn.Module (layers are node / submodule names or globs)."""
    from probewise.sources.module import ModuleSource
    from probewise.sources.onnx import OnnxSource

    if layers in ("all", None, "") or layers == ["all"]:
        raise SourceError(f"name the layers to probe with --layers (node or submodule names, globs like "
                          f"'blocks.*'); `probewise layers {model}` lists them.")
    if model_kind(model) == "onnx":
        return OnnxSource(model, layers, pooling, layout=layout, device=device)
    module = load_module(model)
    return ModuleSource(module, _module_layers(module, layers, model), pooling, device=device, name=model,
                        layout=layout)
