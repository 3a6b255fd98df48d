"""The store writer's background thread, its checksums taken as written, and its failures."""

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn as nn

from probewise import Examples, ModuleSource, extract, open_store
from probewise.errors import SourceError, StoreError
from probewise.store import layout
from probewise.store.files import StoreLock, save_tensors_atomic, sha256_file
from probewise.store.writer import StoreWriter

from .test_store import _net, _tensor_examples


def _examples(n=120, seed=0):
    return _tensor_examples(n, seed)


def _identity(shard_size=32):
    return {"source": {"kind": "test"}, "dataset_fingerprint": "x", "layers": ["0"], "pooling": "none",
            "dtype": "float32", "shard_size": shard_size}


def test_checksum_taken_as_written_equals_file(tmp_path):
    tensors = {"layer.b": torch.randn(7, 5), "layer.a": torch.randn(3, 2).to(torch.float16),
               "layer.c": torch.randn(4, 3).to(torch.bfloat16), "offsets": torch.arange(5),
               "empty": torch.zeros(0, 4), "flags": torch.tensor([True, False, True]),
               "strided": torch.randn(6, 6)[:, ::2]}
    for meta in (None, {"start": "64"}):
        path = tmp_path / f"t{meta is None}.safetensors"
        size, digest = save_tensors_atomic(path, tensors, metadata=meta)
        assert size == path.stat().st_size
        assert digest == sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_background_write_error_surfaces_and_store_stays_consistent(tmp_path):
    root = tmp_path / "s"
    ex = _examples(100)
    writer = StoreWriter(root, _identity(), ex)
    with pytest.raises(StoreError, match="could not write"):
        with writer:
            writer.submit_shard(0, {"layer.0": torch.randn(32, 8)})
            writer.wait()
            assert (root / layout.shard_file(0)).exists()
            shard_dir = root / layout.SHARD_DIR
            shutil.rmtree(shard_dir)
            shard_dir.write_text("not a folder")  # every later write fails for real (ENOTDIR)
            writer.submit_shard(1, {"layer.0": torch.randn(32, 8)})  # returns at once: the thread fails later
            writer.submit_shard(2, {"layer.0": torch.randn(32, 8)})  # raises shard 1's error
    with StoreLock(root):  # the lock was released on the way out
        pass
    assert json.loads((root / layout.MANIFEST).read_text())["complete"] is False
    assert writer._executor is None, "the background thread was joined"


def test_background_error_raised_by_finalize_and_exit(tmp_path):
    root = tmp_path / "s"
    writer = StoreWriter(root, _identity(shard_size=100), _examples(100))
    with pytest.raises(StoreError, match="could not write"), writer:
        shutil.rmtree(root / layout.SHARD_DIR)
        (root / layout.SHARD_DIR).write_text("")
        writer.submit_shard(0, {"layer.0": torch.randn(100, 8)})
        writer.finalize()
    writer2 = StoreWriter(tmp_path / "t", _identity(shard_size=100), _examples(100))
    with pytest.raises(StoreError, match="could not write"), writer2:  # raised by __exit__ itself
        shutil.rmtree(tmp_path / "t" / layout.SHARD_DIR)
        (tmp_path / "t" / layout.SHARD_DIR).write_text("")
        writer2.submit_shard(0, {"layer.0": torch.randn(100, 8)})


def test_extract_write_failure_mid_run_then_resume(tmp_path):
    """A shard write fails on the background thread while extraction goes on: extract() raises the StoreError,
    keeps the finished shards, and a rerun completes the store equal to an uninterrupted one."""
    ex, net = _examples(200), _net()
    root = tmp_path / "s"
    shard_dir = root / layout.SHARD_DIR
    seen = {"rows": 0}

    def to_input(items):
        seen["rows"] += len(items)
        if seen["rows"] > 100 and shard_dir.is_dir():  # during shard 2 of 5 (shard_size 40)
            shutil.move(shard_dir, tmp_path / "moved")
            shard_dir.write_text("")
        return torch.as_tensor(np.asarray(items))

    with pytest.raises(StoreError, match="could not write"):
        extract(ModuleSource(net, ["0", "2"], device="cpu", to_input=to_input), ex, root, shard_size=40,
                batch_size=10, progress=False)
    shard_dir.unlink()
    shutil.move(tmp_path / "moved", shard_dir)
    kept = sorted(p.name for p in shard_dir.glob("shard-*"))
    assert kept and len(kept) < 5  # (a write in flight when the folder moved may leave its tmp file in it)
    store = extract(ModuleSource(net, ["0", "2"], device="cpu"), ex, root, shard_size=40, batch_size=10,
                    progress=False)
    clean = extract(ModuleSource(net, ["0", "2"], device="cpu"), ex, tmp_path / "clean", shard_size=40,
                    batch_size=10, progress=False)
    store.verify()
    assert not list(shard_dir.glob(".*tmp*"))
    assert [s["sha256"] for s in store.manifest["shards"]] == [s["sha256"] for s in clean.manifest["shards"]]
    assert torch.equal(open_store(root).read("2"), clean.read("2"))


class _Poison(nn.Module):
    """Sets the rows whose first input is huge to `value`."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.where(x[:, :1] > 99, torch.tensor(self.value), x)


def test_nan_and_float16_overflow_named(tmp_path):
    ex = _examples(60)
    inputs = ex.inputs.copy()
    inputs[37, 0] = 100.0
    bad = Examples.from_lists(inputs, ex.labels, modality="tensor", name="vec")
    with pytest.raises(SourceError, match="layer 0 produced NaN/inf values; try model_dtype float32"):
        extract(ModuleSource(nn.Sequential(_Poison(float("nan"))), ["0"], device="cpu"), bad, tmp_path / "a",
                progress=False)
    with pytest.raises(SourceError, match="layer 0 produced NaN/inf.*float16's range"):
        extract(ModuleSource(nn.Sequential(_Poison(1e6)), ["0"], device="cpu"), bad, tmp_path / "b", dtype="float16",
                progress=False)
    assert not list((tmp_path / "a" / layout.SHARD_DIR).glob("shard-*"))
