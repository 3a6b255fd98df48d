"""The scikit-learn estimator base of the array probes, and save/load without pickle.

A probe is a scikit-learn classifier on plain arrays ``[n, d]``: ``__init__`` stores parameters, ``fit``
sets attributes ending in ``_`` and returns ``self``, and it passes ``check_estimator``. :class:`ProbeBase`
gives every probe ``predict``/``predict_proba``/``predict_log_proba`` from its ``decision_function``, label
handling, and the artifact format:

* ``path.safetensors``: every fitted numeric array (``coef_``, ``intercept_``, ...);
* ``path.json``: format marker, module and class name, constructor parameters, classes (ints, floats,
  bools or strings, with their numpy dtype), ``n_features_in_``, other fitted scalars and lists, the
  probewise version, and a free ``metadata`` dict given by the caller.

:func:`load_probe` rebuilds an equivalent estimator (identical predictions) from those two files; it also
loads the torch-module probes of :mod:`probewise.probes._torch_base`.

Example:
    >>> import numpy as np, os, tempfile
    >>> from probewise.probes import LogisticProbe, load_probe
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> probe = LogisticProbe(C=1.0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "probe")
    >>> _ = probe.save(path, metadata={"layer": 3})
    >>> again = load_probe(path)
    >>> bool((again.predict(X) == probe.predict(X)).all()), again.metadata_["layer"]
    (True, 3)
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from probewise._version import __version__
from probewise.errors import ProbeError

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, X: Any, y: Any = "no_validation", **kwargs: Any) -> Any:
        return estimator._validate_data(X, y, **kwargs)


__all__ = ["ProbeBase", "load_probe", "probe_paths"]

FORMAT = "probewise.probe"
FORMAT_VERSION = 1
_TORCH_FORMAT = "probewise.torch_probe"


def probe_paths(path: str | Path) -> tuple[Path, Path]:
    """``(weights, meta)`` paths of an artifact: ``path.safetensors`` and ``path.json``.

    A trailing ``.safetensors`` or ``.json`` in ``path`` is ignored, so any of the three names works.
    """
    p = Path(path)
    if p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _jsonable(value: Any, what: str) -> Any:
    """``value`` as plain JSON types (numpy scalars and arrays converted)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise ProbeError(f"{what} must be JSON-serializable (numbers, strings, lists, dicts): {err}") from err
    return value


