"""Partial and offloaded loads: the blocks a request needs, the same representations and the same fingerprint."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from probewise.errors import ConfigError
from probewise.model.loading import LoadPlan, fingerprint, load_base_model, parse_max_memory
from probewise.sources.base import weights_fingerprint
from probewise.sources.hf import HFSource

TEXTS = ["The capital of France is", "Two plus two is four, said the teacher to the class.", "hi"]


@pytest.mark.parametrize("which", ["tiny_gpt2", "tiny_llama", "minilm_path"])
def test_partial_source_reads_only_the_blocks_it_needs_and_equals_the_full_model(request, which):
    path = request.getfixturevalue(which)
    full = HFSource(path, layers=[0, 1, 2], pooling="mean", device="cpu", partial=False)
    part = HFSource(path, layers=[0, 1, 2], pooling="mean", device="cpu")
    assert part.partial and len(part.blocks) == 2 and len(full.blocks) > 2
    assert sum(p.numel() for p in part.model.parameters()) < sum(p.numel() for p in full.model.parameters())
    a, b = full.run_batch(TEXTS), part.run_batch(TEXTS)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert part.describe() == full.describe()  # the fingerprint is the whole model's


def test_partial_smollm2_first_10_of_30_blocks(smollm2_path):
    full = HFSource(smollm2_path, layers=[5, 10], pooling="last", device="cpu", partial=False)
    part = HFSource(smollm2_path, layers=[5, 10], pooling="last", device="cpu")
    assert len(part.blocks) == 10
    a, b = full.run_batch(TEXTS), part.run_batch(TEXTS)
    assert torch.equal(a["10"], b["10"]) and torch.equal(a["5"], b["5"])
    assert part.describe()["fingerprint"] == full.describe()["fingerprint"]


def test_only_the_embeddings(minilm_path):
    part = HFSource(minilm_path, layers=[0], pooling="mean", device="cpu")
    full = HFSource(minilm_path, layers=[0], pooling="mean", device="cpu", partial=False)
    assert len(part.blocks) == 1
    assert torch.equal(part.run_batch(TEXTS)["0"], full.run_batch(TEXTS)["0"])


def test_fingerprint_of_a_full_load_is_weights_fingerprint(tiny_llama):
    model = load_base_model(tiny_llama)
    assert fingerprint(model, tiny_llama) == weights_fingerprint(model)


def test_disk_offload_under_a_budget_smaller_than_the_model(smollm2_path, tmp_path):
    budget = {"cpu": "100MiB"}  # SmolLM2 is 516 MiB in float32; one block is 14 MiB
    off = HFSource(smollm2_path, layers=[3, 30], pooling="mean", device="cpu", device_map="auto", max_memory=budget,
                   offload_folder=str(tmp_path / "offload"))
    assert "disk" in set(off.model.hf_device_map.values())  # read from the safetensors file when a block runs
    ref = HFSource(smollm2_path, layers=[3, 30], pooling="mean", device="cpu")
    a, b = ref.run_batch(TEXTS), off.run_batch(TEXTS)
    assert torch.equal(a["3"], b["3"]) and torch.allclose(a["30"], b["30"], atol=1e-5)
    assert off.describe()["fingerprint"] == ref.describe()["fingerprint"]


def test_a_budget_smaller_than_one_block_is_refused(smollm2_path):
    with pytest.raises(ConfigError, match=r"smaller than one block of this model \(13\.5 MiB"):
        HFSource(smollm2_path, layers=[3], device="cpu", device_map="auto", max_memory="cpu=5MiB")


def test_device_map_without_accelerate_names_the_install(minilm_path):
    code = ("import sys; sys.modules['accelerate'] = None\n"
            "from probewise.sources.hf import HFSource\n"
            f"HFSource({minilm_path!r}, layers=[1], device='cpu', device_map='auto')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode != 0 and "--device-map needs the accelerate package: pip install accelerate" in run.stderr


def test_parse_max_memory():
    assert parse_max_memory("cpu=300MiB,0=2GB") == {"cpu": 300 * 2**20, 0: 2 * 10**9}
    assert parse_max_memory({"cpu": 1000}) == {"cpu": 1000}
    assert parse_max_memory(None) is None
    for bad in ("300MiB", "cpu=lots", "cpu=12XB"):
        with pytest.raises(ConfigError, match="--max-memory"):
            parse_max_memory(bad)


def test_keep_blocks_is_for_extraction_only(tiny_llama):
    with pytest.raises(ConfigError, match="needs all its blocks"):
        load_base_model(tiny_llama, LoadPlan(keep_blocks=1), causal=True)


@pytest.mark.parametrize("module", ["probewise.model.loading", "probewise.model.checkpoint",
                                    "probewise.sources.blockwise", "probewise.sources.gguf"])
def test_docstring_examples_run(module):
    from ..conftest import run_doctests

    result = run_doctests(module, ignore_warnings=True)
    assert result.attempted > 0 and result.failed == 0


def test_probe_from_a_partial_store_monitors_the_offloaded_model(smollm2_path, tmp_path):
    """A store extracted with a partial load, its artifact, and a disk-offloaded SmolLM2 generating under a
    Monitor: the fingerprints agree, and the scores equal those on the model held in memory."""
    import numpy as np

    from probewise import Examples, extract
    from probewise.action_commands import _load
    from probewise.artifact import ProbeArtifact
    from probewise.monitor import Monitor
    from probewise.probes import LogisticProbe

    texts = [f"{w} is a {k} word" for w in ("apple", "river", "stone", "cloud", "green", "quiet") for k in
             ("nice", "plain", "short")]
    store = extract(HFSource(smollm2_path, layers=[6], pooling="mean", device="cpu"),
                    Examples.from_lists(texts, [i % 2 for i in range(len(texts))], seed=0),
                    str(tmp_path / "store"), progress=False)
    X = store.read(6).numpy()
    art = ProbeArtifact.from_store(store, LogisticProbe().fit(X, store.labels), 6, threshold=0.0)

    import argparse

    budget = argparse.Namespace(device_map="auto", max_memory="cpu=100MiB", offload_folder=str(tmp_path / "off"))
    offloaded, tok, _ = _load(smollm2_path, "cpu", True, None, budget)
    plain, _, _ = _load(smollm2_path, "cpu", True)
    assert "disk" in set(offloaded.hf_device_map.values())
    ids = tok("The capital of France is", return_tensors="pt")
    scores = []
    for model in (offloaded, plain):
        with Monitor(model, {"p": art}) as mon, torch.no_grad():  # refuses a model of other weights
            mon.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
        scores.append(np.asarray(mon.traces[0].scores["p"]))
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-4)


@pytest.mark.slow
def test_kill9_during_offloaded_extraction_resumes(smollm2_path, tmp_path):
    import os

    from probewise import open_store
    from probewise.store import layout

    from ..conftest import HANG_GUARD_S, kill9_when

    csv = tmp_path / "d.csv"
    csv.write_text("text,label\n" + "".join(f"statement {i} is {'right' if i % 2 else 'wrong'},{i % 2}\n"
                                             for i in range(160)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}

    def cmd(out, *extra):
        return [sys.executable, "-m", "probewise", "extract", "--model", "smollm2", "--data", str(csv), "--out",
                str(out), "--layers", "4,30", "--pooling", "last", "--shard-size", "8", "--batch-size", "4",
                "--device", "cpu", "--no-progress", *extra]

    offload = ("--device-map", "auto", "--max-memory", "cpu=100MiB")
    proc = subprocess.Popen(cmd(tmp_path / "k", *offload), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    survivors = kill9_when(proc, tmp_path / "k" / layout.SHARD_DIR, "shard-*.safetensors", 2, HANG_GUARD_S,
                           "the offloaded extraction finished before it could be killed")
    assert 2 <= len(survivors) < 20
    subprocess.run(cmd(tmp_path / "k", *offload), env=env, check=True, capture_output=True)
    for name, mtime in survivors.items():
        assert (tmp_path / "k" / layout.SHARD_DIR / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    subprocess.run(cmd(tmp_path / "ref"), env=env, check=True, capture_output=True)
    a, b = open_store(tmp_path / "k", verify=True), open_store(tmp_path / "ref", verify=True)
    assert torch.equal(a.read("4"), b.read("4"))
    torch.testing.assert_close(a.read("30"), b.read("30"), atol=1e-5, rtol=0)
