"""Token probes: flattening with ignored positions, token/span/sequence scores against brute-force loops."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, RidgeClassifier

from probewise.errors import ConfigError, DataError, ProbeError
from probewise.probes import LogisticProbe, load_probe
from probewise.probes.token import TokenProbe, flatten_tokens
from probewise.store.ragged import Ragged
from tests.fit.features import one_thread  # noqa: F401 (autouse fixture)


def synthetic(n=150, d=8, seed=0, p_ignore=0.25, n_classes=2):
    """Token activations whose label shows along axis 0, ignored tokens showing the opposite.

    Returns ``(X, labels, poisoned)``: ``labels`` holds -100 at the ignored positions, ``poisoned`` their
    would-be labels, which contradict their features.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 20, size=n)
    T = int(lengths.sum())
    y = rng.integers(0, n_classes, size=T)
    ignored = rng.random(T) < p_ignore
    centers = 3.0 * np.eye(n_classes, d)
    x = rng.normal(size=(T, d)) + np.where(ignored[:, None], centers[(y + 1) % n_classes], centers[y])
    offsets = torch.as_tensor(np.concatenate([[0], np.cumsum(lengths)]))
    X = Ragged(torch.as_tensor(x, dtype=torch.float32), offsets)
    labels = Ragged(torch.as_tensor(np.where(ignored, -100, y)), offsets)
    return X, labels, Ragged(torch.as_tensor(y), offsets)


def split(X, labels, n_train=100):
    idx = np.arange(len(X))
    return (X.select(idx[:n_train]), labels.select(idx[:n_train])), (X.select(idx[n_train:]), labels.select(
        idx[n_train:]))


# ---------------------------------------------------------------------------------------------- flatten
def test_flatten_tokens_matches_a_loop():
    X, labels, _ = synthetic(n=30)
    X_flat, y_flat, example = flatten_tokens(X, labels)
    rows, ys, ex = [], [], []
    for i in range(len(X)):
        for j in range(len(X[i])):
            if int(labels[i][j]) != -100:
                rows.append(X[i][j].numpy())
                ys.append(int(labels[i][j]))
                ex.append(i)
    assert X_flat.dtype == np.float32 and y_flat.dtype == np.int64 and example.dtype == np.int64
    assert np.array_equal(X_flat, np.stack(rows)) and y_flat.tolist() == ys and example.tolist() == ex
    as_lists = [labels[i].tolist() for i in range(len(labels))]
    again = flatten_tokens(X, as_lists)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_flat, y_flat, example), strict=True))


def test_flatten_tokens_custom_ignore_index_and_offsets_not_at_zero():
    values = torch.arange(16.0).reshape(8, 2)
    X = Ragged(values, torch.tensor([2, 4, 7]))  # rows 0-1 and 7 belong to no sequence
    X_flat, y, example = flatten_tokens(X, [[5, -1], [-1, 6, 7]], ignore_index=-1)
    assert X_flat.tolist() == [[4.0, 5.0], [10.0, 11.0], [12.0, 13.0]]
    assert y.tolist() == [5, 6, 7] and example.tolist() == [0, 1, 1]
    half = Ragged(values.to(torch.bfloat16), torch.tensor([0, 8]))
    assert flatten_tokens(half, [[0] * 8])[0].dtype == np.float32


def test_flatten_tokens_rejects_misaligned_labels():
    X, labels, _ = synthetic(n=5)
    with pytest.raises(DataError, match="sequences"):
        flatten_tokens(X, labels.select([0, 1]))
    bad = [labels[i].tolist() for i in range(5)]
    bad[3] = bad[3] + [0]
    with pytest.raises(DataError, match="sequence 3"):
        flatten_tokens(X, bad)
    with pytest.raises(DataError, match="Ragged"):
        flatten_tokens(X.values, labels)
    with pytest.raises(DataError, match="integers"):
        flatten_tokens(X, Ragged(labels.values.float() + 0.5, labels.offsets))


