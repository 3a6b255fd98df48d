"""Representation geometry per layer: activation norm, cosine between class means, effective rank.

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import geometry_by_layer
    >>> rng = np.random.default_rng(0)
    >>> feats = {0: rng.normal(size=(200, 16)), 1: rng.normal(size=(200, 16)) @ np.diag([5.0] + [0.001] * 15)}
    >>> rows = geometry_by_layer(feats, y=rng.integers(0, 2, 200))
    >>> [round(r.effective_rank) for r in rows]
    [16, 1]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from probewise.errors import DataError
from probewise.evaluation.targets import as_features
from probewise.metrics._checks import as_labels, check_lengths

__all__ = [
    "LayerGeometry",
    "class_mean_cosines",
    "effective_rank",
    "geometry_by_layer",
    "layer_geometry",
    "mean_norm",
]


def mean_norm(X: Any) -> float:
    """Mean L2 norm of the rows of ``X [n, d]``.

    Example:
        >>> mean_norm([[3.0, 4.0], [0.0, 1.0]])
        3.0
    """
    a = as_features(X, "X").astype(np.float64)
    return float(np.linalg.norm(a, axis=1).mean())


def class_mean_cosines(X: Any, y: Any, *, center: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise cosine similarity between class means.

    Representations are often anisotropic (a large shared mean), which pushes raw cosines towards 1; with
    ``center=True`` the global mean is removed first.

    Example:
        >>> classes, cos = class_mean_cosines([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]], [0, 0, 1])
        >>> classes.tolist(), cos.round(3).tolist()
        ([0, 1], [[1.0, 0.0], [0.0, 1.0]])

    Args:
        X: Features ``[n, d]``.
        y: Class labels ``[n]`` (at least two classes).
        center: Subtract the global mean of ``X`` first.

    Returns:
        ``(classes [c], cosines [c, c])``; a zero mean vector gives NaN in its row and column.
    """
    a = as_features(X, "X").astype(np.float64)
    labels = as_labels(y, "y")
    check_lengths(X=a, y=labels)
    classes, inv = np.unique(labels, return_inverse=True)
    if classes.size < 2:
        raise DataError("class_mean_cosines needs at least two classes in y.")
    if center:
        a = a - a.mean(axis=0)
    means = np.zeros((classes.size, a.shape[1]))
    np.add.at(means, inv, a)
    means /= np.bincount(inv)[:, None]
    norms = np.linalg.norm(means, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = means / norms[:, None]
    cos = np.clip(unit @ unit.T, -1.0, 1.0)
    return classes, cos


def effective_rank(X: Any) -> float:
    """Effective rank (Roy & Vetterli 2007): ``exp`` of the entropy of the normalised singular values.

    The features are centred; singular values come from the eigenvalues of the smaller Gram matrix, with
    round-off-sized eigenvalues (rank deficiency, e.g. after LayerNorm) clamped to zero, and zero singular values
    contribute nothing to the entropy. Ranges from 1 (one direction) to ``min(n - 1, d)`` (all directions equal).

    Example:
        >>> import numpy as np
        >>> round(effective_rank(np.random.default_rng(0).normal(size=(5000, 4))), 1)
        4.0

    Args:
        X: Features ``[n, d]``, ``n >= 2``.

    Returns:
        The effective rank (0.0 when all rows are equal).
    """
    a = as_features(X, "X").astype(np.float64)
    if a.shape[0] < 2:
        raise DataError("effective_rank needs at least 2 examples.")
    a = a - a.mean(axis=0)
    gram = a.T @ a if a.shape[0] >= a.shape[1] else a @ a.T
    lam = np.linalg.eigvalsh(gram)
    top = float(lam.max())
    if top <= 0:
        return 0.0
    lam = np.where(lam > top * gram.shape[0] * np.finfo(np.float64).eps, lam, 0.0)  # round-off → exactly zero
    sv = np.sqrt(lam)
    p = sv[sv > 0] / sv.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


@dataclass(frozen=True, eq=False)
class LayerGeometry:
    """Geometry of one layer's features.

    Attributes:
        layer: The layer key (``None`` for a single array).
        n: Examples.
        d: Dimensions.
        mean_norm: Mean activation norm.
        effective_rank: Effective rank of the centred features.
        classes: Class labels ``[c]`` (``None`` without labels).
        class_cosines: Cosine between class means ``[c, c]`` (``None`` without labels).
        mean_class_cosine: Mean of the off-diagonal entries (``None`` without labels).
    """

    layer: Any
    n: int
    d: int
    mean_norm: float
    effective_rank: float
    classes: np.ndarray | None = None
    class_cosines: np.ndarray | None = None
    mean_class_cosine: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Flat dict for tables (the cosine matrix as nested lists)."""
        return {"layer": self.layer, "n": self.n, "d": self.d, "mean_norm": self.mean_norm,
                "effective_rank": self.effective_rank, "mean_class_cosine": self.mean_class_cosine,
                "classes": None if self.classes is None else self.classes.tolist(),
                "class_cosines": None if self.class_cosines is None else self.class_cosines.tolist()}


def layer_geometry(X: Any, y: Any = None, *, layer: Any = None, center: bool = False) -> LayerGeometry:
    """All geometry statistics of one feature matrix ``[n, d]``; class statistics when ``y`` is given.

    Example:
        >>> import numpy as np
        >>> g = layer_geometry(np.eye(3), [0, 1, 2])
        >>> g.n, g.d, round(g.mean_norm, 3), round(g.mean_class_cosine, 3)
        (3, 3, 1.0, 0.0)
    """
    a = as_features(X, "X")
    out = {"layer": layer, "n": int(a.shape[0]), "d": int(a.shape[1]), "mean_norm": mean_norm(a),
           "effective_rank": effective_rank(a)}
    if y is not None:
        classes, cos = class_mean_cosines(a, y, center=center)
        off = cos[~np.eye(classes.size, dtype=bool)]
        out.update(classes=classes, class_cosines=cos, mean_class_cosine=float(off.mean()))
    return LayerGeometry(**out)


def geometry_by_layer(features: Mapping[Any, Any], y: Any = None, *, center: bool = False) -> list[LayerGeometry]:
    """:func:`layer_geometry` for every layer of ``{layer: [n, d]}``, in the mapping's order.

    Example:
        >>> import numpy as np
        >>> [g.layer for g in geometry_by_layer({"a": np.eye(2), "b": np.ones((2, 2))})]
        ['a', 'b']
    """
    return [layer_geometry(X, y, layer=layer, center=center) for layer, X in features.items()]
