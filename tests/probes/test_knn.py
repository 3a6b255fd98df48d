"""kNN probe (DINO protocol): equal to a brute-force reference and to scikit-learn where the weights coincide."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from probewise.errors import ConfigError, DataError
from probewise.probes import load_probe, probe_paths
from probewise.probes.knn import KNNProbe, knn_eval, knn_votes, select_k
from tests.fit.features import one_thread  # noqa: F401 (autouse fixture)

INF = float("inf")


def _data(n_train=240, n_test=90, d=16, n_classes=4, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, d))
    y = rng.integers(0, n_classes, size=n_train + n_test)
    X = centers[y] + noise * rng.normal(size=(len(y), d))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def brute_force(X_train, y_train, X_test, k, T, metric="cosine"):
    """The full similarity matrix, a stable argsort per row and explicit votes."""
    classes, codes = np.unique(y_train, return_inverse=True)
    A, B = np.asarray(X_train, float), np.asarray(X_test, float)
    if metric == "cosine":
        A = A / np.linalg.norm(A, axis=1, keepdims=True)
        B = B / np.linalg.norm(B, axis=1, keepdims=True)
    S = B @ A.T
    P = np.zeros((len(B), len(classes)))
    for i in range(len(B)):
        nearest = np.argsort(-S[i], kind="stable")[:k]
        for j in nearest:
            if T == INF:
                w = 1.0
            elif metric == "cosine":
                w = np.exp(S[i, j] / T)  # DINO's weight, as written
            else:
                w = np.exp((S[i, j] - S[i, nearest[0]]) / T)  # raw dot products overflow exp(s / T)
            P[i, codes[j]] += w
        P[i] /= P[i].sum()
    return classes[P.argmax(1)], P


@pytest.mark.parametrize("k", [1, 5, 20, 1000])
@pytest.mark.parametrize("T", [0.07, 0.5, INF])
@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_matches_brute_force(k, T, metric):
    X, y, Xt, _ = _data(seed=k)
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    probe = KNNProbe(k=k, temperature=T, metric=metric).fit(X, labels)
    pred, proba = brute_force(X, labels, Xt, k, T, metric)
    assert np.array_equal(probe.predict(Xt), pred)
    assert np.allclose(probe.predict_proba(Xt), proba, rtol=0, atol=1e-6)
    assert np.allclose(probe.predict_proba(Xt).sum(1), 1.0)
    assert probe.classes_.tolist() == ["ant", "bee", "cat", "dog"]


def test_float32_matches_brute_force():
    X, y, Xt, _ = _data(seed=3)
    probe = KNNProbe(k=10).fit(X.astype(np.float32), y)
    assert probe.train_features_.dtype == np.float32
    pred, proba = brute_force(X.astype(np.float32), y, Xt.astype(np.float32), 10, 0.07)
    assert np.array_equal(probe.predict(Xt.astype(np.float32)), pred)
    assert np.allclose(probe.predict_proba(Xt.astype(np.float32)), proba, atol=1e-5)


def test_chunked_equals_unchunked(monkeypatch):
    X, y, Xt, yt = _data(n_test=101)
    full = KNNProbe(k=15, chunk_size=100_000).fit(X, y)
    full_pred, full_proba = full.predict(Xt), full.predict_proba(Xt)
    full_accs = knn_eval(X, y, Xt, yt, ks=(1, 15, 60), chunk_size=100_000)
    seen = []
    topk = torch.topk

    def spy(sims, *args, **kwargs):
        seen.append(tuple(sims.shape))
        return topk(sims, *args, **kwargs)

    monkeypatch.setattr(torch, "topk", spy)
    for chunk in (1, 7, 100):
        probe = KNNProbe(k=15, chunk_size=chunk).fit(X, y)
        seen.clear()
        assert np.array_equal(probe.predict(Xt), full_pred)
        assert np.allclose(probe.predict_proba(Xt), full_proba, rtol=0, atol=1e-12)
        assert knn_eval(X, y, Xt, yt, ks=(1, 15, 60), chunk_size=chunk) == full_accs
        assert max(rows for rows, _ in seen) == min(chunk, len(Xt))  # memory: chunk x n_train similarities
        assert all(cols == len(X) for _, cols in seen)


def test_multi_k_equals_separate_runs():
    X, y, Xt, yt = _data(seed=5, noise=1.5)
    ks = (200, 1, 10, 20, 100, 10_000)  # any order, one k above n_train
    accs = knn_eval(X, y, Xt, yt, ks=ks, temperature=0.1)
    assert list(accs) == list(ks)
    for k in ks:
        assert accs[k] == KNNProbe(k=k, temperature=0.1).fit(X, y).score(Xt, yt)
    assert len(set(accs.values())) > 1  # the ks really differ on this data
    # the votes themselves, from one search, equal single-k probes
    bank = torch.as_tensor(X / np.linalg.norm(X, axis=1, keepdims=True))
    queries = torch.as_tensor(Xt / np.linalg.norm(Xt, axis=1, keepdims=True))
    votes = knn_votes(bank, torch.as_tensor(y), queries, ks, 4, temperature=0.1, chunk_size=32)
    for k in ks:
        single = KNNProbe(k=k, temperature=0.1).fit(X, y).predict_proba(Xt)
        assert np.allclose(votes[k].numpy(), single, rtol=0, atol=1e-12)


def test_infinite_temperature_is_sklearn_uniform_knn():
    X, y, Xt, _ = _data(n_classes=2, seed=7, noise=2.0)  # two classes and odd k: no vote ties
    for k in (1, 7, 21):
        ours = KNNProbe(k=k, temperature=INF).fit(X, y)
        ref = KNeighborsClassifier(n_neighbors=k, metric="cosine", weights="uniform", algorithm="brute").fit(X, y)
        assert np.array_equal(ours.predict(Xt), ref.predict(Xt))
        assert np.allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), rtol=0, atol=1e-12)


@pytest.mark.parametrize("T", [0.07, 0.3])
def test_exponential_weights_are_sklearn_callable_weights(T):
    """scikit-learn's cosine distance is 1 - s, so weights exp((1 - d) / T) are DINO's exp(s / T)."""
    X, y, Xt, _ = _data(seed=11, noise=1.5)
    ref = KNeighborsClassifier(n_neighbors=20, metric="cosine", algorithm="brute",
                               weights=lambda d: np.exp((1.0 - d) / T)).fit(X, y)
    ours = KNNProbe(k=20, temperature=T).fit(X, y)
    assert np.array_equal(ours.predict(Xt), ref.predict(Xt))
    assert np.allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), rtol=0, atol=1e-9)


def test_decision_function_and_log_proba():
    X, y, Xt, _ = _data(n_classes=2)
    probe = KNNProbe(k=9).fit(X, y)
    p = probe.predict_proba(Xt)
    assert np.allclose(probe.decision_function(Xt), p[:, 1] - p[:, 0])
    assert np.array_equal(probe.predict(Xt), (probe.decision_function(Xt) > 0).astype(int))
    with np.errstate(divide="ignore"):
        assert np.array_equal(probe.predict_log_proba(Xt), np.log(p))
    multi = KNNProbe(k=9).fit(*_data()[:2])
    assert multi.decision_function(Xt).shape == (len(Xt), 4)


def test_torch_inputs_and_unseen_test_labels():
    X, y, Xt, yt = _data(n_classes=3)
    ref = knn_eval(X, y, Xt, yt, ks=(5,))
    as_tensors = knn_eval(torch.tensor(X), torch.tensor(y), torch.tensor(Xt), torch.tensor(yt), ks=(5,))
    assert as_tensors == ref
    half = knn_eval(torch.tensor(X, dtype=torch.float16), y, torch.tensor(Xt, dtype=torch.float16), yt, ks=5)
    assert abs(half[5] - ref[5]) < 0.05
    unseen = np.where(np.arange(len(yt)) < 10, 99, yt)  # class 99 is not in train: always wrong
    acc = knn_eval(X, y, Xt, unseen, ks=(5,))[5]
    pred = KNNProbe(k=5).fit(X, y).predict(Xt)
    assert acc == pytest.approx(float(np.mean(pred[10:] == yt[10:]) * (len(yt) - 10) / len(yt)))


def test_select_k_uses_validation_and_breaks_ties_low():
    X, y, Xv, yv = _data(seed=2, noise=1.8)
    k, accs = select_k(X, y, Xv, yv, ks=(1, 5, 25, 125))
    assert accs == knn_eval(X, y, Xv, yv, ks=(1, 5, 25, 125))
    assert accs[k] == max(accs.values())
    easy = _data(seed=2, noise=0.01)
    k, accs = select_k(*easy, ks=(30, 3, 10))
    assert set(accs.values()) == {1.0} and k == 3


def test_save_load_round_trip(tmp_path):
    X, y, Xt, _ = _data()
    labels = np.array(["n", "v", "a", "d"])[y]
    probe = KNNProbe(k=7, temperature=0.2, chunk_size=33).fit(X, labels)
    weights, meta = probe.save(tmp_path / "knn", metadata={"layer": 2})
    loaded = load_probe(tmp_path / "knn")
    assert type(loaded) is KNNProbe and loaded.get_params() == probe.get_params()
    assert np.array_equal(loaded.predict(Xt), probe.predict(Xt))
    assert np.array_equal(loaded.predict_proba(Xt), probe.predict_proba(Xt))
    assert loaded.metadata_ == {"layer": 2} and loaded.classes_.tolist() == ["a", "d", "n", "v"]
    assert KNNProbe.load(tmp_path / "knn").k == 7
    tensors = load_file(str(weights))
    assert set(tensors) == {"train_features_", "train_codes_"}
    assert np.allclose(np.linalg.norm(tensors["train_features_"], axis=1), 1.0)
    assert json.loads(meta.read_text())["class"] == "KNNProbe"
    assert probe_paths(tmp_path / "knn") == (weights, meta)


def test_bad_settings_raise_config_error():
    X, y, Xt, yt = _data()
    for bad in ({"k": 0}, {"k": 2.5}, {"temperature": 0}, {"temperature": -1.0}, {"metric": "euclidean"},
                {"chunk_size": 0}):
        with pytest.raises(ConfigError):
            KNNProbe(**bad).fit(X, y)
    for bad in ({"ks": ()}, {"ks": (10, 0)}, {"temperature": 0.0}, {"chunk_size": -3}, {"metric": "l2"}):
        with pytest.raises(ConfigError):
            knn_eval(X, y, Xt, yt, **bad)
    with pytest.raises(DataError):
        knn_eval(X, y, Xt[:, :3], yt)
    with pytest.raises(DataError):
        knn_eval(X, y[:-1], Xt, yt)
    with pytest.raises(DataError):
        knn_eval(X, y, Xt[:0], yt[:0])


@parametrize_with_checks([KNNProbe(), KNNProbe(k=3, temperature=INF), KNNProbe(metric="dot", temperature=1.0,
                                                                                 chunk_size=7)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
