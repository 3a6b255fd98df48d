"""Built-in token-level diagnostic tasks: one label per word, generated from a seed, no download.

Sentences come from a small English grammar whose every word's part of speech is known by construction.
They are whitespace-tokenized word lists: punctuation (``,`` and the final ``.``) is a word of its own, the
first word is capitalized, and ``I`` is written upper case. Labels are per word; to probe a subword model,
tokenize with ``is_split_into_words=True`` and give each word's label to its first sub-token (``-100`` to the
others and to special tokens).

Nouns, adjectives and verbs are split at random (from the seed) into two disjoint pools: train sentences use
two thirds of each word list, val and test sentences only the other third, so a probe that memorizes which
word has which label fails on val and test. The same ``(name, n, seed, val_frac, test_frac)`` always gives
the same data.

Example:
    >>> from probewise.data.token_tasks import make_token_task
    >>> task = make_token_task("pos_tags", n=100, seed=0)
    >>> len(task.words), [int((task.split == s).sum()) for s in (0, 1, 2)]
    (100, [70, 15, 15])
    >>> task.words[12], [task.classes[t] for t in task.word_labels[12]]
    (['The', 'busy', 'dog', 'walked', '.'], ['DET', 'ADJ', 'NOUN', 'VERB', 'PUNCT'])
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from probewise.data import lexicon as lx
from probewise.data.splits import check_fractions
from probewise.errors import ConfigError, DataError

Tagged = list[tuple[str, str]]
Pools = dict[str, tuple]

POS_TAGS: tuple[str, ...] = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "NOUN", "NUM", "PART", "PRON", "PUNCT", "SCONJ", "VERB",
)
INSERTED_CLASSES: tuple[str, ...] = ("original", "inserted")

_MIN_N = 30
_MAX_TRIES = 100  # redraws of a sentence that duplicates an earlier one
_HELDOUT_SHARE = 1 / 3
_ADJECTIVES = tuple(dict.fromkeys(lx.ANIMATE_ADJECTIVES + lx.OBJECT_ADJECTIVES))
_POOLS: Pools = {
    "people": lx.PEOPLE, "animals": lx.ANIMALS, "objects": lx.OBJECTS, "places": lx.PLACES,
    "tverbs": lx.TRANSITIVE_ANIMATE, "overbs": lx.TRANSITIVE_OBJECT, "iverbs": lx.INTRANSITIVE,
    "adjectives": _ADJECTIVES,
}
#: The word pools split between train and val/test sentences.
HELDOUT_POOLS: tuple[str, ...] = tuple(_POOLS)

_DET_SG = ("the", "the", "the", "a", "this", "every")
_DET_PL = ("the", "the", "these", "those", "some")
_NUMBERS = ("two", "three", "four", "five", "six")
_SUBJECT_PRONOUNS = (("i", "1sg"), ("we", "pl"), ("they", "pl"), ("you", "pl"), ("he", "3sg"), ("she", "3sg"))
_OBJECT_PRONOUNS = ("me", "us", "them", "him", "her", "you")
_INTENSIFIERS = ("very", "quite", "rather", "really")
_UNGRADABLE = frozenset("red blue green yellow wooden plastic metal round".split())  # no "very wooden"
_ANIMATE = ("people", "animals")
_VERB_KINDS = ("tverbs", "overbs", "iverbs")
_BE = {"1sg": ("am", "was"), "3sg": ("is", "was"), "pl": ("are", "were")}
_HAVE = {"1sg": "have", "3sg": "has", "pl": "have"}
_DO = {"1sg": "do", "3sg": "does", "pl": "do"}
# Time phrases whose words are in no noun pool ("after school" would leak a held-out place).
_TIME_PHRASES = tuple(p for p in lx.TIME_PHRASES if not set(p.split()) & set(lx.PLACES))
_TIME_WORDS = frozenset(w for p in _TIME_PHRASES for w in p.split())
_TIME_TAGS = {"in": "ADP", "at": "ADP", "after": "ADP", "before": "ADP", "on": "ADP", "the": "DET", "every": "DET"}


@dataclass(frozen=True)
class TokenTaskInfo:
    """What a built-in token task labels."""

    name: str
    description: str
    classes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class TokenTaskData:
    """A generated token task.

    Attributes:
        words: ``n`` sentences as word lists.
        word_labels: one int label per word (an index into ``classes``).
        classes: the label names.
        split: int8 ``[n]`` (0 train, 1 val, 2 test).
        spans: per sentence, the ``[start, end)`` word spans of the labelled phrases (``inserted_word``: the
            inserted fragment, if any); empty lists for ``pos_tags``.
    """

    name: str
    words: list[list[str]]
    word_labels: list[list[int]]
    classes: tuple[str, ...]
    split: np.ndarray
    seed: int
    description: str
    spans: list[list[tuple[int, int]]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- grammar
def _article(words: Tagged) -> Tagged:
    """``a`` becomes ``an`` before a vowel."""
    return [("an", t) if w == "a" and i + 1 < len(words) and words[i + 1][0][0] in "aeiou" else (w, t)
            for i, (w, t) in enumerate(words)]


def _adjective(rng: random.Random, pools: Pools, kind: str) -> Tagged:
    adj = rng.choice(pools["animate_adj" if kind in _ANIMATE else "object_adj"])
    out = [(rng.choice(_INTENSIFIERS), "ADV")] if adj not in _UNGRADABLE and rng.random() < 0.2 else []
    return [*out, (adj, "ADJ")]


def _np(rng: random.Random, pools: Pools, kind: str, plural: bool, adj_p: float = 0.3,
        number: bool = False) -> Tagged:
    """Determiner (or number), optional adjective, noun; places are singular and take no adjective."""
    if kind == "places":
        return _article([(rng.choice(("the", "the", "a")), "DET"), (rng.choice(pools["places"]), "NOUN")])
    sg, pl = rng.choice(pools[kind])
    if plural:
        det = (rng.choice(_NUMBERS), "NUM") if number or rng.random() < 0.25 else (rng.choice(_DET_PL), "DET")
    else:
        det = (rng.choice(_DET_SG), "DET")
    adj = _adjective(rng, pools, kind) if number or rng.random() < adj_p else []
    return _article([det, *adj, (pl if plural else sg, "NOUN")])


def _subject(rng: random.Random, pools: Pools, full: bool = False) -> tuple[Tagged, str]:
    """A subject and its agreement class: ``1sg`` (I), ``3sg`` or ``pl``."""
    r = rng.random()
    if not full and r < 0.2:
        word, agr = rng.choice(_SUBJECT_PRONOUNS)
        return [(word, "PRON")], agr
    if full or r < 0.3:  # the farmer and two old dogs
        first = _np(rng, pools, rng.choice(_ANIMATE), False, adj_p=0.0)
        return first + [("and", "CCONJ")] + _np(rng, pools, rng.choice(_ANIMATE), True, number=full), "pl"
    plural = rng.random() < 0.5
    out = _np(rng, pools, rng.choice(_ANIMATE), plural)
    if rng.random() < 0.15:  # the dog that chased the cat
        out += [("that", "PRON")] + _vp(rng, pools, "3sg", tail_p=0.0, mode="past")
    return out, "pl" if plural else "3sg"


def _tail(rng: random.Random, pools: Pools, p: float, full: bool = False) -> Tagged:
    """Optional place phrase, time phrase and manner adverb at the end of a clause."""
    out: Tagged = []
    if full or rng.random() < p:
        out += [(rng.choice(lx.PREPOSITIONS), "ADP"), *_np(rng, pools, "places", False)]
    elif rng.random() < p / 2:
        out += [(w, _TIME_TAGS.get(w, "NOUN")) for w in rng.choice(_TIME_PHRASES).split()]
    if full or rng.random() < p / 2:
        out.append((rng.choice(lx.ADVERBS), "ADV"))
    return out


def _vp(rng: random.Random, pools: Pools, agr: str, tail_p: float = 0.5, mode: str = "",
        full: bool = False) -> Tagged:
    """A verb group (simple, modal, perfect or negated with do) with its object and tail."""
    kind = "tverbs" if full else rng.choice(_VERB_KINDS)
    base, third, past, participle = rng.choice(pools[kind])
    mode = "modal" if full else mode or rng.choice(("past", "past", "present", "modal", "perfect", "do"))
    negated = full or rng.random() < 0.3
    if mode in ("past", "present"):
        freq = [(rng.choice(lx.FREQUENCY_ADVERBS), "ADV")] if rng.random() < 0.15 else []
        form = past if mode == "past" else third if agr == "3sg" else base
        verb = [*freq, (form, "VERB")]
    elif mode == "modal":
        verb = [(rng.choice(lx.MODALS), "AUX"), *([("not", "PART")] if negated else []), (base, "VERB")]
    elif mode == "perfect":
        aux = "had" if rng.random() < 0.5 else _HAVE[agr]
        verb = [(aux, "AUX"), *([("not", "PART")] if negated else []), (participle, "VERB")]
    else:
        verb = [("did" if rng.random() < 0.5 else _DO[agr], "AUX"), ("not", "PART"), (base, "VERB")]
    if kind == "tverbs":
        if full or rng.random() < 0.2:
            obj = [(rng.choice(_OBJECT_PRONOUNS), "PRON")]
        else:
            obj = _np(rng, pools, rng.choice(_ANIMATE), rng.random() < 0.5)
    else:
        obj = _np(rng, pools, "objects", rng.random() < 0.5) if kind == "overbs" else []
    return verb + obj + _tail(rng, pools, tail_p, full)


def _clause(rng: random.Random, pools: Pools, full: bool = False) -> Tagged:
    if not full and rng.random() < 0.15:  # copular: the box was very heavy
        kind = rng.choice((*_ANIMATE, "objects"))
        plural = rng.random() < 0.5
        subj, agr = _np(rng, pools, kind, plural), "pl" if plural else "3sg"
        be = [(_BE[agr][rng.random() < 0.6], "AUX")] + ([("not", "PART")] if rng.random() < 0.2 else [])
        return subj + be + _adjective(rng, pools, kind)
    subj, agr = _subject(rng, pools, full)
    return subj + _vp(rng, pools, agr, full=full)


def _sentence(rng: random.Random, pools: Pools, full: bool = False) -> Tagged:
    """One tagged sentence; ``full`` forces a shape that holds every tag of :data:`POS_TAGS`."""
    main = _clause(rng, pools, full)
    r = rng.random()
    if full or r < 0.2:  # because the cat slept , the dogs chased it
        out = [(rng.choice(lx.SUBORDINATORS), "SCONJ"), *_clause(rng, pools), (",", "PUNCT"), *main]
    elif r < 0.35:
        out = main + [(rng.choice(lx.SUBORDINATORS), "SCONJ"), *_clause(rng, pools)]
    elif r < 0.45:
        out = main + [(",", "PUNCT"), (rng.choice(("and", "but")), "CCONJ"), *_clause(rng, pools)]
    elif r < 0.55:  # near the barn , the dog slept
        out = [(rng.choice(lx.PREPOSITIONS), "ADP"), *_np(rng, pools, "places", False), (",", "PUNCT"), *main]
    else:
        out = main
    return out + [(".", "PUNCT")]


# ---------------------------------------------------------------------------------------------- tasks
def _pos_tags(rng: random.Random, pools: Pools, flag: int, full: bool) -> tuple[Tagged, list[int], list]:
    tagged = _sentence(rng, pools, full)
    return tagged, [POS_TAGS.index(t) for _, t in tagged], []


def _inserted_word(rng: random.Random, pools: Pools, flag: int, full: bool) -> tuple[Tagged, list[int], list]:
    host = _sentence(rng, pools)
    if not flag:
        return host, [0] * len(host), []
    noun = rng.random() < 0.5
    donor = _sentence(rng, pools)
    nouns = [wt for wt in donor if wt[1] == "NOUN" and wt[0] not in _TIME_WORDS]
    while not (nouns if noun else any(t == "VERB" for _, t in donor)):
        donor = _sentence(rng, pools)
        nouns = [wt for wt in donor if wt[1] == "NOUN" and wt[0] not in _TIME_WORDS]
    if noun:  # one noun of the lexicon (not "night" or "lunch" from a time phrase)
        fragment = [rng.choice(nouns)]
    else:  # a verb with up to two following words: "chased the", "slept quietly"
        i = rng.choice([i for i, (_, t) in enumerate(donor) if t == "VERB"])
        fragment = [donor[i]]
        for wt in donor[i + 1 : i + rng.randint(1, 3)]:
            if wt[1] in ("PUNCT", "CCONJ", "SCONJ"):
                break
            fragment.append(wt)
    # never first, never after the final ".", never inside a noun phrase ("the [rescued] goats" would parse)
    spots = [i for i in range(1, len(host)) if host[i - 1][1] not in ("DET", "NUM", "ADJ")
             and not (host[i - 1][1] == "ADV" and host[i][1] == "ADJ")]
    at = rng.choice(spots)
    words = host[:at] + fragment + host[at:]
    return words, [0] * at + [1] * len(fragment) + [0] * (len(host) - at), [(at, at + len(fragment))]


@dataclass(frozen=True)
class _Spec:
    info: TokenTaskInfo
    generate: Callable[[random.Random, Pools, int, bool], tuple[Tagged, list[int], list]]
    balanced: bool  # half the sentences of each split carry the phenomenon


_HELD = ("Nouns, adjectives and verbs are split at random (from the seed) into disjoint pools: train sentences "
         "use two thirds of each list, val and test sentences only the other third. Punctuation (',' and the "
         "final '.') is a separate word; the first word is capitalized.")
_SPECS: dict[str, _Spec] = {s.info.name: s for s in (
    _Spec(TokenTaskInfo(
        "pos_tags",
        "Coarse part of speech of every word (Universal Dependencies tags: determiners, numbers, adjectives, "
        "nouns, pronouns including relative 'that', auxiliaries and modals, 'not' as PART, verbs, adverbs, "
        "prepositions as ADP, coordinating and subordinating conjunctions, punctuation), known from the "
        "grammar that generated the sentence. 'after' and 'before' are ADP in time phrases and SCONJ before "
        "a clause. The first sentence of each split holds every tag. " + _HELD,
        POS_TAGS), _pos_tags, False),
    _Spec(TokenTaskInfo(
        "inserted_word",
        "Which words do not belong? Half the sentences of each split carry one fragment inserted at a random "
        "position (never first, never after the final '.', never inside a noun phrase): a noun or a verb with "
        "up to two following words, cut from another generated sentence, so the sentence no longer parses. "
        "Its words are labelled 1 ('inserted'), every other word 0; `spans` holds the fragment's [start, end) "
        "word span. " + _HELD,
        INSERTED_CLASSES), _inserted_word, True),
)}


def list_token_tasks() -> list[TokenTaskInfo]:
    """The built-in token tasks, in a fixed order.

    Example:
        >>> from probewise.data.token_tasks import list_token_tasks
        >>> [t.name for t in list_token_tasks()]
        ['pos_tags', 'inserted_word']
    """
    return [spec.info for spec in _SPECS.values()]


def make_token_task(
    name: str, n: int = 1000, seed: int = 0, val_frac: float = 0.15, test_frac: float = 0.15
) -> TokenTaskData:
    """Generate ``n`` word-labelled sentences of a built-in token task with a train/val/test split.

    The held-out word pools depend on ``(name, seed)`` only. ``inserted_word`` balances sentences with and
    without an insertion within one in each split; ``pos_tags`` makes the first sentence of each split one
    that holds every tag, so every class occurs in every split.

    Raises:
        DataError: an unknown task name (the message lists the built-in ones).
        ConfigError: ``n`` not an integer or below 30, a negative seed, fractions out of range.

    Example:
        >>> from probewise.data.token_tasks import make_token_task
        >>> task = make_token_task("inserted_word", n=60, seed=1)
        >>> i = next(i for i, s in enumerate(task.spans) if s)
        >>> start, end = task.spans[i][0]
        >>> task.word_labels[i][start:end] == [1] * (end - start), sum(task.word_labels[i]) == end - start
        (True, True)
    """
    if name not in _SPECS:
        raise DataError(f"unknown token task {name!r}; the built-in token tasks are: {', '.join(_SPECS)}.")
    spec = _SPECS[name]
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < _MIN_N:
        raise ConfigError(f"n={n!r} must be an integer >= {_MIN_N} (sentences), e.g. 1000.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer.")
    check_fractions(val_frac, test_frac)
    n = int(n)
    n_val, n_test = math.floor(n * val_frac + 0.5), math.floor(n * test_frac + 0.5)
    sizes = (n - n_val - n_test, n_val, n_test)
    if min(sizes) < 2:
        raise ConfigError(f"n={n} with val_frac={val_frac}, test_frac={test_frac} leaves a split of "
                          f"{min(sizes)} sentences; every split needs at least 2. Raise n or the fractions.")
    vocab_seq, plan_seq, text_seq = np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]).spawn(3)
    pools = _split_vocabulary(np.random.default_rng(vocab_seq))
    flags, split = _plan(sizes, np.random.default_rng(plan_seq))
    first = {int(np.flatnonzero(split == s)[0]) for s in range(3)}
    rng = random.Random(int(text_seq.generate_state(1)[0]))
    words, labels, spans, seen = [], [], [], set()
    for i, (flag, part) in enumerate(zip(flags.tolist(), split.tolist(), strict=True)):
        for _ in range(_MAX_TRIES):
            tagged, labs, sp = spec.generate(rng, pools[min(part, 1)], flag if spec.balanced else 0, i in first)
            text = " ".join(w for w, _ in tagged)
            if text not in seen:
                break
        seen.add(text)
        words.append(_capitalize([w for w, _ in tagged]))
        labels.append(labs)
        spans.append(sp)
    return TokenTaskData(name, words, labels, spec.info.classes, split, int(seed), spec.info.description, spans)


def _capitalize(words: list[str]) -> list[str]:
    out = ["I" if w == "i" else w for w in words]
    out[0] = out[0][0].upper() + out[0][1:]
    return out


def _split_vocabulary(rng: np.random.Generator) -> tuple[Pools, Pools]:
    """Word pools for train sentences and for val/test sentences, disjoint for every pool."""
    train, held = {}, {}
    for name, words in _POOLS.items():
        for _ in range(_MAX_TRIES):
            order = rng.permutation(len(words))
            cut = max(2, round(len(words) * _HELDOUT_SHARE))
            held[name] = tuple(words[i] for i in sorted(order[:cut]))
            train[name] = tuple(words[i] for i in sorted(order[cut:]))
            if name != "adjectives" or all(
                len(set(part[name]) & set(kind)) >= 2
                for part in (train, held) for kind in (lx.ANIMATE_ADJECTIVES, lx.OBJECT_ADJECTIVES)
            ):
                break
    for part in (train, held):
        part["animate_adj"] = tuple(a for a in part["adjectives"] if a in lx.ANIMATE_ADJECTIVES)
        part["object_adj"] = tuple(a for a in part["adjectives"] if a in lx.OBJECT_ADJECTIVES)
    return train, held


def _plan(sizes: tuple[int, int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Flags (0/1, balanced within one per split) and split codes ``[n]``, in shuffled order."""
    flags, split = [], []
    for part, size in enumerate(sizes):
        half = np.zeros(size, dtype=np.int64)
        half[: size // 2 + (size % 2) * int(rng.integers(2))] = 1
        flags.append(half)
        split.append(np.full(size, part))
    order = rng.permutation(sum(sizes))
    return np.concatenate(flags)[order], np.concatenate(split)[order].astype(np.int8)
