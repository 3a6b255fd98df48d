"""Protocols: splits against scikit-learn's splitters, few-shot draws, curves, multi-label, target kinds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold

from probewise.errors import ConfigError, DataError
from probewise.evaluation import (
    data_efficiency,
    few_shot_draws,
    few_shot_eval,
    fit_multilabel,
    group_split,
    kfold,
    leave_one_group_out,
    nearest_mean,
    target_kind,
)
from probewise.metrics import accuracy, evaluate_classification


def _logreg(X_tr, y_tr, X_te):
    return LogisticRegression(max_iter=500).fit(X_tr, y_tr).predict_proba(X_te)


def _blobs(seed: int = 0, n: int = 400, d: int = 6, k: int = 3, sep: float = 2.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centers = rng.normal(size=(k, d)) * sep
    return centers[y] + rng.normal(size=(n, d)), y


# ------------------------------------------------------------------------------------------------ target kinds
@pytest.mark.parametrize(
    ("y", "kind"),
    [
        ([0, 1, 1, 0], "binary"),
        ([True, False, True], "binary"),
        ([0.0, 1.0, 1.0], "binary"),
        ([0, 1, 2, 2], "multiclass"),
        ([0.5, 1.2, 3.3], "regression"),
        ([[0, 1], [1, 0], [1, 1]], "multilabel"),
    ],
)
def test_target_kind_detects(y, kind) -> None:
    assert target_kind(np.asarray(y)) == kind


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array([1.0, 2.0, 3.0, 5.0]), "kind='regression'"),  # whole-number floats: classes or a scale?
        (np.array([1, 1, 1]), "single value"),
        (np.array([[0.0, 2.0], [1.0, 0.0]]), "multi-label"),
        (np.array([[0], [1]]), "1-D"),
        (np.array(["a", "b"]), "integers"),
        (np.array([0.0, np.nan, 1.0]), "NaN"),
        (np.array([]), "empty"),
    ],
)
def test_target_kind_refuses_ambiguous_or_bad(y, match) -> None:
    with pytest.raises(DataError, match=match):
        target_kind(y)


# ------------------------------------------------------------------------------------------------ group splits
@pytest.mark.parametrize("groups", [np.repeat(np.arange(6), 5), np.array(list("abcabcaabbcd") * 2)])
def test_leave_one_group_out_matches_sklearn(groups) -> None:
    ours = list(leave_one_group_out(groups))
    ref = list(LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups))
    assert len(ours) == len(ref)
    for (tr, te), (rtr, rte) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(tr, rtr)
        np.testing.assert_array_equal(te, rte)


def test_leave_one_group_out_names_group_holding_a_class() -> None:
    groups = np.array(["s1", "s1", "s2", "s2", "s3", "s3"])
    labels = np.array([0, 1, 0, 1, 2, 2])
    with pytest.raises(DataError, match="group 's3' holds all 2 example"):
        leave_one_group_out(groups, labels)  # checked at the call, not at the first fold


def test_group_split_keeps_groups_whole_balanced_and_seeded() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40, 1000)
    y = (rng.random(1000) < 0.3).astype(int)
    split = group_split(y, groups, val_frac=0.15, test_frac=0.15, seed=3)
    assert split.dtype == np.int8
    for g in np.unique(groups):
        assert np.unique(split[groups == g]).size == 1
    fracs = np.bincount(split, minlength=3) / split.size
    np.testing.assert_allclose(fracs, [0.7, 0.15, 0.15], atol=0.05)
    for code in (0, 1, 2):  # stratified: every split has both classes at roughly the global rate
        assert abs(y[split == code].mean() - y.mean()) < 0.08
    np.testing.assert_array_equal(split, group_split(y, groups, 0.15, 0.15, seed=3))
    assert not np.array_equal(split, group_split(y, groups, 0.15, 0.15, seed=4))
    assert group_split(None, groups, 0.15, 0.15, seed=3).shape == (1000,)


def test_group_split_names_group_holding_all_of_a_class() -> None:
    groups = np.repeat(["alice", "bob", "carol", "dave"], 5)
    y = np.array([0, 1] * 8 + [2, 2, 2, 2])  # dave holds every example of class 2
    with pytest.raises(DataError, match="group 'dave' holds all 4 example"):
        group_split(y, groups, seed=0)


def test_group_split_bad_input() -> None:
    with pytest.raises(DataError, match="at least 3 groups"):
        group_split([0, 1, 0, 1], [0, 0, 1, 1])
    with pytest.raises(ConfigError):
        group_split([0, 1] * 5, np.arange(10), val_frac=0.6, test_frac=0.5)
    with pytest.raises(DataError, match="regression"):
        group_split(np.linspace(0.1, 3.3, 12), np.arange(12))


# ----------------------------------------------------------------------------------------------------- k-fold
@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_kfold_has_stratified_kfold_properties(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=203, p=[0.6, 0.3, 0.1])
    folds = kfold(y, k=k, seed=seed)
    tests = np.concatenate([te for _, te in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(y.size))  # test folds partition the data
    for tr, te in folds:
        assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == y.size
    sizes = [te.size for _, te in folds]
    assert max(sizes) - min(sizes) <= 1
    ref = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(y.size), y))
    for c in range(3):
        ours = sorted(int(np.sum(y[te] == c)) for _, te in folds)
        theirs = sorted(int(np.sum(y[te] == c)) for _, te in ref)
        assert ours == theirs  # per-class fold counts within one of each other, as scikit-learn's
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold(y, k=k, seed=seed), strict=True))


def test_kfold_with_groups_has_group_kfold_properties() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 600)
    y = rng.integers(0, 2, 600)
    folds = kfold(y, k=5, seed=0, groups=groups)
    ref = list(GroupKFold(n_splits=5).split(np.zeros(600), y, groups))
    assert len(folds) == len(ref) == 5
    seen = []
    for tr, te in folds:
        assert np.intersect1d(groups[tr], groups[te]).size == 0
        seen.extend(np.unique(groups[te]).tolist())
    assert sorted(seen) == sorted(np.unique(groups).tolist())  # each group in exactly one test fold
    sizes = np.array([te.size for _, te in folds])
    ref_sizes = np.array([te.size for _, te in ref])
    assert sizes.max() / sizes.min() < 1.5 and ref_sizes.max() / ref_sizes.min() < 1.5


def test_kfold_bad_input_and_regression() -> None:
    with pytest.raises(DataError, match="class 2 has 2 example"):
        kfold([0] * 10 + [1] * 10 + [2] * 2, k=3)
    with pytest.raises(ConfigError):
        kfold([0, 1] * 5, k=1)
    with pytest.raises(DataError, match="3 groups"):
        kfold([0, 1] * 6, k=4, groups=np.repeat([0, 1, 2], 4))
    folds = kfold(np.linspace(0.05, 5.05, 23), k=4, seed=0)  # regression: plain shuffled folds
    assert sorted(te.size for _, te in folds) == [5, 6, 6, 6]


# --------------------------------------------------------------------------------------------------- few-shot
def test_few_shot_draws_k_per_class_within_train_and_seeded() -> None:
    y = np.array([0, 1, 2] * 20)
    train = np.arange(45)
    draws = few_shot_draws(y, train, k_per_class=4, n_draws=6, seed=1)
    assert len(draws) == 6
    for d in draws:
        assert np.isin(d, train).all()
        np.testing.assert_array_equal(np.bincount(y[d]), [4, 4, 4])
    assert len({tuple(d) for d in draws}) > 1
    again = few_shot_draws(y, train, k_per_class=4, n_draws=6, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(draws, again, strict=True))
    mask = np.zeros(60, bool)
    mask[train] = True
    assert all(np.array_equal(a, b) for a, b in zip(draws, few_shot_draws(y, mask, 4, 6, seed=1), strict=True))


def test_few_shot_draws_names_short_class() -> None:
    y = np.array([0] * 10 + [1] * 10 + [2] * 3)
    with pytest.raises(DataError, match=r"class 2 has 3 training example\(s\), fewer than k_per_class=5"):
        few_shot_draws(y, k_per_class=5)
    with pytest.raises(DataError, match="regression"):
        few_shot_draws(np.linspace(0.1, 2.2, 30), k_per_class=2)


def test_few_shot_eval_reproducible_improves_and_intervals() -> None:
    X, y = _blobs(0)
    pts = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(1, 20), n_draws=5, seed=7)
    again = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(1, 20), n_draws=5, seed=7)
    assert [p.to_dict() for p in pts] == [p.to_dict() for p in again]
    assert [p.k for p in pts] == [1, 20] and [p.n_train for p in pts] == [3, 60]
    assert pts[0].mean < pts[1].mean and pts[1].n_test == 100
    v = np.array(pts[0].values)
    from scipy import stats

    half = stats.t.ppf(0.975, 4) * v.std(ddof=1) / np.sqrt(5)
    assert pts[0].low == pytest.approx(v.mean() - half) and pts[0].high == pytest.approx(v.mean() + half)
    pct = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(1,), n_draws=5, seed=7,
                        interval="percentile")[0]
    assert pct.values == pts[0].values
    assert pct.low == pytest.approx(np.quantile(v, 0.025)) and pct.high == pytest.approx(np.quantile(v, 0.975))


def test_few_shot_eval_checks_before_fitting() -> None:
    calls = []

    def fp(a, b, c):
        calls.append(1)
        return nearest_mean(a, b, c)

    X, y = _blobs(1, n=60)
    short = int(np.bincount(y).min())
    with pytest.raises(DataError, match=f"has {short} training example"):
        few_shot_eval(fp, X, y, X, y, ks=(1, short + 1))
    assert not calls
    with pytest.raises(DataError, match="regression"):
        few_shot_eval(fp, X, X[:, 0], X, y)


# ------------------------------------------------------------------------------------------ data efficiency
def test_data_efficiency_classification_regression_multilabel() -> None:
    X, y = _blobs(2, n=500)
    pts = data_efficiency(nearest_mean, X[:400], y[:400], X[400:], y[400:], fractions=(0.02, 0.5, 1.0), n_draws=3)
    assert [p.fraction for p in pts] == [0.02, 0.5, 1.0]
    assert [len(p.values) for p in pts] == [3, 3, 1] and pts[2].n_train == 400
    assert pts[0].n_train >= 3  # at least one per class
    full = accuracy(y[400:], nearest_mean(X[:400], y[:400], X[400:]))
    assert pts[2].mean == pytest.approx(full)
    again = data_efficiency(nearest_mean, X[:400], y[:400], X[400:], y[400:], fractions=(0.02, 0.5, 1.0), n_draws=3)
    assert [p.values for p in pts] == [p.values for p in again]

    rng = np.random.default_rng(0)
    t = X @ rng.normal(size=6) + 0.1 * rng.normal(size=500)
    reg = data_efficiency(lambda a, b, c: Ridge().fit(a, b).predict(c), X[:400], t[:400], X[400:], t[400:],
                          fractions=(0.1, 1.0), n_draws=2)
    assert reg[0].metric == "r2" and reg[1].mean > 0.99
    counts = np.round(t * 0 + rng.integers(0, 6, 500)).astype(float)  # whole-number floats need an explicit kind
    with pytest.raises(DataError, match="kind='regression'"):
        data_efficiency(nearest_mean, X[:400], counts[:400], X[400:], counts[400:])
    assert data_efficiency(lambda a, b, c: Ridge().fit(a, b).predict(c), X[:400], counts[:400], X[400:],
                           counts[400:], fractions=(1.0,), kind="regression", metric="mse")[0].metric == "mse"

    Y = np.stack([y == 0, y == 1], axis=1).astype(int)
    ml = data_efficiency(nearest_mean, X[:400], Y[:400], X[400:], Y[400:], fractions=(0.5,), n_draws=2)
    assert ml[0].metric == "accuracy" and ml[0].mean > 0.8
    with pytest.raises(ConfigError):
        data_efficiency(nearest_mean, X, y, X, y, fractions=(0.0,))


# ------------------------------------------------------------------------------------------------ multi-label
def test_fit_multilabel_per_attribute_and_macro() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0.5, X[:, 2] + X[:, 3] > 0], axis=1).astype(int)
    rep = fit_multilabel(_logreg, X[:400], Y[:400], X[400:], Y[400:], names=["a", "b", "c"], n_boot=50, seed=0)
    assert rep.names == ("a", "b", "c") and rep.probs.shape == (100, 3) and rep.undefined == ()
    for j, name in enumerate(rep.names):
        p = _logreg(X[:400], Y[:400, j], X[400:])[:, 1]
        ref = evaluate_classification(Y[400:, j], p, ("accuracy", "auroc"), n_boot=50, seed=0)
        assert rep.per_attribute[name] == ref
    assert rep.macro["auroc"] == pytest.approx(np.mean([rep.per_attribute[n]["auroc"].value for n in rep.names]))


def test_fit_multilabel_constant_attributes() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    Y = np.stack([X[:, 0] > 0, np.zeros(100, bool)], axis=1).astype(int)
    with pytest.raises(DataError, match="attribute 'attr_1' is constant"):
        fit_multilabel(nearest_mean, X, Y, X, Y, n_boot=0)
    Yte = Y[80:].copy()
    Y[:5, 1] = 1  # learnable in train, constant in test: AUROC undefined there, left out of the macro
    rep = fit_multilabel(nearest_mean, X[:80], Y[:80], X[80:], Yte, n_boot=0)
    assert rep.undefined == (("attr_1", "auroc"),)
    assert rep.macro["auroc"] == rep.per_attribute["attr_0"]["auroc"].value
