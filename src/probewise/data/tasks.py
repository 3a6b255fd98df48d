"""Built-in diagnostic tasks: SentEval-style sentence classification, generated from a seed, no download.

Each label is fixed by how its sentence was generated. Surface cues are controlled (distractors, neutral
frames, number-neutral determiners), and where the label rides on content words, those words are split
into disjoint pools: train sentences use one pool, val and test sentences the other. A probe that only
memorizes words fails on val and test. The split is made here, stratified by label.

Example:
    >>> from probewise.data.tasks import make_task
    >>> task = make_task("negation", n=100, seed=0)
    >>> len(task.texts), task.classes, [int((task.split == s).sum()) for s in (0, 1, 2)]
    (100, ('affirmative', 'negated'), [70, 15, 15])
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from probewise.data import lexicon as lx
from probewise.data.splits import check_fractions
from probewise.errors import ConfigError, DataError

Pools = Mapping[str, tuple]
Tagged = list[tuple[str, str]]

_POOLS: dict[str, tuple] = {
    "people": lx.PEOPLE, "animals": lx.ANIMALS, "objects": lx.OBJECTS, "places": lx.PLACES,
    "tverbs": lx.TRANSITIVE_ANIMATE, "overbs": lx.TRANSITIVE_OBJECT, "iverbs": lx.INTRANSITIVE,
    "pos_adj": lx.POSITIVE_ADJECTIVES, "neg_adj": lx.NEGATIVE_ADJECTIVES,
    "pos_verbs": lx.POSITIVE_VERBS, "neg_verbs": lx.NEGATIVE_VERBS, "targets": lx.REVIEW_TARGETS,
}
_HELDOUT_SHARE = 1 / 3  # share of each held-out word pool reserved for val and test sentences
_MIN_N = 30
_MAX_TRIES = 100  # redraws of a sentence that duplicates an earlier one
_LENGTH_BINS = ((4, 8), (9, 13), (14, 20))
_VERB_KINDS = ("tverbs", "overbs", "iverbs")
_ANIMATE = ("people", "animals")


@dataclass(frozen=True)
class TaskInfo:
    """What a built-in task asks and whether a bag of words (on seen vocabulary) can answer it."""

    name: str
    description: str
    classes: tuple[str, ...]
    bag_of_words_solvable: bool


@dataclass(frozen=True, eq=False)
class TaskData:
    """A generated task: `texts` with int64 `labels` `[n]` and int8 `split` `[n]` (0 train, 1 val, 2 test).

    `groups` `[n]`: the entity of each row where the task holds entities out between splits (`true_false`).
    """

    name: str
    texts: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    split: np.ndarray
    seed: int
    description: str
    groups: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------- phrases
def _np(rng: random.Random, pools: Pools, kind: str, plural: bool, adj_p: float = 0.25) -> list[str]:
    sg, pl = rng.choice(pools[kind])
    adjectives = lx.ANIMATE_ADJECTIVES if kind in _ANIMATE else lx.OBJECT_ADJECTIVES
    out = [rng.choice(lx.DETERMINERS)]
    if rng.random() < adj_p:
        out.append(rng.choice(adjectives))
    return [*out, pl if plural else sg]


def _animate_np(rng: random.Random, pools: Pools, plural: bool) -> list[str]:
    return _np(rng, pools, rng.choice(_ANIMATE), plural)


def _place_pp(rng: random.Random, pools: Pools) -> list[str]:
    return [rng.choice(lx.PREPOSITIONS), "the", rng.choice(pools["places"])]


def _complement(rng: random.Random, pools: Pools, kind: str) -> list[str]:
    """The object a verb of this kind takes (none for intransitives)."""
    if kind == "tverbs":
        return _animate_np(rng, pools, rng.random() < 0.5)
    if kind == "overbs":
        return _np(rng, pools, "objects", rng.random() < 0.5)
    return []


def _tail(rng: random.Random, pools: Pools, p: float = 0.5) -> list[str]:
    """An optional place phrase, time phrase or adverb at the end of a clause."""
    r = rng.random()
    if r < p / 3:
        return _place_pp(rng, pools)
    if r < 2 * p / 3:
        return rng.choice(lx.TIME_PHRASES).split()
    return [rng.choice(lx.ADVERBS)] if r < p else []


def _tensed_vp(rng: random.Random, pools: Pools, past: bool, plural: bool, kind: str = "") -> list[str]:
    kind = kind or rng.choice(_VERB_KINDS)
    base, third, past_form, _ = rng.choice(pools[kind])
    form = past_form if past else (base if plural else third)
    return [form, *_complement(rng, pools, kind)]


def _unmarked_vp(rng: random.Random, pools: Pools) -> list[str]:
    """A verb phrase that does not agree with its subject: simple past or modal + base."""
    kind = rng.choice(_VERB_KINDS)
    base, _, past_form, _ = rng.choice(pools[kind])
    verb = [past_form] if rng.random() < 0.6 else [rng.choice(lx.MODALS), base]
    return verb + _complement(rng, pools, kind) + _tail(rng, pools)


# ---------------------------------------------------------------------------------------------- tasks
def _subject_number(rng: random.Random, pools: Pools, label: int) -> list[str]:
    plural = label == 1
    subj = _animate_np(rng, pools, plural)
    dist = _animate_np(rng, pools, not plural)  # the distractor always has the other number
    vp = _unmarked_vp(rng, pools)
    frame = rng.randrange(6)
    if frame == 0:  # the dogs near the cat ...
        return subj + [rng.choice(lx.PREPOSITIONS)] + dist + vp
    if frame == 1:  # the dogs that chased the cat ...
        return subj + ["that", rng.choice(pools["tverbs"])[2]] + dist + vp
    if frame == 2:  # the dogs chased the cat ...
        base, _, past_form, _ = rng.choice(pools["tverbs"])
        verb = [past_form] if rng.random() < 0.6 else [rng.choice(lx.MODALS), base]
        return subj + verb + dist + _tail(rng, pools)
    if frame == 3:  # near the cat, the dogs ...
        return [rng.choice(lx.PREPOSITIONS)] + dist + [","] + subj + vp
    if frame == 4:  # the dogs that the cat chased ...
        return subj + ["that"] + dist + [rng.choice(pools["tverbs"])[2]] + vp
    # when the cat slept, the dogs ...
    return [rng.choice(lx.SUBORDINATORS)] + dist + [rng.choice(pools["iverbs"])[2]] + [","] + subj + vp


def _tense(rng: random.Random, pools: Pools, label: int) -> list[str]:
    past = label == 1
    plural = rng.random() < 0.5
    subj = _animate_np(rng, pools, plural)
    if rng.random() < 0.5:  # no distractor
        main = _tensed_vp(rng, pools, past, plural) + _tail(rng, pools)
        return _place_pp(rng, pools) + [","] + subj + main if rng.random() < 0.3 else subj + main
    frame = rng.randrange(3)
    if frame == 0:  # the dog that sleeps outside chased the cat
        rel = _tensed_vp(rng, pools, not past, plural)
        return subj + ["that"] + rel + _tensed_vp(rng, pools, past, plural) + _tail(rng, pools, 0.3)
    if frame == 1:  # the dog chased the cat that sleeps outside
        obj_plural = rng.random() < 0.5
        verb = rng.choice(pools["tverbs"])
        main = verb[2] if past else (verb[0] if plural else verb[1])
        obj = _animate_np(rng, pools, obj_plural)
        return subj + [main] + obj + ["that"] + _tensed_vp(rng, pools, not past, obj_plural)
    # the dog chased the cat because the owl sleeps outside
    other_plural = rng.random() < 0.5
    other = _animate_np(rng, pools, other_plural)
    main = _tensed_vp(rng, pools, past, plural)
    return subj + main + [rng.choice(("because", "although"))] + other + _tensed_vp(
        rng, pools, not past, other_plural
    )


def _negation(rng: random.Random, pools: Pools, label: int) -> list[str]:
    negated = label == 1
    plural = rng.random() < 0.5
    kind = rng.choice(_VERB_KINDS)
    base, third, past_form, _ = rng.choice(pools[kind])
    mode, r = rng.randrange(3), rng.random()
    freq = rng.choice(lx.FREQUENCY_ADVERBS)
    if mode == 0:  # past
        if negated:
            verb = ["did", "not", base] if r < 0.4 else ["didn't", base] if r < 0.7 else ["never", past_form]
        else:
            verb = [past_form] if r < 0.6 else [freq, past_form]
    elif mode == 1:  # present
        present, do = (base, "do") if plural else (third, "does")
        if negated:
            verb = [do, "not", base] if r < 0.4 else [do + "n't", base] if r < 0.7 else ["never", present]
        else:
            verb = [present] if r < 0.6 else [freq, present]
    else:  # modal
        modal = rng.choice(lx.MODALS)
        if negated:
            negative = rng.choice(lx.NEGATED_MODALS[modal]).split()
            verb = [*negative, base] if r < 0.7 else [modal, "never", base]
        else:
            verb = [modal, base] if r < 0.6 else [modal, freq, base]
    vp = verb + _complement(rng, pools, kind) + _tail(rng, pools)
    subj = _animate_np(rng, pools, plural)
    frame = rng.random()
    if frame < 0.2:
        return _place_pp(rng, pools) + [","] + subj + vp
    if frame < 0.4:  # an affirmative relative clause in either class
        return subj + ["that"] + _tensed_vp(rng, pools, True, plural) + vp
    return subj + vp


_INTENSIFIERS = ("very", "truly", "really", "quite", "rather", "so")
_PRONOUNS = (("i", True), ("we", True), ("they", True), ("she", False), ("he", False))  # (word, takes base)
_REVIEW_TIMES = ("last week", "yesterday", "this year", "at first", "in the end", "last night", "again")


def _review_np(rng: random.Random, pools: Pools) -> tuple[list[str], bool]:
    plural = rng.random() < 0.3
    sg, pl = rng.choice(pools["targets"])
    mod = [rng.choice(lx.REVIEW_MODIFIERS)] if rng.random() < 0.3 else []
    return [rng.choice(("the", "the", "the", "our", "their", "my")), *mod, pl if plural else sg], plural


def _reviewer(rng: random.Random, pools: Pools) -> tuple[list[str], bool]:
    if rng.random() < 0.5:
        pronoun, plural = rng.choice(_PRONOUNS)
        return [pronoun], plural
    plural = rng.random() < 0.5
    return _np(rng, pools, "people", plural, adj_p=0.0), plural


def _sentiment(rng: random.Random, pools: Pools, label: int) -> list[str]:
    positive = label == 1
    target, t_plural = _review_np(rng, pools)
    who, takes_base = _reviewer(rng, pools)
    if rng.random() < 0.65:  # one evaluative adjective
        adj = ([rng.choice(_INTENSIFIERS)] if rng.random() < 0.4 else []) + [
            rng.choice(pools["pos_adj" if positive else "neg_adj"])
        ]
        be = rng.choice((("were", "are") if t_plural else ("was", "is")) + ("seemed", "looked", "felt"))
        frame = rng.randrange(5)
        if frame == 0:
            return target + [be] + adj
        if frame == 1:
            return who + [rng.choice(("said", "thought", "wrote", "mentioned")), "that"] + target + [be] + adj
        if frame == 2:
            return who + [rng.choice(("found", "considered", "called"))] + target + adj
        if frame == 3:
            return target + ["at", "the", rng.choice(pools["places"])] + [be] + adj
        return target + ["turned", "out", "to", "be"] + adj
    base, third, past_form, _ = rng.choice(pools["pos_verbs" if positive else "neg_verbs"])
    verb = past_form if rng.random() < 0.6 else (base if takes_base else third)
    frame = rng.randrange(3)
    if frame == 0:
        return who + [verb] + target + (rng.choice(_REVIEW_TIMES).split() if rng.random() < 0.5 else [])
    if frame == 1:
        other, _ = rng.choice(_PRONOUNS)
        return who + ["said", "that", other, past_form] + target
    return who + [verb] + target + ["at", "the", rng.choice(pools["places"])]


def _who_did_what(rng: random.Random, pools: Pools, label: int) -> list[str]:
    person_plural, animal_plural = rng.random() < 0.5, rng.random() < 0.5
    person = _np(rng, pools, "people", person_plural)
    animal = _np(rng, pools, "animals", animal_plural)
    agent, patient, agent_plural, patient_plural = (
        (person, animal, person_plural, animal_plural) if label == 0
        else (animal, person, animal_plural, person_plural)
    )
    base, third, past_form, participle = rng.choice(pools["tverbs"])
    frame = rng.randrange(6)
    if frame == 0:
        return agent + [past_form] + patient + _tail(rng, pools)
    if frame == 1:
        return agent + [base if agent_plural else third] + patient + _tail(rng, pools)
    if frame == 2:
        return agent + [rng.choice(lx.MODALS), base] + patient + _tail(rng, pools)
    if frame == 3:  # passive: the goat was chased by the farmer
        aux = rng.choice((["were"] if patient_plural else ["was"], ["are"] if patient_plural else ["is"],
                          ["will", "be"], ["had", "been"]))
        return patient + aux + [participle, "by"] + agent + _tail(rng, pools, 0.3)
    if frame == 4:
        return _place_pp(rng, pools) + [","] + agent + [past_form] + patient
    return ["it", "was"] + agent + ["that", past_form] + patient  # cleft


def _tagged_np(rng: random.Random, pools: Pools, kind: str, plural: bool, adj_p: float) -> Tagged:
    words = _np(rng, pools, kind, plural, adj_p)
    return [(words[0], "DET"), *((w, "ADJ") for w in words[1:-1]), (words[-1], "NOUN")]


def _tagged_vp(rng: random.Random, pools: Pools, plural: bool, p: float, past: bool | None = None) -> Tagged:
    kind = rng.choice(_VERB_KINDS)
    base, third, past_form, _ = rng.choice(pools[kind])
    mode = rng.randrange(3) if past is None else 0 if past else 1
    if mode == 2:
        out = [(rng.choice(lx.MODALS), "AUX"), (base, "VERB")]
    else:
        out = [(past_form if mode == 0 else base if plural else third, "VERB")]
    if kind != "iverbs":
        out += _tagged_np(rng, pools, "objects" if kind == "overbs" else rng.choice(_ANIMATE),
                          rng.random() < 0.5, p)
    if rng.random() < 0.5 * p:
        out += [(rng.choice(lx.PREPOSITIONS), "PREP"), ("the", "DET"), (rng.choice(pools["places"]), "NOUN")]
    if rng.random() < 0.3 * p:
        out.append((rng.choice(lx.ADVERBS), "ADV"))
    return out


def _generic(rng: random.Random, pools: Pools) -> Tagged:
    """A sentence from one broad grammar with part-of-speech tags; `p` sets how many optional parts it has."""
    p = rng.random()
    out: Tagged = []
    if rng.random() < 0.4 * p:
        out += [(rng.choice(lx.PREPOSITIONS), "PREP"), ("the", "DET"), (rng.choice(pools["places"]), "NOUN"),
                (",", "PUNCT")]
    plural = rng.random() < 0.5
    out += _tagged_np(rng, pools, rng.choice(_ANIMATE), plural, p)
    if rng.random() < 0.4 * p:
        out += [(rng.choice(lx.PREPOSITIONS), "PREP"), *_tagged_np(rng, pools, rng.choice(_ANIMATE),
                                                                  rng.random() < 0.5, p)]
    if rng.random() < 0.3 * p:
        out += [("that", "REL"), *_tagged_vp(rng, pools, plural, p / 2, past=True)]
    out += _tagged_vp(rng, pools, plural, p)
    if rng.random() < 0.4 * p:
        other_plural = rng.random() < 0.5
        out += [(rng.choice(lx.SUBORDINATORS), "CONJ"),
                *_tagged_np(rng, pools, rng.choice(_ANIMATE), other_plural, p / 2),
                *_tagged_vp(rng, pools, other_plural, p / 2)]
    return out


def _sentence_length(rng: random.Random, pools: Pools, label: int) -> list[str]:
    lo, hi = _LENGTH_BINS[label]
    for _ in range(10_000):
        words = [w for w, _ in _generic(rng, pools)]
        if lo <= sum(w != "," for w in words) <= hi:
            return words
    raise RuntimeError(f"no sentence of {lo}-{hi} words was drawn; the grammar no longer reaches that length")


def _bigram_shift(rng: random.Random, pools: Pools, label: int) -> list[str]:
    tagged = _generic(rng, pools)
    words = [w for w, _ in tagged]
    if label == 1:  # swap two adjacent words of different parts of speech, never an adverb or a comma
        spots = [i for i in range(len(tagged) - 1) if tagged[i][1] != tagged[i + 1][1]
                 and not {tagged[i][1], tagged[i + 1][1]} & {"ADV", "PUNCT"}]
        i = rng.choice(spots)
        words[i], words[i + 1] = words[i + 1], words[i]
    return words


# ---------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class _Spec:
    info: TaskInfo
    heldout: tuple[str, ...]  # word pools split between train and val/test sentences
    generate: Callable[[random.Random, Pools, int], list[str]]


_HELD = "Held-out vocabulary: {what} are split at random (from the seed) into disjoint pools; train " \
        "sentences use two thirds of the words, val and test sentences only the other third."
_SPECS: dict[str, _Spec] = {s.info.name: s for s in (
    _Spec(TaskInfo(
        "sentence_length",
        "Length bin by word count: short (4-8 words), medium (9-13) or long (14-20), all from one grammar "
        "with optional phrases. No held-out vocabulary: no word carries the label.",
        ("short", "medium", "long"), True), (), _sentence_length),
    _Spec(TaskInfo(
        "subject_number",
        "Is the subject of the main clause singular or plural? Every sentence also holds a distractor noun "
        "of the other number (prepositional phrase, relative clause, object, fronted phrase); verbs are past "
        "or modal and determiners number-neutral, so nothing agrees with the subject. "
        + _HELD.format(what="person and animal nouns"),
        ("singular", "plural"), False), ("people", "animals"), _subject_number),
    _Spec(TaskInfo(
        "tense",
        "Is the main verb present or past? Half the sentences hold a distractor verb of the other tense in a "
        "relative or subordinate clause, which caps a bag of words near 75%; no time adverbs. "
        + _HELD.format(what="all verbs"),
        ("present", "past"), True), _VERB_KINDS, _tense),
    _Spec(TaskInfo(
        "negation",
        "Is the main clause negated (not, n't, never, cannot)? Affirmatives fill the same slots with "
        "always/often/sometimes/usually or a bare modal. No held-out vocabulary: the label rides on "
        "closed-class words.",
        ("affirmative", "negated"), True), (), _negation),
    _Spec(TaskInfo(
        "sentiment",
        "Is the opinion positive or negative? Exactly one evaluative adjective or verb (wonderful, awful, "
        "loved, hated) sits in a neutral frame about a neutral target (film, meal, hotel). "
        + _HELD.format(what="the positive and negative adjectives and verbs"),
        ("negative", "positive"), True), ("pos_adj", "neg_adj", "pos_verbs", "neg_verbs"), _sentiment),
    _Spec(TaskInfo(
        "bigram_shift",
        "Were two adjacent words swapped (words of different parts of speech, never an adverb or a comma)? "
        "Both classes come from the same grammar, so the multiset of words carries no information. No "
        "held-out vocabulary.",
        ("original", "swapped"), False), (), _bigram_shift),
    _Spec(TaskInfo(
        "who_did_what",
        "One person noun and one animal noun linked by a transitive verb (active, passive, cleft, fronted "
        "phrase): is the person the agent (the doer) or the patient? Both labels are equally likely for the "
        "same words, so a bag of words is at chance. " + _HELD.format(what="person and animal nouns"),
        ("agent", "patient"), False), ("people", "animals"), _who_did_what),
)}


def list_tasks() -> list[TaskInfo]:
    """The built-in tasks, in a fixed order.

    Example:
        >>> from probewise.data.tasks import list_tasks
        >>> [t.name for t in list_tasks()][:3]
        ['sentence_length', 'subject_number', 'tense']
    """
    return [spec.info for spec in _SPECS.values()]


def make_task(
    name: str, n: int = 2000, seed: int = 0, val_frac: float = 0.15, test_frac: float = 0.15
) -> TaskData:
    """Generate `n` labelled sentences of a built-in task with a stratified train/val/test split.

    The same `(name, n, seed, val_frac, test_frac)` always gives the same data; the held-out word pools
    depend on `(name, seed)` only. Classes are balanced within one example in each split.

    Example:
        >>> from probewise.data.tasks import make_task
        >>> task = make_task("who_did_what", n=200, seed=1)
        >>> task.labels.shape, task.split.dtype.name, sorted(set(task.labels.tolist()))
        ((200,), 'int8', [0, 1])
    """
    if name == "true_false":
        from probewise.data.facts import make_true_false

        return make_true_false(n, seed, val_frac, test_frac)
    if name not in _SPECS:
        raise DataError(f"unknown task {name!r}; the built-in tasks are: {', '.join([*_SPECS, 'true_false'])}.")
    spec = _SPECS[name]
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise ConfigError(f"n={n!r} must be an integer number of sentences, e.g. 2000.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer.")
    check_fractions(val_frac, test_frac)
    k = len(spec.info.classes)
    sizes = _split_sizes(int(n), val_frac, test_frac)
    if n < _MIN_N or min(sizes) < k:
        raise DataError(
            f"n={n} is too small for task {name!r}: every split must hold each of its {k} classes, which "
            f"takes n >= {_min_n(k, val_frac, test_frac)} with val_frac={val_frac}, test_frac={test_frac}."
        )
    vocab_seq, plan_seq, text_seq = np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]).spawn(3)
    pools = _split_vocabulary(spec.heldout, np.random.default_rng(vocab_seq))
    labels, split = _plan(sizes, k, np.random.default_rng(plan_seq))
    rng = random.Random(int(text_seq.generate_state(1)[0]))
    texts: list[str] = []
    seen: set[str] = set()
    for label, part in zip(labels.tolist(), split.tolist(), strict=True):
        for _ in range(_MAX_TRIES):
            text = _render(spec.generate(rng, pools[min(part, 1)], label))
            if text not in seen:
                break
        seen.add(text)
        texts.append(text)
    return TaskData(name, texts, labels, spec.info.classes, split, int(seed), spec.info.description)


def _render(words: list[str]) -> str:
    text = " ".join("I" if w == "i" else w for w in words).replace(" ,", ",")
    return text[0].upper() + text[1:] + "."


def _split_sizes(n: int, val_frac: float, test_frac: float) -> tuple[int, int, int]:
    n_val, n_test = math.floor(n * val_frac + 0.5), math.floor(n * test_frac + 0.5)
    return n - n_val - n_test, n_val, n_test


def _min_n(k: int, val_frac: float, test_frac: float) -> int:
    """The smallest n from which on every split holds at least k examples."""
    smallest = min(val_frac, test_frac, 1.0 - val_frac - test_frac)
    n = max(_MIN_N, math.floor((k - 1.5) / smallest))
    while not all(min(_split_sizes(m, val_frac, test_frac)) >= k for m in range(n, n + 50)):
        n += 1
    return n


def _split_vocabulary(names: tuple[str, ...], rng: np.random.Generator) -> tuple[Pools, Pools]:
    """Word pools for train sentences and for val/test sentences; only `names` differ between the two."""
    train, held = dict(_POOLS), dict(_POOLS)
    for name in names:
        words = _POOLS[name]
        order = rng.permutation(len(words))
        cut = max(2, round(len(words) * _HELDOUT_SHARE))
        held[name] = tuple(words[i] for i in sorted(order[:cut]))
        train[name] = tuple(words[i] for i in sorted(order[cut:]))
    return train, held


def _plan(sizes: tuple[int, int, int], k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels and split codes `[n]`, classes balanced within one example per split, in shuffled order."""
    labels, split = [], []
    for part, size in enumerate(sizes):
        counts = np.full(k, size // k)
        counts[rng.permutation(k)[: size % k]] += 1
        labels.append(np.repeat(np.arange(k), counts))
        split.append(np.full(size, part))
    order = rng.permutation(sum(sizes))
    return np.concatenate(labels)[order].astype(np.int64), np.concatenate(split)[order].astype(np.int8)
