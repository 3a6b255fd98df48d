"""A fact table the package ships (capitals, chemical symbols, arithmetic) and the tasks built from it.

`make_true_false` turns the facts into true and false statements (task `true_false`): every false
statement is the minimal pair of a true one (same entity, same template, a wrong answer of the same kind).
**Entities are held out**: each fact's entity (a country, an element, an arithmetic problem) belongs to
exactly one split, chosen per domain from the seed, and the wrong answers of a split come from that split's
entities only, so no entity appears in two splits; the entity is each row's group. `forced_completions`
gives the same facts as prompts with a correct and a wrong single-token continuation.

Example:
    >>> from probewise.data.facts import make_true_false
    >>> task = make_true_false(n=200, seed=0)
    >>> task.classes, [int((task.split == s).sum()) for s in (0, 1, 2)]
    (('false', 'true'), [140, 30, 30])
    >>> len({str(g) for g, s in zip(task.groups, task.split) if s == 0} & set(task.groups[task.split == 2]))
    0
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from probewise.data.splits import check_fractions
from probewise.data.tasks import TaskData, TaskInfo, _split_sizes
from probewise.errors import ConfigError, DataError

__all__ = ["FACT_DOMAINS", "TRUE_FALSE", "Fact", "ForcedCompletion", "entity_split", "facts", "forced_completions",
           "make_true_false"]

_CAPITALS = (
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Portugal", "Lisbon"),
    ("Japan", "Tokyo"), ("China", "Beijing"), ("Russia", "Moscow"), ("Egypt", "Cairo"), ("Canada", "Ottawa"),
    ("Australia", "Canberra"), ("Greece", "Athens"), ("Ireland", "Dublin"), ("Austria", "Vienna"),
    ("Hungary", "Budapest"), ("Poland", "Warsaw"), ("Norway", "Oslo"), ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"), ("Denmark", "Copenhagen"), ("the Netherlands", "Amsterdam"), ("Belgium", "Brussels"),
    ("Switzerland", "Bern"), ("the Czech Republic", "Prague"), ("Turkey", "Ankara"), ("Iran", "Tehran"),
    ("Iraq", "Baghdad"), ("Pakistan", "Islamabad"), ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"),
    ("Indonesia", "Jakarta"), ("the Philippines", "Manila"), ("South Korea", "Seoul"), ("Kenya", "Nairobi"),
    ("Nigeria", "Abuja"), ("Morocco", "Rabat"), ("Peru", "Lima"), ("Chile", "Santiago"), ("Colombia", "Bogota"),
    ("Venezuela", "Caracas"), ("Cuba", "Havana"), ("Ukraine", "Kyiv"), ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"), ("Croatia", "Zagreb"), ("Syria", "Damascus"),
    ("Lebanon", "Beirut"), ("Jordan", "Amman"), ("Saudi Arabia", "Riyadh"), ("Afghanistan", "Kabul"),
    ("Nepal", "Kathmandu"), ("Bangladesh", "Dhaka"), ("Iceland", "Reykjavik"), ("Ghana", "Accra"),
    ("Senegal", "Dakar"), ("Uganda", "Kampala"), ("Zimbabwe", "Harare"), ("Qatar", "Doha"), ("Libya", "Tripoli"),
    ("Tunisia", "Tunis"), ("Sudan", "Khartoum"), ("Estonia", "Tallinn"), ("Latvia", "Riga"),
    ("Lithuania", "Vilnius"), ("Belarus", "Minsk"), ("Georgia", "Tbilisi"), ("Armenia", "Yerevan"),
    ("Slovakia", "Bratislava"), ("Slovenia", "Ljubljana"), ("the United Kingdom", "London"), ("Brazil", "Brasilia"),
)
_SYMBOLS = (
    ("hydrogen", "H"), ("helium", "He"), ("lithium", "Li"), ("beryllium", "Be"), ("boron", "B"), ("carbon", "C"),
    ("nitrogen", "N"), ("oxygen", "O"), ("fluorine", "F"), ("neon", "Ne"), ("sodium", "Na"), ("magnesium", "Mg"),
    ("aluminium", "Al"), ("silicon", "Si"), ("phosphorus", "P"), ("sulfur", "S"), ("chlorine", "Cl"),
    ("argon", "Ar"), ("potassium", "K"), ("calcium", "Ca"), ("titanium", "Ti"), ("chromium", "Cr"),
    ("manganese", "Mn"), ("iron", "Fe"), ("cobalt", "Co"), ("nickel", "Ni"), ("copper", "Cu"), ("zinc", "Zn"),
    ("arsenic", "As"), ("selenium", "Se"), ("bromine", "Br"), ("krypton", "Kr"), ("strontium", "Sr"),
    ("silver", "Ag"), ("tin", "Sn"), ("iodine", "I"), ("xenon", "Xe"), ("barium", "Ba"), ("tungsten", "W"),
    ("platinum", "Pt"), ("gold", "Au"), ("mercury", "Hg"), ("lead", "Pb"), ("radon", "Rn"), ("uranium", "U"),
    ("plutonium", "Pu"),
)
# Statement templates per domain ({0}, {1}: the fact's arguments; {a}: the answer, true or wrong).
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "capital": ("The capital of {0} is {a}.", "{a} is the capital of {0}.", "The capital city of {0} is {a}."),
    "symbol": ("The chemical symbol for {0} is {a}.", "{a} is the chemical symbol of {0}.",
               "In chemistry, {0} has the symbol {a}."),
    "addition": ("{0} + {1} = {a}.", "{0} plus {1} equals {a}.", "The sum of {0} and {1} is {a}."),
    "multiplication": ("{0} * {1} = {a}.", "{0} times {1} equals {a}.", "The product of {0} and {1} is {a}."),
}
# Forced-completion forms per domain: (prompt, continuation), tried in order until a tokenizer reads both the
# correct and the wrong continuation as one token each.
_PROMPTS: dict[str, tuple[tuple[str, str], ...]] = {
    "capital": (("The capital of {0} is", " {a}"),),
    "symbol": (("The chemical symbol for {0} is", " {a}"),),
    "addition": (("{0} + {1} =", " {a}"), ("{0} + {1} = ", "{a}")),
    "multiplication": (("{0} * {1} =", " {a}"), ("{0} * {1} = ", "{a}")),
}
FACT_DOMAINS = tuple(_TEMPLATES)
CLASSES = ("false", "true")
DESCRIPTION = (
    "Is the statement true? Capitals, chemical symbols, sums and products from a fact table the package ships; "
    "every false statement is the minimal pair of a true one (same entity and template, a wrong answer of the "
    "same kind). Held-out entities: each country, element or arithmetic problem belongs to one split only "
    "(the row's group), and wrong answers come from the same split's entities."
)

TRUE_FALSE = TaskInfo("true_false", DESCRIPTION, CLASSES, False)


@dataclass(frozen=True)
class Fact:
    """One fact: `domain` (capital, symbol, addition, multiplication), its `args` and the true `answer`."""

    domain: str
    args: tuple[str, ...]
    answer: str

    @property
    def entity(self) -> str:
        """The group id of the fact, e.g. ``capital:France`` or ``addition:3+4``."""
        return f"{self.domain}:{'+'.join(self.args)}"


class ForcedCompletion(NamedTuple):
    """A prompt with its correct and a wrong continuation (each one token where a tokenizer was given)."""

    prompt: str
    correct: str
    wrong: str
    domain: str
    entity: str
    split: int


def facts(domains: Iterable[str] | None = None) -> list[Fact]:
    """The shipped facts, in a fixed order.

    Example:
        >>> from probewise.data.facts import facts
        >>> f = facts(["capital"])[0]
        >>> f.entity, f.answer, len(facts())
        ('capital:France', 'Paris', 199)
    """
    chosen = _check_domains(domains)
    out: list[Fact] = []
    if "capital" in chosen:
        out += [Fact("capital", (c,), a) for c, a in _CAPITALS]
    if "symbol" in chosen:
        out += [Fact("symbol", (e,), s) for e, s in _SYMBOLS]
    if "addition" in chosen:
        out += [Fact("addition", (str(x), str(y)), str(x + y)) for x in range(1, 10) for y in range(x, 10)]
    if "multiplication" in chosen:
        out += [Fact("multiplication", (str(x), str(y)), str(x * y)) for x in range(2, 10) for y in range(x, 10)]
    return out


def entity_split(seed: int = 0, val_frac: float = 0.15, test_frac: float = 0.15) -> dict[str, int]:
    """Split code (0 train, 1 val, 2 test) of every fact's entity: per domain, from `seed` only.

    Example:
        >>> from probewise.data.facts import entity_split
        >>> codes = entity_split(seed=0)
        >>> sorted(set(codes.values())), codes == entity_split(seed=0)
        ([0, 1, 2], True)
    """
    _check_seed(seed)
    check_fractions(val_frac, test_frac)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(b"facts")]))
    out: dict[str, int] = {}
    for domain in FACT_DOMAINS:
        entities = [f.entity for f in facts([domain])]
        k = len(entities)
        n_val, n_test = max(1, round(val_frac * k)), max(1, round(test_frac * k))
        for rank, i in enumerate(rng.permutation(k)):
            out[entities[i]] = 1 if rank < n_val else 2 if rank < n_val + n_test else 0
    return out


def make_true_false(n: int = 1000, seed: int = 0, val_frac: float = 0.15, test_frac: float = 0.15):
    """`n` true and false statements (`TaskData` with `groups` = entity), classes balanced per split.

    Split sizes follow `val_frac`/`test_frac` as in the other built-in tasks; the statements of a split are
    drawn from its entities round-robin over the domains, so every domain appears even at small `n`. The
    largest `n` is bounded by the table (three templates per fact); a larger one is refused with the maximum.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise ConfigError(f"n={n!r} must be an integer number of statements, e.g. 1000.")
    if n < 30:
        raise DataError(f"n={n} is too small for task 'true_false': pass n >= 30 (--task-size 30 or more).")
    codes = entity_split(seed, val_frac, test_frac)
    sizes = _split_sizes(int(n), val_frac, test_frac)
    table = facts()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(b"true_false")]))
    slots = [_slots([f for f in table if codes[f.entity] == part], rng) for part in range(3)]
    too_big = [p for p in range(3) if math.ceil(sizes[p] / 2) > len(slots[p]) or sizes[p] < 2]
    if too_big:
        largest = _largest_n(slots, val_frac, test_frac)
        raise DataError(
            f"n={n} does not fit task 'true_false' with val_frac={val_frac}, test_frac={test_frac}: its fact "
            f"table gives at most {largest} statements (and at least 30). Pass n={min(largest, 1000)} "
            f"(--task-size {min(largest, 1000)})."
        )
    texts: list[str] = []
    labels: list[int] = []
    split: list[int] = []
    groups: list[str] = []
    for part, size in enumerate(sizes):
        n_true = size // 2 + int(size % 2 and rng.random() < 0.5)
        pool = {d: sorted({f.answer for f in table if f.domain == d and codes[f.entity] == part})
                for d in FACT_DOMAINS}
        for i, (fact, template) in enumerate(slots[part][: max(n_true, size - n_true)]):
            for label in (1, 0):
                if (label == 1 and i >= n_true) or (label == 0 and i >= size - n_true):
                    continue
                answer = fact.answer if label else _wrong(fact, pool[fact.domain], rng)
                texts.append(_TEMPLATES[fact.domain][template].format(*fact.args, a=answer))
                labels.append(label)
                split.append(part)
                groups.append(fact.entity)
    order = rng.permutation(len(texts))
    return TaskData(
        "true_false", [texts[i] for i in order], np.asarray(labels, dtype=np.int64)[order], CLASSES,
        np.asarray(split, dtype=np.int8)[order], int(seed), DESCRIPTION, np.asarray(groups)[order],
    )


