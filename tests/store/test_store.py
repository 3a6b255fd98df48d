import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from probewise import Examples, ModuleSource, extract, open_store
from probewise.errors import StoreError
from probewise.sources.hf import HFSource
from probewise.store import layout
from probewise.store.files import StoreLock


def _tensor_examples(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return Examples.from_lists(rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 2, n),
                               modality="tensor", name="vec")


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4))


def test_roundtrip_and_streaming(tmp_path):
    ex = _tensor_examples()
    net = _net()
    store = extract(ModuleSource(net, ["0", "2"], device="cpu"), ex, tmp_path / "s", shard_size=16,
                    batch_size=5, progress=False)
    assert store.n == 50 and store.layers == ["0", "2"] and store.dims == {"0": 8, "2": 4}
    with torch.no_grad():
        want = net[0](torch.as_tensor(ex.inputs))
    assert torch.allclose(store.read("0"), want)
    tr = store.indices("train")
    assert torch.equal(store.read("0", split="train"), store.read("0")[torch.as_tensor(tr)])
    assert np.array_equal(store.labels, ex.labels) and np.array_equal(store.split, ex.split)
    batches = list(store.iter_batches("2"))
    assert len(batches) == 4 and sum(len(i) for _, i in batches) == 50
    assert store.resolve_layer(-1) == "2"
    for split in (None, "train", "test"):  # row ranges below a shard: the same rows, at most 5 per batch
        parts = list(store.iter_batches("0", split, max_rows=5))
        assert max(len(i) for _, i in parts) <= 5 and len(parts) > len(list(store.iter_batches("0", split)))
        assert torch.equal(torch.cat([x for x, _ in parts]), store.read("0", split))
        assert np.array_equal(np.concatenate([i for _, i in parts]), store.indices(split))
    with pytest.raises(StoreError, match="layer 7 is not in store"):
        store.read(7)
    m = json.loads((tmp_path / "s" / layout.MANIFEST).read_text())
    assert m["complete"] and all(s["sha256"] for s in m["shards"])
    assert m["identity"]["dataset_fingerprint"] == ex.fingerprint()


def test_dtype_storage(tmp_path):
    store = extract(ModuleSource(_net(), ["0"], device="cpu"), _tensor_examples(), tmp_path / "h",
                    dtype="float16", progress=False)
    assert store.dtype == "float16"
    assert store.read("0", dtype=torch.float16).dtype == torch.float16


def test_text_tokens_store(tmp_path, minilm_path, text_examples):
    src = HFSource(minilm_path, layers=[0, 2], pooling="tokens", device="cpu")
    store = extract(src, text_examples, tmp_path / "t", shard_size=7, batch_size=4, progress=False)
    r = store.read_tokens(2)
    ids = store.read_token_ids()
    assert len(r) == text_examples.n and torch.equal(r.lengths, ids.lengths)
    direct = src.run_batch([text_examples.inputs[3]])
    assert torch.allclose(r[3], direct["2"][0], atol=1e-5)
    mean = store.read_pooled(2, how="mean")
    assert torch.allclose(mean[3], direct["2"][0].mean(0), atol=1e-5)
    with pytest.raises(StoreError, match="keeps all tokens"):
        store.read(2)


def test_pooled_store_equals_batch_free_forward(tmp_path, minilm_path, text_examples):
    """Length-sorted batching and shard order do not change values (each example alone as reference)."""
    src = HFSource(minilm_path, layers=[3], pooling="mean", device="cpu")
    store = extract(src, text_examples, tmp_path / "p", shard_size=9, batch_size=4, progress=False)
    X = store.read(3)
    for i in (0, 5, 17, 39):
        alone = src.run_batch([text_examples.inputs[i]])["3"][0]
        assert torch.allclose(X[i], alone, atol=1e-5)