# ---------------------------------------------------------------------------------------------- fit
def test_ignored_tokens_are_never_trained_on():
    X, labels, poisoned = synthetic(p_ignore=0.6)  # most tokens are ignored and contradict their would-be label
    (X_tr, L_tr), (X_te, L_te) = split(X, labels)
    _, (_, P_te) = split(X, poisoned)
    probe = TokenProbe().fit(X_tr, L_tr)
    assert probe.classes_.tolist() == [0, 1]  # -100 is no class
    X_flat, y_flat, _ = flatten_tokens(X_tr, L_tr)
    assert probe.n_tokens_ == len(y_flat) < int(L_tr.values.numel())
    alone = LogisticProbe(max_iter=1000).fit(X_flat, y_flat)  # the same fit on the kept tokens only
    assert np.array_equal(probe.estimator_.coef_, alone.coef_)
    assert probe.score(X_te, L_te) > 0.97
    # trained on the contradicting labels too, a probe learns the reversed direction
    (_, P_tr), _ = split(X, poisoned)
    misled = TokenProbe().fit(X_tr, P_tr)
    assert misled.score(X_te, L_te) < 0.1
    # and the ignored test tokens (opposite features) are predicted against their would-be labels
    ignored = (L_te.values == -100).numpy()
    pred = np.concatenate(probe.predict(X_te))
    assert np.mean(pred[ignored] == P_te.values.numpy()[ignored]) < 0.1


def test_token_scores_are_the_estimator_probabilities():
    X, labels, _ = synthetic(n=40)
    probe = TokenProbe(LogisticRegression()).fit(X, labels)
    scores = probe.token_scores(X)
    assert [len(s) for s in scores] == X.lengths.tolist()
    flat = probe.estimator_.predict_proba(X.values.numpy())[:, 1]
    assert np.allclose(np.concatenate(scores), flat, rtol=0, atol=1e-12)
    proba = probe.token_proba(X)
    assert np.allclose(np.concatenate([p[:, 1] for p in proba]), flat)
    preds = probe.predict(X)
    assert np.array_equal(np.concatenate(preds), probe.estimator_.predict(X.values.numpy()))
    ridge = TokenProbe(RidgeClassifier()).fit(X, labels)  # no predict_proba: decision_function
    assert np.allclose(np.concatenate(ridge.token_scores(X)), ridge.estimator_.decision_function(X.values.numpy()))
    with pytest.raises(ProbeError, match="predict_proba"):
        ridge.token_proba(X)


def test_span_scores_equal_a_brute_force_loop():
    X, labels, _ = synthetic(n=60, seed=3)
    probe = TokenProbe().fit(X, labels)
    rng = np.random.default_rng(0)
    spans = []
    for t in X.lengths.tolist():
        starts = rng.integers(0, t, size=rng.integers(0, 4))
        spans.append([(int(s), int(rng.integers(s + 1, t + 1))) for s in starts])
    tokens = probe.token_scores(X)
    for reduce in ("max", "mean"):
        got = probe.span_scores(X, spans, reduce=reduce)
        for i, seq_spans in enumerate(spans):
            assert got[i].shape == (len(seq_spans),)
            for j, (start, end) in enumerate(seq_spans):
                values = [tokens[i][p] for p in range(start, end)]
                want = max(values) if reduce == "max" else sum(values) / len(values)
                assert got[i][j] == pytest.approx(want, abs=1e-12)
    with pytest.raises(DataError, match="outside"):
        probe.span_scores(X, [[(0, int(X.lengths[0]) + 1)]] + [[]] * (len(X) - 1))
    with pytest.raises(DataError, match="outside"):
        probe.span_scores(X, [[(2, 2)]] + [[]] * (len(X) - 1))
    with pytest.raises(DataError, match="one"):
        probe.span_scores(X, spans[:-1])
    with pytest.raises(ConfigError):
        probe.span_scores(X, spans, reduce="sum")


def test_sequence_scores_and_mask():
    X, labels, _ = synthetic(n=40, seed=5)
    probe = TokenProbe().fit(X, labels)
    tokens = probe.token_scores(X)
    assert np.array_equal(probe.sequence_scores(X), np.array([t.max() for t in tokens]))
    assert np.allclose(probe.sequence_scores(X, reduce="mean"), [t.mean() for t in tokens])
    mask = Ragged(labels.values != -100, labels.offsets)
    masked = probe.sequence_scores(X, mask=mask)
    for i in range(len(X)):
        keep = mask[i].numpy()
        assert np.isnan(masked[i]) if not keep.any() else masked[i] == tokens[i][keep].max()
    with pytest.raises(DataError, match="mask"):
        probe.sequence_scores(X, mask=mask.select([0]))


