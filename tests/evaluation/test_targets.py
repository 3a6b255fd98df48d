"""Target kinds: what target_kind accepts, and what it refuses with a named reason."""

from __future__ import annotations

import numpy as np
import pytest

from probewise.errors import DataError
from probewise.evaluation import (
    target_kind,
)


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
