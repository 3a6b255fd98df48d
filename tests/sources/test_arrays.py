"""Features computed elsewhere → a store (`write_features`, `ArraySource`), then the sweep on it."""

import json

import numpy as np
import pytest
import torch

from probewise import DataError, SourceError, StoreError, SweepConfig, open_store, sweep, write_features
from probewise.cli import main
from probewise.sources.arrays import ArraySource
from tests.conftest import run_doctests


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(4, n, 12)).astype(np.float32)
    X[3, np.arange(n), y] += 4.0  # only layer 3 knows the class
    return X, np.array(["ant", "bee", "cat"])[y]


def test_layers_first_array_round_trips(tmp_path):
    X, labels = _data()
    store = write_features(str(tmp_path / "s"), X, labels, name="toy", shard_size=64)
    assert store.layers == ["0", "1", "2", "3"] and store.dims == {str(i): 12 for i in range(4)}
    assert store.classes == ["ant", "bee", "cat"] and store.n == 200
    assert store.manifest["dataset"]["name"] == "toy" and store.manifest["identity"]["source"]["kind"] == "arrays"
    sizes = {s: len(store.indices(s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 140, "val": 30, "test": 30}  # the stratified 70/15/15 split of `extract`
    assert np.array_equal(np.array(["ant", "bee", "cat"])[store.labels], labels)
    for layer in store.layers:  # every row back in dataset order, across 4 shards
        for split in ("train", "val", "test"):
            got = store.read(layer, split=split).numpy()
            assert np.array_equal(got, X[int(layer)][store.indices(split)])


def test_mapping_split_groups_and_torch(tmp_path):
    X, labels = _data(n=90)
    feats = {"enc.block2": torch.from_numpy(X[1]).bfloat16(), "enc.block4": X[3][:, :5].astype(np.float64)}
    split = ["train"] * 60 + ["val"] * 15 + ["test"] * 15
    groups = [f"subject{i % 6}" for i in range(90)]
    store = write_features(str(tmp_path / "s"), feats, labels, split=split, groups=groups, model="my-encoder")
    assert store.layers == ["enc.block2", "enc.block4"] and store.dims == {"enc.block2": 12, "enc.block4": 5}
    assert list(store.indices("val")) == list(range(60, 75))
    assert store.manifest["identity"]["source"]["model"] == "my-encoder"
    assert sorted(store.manifest["dataset"]["group_names"]) == [f"subject{i}" for i in range(6)]
    np.testing.assert_array_equal(store.read("enc.block4").numpy(), X[3][:, :5].astype(np.float32))
    np.testing.assert_array_equal(store.read("enc.block2").numpy(), torch.from_numpy(X[1]).bfloat16().float().numpy())
    table = sweep(store, SweepConfig(probes=("ridge",), n_boot=20)).table().splitlines()
    assert len(table) == 4 and "enc.block4" in table[3]
    assert len({len(line.removesuffix("  ←")) for line in table[1:]}) == 1  # long layer names keep the columns


def test_the_sweep_finds_the_layer_that_knows(tmp_path, capsys):
    X, labels = _data()
    path = tmp_path / "s"
    write_features(str(path), X, labels)
    res = sweep(open_store(path), SweepConfig(probes=("logistic", "ridge"), n_boot=50))
    for probe in ("logistic", "ridge"):
        assert res.selected[probe]["layer"] == "3"
        assert res.selected[probe]["test"]["accuracy"]["value"] > 0.9
    chance = [r["val"]["accuracy"] for r in res.per_layer if r["layer"] != "3"]
    assert max(chance) < 0.6
    assert main(["sweep", str(path), "--probe", "meandiff", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["selected"]["meandiff"]["layer"] == "3"


def test_rewriting_resumes_and_other_arrays_are_refused(tmp_path):
    X, labels = _data(n=120)
    out = str(tmp_path / "s")
    write_features(out, X, labels, shard_size=50)
    shard = next((tmp_path / "s").rglob("*.safetensors"))
    stamp = shard.stat().st_mtime_ns
    assert write_features(out, X, labels, shard_size=50).n == 120  # the same arrays: complete, nothing rewritten
    assert shard.stat().st_mtime_ns == stamp
    Y = X.copy()
    Y[2, 7, 3] += 1.0  # one value differs
    with pytest.raises(StoreError, match="overwrite"):
        write_features(out, Y, labels, shard_size=50)
    assert open_store(out).read("2")[7, 3] == X[2, 7, 3]  # the store is untouched
    store = write_features(out, Y, labels, shard_size=50, overwrite=True)
    assert store.read("2")[7, 3] == Y[2, 7, 3]


def test_memmap_input(tmp_path):
    X, labels = _data(n=80)
    np.save(tmp_path / "feats.npy", X)
    mm = np.load(tmp_path / "feats.npy", mmap_mode="r")  # read-only: never written to, never copied whole
    store = write_features(str(tmp_path / "s"), mm, labels)
    assert np.array_equal(store.read("1").numpy(), X[1])


@pytest.mark.parametrize(
    "features, message",
    [
        (np.zeros((2, 3, 4, 5)), r"shape \(2, 3, 4, 5\): give \[n, d\]"),
        ({"a": np.zeros((10, 4)), "b": np.zeros((9, 4))}, "different numbers of rows"),
        ({"a": np.zeros((10, 4, 2))}, "pool token sequences first"),
        ({}, "no features"),
        (np.array([["x", "y"]] * 10), "dtype <U1"),
        (np.zeros((10, 0)), r"shape \(10, 0\)"),
    ],
)
def test_bad_features(features, message):
    with pytest.raises(DataError, match=message):
        ArraySource(features)


def test_bad_values_and_labels(tmp_path):
    X, labels = _data(n=60)
    X[1, 41, 2] = np.nan
    with pytest.raises(DataError, match=r"layer '1' holds NaN/inf \(row 41"):
        write_features(str(tmp_path / "nan"), X, labels)
    with pytest.raises(SourceError, match=r"layer 0 produced NaN/inf values; values beyond float16's range .*"
                       r"bfloat16\.$"):
        write_features(str(tmp_path / "big"), np.full((60, 3), 1e5), labels, dtype="float16")
    with pytest.raises(DataError, match="60 inputs but 59 labels"):
        write_features(str(tmp_path / "short"), X, labels[:59])


def test_docstring_examples():
    for module in ("probewise.sources.arrays", "probewise.extract"):
        result = run_doctests(module)
        assert result.attempted > 0 and result.failed == 0, module
