"""Evaluation integrity: selection sees validation only (signatures, shuffled test labels); docstrings run."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from probewise.evaluation import choose_band, choose_tfidf_C, evaluate_cascade, tfidf_baseline, threshold_report
from probewise.metrics import threshold_at_fpr
from tests.conftest import run_doctests

SELECTORS = [threshold_at_fpr, choose_band, choose_tfidf_C]


@pytest.mark.parametrize("fn", SELECTORS, ids=lambda f: f.__name__)
def test_selection_signatures_take_no_test_data(fn) -> None:
    params = list(inspect.signature(fn).parameters)
    assert not [p for p in params if "test" in p or p.endswith("_te")], params
    assert any("val" in p for p in params), params


def test_shuffled_test_labels_leave_choices_unchanged() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    s = rng.normal(size=800) + 1.5 * y
    yv, sv, yt, st = y[:400], s[:400], y[400:], s[400:]
    shuffled = rng.permutation(yt)
    a = threshold_report(yv, sv, yt, st, target_fpr=0.05, n_boot=0)
    b = threshold_report(yv, sv, shuffled, st, target_fpr=0.05, n_boot=0)
    assert a.threshold == b.threshold and a.tpr.value != b.tpr.value

    band = choose_band(sv, yv, 0.2)
    second = lambda idx: np.zeros(len(idx))  # noqa: E731
    r1 = evaluate_cascade(band.cascade(second), yt, st, n_boot=0)
    r2 = evaluate_cascade(band.cascade(second), shuffled, st, n_boot=0)
    assert r1.deferred_frac == r2.deferred_frac and r1.error.value != r2.error.value

    words = {0: ["bad", "dull", "poor"], 1: ["good", "great", "fine"]}
    lab = rng.integers(0, 2, 90)
    texts = [f"it was {rng.choice(words[int(c)])} {rng.choice(['so', 'very', 'quite'])}" for c in lab]
    args = (texts[:50], lab[:50], texts[50:70], lab[50:70])
    res1 = tfidf_baseline(*args, texts[70:], lab[70:], Cs=(0.01, 1.0, 100.0), n_boot=0)
    res2 = tfidf_baseline(*args, texts[70:], rng.permutation(lab[70:]), Cs=(0.01, 1.0, 100.0), n_boot=0)
    assert res1.chosen == res2.chosen and res1.val_scores == res2.val_scores


@pytest.mark.parametrize(
    "module", ["", ".targets", ".splits", ".curves", ".multilabel", ".thresholds", ".ood", ".controls", ".geometry"]
)
def test_docstring_examples_run(module: str) -> None:
    result = run_doctests("probewise.evaluation" + module)
    assert result.failed == 0 and result.attempted > 0