class ProbeBase(ClassifierMixin, BaseEstimator):
    """Base of the array probes: predictions from ``decision_function``, labels, save/load.

    Subclasses implement ``fit`` (using :meth:`_check_fit_inputs`) and ``decision_function`` (using
    :meth:`_check_predict_input`); binary probes return scores ``[n]`` for ``classes_[1]``, multiclass
    probes ``[n, k]``. ``predict_proba`` is the sigmoid (binary) or softmax (multiclass) of the scores, which
    is a calibrated probability only for probes trained on the log-loss (see each probe).
    """

    _registry: ClassVar[dict[str, type[ProbeBase]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ProbeBase._registry[cls.__name__] = cls

    # -- inputs ---------------------------------------------------------------------------------------

    def _check_fit_inputs(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``X [n, d]`` and ``y [n]``; set ``classes_`` and ``n_features_in_``; return
        ``(X float32/float64, codes int64)``."""
        X, y = _validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=False)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ProbeError(
                f"{type(self).__name__} needs at least 2 classes, got 1 class ({classes.tolist()!r}); "
                "check the labels of the training split."
            )
        self.classes_ = classes
        return X, codes.reshape(-1).astype(np.int64)

    def _check_predict_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return _validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    # -- predictions ----------------------------------------------------------------------------------

    def decision_function(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels ``[n]``."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.int64)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n, n_classes]``: sigmoid (binary) or softmax (multiclass) of the scores."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-np.clip(scores, -700, 700)))
            return np.stack([1.0 - p1, p1], axis=1)
        return _softmax(scores)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            z = np.stack([np.zeros_like(scores), scores], axis=1)
            return _log_softmax(z)
        return _log_softmax(scores)

    # -- artifacts ------------------------------------------------------------------------------------

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> tuple[Path, Path]:
        """Write ``path.safetensors`` (fitted arrays) and ``path.json`` (everything else).

        Args:
            path: target path without suffix (a ``.safetensors``/``.json`` suffix is ignored); parent
                folders are created.
            metadata: any JSON-serializable dict stored as is (layer, dataset, model, metrics, ...).

        Returns:
            ``(weights_path, json_path)``.

        Raises:
            ProbeError: unfitted probe, or parameters/metadata that are not JSON-serializable.
        """
        from safetensors.numpy import save_file

        check_is_fitted(self)
        if metadata is not None and not isinstance(metadata, dict):
            raise ProbeError(f"metadata must be a dict, got {type(metadata).__name__}.")
        weights, meta_path = probe_paths(path)
        tensors: dict[str, np.ndarray] = {}
        fitted: dict[str, Any] = {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_") or name in ("classes_", "n_features_in_"):
                continue
            if name == "metadata_":
                continue
            if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
                tensors[name] = np.ascontiguousarray(value)
            else:
                fitted[name] = _jsonable(value, f"fitted attribute {name}")
        classes = self.classes_
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "module": type(self).__module__,
            "class": type(self).__qualname__,
            "params": _jsonable(self.get_params(deep=False), "the probe parameters"),
            "classes": _jsonable(classes, "classes"),
            "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
            "n_features_in": int(self.n_features_in_),
            "fitted": fitted,
            "tensors": sorted(tensors),
            "probewise_version": __version__,
            "metadata": _jsonable(metadata if metadata is not None else getattr(self, "metadata_", {}),
                                  "metadata"),
        }
        weights.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(weights), metadata={"format": FORMAT, "class": type(self).__qualname__})
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
        return weights, meta_path

    @classmethod
    def load(cls, path: str | Path) -> ProbeBase:
        """Load a probe saved by :meth:`save`; it must be of this class (or a subclass)."""
        probe = load_probe(path)
        if not isinstance(probe, cls):
            raise ProbeError(f"{probe_paths(path)[1]} holds a {type(probe).__name__}, not a {cls.__name__}.")
        return probe


def _resolve_class(meta: dict[str, Any], where: Path) -> type[ProbeBase]:
    name = str(meta.get("class", ""))
    module = str(meta.get("module", ""))
    if name not in ProbeBase._registry and module.startswith("probewise."):
        importlib.import_module(module)  # registers the class; only probewise modules are imported
    cls = ProbeBase._registry.get(name)
    if cls is None:
        raise ProbeError(f"{where} holds an unknown probe class {name!r}; is this probewise too old?")
    return cls


def load_probe(path: str | Path, *, device: str | None = None) -> Any:
    """Rebuild the probe saved at ``path`` (``path.json`` + ``path.safetensors``), without pickle.

    Works for the array probes (:class:`ProbeBase`) and the torch-module probes; ``device`` is passed to
    the latter.

    Raises:
        ProbeError: missing or inconsistent files, unknown format or class.
    """
    from safetensors.numpy import load_file

    weights, meta_path = probe_paths(path)
    if not meta_path.is_file() or not weights.is_file():
        raise ProbeError(f"no probe at {path}: expected both {weights.name} and {meta_path.name}.")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise ProbeError(f"{meta_path} is not valid JSON ({err}); the artifact is corrupted.") from err
    fmt = meta.get("format")
    if fmt == _TORCH_FORMAT:
        from probewise.probes._torch_base import load_probe as load_torch_probe

        return load_torch_probe(path, device=device)
    if fmt != FORMAT:
        raise ProbeError(f"{meta_path} is not a probewise probe (format {fmt!r}).")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ProbeError(f"{meta_path} was written by a newer probewise; upgrade to load it.")
    cls = _resolve_class(meta, meta_path)
    probe = cls(**meta["params"])
    arrays = load_file(str(weights))
    missing = set(meta.get("tensors", [])) - set(arrays)
    if missing:
        raise ProbeError(f"{weights} lacks {sorted(missing)}; the artifact is incomplete.")
    for name, value in arrays.items():
        setattr(probe, name, value)
    for name, value in meta.get("fitted", {}).items():
        setattr(probe, name, np.asarray(value) if isinstance(value, list) else value)
    dtype = meta["classes_dtype"]
    probe.classes_ = np.asarray(meta["classes"], dtype=object if dtype == "object" else np.dtype(dtype))
    probe.n_features_in_ = int(meta["n_features_in"])
    probe.metadata_ = meta.get("metadata", {})
    return probe
