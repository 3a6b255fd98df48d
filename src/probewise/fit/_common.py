"""Shared plumbing for the batched solvers: inputs, labels, standardization, memory chunks.

Every solver takes features as ``[L, n, d]`` (``L`` layers sharing the same ``n`` examples) or ``[n, d]``
(treated as ``L = 1``), as a torch tensor on any device or anything ``numpy.asarray`` accepts (including a
float16 memmap). Layers are converted to the working dtype one chunk at a time, so a large store never has
to be materialized in float32 all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from probewise.errors import ConfigError, DataError

#: Default memory budget of one chunk of problems (bytes of working tensors, not counting the input).
DEFAULT_MAX_BYTES = 1 << 30

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "single": torch.float32, "double": torch.float64}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Map ``"float32"``/``"float64"`` (or a torch dtype) to a torch floating dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {dtype}; use dtype='float32'.")
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return _DTYPES[dtype.lower()]
    raise ConfigError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")


@contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)`` and restore the previous value after.

    ``None`` leaves the setting alone. On a busy machine (more runnable processes than cores) one thread
    is often many times faster for the small products of a probe fit than the default pool, whose threads
    wait for each other.
    """
    if num_threads is None:
        yield
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ConfigError(f"num_threads must be None or an integer >= 1, got {num_threads!r}.")
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str | torch.device | None, X: Any) -> torch.device:
    """The device to compute on: the one given, else the device of ``X`` if it is a tensor, else CPU."""
    if device is not None:
        return torch.device(device)
    if isinstance(X, torch.Tensor):
        return X.device
    if isinstance(X, list | tuple) and X and isinstance(X[0], torch.Tensor):
        return X[0].device
    if isinstance(X, LayerList):
        return X.device
    return torch.device("cpu")


class LayerList:
    """A list of per-layer ``[n, d]`` arrays or tensors seen as one ``[L, n, d]`` input.

    Slicing stacks only the layers asked for, so the whole list is never copied at once.
    """

    ndim = 3

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.shape = (len(items), *tuple(items[0].shape))
        self.device = items[0].device if isinstance(items[0], torch.Tensor) else torch.device("cpu")

    def __getitem__(self, sl: slice) -> torch.Tensor | np.ndarray:
        part = self.items[sl]
        if all(isinstance(t, torch.Tensor) for t in part):
            return torch.stack(part)
        return np.stack([t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in part])


def as_layers(X: Any) -> torch.Tensor | np.ndarray | LayerList:
    """View ``X`` as ``[L, n, d]`` without copying or converting its dtype.

    ``X`` may be ``[L, n, d]``, ``[n, d]`` (one layer), or a list/tuple of ``[n, d]`` layers.

    Raises:
        DataError: if ``X`` is not 2-D or 3-D, is empty, has layers of different shapes, or is not numeric.
    """
    if isinstance(X, LayerList):
        return X
    if isinstance(X, list | tuple):
        if len(X) == 0:
            raise DataError("got an empty list of layers; pass at least one [n, d] array.")
        items = [t if isinstance(t, torch.Tensor) else _numeric(np.asarray(t)) for t in X]
        shapes = {tuple(t.shape) for t in items}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise DataError(f"every layer must be [n, d] with the same shape, got shapes {sorted(shapes)}.")
        X = LayerList(items)
    elif not isinstance(X, torch.Tensor):
        X = _numeric(np.asarray(X))
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3:
        raise DataError(f"features must be [n, d] or [layers, n, d], got shape {tuple(X.shape)}.")
    if X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] == 0:
        raise DataError(f"features are empty (shape {tuple(X.shape)}); need at least one layer, row and column.")
    return X


def _numeric(X: np.ndarray) -> np.ndarray:
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise DataError(f"features must be numeric, got dtype {X.dtype}; convert them to float first.")
    return X


def layer_block(
    X: torch.Tensor | np.ndarray | LayerList,
    sl: slice,
    dtype: torch.dtype,
    device: torch.device,
    check_finite: bool = True,
) -> torch.Tensor:
    """Layers ``X[sl]`` as a contiguous tensor of ``dtype`` on ``device`` (a copy, never a view of the input).

    Raises:
        DataError: if ``check_finite`` and the block holds NaN or infinity.
    """
    block = X[sl]
    if isinstance(block, torch.Tensor):
        out = block.to(device=device, dtype=dtype, copy=True)
    else:
        out = torch.tensor(np.ascontiguousarray(block), dtype=dtype, device=device)
    if check_finite and not bool(torch.isfinite(out).all()):
        raise DataError(_NOT_FINITE)
    return out.contiguous()


_NOT_FINITE = "features contain NaN or infinity; clean or impute them before fitting."


