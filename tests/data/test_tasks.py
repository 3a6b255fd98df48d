"""Built-in diagnostic tasks: determinism, balance, splits, held-out words, labels, bag-of-words controls."""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from probewise.data import lexicon as lx
from probewise.data.tasks import TaskData, TaskInfo, list_tasks, make_task
from probewise.errors import ConfigError, DataError

REQUIRED = {
    "sentence_length", "subject_number", "tense", "negation", "sentiment", "bigram_shift", "who_did_what",
}
NAMES = [t.name for t in list_tasks()]
VERBS = lx.TRANSITIVE_ANIMATE + lx.TRANSITIVE_OBJECT + lx.INTRANSITIVE
PRESENT = {f for v in VERBS for f in v[:2]}
PAST = {v[2] for v in VERBS}
SINGULAR = {sg for sg, _ in lx.PEOPLE + lx.ANIMALS}
PLURAL = {pl for _, pl in lx.PEOPLE + lx.ANIMALS}
PERSON = {f for pair in lx.PEOPLE for f in pair}
ANIMAL = {f for pair in lx.ANIMALS for f in pair}
POSITIVE = set(lx.POSITIVE_ADJECTIVES) | {f for v in lx.POSITIVE_VERBS for f in v}
NEGATIVE = set(lx.NEGATIVE_ADJECTIVES) | {f for v in lx.NEGATIVE_VERBS for f in v}
# The words that carry each label, for the tasks that hold vocabulary out of train.
CARRIERS = {
    "subject_number": PERSON | ANIMAL,
    "who_did_what": PERSON | ANIMAL,
    "tense": PRESENT | PAST,
    "sentiment": POSITIVE | NEGATIVE,
}


def tokens(text: str) -> list[str]:
    """Lower-case words, with commas kept as their own token and the final period dropped."""
    return text.lower().rstrip(".").replace(",", " ,").split()


@cache
def task(name: str, n: int = 1200, seed: int = 0) -> TaskData:
    return make_task(name, n=n, seed=seed)


def bow_accuracy(data: TaskData, fit: np.ndarray, score: np.ndarray) -> float:
    texts = np.array(data.texts)
    vec = CountVectorizer()
    clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform(texts[fit]), data.labels[fit])
    return float(clf.score(vec.transform(texts[score]), data.labels[score]))


# ---------------------------------------------------------------------------------------------- API
def test_list_tasks_names_and_flags():
    infos = list_tasks()
    assert all(isinstance(t, TaskInfo) for t in infos)
    assert REQUIRED <= set(NAMES)
    flags = {t.name: t.bag_of_words_solvable for t in infos}
    assert flags == {"sentence_length": True, "subject_number": False, "tense": True, "negation": True,
                     "sentiment": True, "bigram_shift": False, "who_did_what": False}
    for t in infos:
        held = "Held-out vocabulary" in t.description
        assert held == (t.name in CARRIERS), t.name
        assert held or "No held-out vocabulary" in t.description


@pytest.mark.parametrize("name", NAMES)
def test_shapes_types_and_text_form(name):
    data = task(name)
    info = next(t for t in list_tasks() if t.name == name)
    assert data.name == name and data.seed == 0 and data.classes == info.classes
    assert data.description == info.description
    assert len(data.texts) == 1200 and data.labels.shape == (1200,) and data.split.shape == (1200,)
    assert data.labels.dtype == np.int64 and data.split.dtype == np.int8
    assert set(data.labels.tolist()) == set(range(len(data.classes)))
    assert set(data.split.tolist()) == {0, 1, 2}
    for text in data.texts:
        assert text[0].isupper() and text.endswith(".") and "  " not in text and " ," not in text


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_seed(name):
    a, b, c = make_task(name, n=300, seed=7), make_task(name, n=300, seed=7), make_task(name, n=300, seed=8)
    assert a.texts == b.texts
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.split, b.split)
    assert a.texts != c.texts
    assert sum(x == y for x, y in zip(a.texts, c.texts, strict=True)) < 30


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("n", "val_frac", "test_frac"), [(1200, 0.15, 0.15), (301, 0.1, 0.25), (30, 0.15, 0.15)]
)
def test_split_fractions_and_class_balance(name, n, val_frac, test_frac):
    data = make_task(name, n=n, seed=3, val_frac=val_frac, test_frac=test_frac)
    sizes = [int((data.split == s).sum()) for s in (0, 1, 2)]
    assert sum(sizes) == n
    assert abs(sizes[1] - n * val_frac) <= 1 and abs(sizes[2] - n * test_frac) <= 1
    for s in (0, 1, 2):
        counts = np.bincount(data.labels[data.split == s], minlength=len(data.classes))
        assert counts.min() >= 1 and counts.max() - counts.min() <= 1, (s, counts)


