"""Control task (permutation and word-type), selectivity, majority / random-direction / TF-IDF baselines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from probewise.errors import ConfigError, DataError
from probewise.evaluation import (
    choose_tfidf_C,
    control_labels,
    control_task,
    majority_baseline,
    nearest_mean,
    random_direction_baseline,
    selectivity,
    tfidf_baseline,
)
from probewise.metrics import accuracy


def test_control_labels_permutation_and_word_type() -> None:
    y = np.array([0] * 30 + [1] * 20 + [2] * 10)
    perm = control_labels(y, seed=1)
    assert sorted(perm.tolist()) == sorted(y.tolist()) and not np.array_equal(perm, y)
    np.testing.assert_array_equal(perm, control_labels(y, seed=1))
    assert not np.array_equal(perm, control_labels(y, seed=2))
    ids = np.random.default_rng(0).integers(0, 500, 5000)
    yy = np.random.default_rng(1).choice(3, 5000, p=[0.5, 0.3, 0.2])
    ctrl = control_labels(yy, seed=0, token_ids=ids)
    for t in np.unique(ids):  # one fixed label per word type
        assert np.unique(ctrl[ids == t]).size == 1
    per_type = np.array([ctrl[ids == t][0] for t in np.unique(ids)])
    np.testing.assert_allclose(np.bincount(per_type) / per_type.size, [0.5, 0.3, 0.2], atol=0.07)
    with pytest.raises(DataError, match="regression"):
        control_labels(np.linspace(0.1, 1.3, 7))


def _token_task(seed: int = 0, n: int = 1500, n_types: int = 40):
    """Token features = a one-hot of the word type plus noise; the real label is a function of a feature."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_types, n)
    X = np.eye(n_types)[ids] * 3.0 + 0.3 * rng.normal(size=(n, n_types))
    y = (ids % 2).astype(int)  # learnable from the type, as is any per-type control
    return X, y, ids


def test_control_task_word_type_and_selectivity() -> None:
    X, y, ids = _token_task()
    res = control_task(nearest_mean, X[:1000], y[:1000], X[1000:], y[1000:], token_ids_tr=ids[:1000],
                       token_ids_te=ids[1000:], seed=0, n_boot=200)
    assert res.control_kind == "word_type" and (res.n_train, res.n_test) == (1000, 500)
    # an expressive probe memorises types: control accuracy far above chance, selectivity small
    assert res.control.value > 0.8 and res.task.value > 0.9 and res.selectivity.value < 0.1
    assert res.selectivity.value == pytest.approx(selectivity(res.task.value, res.control.value))
    assert res.selectivity.low <= res.selectivity.value <= res.selectivity.high
    again = control_task(nearest_mean, X[:1000], y[:1000], X[1000:], y[1000:], token_ids_tr=ids[:1000],
                         token_ids_te=ids[1000:], seed=0, n_boot=200)
    assert again == res
    perm = control_task(nearest_mean, X[:1000], y[:1000], X[1000:], y[1000:], seed=0, n_boot=0)
    assert perm.control_kind == "permutation" and abs(perm.control.value - 0.5) < 0.1  # nothing to learn
    binary = control_task(lambda a, b, c: nearest_mean(a, b, c)[:, 1], X[:1000], y[:1000], X[1000:], y[1000:],
                          seed=0, n_boot=0)  # [m] positive-class probabilities are thresholded at 0.5
    assert binary.task.value == pytest.approx(perm.task.value, abs=0.01)
    with pytest.raises(ConfigError, match="both"):
        control_task(nearest_mean, X, y, X, y, token_ids_tr=ids)


def test_control_task_uses_one_type_mapping_across_splits() -> None:
    X, y, ids = _token_task(1, n=400)
    seen = []

    def fp(a, b, c):
        seen.append(b)
        return nearest_mean(a, b, c)

    control_task(fp, X[:300], y[:300], X[300:], y[300:], token_ids_tr=ids[:300], token_ids_te=ids[300:], n_boot=0)
    ctrl_all = control_labels(y, seed=0, token_ids=ids)
    np.testing.assert_array_equal(seen[1], ctrl_all[:300])


def test_majority_and_random_direction_baselines() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 50))
    y = (X[:, 0] + 0.2 * rng.normal(size=600) > 0.3).astype(int)
    maj = majority_baseline(y[:400], y[400:], metrics=("accuracy", "auroc"), n_boot=100)
    assert maj.chosen == {"class": 0}
    assert maj.metrics["accuracy"].value == pytest.approx(np.mean(y[400:] == 0))
    assert maj.metrics["auroc"].value == 0.5 and maj.n_val == 0
    rd = random_direction_baseline(X[:400], y[:400], X[400:], y[400:], seed=0, metrics=("accuracy", "auroc"))
    rd2 = random_direction_baseline(X[:400], y[:400], X[400:], y[400:], seed=0, metrics=("accuracy", "auroc"))
    assert rd.metrics == rd2.metrics
    rd3 = random_direction_baseline(X[:400], y[:400], X[400:], y[400:], seed=1, metrics=("accuracy", "auroc"))
    assert rd3.metrics["auroc"].value != rd.metrics["auroc"].value
    probe = accuracy(y[400:], nearest_mean(X[:400], y[:400], X[400:]))
    assert rd.metrics["accuracy"].value < probe
    aurocs = [random_direction_baseline(X[:400], y[:400], X[400:], y[400:], seed=s, metrics=("auroc",), n_boot=0)
              .metrics["auroc"].value for s in range(10)]
    assert abs(np.mean(aurocs) - 0.5) < 0.15
    with pytest.raises(DataError, match="class codes"):
        majority_baseline([1, 2, 2], [1, 2])
    with pytest.raises(DataError, match="regression"):
        majority_baseline([0.5, 1.5, 2.25], [0, 1])


WORDS = {0: ["dull", "boring", "awful", "bad", "weak"], 1: ["great", "fine", "superb", "good", "lovely"],
         2: ["odd", "strange", "weird", "unusual", "curious"]}


def _texts(seed: int, n: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    filler = ["the", "film", "was", "a", "plot", "and", "it", "really"]
    texts = [" ".join(rng.choice(filler, 4).tolist() + [rng.choice(WORDS[int(c)])]) for c in y]
    return texts, y


def test_tfidf_baseline_selects_on_val_and_matches_sklearn() -> None:
    tr, ytr = _texts(0, 120)
    va, yva = _texts(1, 60)
    te, yte = _texts(2, 60)
    res = tfidf_baseline(tr, ytr, va, yva, te, yte, Cs=(0.01, 1.0, 100.0), metrics=("accuracy", "macro_f1"),
                         n_boot=100)
    C, scores = choose_tfidf_C(tr, ytr, va, yva, Cs=(0.01, 1.0, 100.0))
    assert res.chosen == {"C": C} and res.val_scores == scores and C > 0.01
    vec = TfidfVectorizer().fit(tr)
    ref = LogisticRegression(C=C, max_iter=1000).fit(vec.transform(tr), ytr).predict(vec.transform(te))
    assert res.metrics["accuracy"].value == pytest.approx(np.mean(ref == yte))
    assert (res.n_train, res.n_val, res.n_test) == (120, 60, 60)
    with pytest.raises(DataError, match="not str"):
        tfidf_baseline(tr[:-1] + [3], ytr, va, yva, te, yte)
    with pytest.raises(ConfigError, match="Cs"):
        choose_tfidf_C(tr, ytr, va, yva, Cs=(0.0,))
