"""What ``--layers`` can name in a model, with each layer's output shape: ``probewise layers MODEL``.

Example:
    >>> import torch.nn as nn
    >>> from probewise.sources.catalog import module_layers
    >>> net = nn.Sequential(nn.Conv1d(4, 8, 3), nn.GELU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
    >>> [(x.name, x.op, x.shape, x.layout) for x in module_layers(net, [(4, 32)])][:2]
    [('0', 'Conv1d', [1, 8, 30], 'bct'), ('1', 'GELU', [1, 8, 30], None)]

Shapes come from one forward pass of a batch of one: a short text or a blank image for transformers models, zeros of
the graph's declared shape for ONNX (``input_shapes`` where a dimension other than the batch is symbolic), zeros of
``input_shapes`` for a Python ``nn.Module`` (without them, names and types only). ``layout`` is the layout torch
documents for the layer's type, when there is one; a layer of rank ≥ 3 without one needs ``--layout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from probewise.errors import SourceError
from probewise.sources.layouts import default_layout
from probewise.sources.module import _first_tensor

__all__ = ["LayerInfo", "list_layers", "module_layers"]


@dataclass
class LayerInfo:
    """One layer: the name ``--layers`` takes, its op or module type, its output shape for a batch of one, the
    layout probewise reads it by without ``--layout`` (None: rank ≥ 3 and not known)."""

    name: str
    op: str
    shape: list[int] | None
    layout: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _record_shapes(root: nn.Module, named: dict[str, nn.Module], run) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    handles = []
    for name, m in named.items():
        def hook(_m, _a, out, name=name):
            try:
                shapes.setdefault(name, list(_first_tensor(out).shape))
            except SourceError:
                pass
        handles.append(m.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            run()
    finally:
        for h in handles:
            h.remove()
    return shapes


def module_layers(module: nn.Module, input_shapes: Sequence[Sequence[int]] | None = None) -> list[LayerInfo]:
    """Every named submodule of ``module``; with ``input_shapes`` (one per input, without the batch) their shapes."""
    named = {n: m for n, m in module.named_modules() if n}
    shapes: dict[str, list[int]] = {}
    if input_shapes:
        xs = [torch.zeros(1, *s) for s in input_shapes]
        shapes = _record_shapes(module, named, lambda: module.eval()(*xs))
    return [LayerInfo(n, type(m).__name__, shapes.get(n),
                      default_layout(m, len(shapes[n])) if n in shapes else None) for n, m in named.items()]


def onnx_layers(path: str, input_shapes: Sequence[Sequence[int]] | None = None) -> list[LayerInfo]:
    """Every node of an ONNX graph, with its op type and (from a forward pass on zeros) output shape."""
    from probewise.sources.onnx import OnnxGraphInfo, convert_onnx, load_onnx

    model = load_onnx(path)
    graph = OnnxGraphInfo(model)
    module = convert_onnx(model, path)
    dims = []
    for i, (_name, _, declared) in enumerate(graph.inputs):
        rest = declared[1:]
        if input_shapes and i < len(input_shapes):
            rest = list(input_shapes[i])
        if any(not isinstance(d, int) or d <= 0 for d in rest):
            dims = None
            break
        dims.append([1, *rest])
    named = dict(module.named_modules())
    by_node = {n: named[graph.module_of[n]] for n in graph.nodes if graph.module_of[n] in named}
    shapes: dict[str, list[int]] = {}
    if dims is not None:
        xs = [torch.zeros(*d) for d in dims]
        shapes = _record_shapes(module, by_node, lambda: module(*xs))
    return [LayerInfo(n, graph.op_of[n], shapes.get(n),
                      default_layout(by_node.get(n), len(shapes[n])) if n in shapes else None) for n in graph.nodes]


def hf_layers(model: str, gguf_file: str | None = None) -> list[LayerInfo]:
    """The hidden states of a transformers model (0 = embeddings), shapes from a short text or a blank image."""
    from probewise.sources.hf import HFSource

    src = HFSource(model, None, "mean", device="cpu", gguf_file=gguf_file)
    if src.modality == "text":
        sample: list = ["probewise lists the layers"]
    else:
        from PIL import Image

        sample = [Image.new("RGB", (224, 224), (128, 128, 128))]
    captured, _, _ = src.hidden_states(sample)
    out = []
    for i in src.layers:
        what = "embeddings" if i == 0 else f"{src.blocks_path}.{i - 1}"
        out.append(LayerInfo(str(i), what, list(captured[i].shape), "btd"))
    return out


def list_layers(model: str, *, gguf_file: str | None = None,
                input_shapes: Sequence[Sequence[int]] | None = None) -> list[LayerInfo]:
    """The layers ``--layers`` can name in ``model`` (any of the four kinds, see :mod:`probewise.sources.kinds`)."""
    from probewise.sources.kinds import load_module, model_kind

    kind = model_kind(model, gguf_file)
    if kind == "onnx":
        return onnx_layers(model, input_shapes)
    if kind == "module":
        return module_layers(load_module(model), input_shapes)
    return hf_layers(model, gguf_file)