def forced_completions(
    tokenizer: Any = None,
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    domains: Iterable[str] | None = None,
) -> list[ForcedCompletion]:
    """One prompt per fact with its correct and a wrong continuation, split by entity as `entity_split`.

    The wrong continuation is an answer of the same domain from the same split (a neighbouring number for
    arithmetic), drawn from `seed`. With a `tokenizer` (a transformers tokenizer), only facts whose correct and
    wrong continuations each add exactly one token to the prompt's tokens are kept: ``ids(prompt + cont) ==
    ids(prompt) + [one id]`` (without special tokens), trying each prompt form of the domain in turn.

    Example:
        >>> from probewise.data.facts import forced_completions
        >>> fc = forced_completions(domains=["capital"])[0]
        >>> fc.prompt, fc.correct, fc.entity
        ('The capital of France is', ' Paris', 'capital:France')
    """
    codes = entity_split(seed, val_frac, test_frac)
    table = facts(domains)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(b"forced")]))
    out: list[ForcedCompletion] = []
    for fact in table:
        part = codes[fact.entity]
        pool = sorted({f.answer for f in table if f.domain == fact.domain and codes[f.entity] == part})
        candidates = [a for a in _wrong_candidates(fact, pool) if a != fact.answer]
        candidates = [candidates[i] for i in rng.permutation(len(candidates))]
        for prompt_t, cont_t in _PROMPTS[fact.domain]:
            prompt = prompt_t.format(*fact.args)
            correct = cont_t.format(a=fact.answer)
            if tokenizer is not None and not _one_token(tokenizer, prompt, correct):
                continue
            wrong = next((cont_t.format(a=a) for a in candidates
                          if tokenizer is None or _one_token(tokenizer, prompt, cont_t.format(a=a))), None)
            if wrong is not None:
                out.append(ForcedCompletion(prompt, correct, wrong, fact.domain, fact.entity, part))
                break
    return out


