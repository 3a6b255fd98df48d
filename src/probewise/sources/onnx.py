"""ONNX models as a source: the graph becomes a torch module (`onnx2torch`), probed through hooks; layers are nodes.

Example:
    >>> import numpy as np, onnx, tempfile
    >>> from onnx import helper, TensorProto
    >>> from probewise.sources.onnx import OnnxSource
    >>> w = helper.make_tensor("w", TensorProto.FLOAT, [3, 2], np.arange(6, dtype=np.float32))
    >>> g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"], name="proj"),
    ...                        helper.make_node("Relu", ["h"], ["y"], name="act")], "tiny",
    ...                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
    ...                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])], [w])
    >>> path = tempfile.mkdtemp() + "/tiny.onnx"
    >>> onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    >>> src = OnnxSource(path, layers=["proj", "act"], pooling="none", device="cpu")
    >>> src.run_batch(np.array([[1.0, -1.0, 0.0]], dtype=np.float32))["act"].tolist()
    [[0.0, 0.0]]

A layer is an ONNX node, named as in the graph (``/encoder/layer.3/Add``; ``probewise layers MODEL.onnx`` lists
them with their op types and output shapes) or by its output's name (what onnxruntime calls the value). Glob
patterns (``/encoder/layer.*/Add_1``: ``*`` stays within one ``/`` part, ``**`` crosses them) expand in graph
order. What a hook captures is the node's output as onnxruntime computes it, within float32 rounding
(`tests/sources/test_onnx.py` compares both on real models). Inputs: one array ``[n, ...]`` for a model with one
input; for several, a structured array whose fields are named as the graph's inputs
(:func:`probewise.data.arrays.load_arrays` builds one from an ``.npz``). Each batch is cast to the dtype the graph
declares and checked against its fixed dimensions.

``onnx2torch`` imports ``torchvision`` for two ops only (NonMaxSuppression, RoiAlign); where torchvision is absent or
does not load (a CPU-only torch next to a CUDA torchvision), probewise loads ``onnx2torch`` without it, and a graph
using those two ops is refused with the op's name.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import re
import sys
import types
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from probewise.errors import DataError, SourceError
from probewise.sources.module import ModuleSource

__all__ = ["OnnxGraphInfo", "OnnxSource", "convert_onnx", "load_onnx", "node_glob"]

INSTALL = "pip install onnx onnx2torch (or pip install 'probewise[onnx]'; make install brings both)"
_NEEDS_TORCHVISION = {"NonMaxSuppression", "RoiAlign"}
_ONNX_DTYPES = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise SourceError(f"ONNX models need the {name} package: {INSTALL}.") from e


def import_onnx2torch():
    """``onnx2torch``, imported with a stand-in for torchvision when torchvision is missing or broken."""
    if "onnx2torch" in sys.modules:
        return sys.modules["onnx2torch"]
    try:
        import torchvision  # noqa: F401
        return _import("onnx2torch")
    except Exception:  # absent, or a build for another torch (its import raises RuntimeError)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    stubs = {name: types.ModuleType(name) for name in ("torchvision", "torchvision.ops")}

    def missing(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def unavailable(*_a, **_k):
            raise SourceError(f"this ONNX graph needs torchvision.ops.{attr}, and torchvision does not load here; "
                              "install the torchvision build that matches your torch.")
        return unavailable

    for stub in stubs.values():
        stub.__getattr__ = missing  # type: ignore[method-assign]
    stubs["torchvision"].ops = stubs["torchvision.ops"]  # type: ignore[attr-defined]
    sys.modules.update(stubs)
    try:
        return _import("onnx2torch")
    finally:  # the stand-in never outlives this import (transformers looks for a real torchvision)
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]


def load_onnx(path: str | Path):
    """Read an ONNX file; :class:`SourceError` when it is missing or does not parse."""
    onnx = _import("onnx")
    p = Path(path).expanduser()
    if not p.is_file():
        raise SourceError(f"ONNX file {str(p)!r} does not exist.")
    try:
        model = onnx.load(str(p))
    except Exception as e:
        raise SourceError(f"{p} is not a readable ONNX model ({type(e).__name__}: {str(e)[:200]}); it may be "
                          "truncated or another format: export it again (torch.onnx.export) or download it "
                          "again.") from e
    if not len(model.graph.node):
        raise SourceError(f"{p} parsed as ONNX but holds no graph nodes: it is not an ONNX model (or is empty).")
    return model


class OnnxGraphInfo:
    """Names of an ONNX graph: node name → torch module name (as ``onnx2torch`` names it), op types, output values."""

    def __init__(self, model) -> None:
        counts: dict[str, int] = {}
        self.nodes: list[str] = []  # user-facing names, graph order
        self.module_of: dict[str, str] = {}
        self.op_of: dict[str, str] = {}
        self.node_of_value: dict[str, str] = {}
        self.outputs_of: dict[str, list[str]] = {}
        for node in model.graph.node:
            # onnx2torch's rule (onnx_graph.py): dots become slashes, the domain is a prefix, repeats get _1, _2, ...
            base = (f"{node.domain}/" + (node.name.replace(".", "/") or node.op_type)).lstrip("/")
            k = counts.get(base, 0)
            counts[base] = k + 1
            module = base + (f"_{k}" if k else "")
            name = node.name if node.name and node.name not in self.module_of else module
            self.nodes.append(name)
            self.module_of[name] = module
            self.op_of[name] = node.op_type
            self.outputs_of[name] = list(node.output)
            for v in node.output:
                self.node_of_value[v] = name
        self.inputs = [(i.name, i.type.tensor_type.elem_type,
                        [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                         for d in i.type.tensor_type.shape.dim])
                       for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]

    def resolve(self, layers: Sequence[str] | str) -> list[str]:
        """Node names for ``layers`` (node names, output value names or glob patterns), in the order given."""
        if isinstance(layers, str):
            layers = [s.strip() for s in layers.split(",") if s.strip()]
        out: list[str] = []
        for item in layers:
            if item in self.module_of:
                out.append(item)
            elif item in self.node_of_value:
                out.append(self.node_of_value[item])
            elif any(ch in item for ch in "*?"):
                pattern = node_glob(item)
                hits = [n for n in self.nodes if pattern.fullmatch(n)]
                if not hits:
                    raise SourceError(f"no node of this ONNX graph matches {item!r}; list them with "
                                      "`probewise layers MODEL.onnx`.")
                out += hits
            else:
                close = difflib.get_close_matches(item, self.nodes, n=5, cutoff=0.5)
                hint = f" Close matches: {close}." if close else ""
                raise SourceError(f"this ONNX graph has no node {item!r}.{hint} List every node with "
                                  "`probewise layers MODEL.onnx`.")
        if not out:
            raise SourceError("name at least one ONNX node to probe (see `probewise layers MODEL.onnx`).")
        return list(dict.fromkeys(out))


def node_glob(pattern: str) -> re.Pattern:
    """A node-name glob: ``*`` and ``?`` stay within one ``/``-separated part, ``**`` crosses parts."""
    out = ""
    for part in re.split(r"(\*\*|\*|\?)", pattern):
        out += {"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
    return re.compile(out)


def unsupported_ops(model) -> list[tuple[str, str, int]]:
    """``(op type, first node, opset)`` of every op ``onnx2torch`` cannot convert (or cannot without torchvision)."""
    import_onnx2torch()
    from onnx2torch.node_converters.registry import get_converter

    opsets = {o.domain: o.version for o in model.opset_import}
    try:
        import torchvision  # noqa: F401
        vision = True
    except Exception:
        vision = False
    seen: dict[tuple[str, str], tuple[str, str, int]] = {}
    for node in model.graph.node:
        key = (node.domain, node.op_type)
        if key in seen:
            continue
        version = opsets.get(node.domain, opsets.get("ai.onnx", 0))
        try:
            get_converter(domain=node.domain, operation_type=node.op_type, version=version)
            ok = vision or node.op_type not in _NEEDS_TORCHVISION
        except NotImplementedError:
            ok = False
        if not ok:
            seen[key] = (node.op_type if not node.domain else f"{node.domain}.{node.op_type}", node.name, version)
    return list(seen.values())


def convert_onnx(model, path: str | Path = "model.onnx") -> torch.nn.Module:
    """The torch module ``onnx2torch`` builds from ``model``; :class:`SourceError` naming any op it cannot convert."""
    bad = unsupported_ops(model)
    if bad:
        desc = "; ".join(f"{op} (opset {v}, first at node {name!r})" for op, name, v in bad)
        raise SourceError(f"{Path(path).name}: onnx2torch cannot convert the op{'s' if len(bad) > 1 else ''} {desc}. "
                          "Export the model without it (e.g. a newer/older opset, or replace the layer), or probe "
                          "the part of the graph before it with onnxruntime.")
    o2t = import_onnx2torch()
    try:
        return o2t.convert(model).eval()
    except Exception as e:
        raise SourceError(f"onnx2torch could not convert {Path(path).name}: {type(e).__name__}: {str(e)[:300]}") from e


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


class OnnxSource(ModuleSource):
    """An ONNX model as a representation source.

    Args:
        path: the ``.onnx`` file.
        layers: node names (or output value names, or glob patterns) to capture, as listed by ``probewise layers``.
        pooling: none | mean | max | first | last | tokens (over the token axes of each output's layout).
        layout: how to read outputs of rank ≥ 3 (``"bct"`` for ``[b, channels, time]``, ``"btd"``, ``"bchw"``, ...; a
            dict node → layout); Conv/BatchNorm nodes, which onnx2torch turns into torch's own layers, need none.
        device: auto | cpu | cuda[:N].
    """

    def __init__(self, path: str | Path, layers: Sequence[str] | str, pooling: str = "mean", *,
                 layout: str | Mapping[str, str] | None = None, device: str | None = "auto") -> None:
        self.path = Path(path).expanduser()
        model = load_onnx(self.path)
        self.graph = OnnxGraphInfo(model)
        nodes = self.graph.resolve(layers)
        module = convert_onnx(model, self.path)
        self.node_names = nodes
        if isinstance(layout, Mapping):
            layout = {self.graph.module_of[self.graph.resolve([k])[0]]: v for k, v in layout.items()}
        super().__init__(module, [self.graph.module_of[n] for n in nodes], pooling, device=device,
                         to_input=self._inputs, name=self.path.name, layout=layout)
        # Stored under the graph's node names (what the user asked for), hooked under onnx2torch's module names.
        self._modules = {n: self._modules[self.graph.module_of[n]] for n in nodes}
        self.layouts = {n: self.layouts[m] for n in nodes if (m := self.graph.module_of[n]) in self.layouts}
        self.layer_names = list(nodes)
        self._sha: str | None = None

    def describe(self) -> dict:
        if self._sha is None:
            self._sha = _sha256(self.path)
        return {"kind": "onnx", "model": self.path.name, "sha256": self._sha, "fingerprint": self._sha[:32],
                "modality": "tensor", "inputs": [[n, d] for n, _, d in self.graph.inputs],
                **({"layouts": dict(self.layouts)} if self.layouts else {})}

    def _inputs(self, items) -> tuple[torch.Tensor, ...]:
        arr = np.asarray(items)
        specs = self.graph.inputs
        if arr.dtype.names:
            missing = [n for n, _, _ in specs if n not in arr.dtype.names]
            if missing:
                raise DataError(f"the arrays hold inputs {list(arr.dtype.names)}, but {self.path.name} also needs "
                                f"{missing}: give one array per graph input, named as the graph names them "
                                f"({[n for n, _, _ in specs]}).")
            parts = [np.asarray(arr[n]) for n, _, _ in specs]
        elif len(specs) == 1:
            parts = [arr]
        else:
            raise DataError(f"{self.path.name} takes {len(specs)} inputs {[n for n, _, _ in specs]}; give them as "
                            "an .npz with one array per input name (or a structured array with those fields).")
        out = []
        for (name, elem, dims), x in zip(specs, parts, strict=True):
            want = list(dims[1:])
            got = list(x.shape[1:])
            fixed = zip(want, got, strict=False)
            if len(want) != len(got) or any(isinstance(w, int) and w > 0 and w != g for w, g in fixed):
                shape = ", ".join(map(str, want))
                raise DataError(f"input {name!r} of {self.path.name} is {dims} (batch first), but the arrays give "
                                f"{['n', *got]} per batch; reshape, crop or pad the arrays to [n, {shape}].")
            dtype = _ONNX_DTYPES.get(elem)
            if dtype is None:
                raise DataError(f"input {name!r} of {self.path.name} has ONNX element type {elem}, which probewise "
                                "does not feed; use float, int or bool inputs.")
            if x.dtype.kind not in "biuf":
                raise DataError(f"input {name!r}: arrays of dtype {x.dtype}; give numbers.")
            out.append(torch.from_numpy(np.ascontiguousarray(x, dtype=dtype)))
        return tuple(out)