@pytest.mark.parametrize("name", NAMES)
def test_large_n_has_no_duplicates_and_val_test_differ(name):
    data = task(name, n=20000)
    assert len(set(data.texts)) >= 0.99 * len(data.texts)
    texts = np.array(data.texts)
    assert not set(texts[data.split == 1]) & set(texts[data.split == 2])


# ----------------------------------------------------------------------------------------- held-out words
@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_held_out_vocabulary_is_disjoint(name):
    data = task(name)
    carriers = CARRIERS[name]

    def used(d: TaskData, parts: tuple[int, ...]) -> set[str]:
        return {w for t, s in zip(d.texts, d.split, strict=True) if s in parts for w in tokens(t)} & carriers

    train, val, test = used(data, (0,)), used(data, (1,)), used(data, (2,))
    assert train and val and test
    assert not train & (val | test)
    assert len(val | test) < len(train)  # a third of each pool is held out
    # the held-out pools depend on (name, seed) only, not on n
    assert not used(data, (1, 2)) & used(task(name, n=300), (0,))


def test_tasks_without_held_out_words_share_vocabulary():
    data = task("negation")
    words = [set(tokens(t)) for t in data.texts]
    train = set().union(*(w for w, s in zip(words, data.split, strict=True) if s == 0))
    test = set().union(*(w for w, s in zip(words, data.split, strict=True) if s == 2))
    assert len(test & train) > 0.8 * len(test)


# ---------------------------------------------------------------------------------------------- labels
def test_sentence_length_bin_matches_word_count():
    data = task("sentence_length")
    bins = ((4, 8), (9, 13), (14, 20))
    for text, label in zip(data.texts, data.labels, strict=True):
        lo, hi = bins[label]
        assert lo <= len(text.split()) <= hi, text


def test_negation_label_matches_markers():
    data = task("negation")
    for text, label in zip(data.texts, data.labels, strict=True):
        marked = any(w in {"not", "never", "cannot"} or w.endswith("n't") for w in tokens(text))
        assert marked == bool(label), text


def test_sentiment_has_one_evaluative_word_of_the_label_polarity():
    data = task("sentiment")
    for text, label in zip(data.texts, data.labels, strict=True):
        hits = [w for w in tokens(text) if w in POSITIVE | NEGATIVE]
        assert len(hits) == 1, text
        assert (hits[0] in POSITIVE) == (data.classes[label] == "positive"), text


def test_subject_number_label_and_distractor():
    data = task("subject_number")
    for text, label in zip(data.texts, data.labels, strict=True):
        words = tokens(text)
        assert set(words) & SINGULAR and set(words) & PLURAL, text  # a noun of each number, always
        start = words.index(",") + 1 if "," in words else 0  # fronted phrases end in a comma
        subject = next(w for w in words[start:] if w in SINGULAR | PLURAL)
        assert (subject in PLURAL) == (data.classes[label] == "plural"), text


def test_tense_label_is_the_main_verb_and_half_have_a_distractor():
    data = task("tense")
    with_both = 0
    for text, label in zip(data.texts, data.labels, strict=True):
        words = tokens(text)
        verbs = [i for i, w in enumerate(words) if w in PRESENT | PAST]
        main = next(words[i] for i in verbs if words[i - 1] != "that")  # relative-clause verbs follow "that"
        assert (main in PAST) == (data.classes[label] == "past"), text
        with_both += bool(set(words) & PAST) and bool(set(words) & PRESENT)
    assert 0.4 < with_both / len(data.texts) < 0.6


def test_who_did_what_label_matches_roles():
    data = task("who_did_what")
    for text, label in zip(data.texts, data.labels, strict=True):
        words = tokens(text)
        people = [i for i, w in enumerate(words) if w in PERSON]
        animals = [i for i, w in enumerate(words) if w in ANIMAL]
        assert len(people) == 1 and len(animals) == 1, text
        if "by" in words:  # passive: the agent follows "by"
            person_is_agent = people[0] > words.index("by")
        else:
            person_is_agent = people[0] < animals[0]
        assert person_is_agent == (data.classes[label] == "agent"), text


def test_bigram_shift_classes_have_the_same_length_profile():
    data = task("bigram_shift", n=20000)
    lengths = np.array([len(t.split()) for t in data.texts])
    assert abs(lengths[data.labels == 0].mean() - lengths[data.labels == 1].mean()) < 0.2