def test_mismatched_config_refused_and_untouched(tmp_path):
    ex = _tensor_examples()
    extract(ModuleSource(_net(), ["0"], device="cpu"), ex, tmp_path / "s", progress=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "s").rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(StoreError, match="written for another configuration.*pooling"):
        extract(ModuleSource(_net(), ["0"], pooling="mean", device="cpu"), ex, tmp_path / "s", progress=False)
    with pytest.raises(StoreError, match="dataset_fingerprint"):
        extract(ModuleSource(_net(), ["0"], device="cpu"), _tensor_examples(seed=1), tmp_path / "s",
                progress=False)
    after = {p.name: p.read_bytes() for p in (tmp_path / "s").rglob("*") if p.is_file() and p.name != ".lock"}
    assert before == after
    # --overwrite replaces it
    s2 = extract(ModuleSource(_net(), ["0"], device="cpu"), _tensor_examples(seed=1), tmp_path / "s",
                 overwrite=True, progress=False)
    assert s2.manifest["identity"]["dataset_fingerprint"] == _tensor_examples(seed=1).fingerprint()


def test_missing_truncated_and_corrupted_shards(tmp_path):
    ex = _tensor_examples()
    src = ModuleSource(_net(), ["0"], device="cpu")
    store = extract(src, ex, tmp_path / "s", shard_size=16, progress=False)
    X = store.read("0")
    shard = tmp_path / "s" / layout.shard_file(1)
    good = shard.read_bytes()
    shard.write_bytes(good[:-10])
    with pytest.raises(StoreError, match="shard-00001.*truncated"):
        open_store(tmp_path / "s")
    flipped = bytearray(good)
    flipped[-3] ^= 0xFF
    shard.write_bytes(bytes(flipped))
    open_store(tmp_path / "s")  # same size: only the checksum can tell
    with pytest.raises(StoreError, match="shard-00001.*checksum"):
        open_store(tmp_path / "s", verify=True)
    shard.unlink()
    with pytest.raises(StoreError, match="missing shard.*shard-00001"):
        open_store(tmp_path / "s")
    # the offered fix: rerun the same extraction; it recomputes only that shard
    others = {k: (tmp_path / "s" / layout.shard_file(k)).stat().st_mtime_ns for k in (0, 2, 3)}
    repaired = extract(src, ex, tmp_path / "s", shard_size=16, progress=False)
    assert torch.equal(repaired.read("0"), X)
    assert others == {k: (tmp_path / "s" / layout.shard_file(k)).stat().st_mtime_ns for k in (0, 2, 3)}
    repaired.verify()


def test_lock_refuses_second_writer(tmp_path):
    ex = _tensor_examples()
    (tmp_path / "s").mkdir()
    with StoreLock(tmp_path / "s"):
        with pytest.raises(StoreError, match="being written by another process"):
            extract(ModuleSource(_net(), ["0"], device="cpu"), ex, tmp_path / "s", progress=False)
    extract(ModuleSource(_net(), ["0"], device="cpu"), ex, tmp_path / "s", progress=False)


def test_refuses_foreign_folder_and_incomplete_store(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(StoreError, match="not a probewise store"):
        extract(ModuleSource(_net(), ["0"], device="cpu"), _tensor_examples(), tmp_path / "mine", progress=False)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nope")


def test_select_layers_takes_what_extract_takes(tmp_path):
    """`--layers` means the same in sweep as in extract: all, names, negative indices, ranges, globs."""
    import numpy as np

    import probewise as pw

    rng = np.random.default_rng(0)
    feats = {str(i): rng.normal(size=(40, 3)).astype(np.float32) for i in range(7)}
    feats["/blk/Add"] = rng.normal(size=(40, 3)).astype(np.float32)
    store = pw.write_features(tmp_path / "s", feats, rng.integers(0, 2, 40), name="sel")
    assert store.select_layers(None) == store.layers == store.select_layers("all")
    assert store.select_layers("0,2-4,-1") == ["0", "2", "3", "4", store.layers[-1]]
    assert store.select_layers(["6", 1, "*Add"]) == ["6", "1", "/blk/Add"]
    assert store.select_layers("3, 3 ,3") == ["3"]
    for bad, why in (("9", "layer '9' is not in store"), ("5-8", "layers \\['7', '8'\\] are not"),
                     ("*Mul", "matches no layer"), ("", "names no layer")):
        with pytest.raises(StoreError, match=why):
            store.select_layers(bad)
