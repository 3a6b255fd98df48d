import numpy as np
import pytest
import torch

from probewise.errors import ConfigError, DataError
from probewise.sweeps.streaming import stream_fit_grid, stream_proba
from probewise.sweeps.torch_families import TORCH_FAMILIES

from .conftest import make_store

GRIDS = {"logistic": [0.01, 1.0, 1e3], "ridge": [0.1, 10.0, 1000.0], "meandiff": [0.0, 0.3, 1.0]}


@pytest.fixture(scope="module", params=[2, 3], ids=["binary", "3class"])
def sharded(request, tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("st") / "s", n=600, k=request.param, d=12)


def _in_memory(store, layer, probe, values, y=None):
    X = store.read(layer, "train")
    y = store.labels[store.indices("train")] if y is None else y
    return TORCH_FAMILIES[probe]().fit_grid([X], y, values, len(np.unique(y)), 0)[0]


@pytest.mark.parametrize("probe", sorted(GRIDS))
def test_streamed_grid_matches_the_in_memory_family(sharded, probe):
    values = GRIDS[probe]
    model = stream_fit_grid(sharded, "0", probe, values)
    ref = _in_memory(sharded, "0", probe, values)
    assert model.coef.shape == ref.coef.shape and model.intercept.shape == ref.intercept.shape
    proba = stream_proba(sharded, "0", "val", model)
    Xv = sharded.read("0", "val")
    yv = sharded.labels[sharded.indices("val")]
    k = len(sharded.classes)
    assert proba.shape == (len(values), len(yv), k)
    for g in range(len(values)):
        np.testing.assert_allclose(proba[g], model.predict_proba(Xv, g), rtol=0, atol=1e-12)  # row order
        ref_p = ref.predict_proba(Xv, g)
        acc = (proba[g].argmax(1) == yv).mean()
        ref_acc = (ref_p.argmax(1) == yv).mean()
        if probe != "logistic":
            np.testing.assert_allclose(proba[g], ref_p, rtol=0, atol=1e-4)
            assert acc == ref_acc
        else:  # both solvers stop at tol=1e-4 (gradient / (C n)): far from the optimum at C = 1e3
            if values[g] <= 1.0:
                np.testing.assert_allclose(proba[g], ref_p, rtol=0, atol=2e-2)
            assert abs(acc - ref_acc) <= 2.0 / len(yv) + 1e-12


def test_control_labels_override_the_store_labels(sharded):
    idx = sharded.indices("train")
    perm = np.random.default_rng(3).permutation(sharded.labels[idx])
    for probe in ("ridge", "meandiff"):
        model = stream_fit_grid(sharded, "2", probe, GRIDS[probe][:2], labels=perm)
        ref = _in_memory(sharded, "2", probe, GRIDS[probe][:2], y=perm)
        torch.testing.assert_close(model.coef, ref.coef.to(model.coef.dtype), rtol=0,
                                   atol=1e-4 * float(ref.coef.abs().max()))
    own = stream_fit_grid(sharded, "2", "ridge", [1.0])
    assert not torch.allclose(own.coef, stream_fit_grid(sharded, "2", "ridge", [1.0], labels=perm).coef)


def test_nan_in_a_shard_is_a_data_error_naming_the_layer(sharded, monkeypatch):
    real = type(sharded).iter_batches

    def poisoned(self, layer, split=None, **kw):
        for i, (X, idx) in enumerate(real(self, layer, split, **kw)):
            if i == 2:
                X = X.clone()
                X[1, 0] = float("nan")
            yield X, idx

    monkeypatch.setattr(type(sharded), "iter_batches", poisoned)
    for probe in sorted(GRIDS):
        with pytest.raises(DataError, match="layer '0'.*NaN/inf"):
            stream_fit_grid(sharded, "0", probe, GRIDS[probe][:1])
    with pytest.raises(DataError, match="layer '2'.*NaN/inf"):
        stream_proba(sharded, "2", "train", _in_memory_grid(sharded))


def _in_memory_grid(store):
    from probewise.sweeps.torch_families import LinearGrid

    d = store.dims["2"]
    k = 1 if len(store.classes) == 2 else len(store.classes)
    return LinearGrid(torch.zeros(1, d, k, dtype=torch.float64), torch.zeros(1, k, dtype=torch.float64))


def test_inf_is_caught_too(sharded, monkeypatch):
    real = type(sharded).iter_batches

    def poisoned(self, layer, split=None, **kw):
        for X, idx in real(self, layer, split, **kw):
            yield X.clone().fill_(float("inf")), idx

    monkeypatch.setattr(type(sharded), "iter_batches", poisoned)
    with pytest.raises(DataError, match="NaN/inf"):
        stream_fit_grid(sharded, "0", "logistic", [1.0])


def test_a_split_with_one_class_is_a_data_error(sharded):
    n = len(sharded.indices("train"))
    for probe in sorted(GRIDS):
        with pytest.raises(DataError, match="single class"):
            stream_fit_grid(sharded, "0", probe, GRIDS[probe][:1], labels=np.full(n, 1))


def test_bad_configuration_is_refused(sharded):
    with pytest.raises(ConfigError, match="cannot be streamed"):
        stream_fit_grid(sharded, "0", "mlp", [1.0])
    with pytest.raises(ConfigError):
        stream_fit_grid(sharded, "0", "logistic", [-1.0])
    with pytest.raises(ConfigError):
        stream_fit_grid(sharded, "0", "ridge", [])


def test_the_stream_engine_sweeps_like_the_torch_engine(tmp_path):
    from probewise.sweeps import SweepConfig, sweep

    store = make_store(tmp_path / "s", n=900, k=3)
    base = {"probes": ("logistic", "ridge", "meandiff"), "n_boot": 50, "C_grid": (0.01, 1.0, 100.0)}
    mem = sweep(store, SweepConfig(**base))
    streamed = sweep(store, SweepConfig(**base, engine="stream"))
    for a, b in zip(mem.grid, streamed.grid, strict=True):
        assert (a["probe"], a["layer"], a["value"]) == (b["probe"], b["layer"], b["value"])
        assert abs(a["val"]["accuracy"] - b["val"]["accuracy"]) <= 1 / 180 + 1e-12  # at most one of 180 val rows
    for probe in base["probes"]:
        assert (mem.selected[probe]["layer"], mem.selected[probe]["value"]) == (
            streamed.selected[probe]["layer"], streamed.selected[probe]["value"])
    assert "control" in streamed.selected["logistic"] and "majority" in streamed.baselines
    assert streamed.geometry == [] and not any(k.startswith("random_direction") for k in streamed.baselines)


def test_the_stream_engine_refuses_what_needs_memory(tmp_path):
    from probewise.sweeps import SweepConfig, sweep

    store = make_store(tmp_path / "s")
    with pytest.raises(ConfigError, match="needs the features in memory"):
        sweep(store, SweepConfig(probes=("mlp",), engine="stream"))
    with pytest.raises(ConfigError, match="does not combine layers"):
        sweep(store, SweepConfig(engine="stream", combine=("0", "2")))