# ---------------------------------------------------------------------------------------------- bag of words
@pytest.mark.parametrize("name", NAMES)
def test_bag_of_words_flag(name):
    """On seen vocabulary (two halves of train), a bag of words solves exactly the tasks flagged solvable."""
    data = task(name, n=6000) if name == "tense" else task(name, n=2000)
    train = np.flatnonzero(data.split == 0)
    acc = bow_accuracy(data, train[::2], train[1::2])
    solvable = next(t for t in list_tasks() if t.name == name).bag_of_words_solvable
    if solvable:
        assert acc > 0.65, acc
    else:
        assert acc < 0.6, acc
        assert bow_accuracy(data, data.split == 0, data.split == 2) < 0.6


def test_held_out_words_defeat_word_memorization():
    sentiment = task("sentiment", n=2000)
    assert bow_accuracy(sentiment, sentiment.split == 0, sentiment.split == 2) < 0.6
    negation = task("negation", n=2000)  # closed-class cues are not held out and still work
    assert bow_accuracy(negation, negation.split == 0, negation.split == 2) > 0.9


# ---------------------------------------------------------------------------------------------- lexicon
def test_lexicon_is_large_and_unambiguous():
    for pool in (lx.PEOPLE, lx.ANIMALS, lx.OBJECTS, lx.REVIEW_TARGETS, lx.TRANSITIVE_ANIMATE,
                 lx.TRANSITIVE_OBJECT, lx.INTRANSITIVE, lx.POSITIVE_ADJECTIVES, lx.NEGATIVE_ADJECTIVES):
        assert len(pool) >= 40 and len(set(pool)) == len(pool)
    assert len(lx.POSITIVE_VERBS) >= 12 and len(lx.NEGATIVE_VERBS) >= 12
    assert not PRESENT & PAST and not SINGULAR & PLURAL and not PERSON & ANIMAL and not POSITIVE & NEGATIVE
    for base, third, past, _ in VERBS + lx.POSITIVE_VERBS + lx.NEGATIVE_VERBS:
        assert third.endswith("s") and base != past and all(re.fullmatch("[a-z]+", f) for f in (base, past))
    groups = {
        "verbs": PRESENT | PAST | {v[3] for v in VERBS},
        "nouns": PERSON | ANIMAL | {f for p in lx.OBJECTS + lx.REVIEW_TARGETS for f in p} | set(lx.PLACES),
        "sentiment": POSITIVE | NEGATIVE,
        "adjectives": set(lx.ANIMATE_ADJECTIVES + lx.OBJECT_ADJECTIVES + lx.REVIEW_MODIFIERS),
        "adverbs": set(lx.ADVERBS + lx.FREQUENCY_ADVERBS),
    }
    names = list(groups)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not groups[a] & groups[b], (a, b, groups[a] & groups[b])
    function = set(" ".join(lx.TIME_PHRASES).split()) | set(lx.PREPOSITIONS + lx.DETERMINERS + lx.MODALS)
    assert not function & (groups["verbs"] | groups["sentiment"])
    everything = set().union(*groups.values(), function)
    assert not everything & {"not", "never", "no", "nothing", "nobody", "none", "cannot"}


# ---------------------------------------------------------------------------------------------- errors
def test_unknown_task_lists_the_names():
    with pytest.raises(DataError) as err:
        make_task("sentence_lenght")
    for name in NAMES:
        assert name in str(err.value)


def test_too_small_n_states_a_minimum_that_works():
    with pytest.raises(DataError, match=r"n >= 30"):
        make_task("negation", n=29)
    with pytest.raises(DataError, match=r"n >= \d+") as err:
        make_task("sentence_length", n=100, val_frac=0.01, test_frac=0.2)
    minimum = int(re.search(r"n >= (\d+)", str(err.value)).group(1))
    data = make_task("sentence_length", n=minimum, val_frac=0.01, test_frac=0.2)
    assert np.bincount(data.labels[data.split == 1]).min() >= 1


@pytest.mark.parametrize(
    ("val_frac", "test_frac"),
    [(0.0, 0.2), (0.2, 1.0), (-0.1, 0.2), (0.5, 0.5), (0.7, 0.4), (float("nan"), 0.1)],
)
def test_bad_fractions(val_frac, test_frac):
    with pytest.raises(ConfigError):
        make_task("tense", n=200, val_frac=val_frac, test_frac=test_frac)


@pytest.mark.parametrize("kwargs", [{"n": 200.0}, {"n": "200"}, {"seed": -1}, {"seed": 1.5}])
def test_bad_n_or_seed(kwargs):
    with pytest.raises(ConfigError):
        make_task("tense", **kwargs)