# ---------------------------------------------------------------------------------------------- helpers
def _check_domains(domains: Iterable[str] | None) -> tuple[str, ...]:
    if domains is None:
        return FACT_DOMAINS
    chosen = tuple(domains) if not isinstance(domains, str) else (domains,)
    bad = [d for d in chosen if d not in FACT_DOMAINS]
    if bad or not chosen:
        raise ConfigError(f"unknown fact domain(s) {bad or chosen!r}; the domains are: {', '.join(FACT_DOMAINS)}.")
    return chosen


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer.")


def _slots(table: Sequence[Fact], rng: np.random.Generator) -> list[tuple[Fact, int]]:
    """Every (fact, template) of a split, shuffled within each domain, then interleaved round-robin."""
    per_domain = []
    for d in FACT_DOMAINS:
        own = [(f, t) for f in table if f.domain == d for t in range(len(_TEMPLATES[d]))]
        per_domain.append([own[i] for i in rng.permutation(len(own))])
    out = []
    for i in range(max((len(p) for p in per_domain), default=0)):
        out += [p[i] for p in per_domain if i < len(p)]
    return out


def _wrong_candidates(fact: Fact, pool: Sequence[str]) -> list[str]:
    if fact.domain in ("addition", "multiplication"):
        value = int(fact.answer)
        return [str(value + d) for d in (-2, -1, 1, 2) if value + d >= 0]
    return list(pool)


def _wrong(fact: Fact, pool: Sequence[str], rng: np.random.Generator) -> str:
    candidates = [a for a in _wrong_candidates(fact, pool) if a != fact.answer]
    return candidates[int(rng.integers(len(candidates)))]


def _one_token(tokenizer: Any, prompt: str, continuation: str) -> bool:
    base = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full = tokenizer(prompt + continuation, add_special_tokens=False)["input_ids"]
    return len(full) == len(base) + 1 and full[: len(base)] == base


def _largest_n(slots: list[list], val_frac: float, test_frac: float) -> int:
    n = 30
    while all(math.ceil(s / 2) <= len(slots[p]) and s >= 2
              for p, s in enumerate(_split_sizes(n + 1, val_frac, test_frac))):
        n += 1
    return n