def test_multiclass_and_settings():
    X, labels, _ = synthetic(n=60, n_classes=3, seed=2)
    probe = TokenProbe(LogisticProbe(C=1.0, max_iter=500)).fit(X, labels)
    assert probe.classes_.tolist() == [0, 1, 2] and probe.score(X, labels) > 0.9
    assert probe.token_proba(X)[0].shape == (int(X.lengths[0]), 3)
    with pytest.raises(ProbeError, match="binary"):
        probe.token_scores(X)
    copy = clone(probe)
    assert copy.get_params()["base_estimator"].C == 1.0 and not hasattr(copy, "estimator_")
    with pytest.raises(DataError, match="nothing to train"):
        TokenProbe().fit(X, Ragged(torch.full_like(labels.values, -100), labels.offsets))
    with pytest.raises(ConfigError):
        TokenProbe(base_estimator="logistic").fit(X, labels)
    with pytest.raises(DataError, match="features"):
        probe.predict(Ragged(X.values[:, :3], X.offsets))


def test_save_load_round_trip(tmp_path):
    X, labels, _ = synthetic(n=30)
    probe = TokenProbe(LogisticProbe(C=0.5), ignore_index=-7).fit(X, Ragged(
        torch.where(labels.values == -100, -7, labels.values), labels.offsets))
    probe.save(tmp_path / "tok", metadata={"layer": 3})
    loaded = TokenProbe.load(tmp_path / "tok")
    assert loaded.ignore_index == -7 and loaded.n_tokens_ == probe.n_tokens_ and loaded.metadata_ == {"layer": 3}
    for a, b in zip(loaded.token_scores(X), probe.token_scores(X), strict=True):
        assert np.array_equal(a, b)
    assert isinstance(load_probe(tmp_path / "tok"), LogisticProbe)  # the inner probe is a plain artifact
    LogisticProbe().fit(X.values.numpy(), np.arange(len(X.values)) % 2).save(tmp_path / "plain")
    with pytest.raises(ProbeError, match="not a TokenProbe"):
        TokenProbe.load(tmp_path / "plain")
    with pytest.raises(ProbeError, match="pickle"):
        TokenProbe(LogisticRegression()).fit(X, labels).save(tmp_path / "sk")


# ---------------------------------------------------------------------------------------------- real model
@cache
def _minilm(path):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def _minilm_tokens(path, task, layer):
    """Layer activations of every token, with each word's label on its first sub-token (-100 elsewhere)."""
    tok, model = _minilm(path)
    enc = tok(task.words, is_split_into_words=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states[layer]
    parts, labs = [], []
    for i, word_labels in enumerate(task.word_labels):
        n_tok = int(enc["attention_mask"][i].sum())
        ids, prev, lab = enc.word_ids(i)[:n_tok], None, []
        for w in ids:
            lab.append(-100 if w is None or w == prev else word_labels[w])
            prev = w
        parts.append(hidden[i, :n_tok])
        labs.append(torch.tensor(lab))
    return Ragged.from_list(parts), Ragged.from_list(labs)


def test_pos_tags_on_minilm(minilm_path):
    """End to end: the built-in POS task, MiniLM token activations, a token probe scored on unseen words."""
    from probewise.data.token_tasks import make_token_task

    task = make_token_task("pos_tags", n=160, seed=0)
    X, labels = _minilm_tokens(minilm_path, task, layer=3)
    train, test = np.flatnonzero(task.split == 0), np.flatnonzero(task.split == 2)
    probe = TokenProbe(LogisticProbe(max_iter=300)).fit(X.select(train), labels.select(train))
    assert probe.score(X.select(test), labels.select(test)) > 0.9


def test_inserted_word_spans_on_minilm(minilm_path):
    """Inserted fragments are found from context: token AUROC well above chance on unseen words."""
    from sklearn.metrics import roc_auc_score

    from probewise.data.token_tasks import make_token_task

    task = make_token_task("inserted_word", n=300, seed=0)
    X, labels = _minilm_tokens(minilm_path, task, layer=3)
    train, test = np.flatnonzero(task.split == 0), np.flatnonzero(task.split > 0)
    probe = TokenProbe(LogisticProbe(max_iter=300)).fit(X.select(train), labels.select(train))
    X_te, L_te = X.select(test), labels.select(test)
    keep = (L_te.values != -100).numpy()
    scores = np.concatenate(probe.token_scores(X_te))[keep]
    assert roc_auc_score(L_te.values.numpy()[keep], scores) > 0.75
