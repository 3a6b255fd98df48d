"""The fact table, the true_false task (entities held out by split) and forced completions."""

from __future__ import annotations

import numpy as np
import pytest

from probewise.data.facts import entity_split, facts, forced_completions, make_true_false
from probewise.data.tasks import make_task
from probewise.errors import DataError
from probewise.extract import task_examples


def test_true_false_balanced_and_entities_disjoint():
    t = make_task("true_false", n=600, seed=1)
    assert [int((t.split == s).sum()) for s in range(3)] == [420, 90, 90]
    for s in range(3):
        counts = np.bincount(t.labels[t.split == s])
        assert counts.max() - counts.min() <= 1
    by_split = [set(t.groups[t.split == s].tolist()) for s in range(3)]
    assert not (by_split[0] & by_split[1]) and not (by_split[0] & by_split[2]) and not (by_split[1] & by_split[2])
    truth = {f.entity: f.answer for f in facts()}
    for text, label, g in zip(t.texts, t.labels, t.groups, strict=True):
        assert (truth[g] in text.replace(".", " ").split()) == bool(label) or g.startswith(("add", "mul"))
    ex = task_examples(t)
    assert ex.groups is not None and list(ex.groups) == list(t.groups)
    assert make_true_false(n=600, seed=1).texts == t.texts


def test_too_large_n_names_the_maximum():
    with pytest.raises(DataError, match="at most"):
        make_true_false(n=5000)


def test_forced_completions_split_and_wrong():
    codes = entity_split(seed=0)
    fcs = forced_completions(seed=0)
    assert len(fcs) == len(facts())
    for fc in fcs:
        assert fc.correct != fc.wrong and codes[fc.entity] == fc.split
