"""MLPProbe: solves XOR where a linear probe cannot; scikit-learn conventions; save/load roundtrip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from probewise.errors import ConfigError, DataError, ProbeError
from probewise.probes._torch_base import load_probe
from probewise.probes.mlp import MLPProbe


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _xor(n, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (np.sign(X[:, 0]) * np.sign(X[:, 1]) > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def xor_probe():
    torch.set_num_threads(1)
    X, y = _xor(1000)
    return MLPProbe(hidden_sizes=(32,), lr=1e-2, epochs=40, seed=0).fit(X, y)


def test_mlp_solves_xor_where_logistic_regression_is_at_chance(xor_probe):
    X, y = _xor(1000)
    Xt, yt = _xor(2000, seed=1)
    assert xor_probe.score(Xt, yt) >= 0.9
    assert LogisticRegression().fit(X, y).score(Xt, yt) <= 0.65
    rep = xor_probe.report_
    assert rep["parameters"] == 8 * 32 + 32 + 32 + 1
    assert rep["n_train"] == 900 and rep["n_val"] == 100
    assert 1 <= rep["best_epoch"] <= rep["epochs_run"] <= 40 and rep["train_seconds"] > 0
    assert np.isfinite(rep["best_val_loss"])


def test_save_load_roundtrip_gives_identical_predictions(xor_probe, tmp_path):
    Xt, _ = _xor(300, seed=2)
    from probewise.probes import load_probe as load_any_probe

    weights, meta = xor_probe.save(tmp_path / "xor", metadata={"layer": 3})
    assert weights.name == "xor.safetensors" and meta.name == "xor.json"
    assert json.loads(meta.read_text())["class"] == "MLPProbe"
    loads = (MLPProbe.load(tmp_path / "xor"), load_probe(tmp_path / "xor.json"), load_any_probe(tmp_path / "xor"))
    for loaded in loads:
        assert isinstance(loaded, MLPProbe)
        assert loaded.get_params() == xor_probe.get_params()
        assert np.array_equal(loaded.decision_function(Xt), xor_probe.decision_function(Xt))
        assert np.array_equal(loaded.predict(Xt), xor_probe.predict(Xt))
        assert loaded.report_ == xor_probe.report_ and loaded.metadata_ == {"layer": 3}
        assert np.allclose(np.exp(loaded.predict_log_proba(Xt)), xor_probe.predict_proba(Xt), atol=1e-6)


def test_load_rejects_missing_or_foreign_files(tmp_path, xor_probe):
    with pytest.raises(ProbeError, match="no saved probe"):
        MLPProbe.load(tmp_path / "nothing")
    xor_probe.save(tmp_path / "p")
    from probewise.probes.attentive import EfficientProbe

    with pytest.raises(ProbeError, match="holds a MLPProbe"):
        EfficientProbe.load(tmp_path / "p")


def test_sklearn_conventions_and_string_multiclass_labels(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    y = np.array(["a", "b", "c"])[np.argmax(X[:, :3], axis=1)]
    probe = MLPProbe(hidden_sizes=(16, 8), dropout=0.0, lr=1e-2, epochs=15)
    assert clone(probe).get_params() == probe.get_params()
    assert probe.set_params(epochs=20).epochs == 20
    assert cross_val_score(probe, X, y, cv=2).mean() > 0.7
    probe.fit(X, y)
    assert list(probe.classes_) == ["a", "b", "c"]
    assert probe.decision_function(X).shape == (300, 3)
    assert np.allclose(probe.predict_proba(X).sum(1), 1, atol=1e-5)
    assert set(probe.predict(X)) <= {"a", "b", "c"}
    probe.save(tmp_path / "m")
    assert np.array_equal(load_probe(tmp_path / "m").predict(X), probe.predict(X))


def test_explicit_validation_set_is_used_and_checked():
    X, y = _xor(200)
    Xv, yv = _xor(50, seed=3)
    probe = MLPProbe(hidden_sizes=(8,), epochs=3).fit(X, y, Xv, yv)
    assert probe.report_["n_train"] == 200 and probe.report_["n_val"] == 50
    with pytest.raises(DataError, match="not seen"):
        MLPProbe(epochs=1).fit(X, y, Xv, yv + 5)
    with pytest.raises(DataError, match="both"):
        MLPProbe(epochs=1).fit(X, y, Xv)
    with pytest.raises(ValueError, match="3 features"):
        probe.predict(X[:, :3])
    with pytest.raises(DataError, match="3 features"):
        probe.predict(torch.from_numpy(X[:, :3]))


def test_bad_configuration_is_reported():
    X, y = _xor(100)
    with pytest.raises(ConfigError, match="hidden_sizes"):
        MLPProbe(hidden_sizes=(4, 4, 4)).fit(X, y)
    with pytest.raises(ConfigError, match="activation"):
        MLPProbe(activation="swish").fit(X, y)
    with pytest.raises(DataError, match="2 classes"):
        MLPProbe().fit(X, np.zeros(100))


def test_fit_layers_probes_save_and_load(tmp_path):
    X, y = _xor(300)
    probes = MLPProbe(hidden_sizes=(8,), epochs=3).fit_layers(np.stack([X, -X]), y)
    probes[1].save(tmp_path / "l1")
    loaded = load_probe(tmp_path / "l1")
    assert np.array_equal(loaded.decision_function(-X), probes[1].decision_function(-X))
    assert loaded.module_.weights[0].shape[0] == 1


@pytest.mark.filterwarnings("ignore")
def test_passes_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(MLPProbe(hidden_sizes=(16,), lr=1e-2, epochs=30))
