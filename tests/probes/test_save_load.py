"""Probe artifacts: safetensors + JSON, no pickle, identical predictions after loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from probewise.errors import ProbeError
from probewise.probes import LogisticProbe, MeanDiffProbe, RidgeProbe, load_probe, probe_paths
from tests.fit.features import layer_features, one_thread  # noqa: F401 (autouse fixture)

PROBES = [
    LogisticProbe(C=0.5),
    LogisticProbe(C=2.0, standardize=False, dtype="float64"),
    RidgeProbe(alpha=3.0),
    MeanDiffProbe(),
    MeanDiffProbe(whiten=True, shrinkage=0.1, threshold="logistic"),
]
LABELS = {
    "int": lambda y: y,
    "str": lambda y: np.array(["alpha", "beta", "gamma"])[y],
    "negative-int": lambda y: y * 5 - 7,
    "float": lambda y: y * 2.0 + 1.0,
    "bool": lambda y: y == 1,
}


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: repr(p))
@pytest.mark.parametrize("kind", sorted(LABELS))
def test_round_trip_gives_identical_predictions(tmp_path, probe, kind):
    X, y = layer_features(n_layers=1, n=150, d=12, n_classes=3 if kind == "str" else 2, seed=1)
    labels = LABELS[kind](y)
    probe.fit(X[0], labels)
    weights, meta_path = probe.save(tmp_path / "sub" / "probe", metadata={"layer": 4, "task": "demo"})
    assert weights.name == "probe.safetensors" and meta_path.name == "probe.json"
    loaded = load_probe(tmp_path / "sub" / "probe")
    assert type(loaded) is type(probe)
    assert loaded.get_params() == probe.get_params()
    assert loaded.classes_.dtype == probe.classes_.dtype
    assert loaded.classes_.tolist() == probe.classes_.tolist()
    assert loaded.n_features_in_ == 12
    assert np.array_equal(loaded.decision_function(X[0]), probe.decision_function(X[0]))
    assert np.array_equal(loaded.predict(X[0]), probe.predict(X[0]))
    assert np.array_equal(loaded.predict_proba(X[0]), probe.predict_proba(X[0]))
    assert np.array_equal(loaded.concept_vector(), probe.concept_vector())
    assert loaded.metadata_ == {"layer": 4, "task": "demo"}
    # the files are plain: tensors in safetensors, the rest in readable JSON
    meta = json.loads(meta_path.read_text())
    assert meta["class"] == type(probe).__name__ and meta["format"] == "probewise.probe"
    assert meta["probewise_version"]
    assert set(load_file(str(weights))) >= {"coef_", "intercept_"}
    # any of the three names works, and saving the loaded probe again keeps everything
    assert np.array_equal(load_probe(meta_path).predict(X[0]), probe.predict(X[0]))
    loaded.save(tmp_path / "again")
    assert json.loads((tmp_path / "again.json").read_text())["metadata"] == {"layer": 4, "task": "demo"}


def test_class_load_and_errors(tmp_path):
    X, y = layer_features(n_layers=1, n=100, d=6)
    probe = RidgeProbe().fit(X[0], y)
    probe.save(tmp_path / "ridge.safetensors")
    assert isinstance(RidgeProbe.load(tmp_path / "ridge"), RidgeProbe)
    with pytest.raises(ProbeError, match="not a LogisticProbe"):
        LogisticProbe.load(tmp_path / "ridge")
    with pytest.raises(ProbeError, match="no probe"):
        load_probe(tmp_path / "missing")
    with pytest.raises(ProbeError, match="JSON-serializable"):
        probe.save(tmp_path / "bad", metadata={"x": object()})
    _, meta_path = probe_paths(tmp_path / "ridge")
    meta = json.loads(meta_path.read_text())
    meta["class"] = "NoSuchProbe"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ProbeError, match="unknown probe class"):
        load_probe(tmp_path / "ridge")
    meta_path.write_text("{not json")
    with pytest.raises(ProbeError, match="not valid JSON"):
        load_probe(tmp_path / "ridge")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LogisticProbe().save(tmp_path / "unfitted")


def test_load_probe_also_loads_torch_module_probes(tmp_path):
    mlp = pytest.importorskip("probewise.probes.mlp")
    X, y = layer_features(n_layers=1, n=120, d=6)
    probe = mlp.MLPProbe(hidden_sizes=(8,), epochs=3).fit(X[0].astype(np.float32), y)
    probe.save(tmp_path / "mlp")
    loaded = load_probe(tmp_path / "mlp")
    assert type(loaded).__name__ == "MLPProbe"
    assert np.array_equal(loaded.predict(X[0].astype(np.float32)), probe.predict(X[0].astype(np.float32)))