def encode_labels(y: Any, n: int, device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """Encode labels as indices into the sorted unique classes.

    Returns:
        ``(codes [n] int64 on device, classes [k] numpy array)``.

    Raises:
        DataError: wrong length, fewer than two classes, or non-hashable labels.
    """
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"labels must be a vector of length {n} (one per example), got shape {y.shape}.")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"need at least 2 classes to fit a probe, got 1 class ({classes.tolist()!r}).")
    return torch.as_tensor(codes.reshape(-1), dtype=torch.int64, device=device), classes


def layer_inputs(X: Any, coef: torch.Tensor) -> torch.Tensor:
    """Features to apply fitted per-layer coefficients to: `[L, m, d]` on coef's device and dtype (`[m, d]` is
    used for every layer)."""
    Xt = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    Xt = Xt.to(device=coef.device, dtype=coef.dtype)
    return Xt.expand(coef.shape[0], -1, -1) if Xt.ndim == 2 else Xt


def as_grid(values: Any, name: str) -> list[float]:
    """A 1-D grid of positive floats (a scalar becomes a grid of one)."""
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(f"{name} must be a positive number or a 1-D list of them, got {values!r}.")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ConfigError(f"every value of {name} must be finite and > 0, got {arr.tolist()}.")
    return [float(v) for v in arr]


def center_scale_(X: torch.Tensor, standardize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre (and optionally scale) ``X [G, n, d]`` in place per layer; return the statistics used.

    The statistics are accumulated in float64 over blocks of rows (a float64 copy of at most
    ``_STAT_ROWS`` rows at a time), so they are those ``StandardScaler`` computes even for float32
    features: no float32 rounding of the mean (a constant column centres to exactly zero) and no underflow
    of squares (MiniLM's last layer has a column of values ~1e-31 whose float32 variance is 0, which made
    the column look constant and dropped a predictive feature). The scale is the population standard
    deviation (``ddof=0``), replaced by 1 for constant columns with scikit-learn's ``StandardScaler`` rule
    (``var <= n*eps*var + (n*mean*eps)**2``), so that a ``StandardScaler`` followed by a scikit-learn model
    sees the same features. With ``standardize=False`` the scale is all ones: centring alone is an exact
    reparametrization of the intercept and never changes the fitted model.

    Returns:
        ``(mean [G, d], scale [G, d])``, float64; ``mean`` is the value actually subtracted (the float64
        mean rounded to the working dtype).

    Raises:
        DataError: if a column holds NaN or infinity.
    """
    G, n, d = X.shape
    f64 = torch.float64
    exact = torch.zeros(G, d, dtype=f64, device=X.device)
    for s in range(0, n, _STAT_ROWS):
        exact += X[:, s : s + _STAT_ROWS].sum(dim=1, dtype=f64)
    exact /= n
    if not bool(torch.isfinite(exact).all()):
        raise DataError(_NOT_FINITE)
    mean_w = exact.to(X.dtype)
    X.sub_(mean_w[:, None, :])
    mean = mean_w.to(f64)
    if not standardize:
        return mean, torch.ones_like(mean)
    sq = torch.zeros(G, d, dtype=f64, device=X.device)
    for s in range(0, n, _STAT_ROWS):
        sq += X[:, s : s + _STAT_ROWS].to(f64).square().sum(dim=1)
    # variance about the exact mean; X was centred on its rounding (off by ``mean - exact``)
    var = (sq / n - (exact - mean).square()).clamp_min(0.0)
    scale = column_scale(var, exact, n)
    X.div_(scale.to(X.dtype)[:, None, :])
    return mean, scale


def column_scale(var: torch.Tensor, mean: torch.Tensor, n: int) -> torch.Tensor:
    """``StandardScaler``'s scale from float64 column variances and means: ``sqrt(var)``, or 1 for a column
    it deems constant (``var <= n*eps*var + (n*mean*eps)**2``)."""
    eps = torch.finfo(torch.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    return torch.where(constant, torch.ones_like(var), var.sqrt())


#: Rows per float64 block when accumulating column statistics.
_STAT_ROWS = 4096


def chunks(total: int, per_item: int, max_bytes: int | None, cap: int | None = None) -> Iterator[slice]:
    """Slices of ``range(total)`` holding at most ``max_bytes // per_item`` items (at least one) each."""
    budget = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
    if budget <= 0:
        raise ConfigError(f"max_bytes must be positive, got {max_bytes}.")
    size = max(1, budget // max(1, per_item))
    if cap is not None:
        size = min(size, max(1, cap))
    for start in range(0, total, size):
        yield slice(start, min(total, start + size))
