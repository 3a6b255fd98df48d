"""Label encoding: raw labels (strings or ints) to int64 class codes.

Example:
    >>> from probewise.data.labels import encode_labels
    >>> codes, classes = encode_labels(["pos", "neg", "pos"])
    >>> codes.tolist(), classes
    ([1, 0, 1], ('neg', 'pos'))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from probewise.errors import DataError


def is_missing(v: object) -> bool:
    """None, NaN, or a blank string."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() == "")


def _rows(idx: list[int]) -> str:
    head = ", ".join(str(i) for i in idx[:5])
    return head + (", ..." if len(idx) > 5 else "")


def encode_labels(raw: Sequence[object], classes: Sequence[object] | None = None) -> tuple[np.ndarray, tuple]:
    """Map raw labels to codes `[n]` (int64) and the sorted tuple of classes.

    Labels may be strings (surrounding spaces are dropped), ints, bools or integer-valued floats (`1.0` reads
    as `1`). Without `classes`, the classes are the sorted distinct labels; labels of mixed kinds (`1` and `"a"`)
    are compared as strings.

    Raises:
        DataError: labels missing for some rows (None, NaN or empty), non-integer floats (continuous values),
            values of another type (lists, dicts), fewer than two classes, or a label outside `classes`.
    """
    values = [v.item() if isinstance(v, np.generic) else v for v in raw]
    if not values:
        raise DataError("no labels given: the dataset is empty. Pass a file with at least a few rows per class.")
    missing = [i for i, v in enumerate(values) if is_missing(v)]
    if missing:
        raise DataError(
            f"{len(missing)} of {len(values)} rows have no label (None, NaN or empty) at rows {_rows(missing)} "
            "(0-based data rows). Fill them in or drop those rows."
        )
    bad = [i for i, v in enumerate(values) if not isinstance(v, str | int | float)]
    if bad:
        v = values[bad[0]]
        raise DataError(
            f"labels must be strings or integers, but row {bad[0]} holds a {type(v).__name__} ({v!r:.40}); "
            f"{len(bad)} rows are affected (rows {_rows(bad)}). Store one class name or id per row."
        )
    frac = [i for i, v in enumerate(values) if isinstance(v, float) and not v.is_integer()]
    if frac:
        raise DataError(
            f"labels look like continuous values: {len(frac)} rows hold non-integer numbers, e.g. "
            f"{values[frac[0]]!r} at row {frac[0]}. A probe here is a classifier and needs class labels: "
            "bin the values into classes first (e.g. numpy.digitize), or point label_column at the class column."
        )
    values = [int(v) if isinstance(v, float) else v.strip() if isinstance(v, str) else v for v in values]
    if classes is None:
        kinds = {str if isinstance(v, str) else int for v in values}
        if len(kinds) > 1:
            values = [str(v) for v in values]
        classes = tuple(sorted(set(values)))
    else:
        classes = tuple(classes)
    if not classes:
        raise DataError("no classes given: pass at least two, or classes=None to take them from the labels.")
    if len(classes) < 2:
        raise DataError(
            f"all {len(values)} labels are {classes[0]!r}, a single class; a probe needs at least two classes. "
            "Check the label column (label_column / --label-column) and any filtering of rows."
        )
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise DataError(
            f"labels {unknown[:5]} are not among the classes {list(classes)[:10]}; add them to the classes "
            "or drop those rows."
        )
    return np.asarray([index[v] for v in values], dtype=np.int64), classes
