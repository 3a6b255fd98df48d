"""Shared scikit-learn estimator base of the torch-module probes (MLP, attentive, moment, long-context).

A subclass declares its hyperparameters in ``__init__`` (stored as given, nothing else), says whether it reads
pooled features ``[n, d]`` or token sequences, and builds its ``nn.Module`` in ``_build_module``. The base does
the rest: labels, the seeded 10% validation hold-out when no ``X_val`` is given, standardization statistics,
training with :func:`probewise.fit.trainer.train`, batched inference on the module's device, the ``report_``
of the fit, and save/load as safetensors + JSON (no pickle).

Token sequences are accepted as a :class:`~probewise.store.ragged.Ragged`, a ``(x [n, t, d], mask [n, t])``
pair (``mask`` True = token; padded positions never reach the model), a ``[n, t, d]`` array (every position a
token), or a list of ``[t_i, d]`` arrays.

Example:
    >>> import numpy as np
    >>> from probewise.probes.mlp import MLPProbe
    >>> from probewise.probes._torch_base import load_probe
    >>> X = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> probe = MLPProbe(hidden_sizes=(8,), epochs=5).fit(X, y)
    >>> sorted(probe.report_)[:3]
    ['best_epoch', 'best_val_loss', 'epochs_run']
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "probe")
    >>> _ = probe.save(path)
    >>> bool((load_probe(path).decision_function(X) == probe.decision_function(X)).all())
    True
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import nn

from probewise._version import __version__
from probewise.errors import DataError, ProbeError
from probewise.fit.trainer import (
    TrainConfig,
    TrainResult,
    derive_seed,
    holdout_split,
    ragged_take,
    take_batch,
    train,
)
from probewise.probes.base import probe_paths
from probewise.store.ragged import Ragged

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, X: Any, y: Any = "no_validation", **kwargs: Any) -> Any:
        return estimator._validate_data(X, y, **kwargs)


__all__ = [
    "ProbeModule", "TokenProbe", "TorchProbe", "as_features", "as_tokens", "load_probe", "seeded_linear",
    "uniform_init",
]

#: Fraction of the training set held out (stratified, seeded) for early stopping when no X_val is given.
VAL_FRACTION = 0.1
#: Training data up to this size is moved to the training device once; larger data moves batch by batch.
_PRELOAD_BYTES = 1 << 30
_FORMAT = "probewise.torch_probe"
_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------- inputs


def _to_tensor(a: Any) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"inputs must be numeric, got dtype {arr.dtype}; convert them to float first.")
    return torch.from_numpy(np.ascontiguousarray(arr))


def _check_finite(t: torch.Tensor) -> None:
    if t.numel() and not bool(torch.isfinite(t).all()):
        raise DataError("inputs contain NaN or infinity; clean or impute them before fitting or predicting.")


def as_features(X: Any) -> torch.Tensor:
    """Pooled features as a float32 tensor ``[n, d]`` (on the input's device if it is a tensor)."""
    if isinstance(X, Ragged):
        raise DataError("this probe reads pooled features [n, d], not token sequences; pool them first "
                        "(probewise.sources.pooling) or use a token probe (attentive, moment, long-context).")
    t = _to_tensor(X)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise DataError(f"features must be a non-empty [n, d] array, got shape {tuple(t.shape)}.")
    t = t.to(torch.float32)
    _check_finite(t)
    return t


def as_tokens(X: Any) -> Ragged:
    """Token sequences as a float32 :class:`Ragged` (``values [T, d]``, ``offsets [n + 1]``).

    Accepts a Ragged, a ``(x [n, t, d], mask [n, t])`` pair, a ``[n, t, d]`` array or a list of ``[t_i, d]``
    arrays. With a mask, only positions where it is True are kept (in order), so padding never reaches a probe.

    Raises:
        DataError: wrong shapes, an empty sequence, or non-finite values.
    """
    if isinstance(X, Ragged):
        values, offsets = X.values, X.offsets
    elif isinstance(X, tuple | list) and len(X) == 2 and _ndim(X[0]) == 3 and _ndim(X[1]) == 2:
        x, mask = _to_tensor(X[0]), _to_tensor(X[1]).to(device=_to_tensor(X[0]).device, dtype=torch.bool)
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise DataError(f"mask must be [n, t] matching x [n, t, d]; got {tuple(mask.shape)} and {tuple(x.shape)}.")
        values = x[mask]
        offsets = torch.zeros(x.shape[0] + 1, dtype=torch.int64, device=x.device)
        offsets[1:] = torch.cumsum(mask.sum(1), 0)
    elif isinstance(X, list | tuple):
        parts = [_to_tensor(p) for p in X]
        if not parts or any(p.ndim != 2 for p in parts):
            raise DataError("a list of token sequences must hold [t_i, d] arrays, one per example.")
        r = Ragged.from_list([p.to(torch.float32) for p in parts])
        values, offsets = r.values, r.offsets
    else:
        x = _to_tensor(X)
        if x.ndim != 3:
            raise DataError(f"token sequences must be Ragged, (x [n, t, d], mask [n, t]) or [n, t, d]; "
                            f"got an array of shape {tuple(x.shape)}.")
        values = x.reshape(-1, x.shape[-1])
        offsets = torch.arange(x.shape[0] + 1, dtype=torch.int64, device=x.device) * x.shape[1]
    if values.ndim != 2 or values.shape[1] == 0 or len(offsets) < 2:
        raise DataError(f"token values must be a non-empty [T, d] array, got shape {tuple(values.shape)}.")
    offsets = offsets.to(torch.int64)
    if bool(((offsets[1:] - offsets[:-1]) < 1).any()):
        raise DataError("every sequence needs at least one token; drop empty sequences first.")
    values = values.to(torch.float32)
    _check_finite(values)
    return Ragged(values, offsets)


def _ndim(a: Any) -> int:
    return a.ndim if hasattr(a, "ndim") else np.ndim(a)


# ----------------------------------------------------------------------------------------------- modules


def uniform_init(shape: tuple[int, ...], fan_in: int, generator: torch.Generator) -> torch.Tensor:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (torch's ``nn.Linear`` default) from ``generator``, on CPU."""
    return (torch.rand(shape, generator=generator) * 2 - 1) / math.sqrt(max(1, fan_in))


def seeded_linear(d_in: int, d_out: int, generator: torch.Generator, bias: bool = True) -> nn.Linear:
    """An ``nn.Linear`` initialized from ``generator`` (weights and bias ``U(+-1/sqrt(d_in))``, torch's default
    distribution) without drawing from the global RNG."""
    lin = torch.nn.utils.skip_init(nn.Linear, d_in, d_out, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(uniform_init((d_out, d_in), d_in, generator))
        if bias:
            lin.bias.copy_(uniform_init((d_out,), d_in, generator))
    return lin


class ProbeModule(nn.Module):
    """A probe's ``nn.Module``: holds the standardization buffers ``mean`` and ``scale`` (``stats_shape``)."""

    def __init__(self, stats_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(stats_shape))
        self.register_buffer("scale", torch.ones(stats_shape))

    def set_standardization(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        self.mean.copy_(mean.reshape(self.mean.shape))
        self.scale.copy_(scale.reshape(self.scale.shape))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


def _standardization(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column mean and std of ``values [..., m, d]`` over ``m`` (float64 accumulation); constant columns get 1."""
    v = values.to(torch.float64)
    mean = v.mean(dim=-2)
    std = v.std(dim=-2, unbiased=False)
    tiny = 1e-6 * (mean.abs() + 1)
    scale = torch.where(std > tiny, std, torch.ones_like(std))
    return mean.to(torch.float32), scale.to(torch.float32)


# ----------------------------------------------------------------------------------------------- base


def _encode_labels(y: Any, n: int) -> tuple[torch.Tensor, np.ndarray]:
    if y is None:
        raise DataError("this probe requires y to be passed, but the target y is None.")
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"labels must be a vector of length {n} (one per example), got shape {y.shape}.")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"need at least 2 classes to fit a probe, got 1 class ({classes.tolist()!r}).")
    return torch.as_tensor(codes.reshape(-1), dtype=torch.int64), classes


def _encode_with(y: Any, classes: np.ndarray, n: int) -> torch.Tensor:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != n:
        raise DataError(f"y_val must hold one label per validation example ({n}), got {y.shape[0]}.")
    codes = np.searchsorted(classes, y)
    codes = np.clip(codes, 0, len(classes) - 1)
    if not np.all(classes[codes] == y):
        unknown = sorted(set(y.tolist()) - set(classes.tolist()))
        raise DataError(f"y_val has classes not seen in training: {unknown[:5]!r}.")
    return torch.as_tensor(codes, dtype=torch.int64)


def _device_of(data: torch.Tensor | Ragged) -> torch.device:
    return data.values.device if isinstance(data, Ragged) else data.device


def _n_of(data: torch.Tensor | Ragged, layered: bool) -> int:
    if isinstance(data, Ragged):
        return len(data)
    return int(data.shape[1] if layered else data.shape[0])


def _subset(data: torch.Tensor | Ragged, idx: torch.Tensor, layered: bool) -> torch.Tensor | Ragged:
    if isinstance(data, Ragged):
        return ragged_take(data, idx)
    i = idx.to(data.device)
    return data[:, i] if layered else data[i]


def _nbytes(data: torch.Tensor | Ragged) -> int:
    t = data.values if isinstance(data, Ragged) else data
    return t.numel() * t.element_size()


def _to_device(data: torch.Tensor | Ragged, device: torch.device) -> torch.Tensor | Ragged:
    if isinstance(data, Ragged):
        return Ragged(data.values.to(device), data.offsets.to(device))
    return data.to(device)


@dataclasses.dataclass
class _Prepared:
    train: torch.Tensor | Ragged
    y_train: torch.Tensor
    val: torch.Tensor | Ragged
    y_val: torch.Tensor
    classes: np.ndarray
    n_features: int
    device: torch.device


class TorchProbe(ClassifierMixin, BaseEstimator):
    """Base of the torch-module probes; see the module docstring. Not used directly.

    Subclasses define ``__init__`` with the training hyperparameters ``lr, weight_decay, epochs, batch_size,
    patience, warmup_frac, seed, device`` plus their own, set ``_token_input``, and implement
    ``_build_module(n_features, n_outputs, generator)``.
    """

    _token_input: ClassVar[bool] = False
    _layered: ClassVar[bool] = False

    # ---- subclass hooks
    def _build_module(self, n_features: int, n_outputs: int, generator: torch.Generator) -> ProbeModule:
        raise NotImplementedError

    def _train_config(self) -> TrainConfig:
        return TrainConfig(lr=float(self.lr), weight_decay=float(self.weight_decay), epochs=int(self.epochs),
                           batch_size=int(self.batch_size), patience=self.patience,
                           warmup_frac=float(self.warmup_frac), seed=int(self.seed), device=self.device)

    def _as_input(self, X: Any, reset: bool = False) -> torch.Tensor | Ragged:
        """Token sequences as a Ragged, or features ``[n, d]`` as a float32 tensor.

        Array-likes (not tensors) of features go through scikit-learn's ``validate_data`` (its error messages,
        sparse/complex rejection and ``n_features_in_`` bookkeeping; ``reset`` at the start of ``fit``).
        """
        if self._token_input:
            return as_tokens(X)
        if isinstance(X, torch.Tensor | Ragged):
            return as_features(X)
        X = _validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        return as_features(np.asarray(X, dtype=np.float32))

    def _fields(self, data: torch.Tensor | Ragged) -> tuple:
        return (data[None],) if self._layered and isinstance(data, torch.Tensor) and data.ndim == 2 else (data,)

    def _forward(self, module: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
        out = module(*batch)
        return out[0] if self._layered else out

    # ---- fitting
    def _prepare(self, X: Any, y: Any, X_val: Any, y_val: Any, layered_input: bool = False) -> _Prepared:
        cfg = self._train_config()
        conv = _layers if layered_input else self._as_input
        data = _layers(X) if layered_input else self._as_input(X, reset=True)
        n = _n_of(data, layered_input)
        codes, classes = _encode_labels(y, n)
        if (X_val is None) != (y_val is None):
            raise DataError("pass both X_val and y_val, or neither (then 10% of the training set is held out).")
        if X_val is None:
            tr, va = holdout_split(codes, VAL_FRACTION, cfg.seed)
            train_data, val_data = _subset(data, tr, layered_input), _subset(data, va, layered_input)
            y_tr, y_va = codes[tr], codes[va]
        else:
            train_data, y_tr = data, codes
            val_data = conv(X_val)
            y_va = _encode_with(y_val, classes, _n_of(val_data, layered_input))
        d = int(train_data.values.shape[1] if isinstance(train_data, Ragged) else train_data.shape[-1])
        d_val = int(val_data.values.shape[1] if isinstance(val_data, Ragged) else val_data.shape[-1])
        if d_val != d:
            raise DataError(f"X_val has {d_val} features per token/example, X has {d}; they must match.")
        device = torch.device(cfg.device) if cfg.device is not None else _device_of(data)
        return _Prepared(train_data, y_tr, val_data, y_va, classes, d, device)

    def _fit_module(self, prep: _Prepared, n_layers: int | None = None) -> tuple[ProbeModule, TrainResult]:
        cfg = dataclasses.replace(self._train_config(), device=str(prep.device))
        n_outputs = 1 if len(prep.classes) == 2 else len(prep.classes)
        gen = torch.Generator().manual_seed(derive_seed(cfg.seed, 0))
        module = self._build_module(prep.n_features, n_outputs, gen, **({} if n_layers is None else
                                                                        {"n_layers": n_layers}))
        values = prep.train.values if isinstance(prep.train, Ragged) else prep.train
        module.set_standardization(*_standardization(values))
        module.to(prep.device)
        train_data, val_data = prep.train, prep.val
        if _nbytes(train_data) + _nbytes(val_data) <= _PRELOAD_BYTES:   # small: one copy, not one per batch
            train_data, val_data = _to_device(train_data, prep.device), _to_device(val_data, prep.device)
        fields, vfields = self._fields(train_data), self._fields(val_data)
        result = train(module, fields, prep.y_train, vfields, prep.y_val, cfg, layered=self._layered)
        return module, result

    def _set_fitted(self, module: nn.Module, prep: _Prepared, result: TrainResult, layer: int = 0,
                    n_layers: int = 1) -> None:
        self.module_ = module
        self.classes_ = prep.classes
        self.n_features_in_ = prep.n_features
        self.n_outputs_ = 1 if len(prep.classes) == 2 else len(prep.classes)
        n_params = sum(p.numel() for p in module.parameters())
        self.report_ = {
            "parameters": int(n_params),
            "train_seconds": float(result.train_seconds),
            "epochs_run": int(result.epochs_run),
            "best_epoch": int(result.best_epoch[layer]),
            "best_val_loss": float(result.best_val_loss[layer]),
            "n_train": int(len(prep.y_train)),
            "n_val": int(len(prep.y_val)),
            "layers_trained_together": int(n_layers),
        }

    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> TorchProbe:
        """Fit on ``X`` (see the class docstring for its form) and labels ``y [n]``.

        ``X_val, y_val`` drive early stopping and the choice of the restored epoch; without them a seeded,
        stratified 10% of ``X`` is held out for that (and not trained on).
        """
        prep = self._prepare(X, y, X_val, y_val)
        module, result = self._fit_module(prep)
        self._set_fitted(module, prep, result)
        return self

    # ---- inference
    def _device(self) -> torch.device:
        return next(self.module_.buffers()).device

    @torch.no_grad()
    def _logits(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "module_")
        data = self._as_input(X)
        d = int(data.values.shape[1] if isinstance(data, Ragged) else data.shape[-1])
        if d != self.n_features_in_:
            raise DataError(f"X has {d} features, the probe was fitted on {self.n_features_in_}.")
        module, device = self.module_.eval(), self._device()
        fields = self._fields(data)
        n = _n_of(data, False)
        bs = max(int(self.batch_size), 1) if self._token_input else max(int(self.batch_size), 4096)
        out = [self._forward(module, take_batch(fields, torch.arange(s, min(n, s + bs)), device, self._layered))
               for s in range(0, n, bs)]
        return torch.cat(out).float().cpu()

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: ``[n]`` for two classes (positive = ``classes_[1]``), else ``[n, n_classes]``."""
        z = self._logits(X)
        return (z[:, 0] if z.shape[1] == 1 else z).numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n, n_classes]`` (columns in the order of ``classes_``)."""
        z = self._logits(X)
        if z.shape[1] == 1:
            p = torch.sigmoid(z[:, 0])
            return torch.stack([1 - p, p], dim=1).numpy()
        return torch.softmax(z, dim=1).numpy()

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably."""
        z = self._logits(X)
        if z.shape[1] == 1:
            z = torch.cat([torch.zeros_like(z), z], dim=1)
        return torch.log_softmax(z, dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels ``[n]`` (values of ``classes_``)."""
        z = self._logits(X)
        idx = (z[:, 0] > 0).long() if z.shape[1] == 1 else z.argmax(dim=1)
        return self.classes_[idx.numpy()]

    def parameter_count(self) -> int:
        """Trainable parameters of the fitted module."""
        check_is_fitted(self, "module_")
        return int(sum(p.numel() for p in self.module_.parameters()))

    # ---- save / load
    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> tuple[Path, Path]:
        """Write ``<path>.safetensors`` (weights and standardization) and ``<path>.json`` (everything else).

        The layout matches :mod:`probewise.probes.base` (same path rule), so
        :func:`probewise.probes.load_probe` loads either kind.

        Args:
            path: target path without suffix (a ``.safetensors``/``.json`` suffix is ignored).
            metadata: any JSON-serializable dict stored as is (layer, dataset, ...); read back as ``metadata_``.

        Returns:
            ``(weights_path, json_path)``.
        """
        check_is_fitted(self, "module_")
        if metadata is not None and not isinstance(metadata, dict):
            raise ProbeError(f"metadata must be a dict, got {type(metadata).__name__}.")
        weights, meta_path = probe_paths(path)
        weights.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in self.module_.state_dict().items()}
        save_file(tensors, str(weights), metadata={"format": _FORMAT})
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params(deep=False).items()}
        meta = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "module": type(self).__module__,
            "class": type(self).__qualname__,
            "params": params,
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str,
            "n_features_in": int(self.n_features_in_),
            "n_outputs": int(self.n_outputs_),
            "report": self.report_,
            "weights": weights.name,
            "probewise_version": __version__,
            "metadata": metadata if metadata is not None else getattr(self, "metadata_", {}),
        }
        try:
            meta_path.write_text(json.dumps(meta, indent=2))
        except TypeError as err:
            raise ProbeError(f"cannot save {type(self).__name__}: its parameters or class labels are not "
                             f"JSON-serializable ({err}); use int or str labels.") from err
        return weights, meta_path

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> TorchProbe:
        """Load a probe written by :meth:`save`; ``device`` overrides where it runs (default: as saved)."""
        weights, meta_path = probe_paths(path)
        if not meta_path.exists() or not weights.exists():
            raise ProbeError(f"no saved probe at {path}: expected {meta_path.name} and {weights.name} there.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != _FORMAT:
            raise ProbeError(f"{meta_path} is not a probewise torch probe (format {meta.get('format')!r}).")
        if meta["class"] != cls.__qualname__:
            if cls is not TorchProbe:
                raise ProbeError(f"{meta_path} holds a {meta['class']}, not a {cls.__qualname__}; use load_probe.")
            return _resolve_class(meta).load(path, device=device)
        params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in meta["params"].items()}
        if device is not None:
            params["device"] = device
        probe = cls(**params)
        n_outputs = int(meta["n_outputs"])
        module = probe._build_module(int(meta["n_features_in"]), n_outputs, torch.Generator().manual_seed(0))
        try:
            module.load_state_dict(load_file(str(weights)), strict=True)
        except RuntimeError as err:
            raise ProbeError(f"weights in {weights} do not fit a {cls.__qualname__} with the saved parameters: "
                             f"{err}") from err
        target = torch.device(params["device"]) if params.get("device") is not None else torch.device("cpu")
        probe.module_ = module.to(target).eval()
        probe.classes_ = np.asarray(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        probe.n_features_in_ = int(meta["n_features_in"])
        probe.n_outputs_ = n_outputs
        probe.report_ = meta["report"]
        probe.metadata_ = meta.get("metadata", {})
        return probe


class TokenProbe(TorchProbe):
    """Base of the probes reading token sequences (see :func:`as_tokens` for the accepted forms)."""

    _token_input = True

    def _set_training(self, lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device) -> None:
        """Store the training hyperparameters (called from a subclass ``__init__``; stores, nothing else)."""
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.warmup_frac = warmup_frac
        self.seed = seed
        self.device = device


def _layers(X: Any) -> torch.Tensor:
    t = _to_tensor(X)
    if t.ndim != 3 or 0 in t.shape:
        raise DataError(f"layered features must be a non-empty [L, n, d] array, got shape {tuple(t.shape)}.")
    t = t.to(torch.float32)
    _check_finite(t)
    return t


def _resolve_class(meta: dict) -> type[TorchProbe]:
    module_name = str(meta.get("module", ""))
    if not module_name.startswith("probewise."):
        raise ProbeError(f"refusing to load a probe class from outside probewise ({module_name!r}).")
    cls = getattr(importlib.import_module(module_name), str(meta["class"]), None)
    if not (isinstance(cls, type) and issubclass(cls, TorchProbe)):
        raise ProbeError(f"unknown probe class {module_name}.{meta['class']}.")
    return cls


def load_probe(path: str | Path, *, device: str | None = None) -> TorchProbe:
    """Load any torch-module probe saved with ``probe.save(path)``, whatever its class."""
    return TorchProbe.load(path, device=device)
