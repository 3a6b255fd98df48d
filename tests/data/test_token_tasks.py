"""Built-in token tasks: determinism, splits, class coverage, labels from construction, held-out words, errors."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from probewise.data import lexicon as lx
from probewise.data.token_tasks import POS_TAGS, TokenTaskData, TokenTaskInfo, list_token_tasks, make_token_task
from probewise.errors import ConfigError, DataError

NAMES = [t.name for t in list_token_tasks()]
NOUNS = {f for pair in lx.PEOPLE + lx.ANIMALS + lx.OBJECTS for f in pair} | set(lx.PLACES)
VERBS = {f for v in lx.TRANSITIVE_ANIMATE + lx.TRANSITIVE_OBJECT + lx.INTRANSITIVE for f in v}
ADJECTIVES = set(lx.ANIMATE_ADJECTIVES) | set(lx.OBJECT_ADJECTIVES)
CONTENT = {"NOUN": NOUNS, "VERB": VERBS, "ADJ": ADJECTIVES}
# Every closed-class word the grammar uses, with its only tag ("after"/"before" have two, by context).
CLOSED = {
    **dict.fromkeys(("the", "a", "an", "this", "every", "these", "those", "some"), "DET"),
    **dict.fromkeys(("two", "three", "four", "five", "six"), "NUM"),
    **dict.fromkeys(("i", "we", "they", "you", "he", "she", "me", "us", "them", "him", "her", "that"), "PRON"),
    **dict.fromkeys((*lx.MODALS, "am", "is", "are", "was", "were", "has", "have", "had", "do", "does", "did"), "AUX"),
    **dict.fromkeys((*lx.ADVERBS, *lx.FREQUENCY_ADVERBS, "very", "quite", "rather", "really"), "ADV"),
    **dict.fromkeys((*lx.PREPOSITIONS, "in", "at", "on"), "ADP"),
    **dict.fromkeys(("because", "while", "when", "although"), "SCONJ"),
    **dict.fromkeys(("and", "but"), "CCONJ"),
    "not": "PART", ",": "PUNCT", ".": "PUNCT",
}
TIME_NOUNS = {w for phrase in lx.TIME_PHRASES for w in phrase.split()} - set(CLOSED) - {"after", "before"}


@cache
def task(name: str, n: int = 1000, seed: int = 0) -> TokenTaskData:
    return make_token_task(name, n=n, seed=seed)


def allowed_tags(word: str) -> set[str]:
    w = word.lower()
    tags = {tag for tag, words in CONTENT.items() if w in words}
    if w in CLOSED:
        tags.add(CLOSED[w])
    if w in ("after", "before"):
        tags |= {"ADP", "SCONJ"}
    if w in TIME_NOUNS:
        tags.add("NOUN")
    return tags


# ---------------------------------------------------------------------------------------------- API
def test_list_token_tasks():
    infos = list_token_tasks()
    assert all(isinstance(t, TokenTaskInfo) for t in infos)
    assert {"pos_tags", "inserted_word"} <= set(NAMES)
    assert dict((t.name, t.classes) for t in infos)["inserted_word"] == ("original", "inserted")
    assert all(len(t.description) > 100 for t in infos)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_seed_dependent(name):
    a, b = make_token_task(name, n=200, seed=4), make_token_task(name, n=200, seed=4)
    assert a.words == b.words and a.word_labels == b.word_labels and a.spans == b.spans
    assert np.array_equal(a.split, b.split) and a.seed == 4 and a.name == name
    c = make_token_task(name, n=200, seed=5)
    assert c.words != a.words


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("n", "val_frac", "test_frac"), [(1000, 0.15, 0.15), (101, 0.1, 0.3), (30, 0.2, 0.2)])
def test_split_fractions_and_shapes(name, n, val_frac, test_frac):
    data = make_token_task(name, n=n, seed=1, val_frac=val_frac, test_frac=test_frac)
    assert data.split.dtype == np.int8 and data.split.shape == (n,)
    n_val, n_test = math.floor(n * val_frac + 0.5), math.floor(n * test_frac + 0.5)
    assert [int((data.split == s).sum()) for s in (0, 1, 2)] == [n - n_val - n_test, n_val, n_test]
    assert len(data.words) == len(data.word_labels) == len(data.spans) == n
    for words, labels in zip(data.words, data.word_labels, strict=True):
        assert len(words) == len(labels) >= 3
        assert all(0 <= lab < len(data.classes) for lab in labels)
        assert " ".join(words).split() == words  # whitespace tokenization gives the words back
        assert words[-1] == "." and words[0][0].isupper()
    # every class in every split, even for the smallest n
    for s in (0, 1, 2):
        seen = {lab for i in np.flatnonzero(data.split == s) for lab in data.word_labels[i]}
        assert seen == set(range(len(data.classes)))


@pytest.mark.parametrize("name", NAMES)
def test_sentences_are_distinct_and_varied(name):
    data = task(name)
    texts = [" ".join(w) for w in data.words]
    assert len(set(texts)) == len(texts)
    lengths = [len(w) for w in data.words]
    assert min(lengths) <= 6 and max(lengths) >= 20


# ---------------------------------------------------------------------------------------------- labels
def test_pos_labels_agree_with_the_lexicon():
    data = task("pos_tags")
    assert data.classes == POS_TAGS
    counts = dict.fromkeys(POS_TAGS, 0)
    for words, labels in zip(data.words, data.word_labels, strict=True):
        for word, lab in zip(words, labels, strict=True):
            tag = POS_TAGS[lab]
            assert tag in allowed_tags(word), (word, tag, " ".join(words))
            counts[tag] += 1
    assert all(counts[t] >= 100 for t in POS_TAGS), counts
    dets = [POS_TAGS[lab] for words, labels in zip(data.words, data.word_labels, strict=True)
            for w, lab in zip(words, labels, strict=True) if w.lower() in ("the", "a", "an", "this", "those")]
    assert set(dets) == {"DET"}


def test_after_and_before_are_tagged_by_context():
    data = task("pos_tags")
    tags = {}
    for words, labels in zip(data.words, data.word_labels, strict=True):
        for i, (w, lab) in enumerate(zip(words, labels, strict=True)):
            if w.lower() in ("after", "before"):
                tag = POS_TAGS[lab]
                tags.setdefault(tag, 0)
                tags[tag] += 1
                if tag == "ADP":  # a time phrase: "after lunch", "before dinner", "after school"
                    assert words[i + 1] in ("lunch", "dinner", "school")
    assert set(tags) == {"ADP", "SCONJ"}


def test_inserted_word_labels_are_the_inserted_span():
    data = task("inserted_word")
    with_insert = np.array([bool(s) for s in data.spans])
    for s in (0, 1, 2):
        part = with_insert[data.split == s]
        assert abs(int(part.sum()) - len(part) / 2) <= 0.5  # balanced within one per split
    for words, labels, spans in zip(data.words, data.word_labels, data.spans, strict=True):
        positives = [i for i, lab in enumerate(labels) if lab == 1]
        if not spans:
            assert positives == []
            continue
        (start, end), = spans
        assert positives == list(range(start, end)) and 1 <= end - start <= 3
        assert 1 <= start and end <= len(words) - 1  # never first, never the final "."
        fragment = [w.lower() for w in words[start:end]]
        assert fragment[0] in NOUNS | VERBS and "," not in fragment and "." not in fragment
        if end - start > 1:
            assert fragment[0] in VERBS
        assert words[start - 1].lower() not in {w for w, t in CLOSED.items() if t in ("DET", "NUM")}
        host = words[:start] + words[end:]
        assert all(allowed_tags(w) for w in host + words[start:end])  # every word is from the grammar


# ---------------------------------------------------------------------------------------------- held-out
@pytest.mark.parametrize("name", NAMES)
def test_held_out_vocabulary_is_disjoint(name):
    data = task(name)

    def content(parts, kind):
        return {w.lower() for i in np.flatnonzero(np.isin(data.split, parts)) for w in data.words[i]
                if w.lower() in CONTENT[kind]}

    for kind in CONTENT:
        train, evaluation = content([0], kind), content([1, 2], kind)
        assert train and evaluation and not train & evaluation, kind
        assert len(evaluation) >= 0.15 * len(train), kind
    # the pools depend on (name, seed) only: a smaller task's val/test words are unseen by a bigger train split
    small = make_token_task(name, n=200, seed=0)
    small_eval = {w.lower() for i in np.flatnonzero(small.split > 0) for w in small.words[i]}
    big_train = {w.lower() for i in np.flatnonzero(data.split == 0) for w in data.words[i]}
    assert not small_eval & big_train & (NOUNS | VERBS | ADJECTIVES)
    # closed-class words are shared
    assert {"the", "not", "."} <= {w.lower() for i in np.flatnonzero(data.split == 2) for w in data.words[i]}


def test_words_split_into_subword_tokens_cleanly(minilm_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path)
    data = make_token_task("inserted_word", n=100, seed=0)
    enc = tok(data.words, is_split_into_words=True)
    for i, words in enumerate(data.words):
        ids = [w for w in enc.word_ids(i) if w is not None]
        assert sorted(set(ids)) == list(range(len(words)))  # every word gets at least one token


# ---------------------------------------------------------------------------------------------- errors
def test_bad_inputs():
    with pytest.raises(DataError, match="pos_tags, inserted_word"):
        make_token_task("pos_tag")
    for n in (0, 29, 10.0, "100", True):
        with pytest.raises(ConfigError):
            make_token_task("pos_tags", n=n)
    for fracs in ((0.0, 0.15), (0.15, 1.0), (-0.1, 0.2), (0.6, 0.5)):
        with pytest.raises(ConfigError):
            make_token_task("inserted_word", n=100, val_frac=fracs[0], test_frac=fracs[1])
    with pytest.raises(ConfigError, match="at least 2"):
        make_token_task("inserted_word", n=30, val_frac=0.01, test_frac=0.2)
    with pytest.raises(ConfigError):
        make_token_task("pos_tags", n=100, seed=-1)
