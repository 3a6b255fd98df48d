"""Label encoding: raw labels (strings or ints) to int64 class codes.

Example:
    >>> from probewise.data.labels import encode_labels
    >>> codes, classes = encode_labels(["pos", "neg", "pos"])
    >>> codes.tolist(), classes
    ([1, 0, 1], ('neg', 'pos'))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from probewise.errors import DataError


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and v.strip() == "")


def encode_labels(raw: Sequence[object], classes: Sequence[object] | None = None) -> tuple[np.ndarray, tuple]:
    """Map raw labels to codes `[n]` (int64) and the sorted tuple of classes.

    Raises:
        DataError: labels missing for some rows, fewer than two classes, or a label outside `classes`.
    """
    values = list(raw)
    if not values:
        raise DataError("no labels given: the dataset is empty. Pass a file with at least a few rows per class.")
    missing = [i for i, v in enumerate(values) if _is_missing(v)]
    if missing:
        head = ", ".join(str(i) for i in missing[:5])
        raise DataError(
            f"{len(missing)} rows have no label (first rows: {head}). Fill them in or drop those rows."
        )
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    if any(isinstance(v, float) and not float(v).is_integer() for v in values):
        raise DataError(
            "labels look like continuous values (non-integer floats); a classifier needs class labels. "
            "Bin them into classes first."
        )
    values = [int(v) if isinstance(v, float) else v for v in values]
    if classes is None:
        kinds = {type(v) for v in values}
        if len(kinds) > 1:
            values = [str(v) for v in values]
        classes = tuple(sorted(set(values)))
    else:
        classes = tuple(classes)
    if len(classes) < 2:
        raise DataError(
            f"labels have a single class ({classes[0]!r}); a probe needs at least two classes. "
            "Check the label column."
        )
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise DataError(f"labels {unknown[:5]} are not among the classes {list(classes)[:10]}.")
    return np.asarray([index[v] for v in values], dtype=np.int64), classes
