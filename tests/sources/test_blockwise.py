"""Block-by-block extraction equals ordinary extraction bit for bit, resumes per block after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from probewise import Examples, HFSource, extract, open_store
from probewise.errors import SourceError
from probewise.sources.blockwise import BlockwiseSource
from tests.conftest import HANG_GUARD_S

from ..conftest import SENTENCES

TEXTS = [f"{s} number {i}" for i, s in enumerate(SENTENCES * 3)]


def _examples(n: int | None = None):
    n = len(TEXTS) if n is None else n
    return Examples.from_lists(TEXTS[:n], [i % 2 for i in range(n)], name="toy", seed=0)


def _same_store(a, b):
    assert a.layers == b.layers
    for layer in a.layers:
        if a.pooling == "tokens":
            x, y = a.read_tokens(layer), b.read_tokens(layer)
            assert torch.equal(x.values, y.values) and torch.equal(x.offsets, y.offsets)
        else:
            assert torch.equal(a.read(layer), b.read(layer))
    assert [s["sha256"] for s in a.manifest["shards"]] == [s["sha256"] for s in b.manifest["shards"]]


@pytest.mark.parametrize("which,pooling", [("tiny_gpt2", "mean"), ("tiny_llama", "last"), ("tiny_llama", "tokens")])
def test_blockwise_equals_ordinary_extraction(request, tmp_path, which, pooling):
    path = request.getfixturevalue(which)
    kw = {"layers": "all", "pooling": pooling, "device": "cpu"}
    ex = _examples()
    a = extract(BlockwiseSource(path, work_dir=tmp_path / "work", **kw), ex, str(tmp_path / "a"), batch_size=4,
                shard_size=10, progress=False)
    b = extract(HFSource(path, **kw), ex, str(tmp_path / "b"), batch_size=4, shard_size=10, progress=False)
    _same_store(a, b)
    assert not any((tmp_path / "work").glob("shard-*")), "progress files left behind"


def test_blockwise_smollm2_all_31_hidden_states(smollm2_path, tmp_path):
    kw = {"layers": "all", "pooling": "last", "device": "cpu"}
    ex = _examples(12)
    src = BlockwiseSource(smollm2_path, **kw)
    assert all(p.device.type == "meta" for b in src.blocks for p in b.parameters())  # no block weights held
    a = extract(src, ex, str(tmp_path / "a"), batch_size=4, progress=False)
    b = extract(HFSource(smollm2_path, **kw), ex, str(tmp_path / "b"), batch_size=4, progress=False)
    _same_store(a, b)
    assert a.manifest["identity"]["source"]["fingerprint"] == b.manifest["identity"]["source"]["fingerprint"]


def test_a_checkpoint_without_safetensors_is_refused(tiny_llama, tmp_path):
    import shutil

    folder = tmp_path / "bin-only"
    shutil.copytree(tiny_llama, folder)
    from safetensors.torch import load_file

    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(SourceError, match=r"no safetensors weights \(only pytorch_model.bin\).*save_pretrained"):
        BlockwiseSource(str(folder), layers="all", device="cpu")


def test_blocks_called_with_different_arguments_are_not_yet_handled(tmp_path, minilm_path):
    import transformers

    cfg = transformers.Gemma2Config(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                    num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    transformers.AutoModel.from_config(cfg).save_pretrained(tmp_path / "g")
    transformers.AutoTokenizer.from_pretrained(minilm_path).save_pretrained(tmp_path / "g")
    with pytest.raises(SourceError, match="does not yet handle 'gemma2'.*--device-map auto"):
        BlockwiseSource(str(tmp_path / "g"), layers="all", device="cpu")


@pytest.mark.slow
def test_kill9_mid_shard_then_rerun_equals_ordinary_store(smollm2_path, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(TEXTS)))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "probewise", "extract", "--model", "smollm2", "--data", str(csv), "--out", str(out),
           "--layers", "all", "--pooling", "mean", "--batch-size", "4", "--device", "cpu", "--no-progress",
           "--blockwise", "--save-every", "0"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = tmp_path / "killed.blockwise" / "shard-00000" / "state.json"
    saved = 0
    deadline = time.time() + HANG_GUARD_S
    while time.time() < deadline and proc.poll() is None:
        try:
            saved = json.loads(state.read_text())["next_block"]
        except (OSError, ValueError, KeyError):
            saved = 0
        if saved >= 8:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"extraction ended before it could be killed: {proc.communicate()[1][-2000:]!r}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert saved >= 8
    with pytest.raises(Exception, match="incomplete"):
        open_store(out)

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"shard 0: resuming at block {saved} of 30" in rerun.stderr
    assert not (tmp_path / "killed.blockwise").exists()
    ref = tmp_path / "ordinary"
    plain = [c for c in cmd if c not in ("--blockwise", "--save-every", "0")]
    plain[plain.index(str(out))] = str(ref)
    subprocess.run(plain, env=env, check=True, capture_output=True)
    _same_store(open_store(out, verify=True), open_store(ref, verify=True))
