"""Layouts: which axes of a hooked output are tokens and which one holds the features, said rather than guessed.

Example:
    >>> import torch
    >>> from probewise.sources.layouts import as_tokens
    >>> eeg = torch.zeros(2, 8, 100)                  # a Conv1d/EEG output: [b, channels, time]
    >>> tuple(as_tokens(eeg, "bct").shape)            # 100 time steps ("tokens") of 8 channels
    (2, 100, 8)
    >>> tuple(as_tokens(torch.zeros(2, 16, 4, 4), "bchw").shape)   # a conv map: 16 positions of 16 channels
    (2, 16, 16)

A layout names every axis of the output with one letter: ``b`` the batch (first), ``c`` or ``d`` the feature axis
(exactly one), any other letter a token axis (several token axes, as ``h`` and ``w``, are flattened in order into one
token axis). The common ones:

=========  ===========================  ==========================================================
layout     output                        read as
=========  ===========================  ==========================================================
``bd``     ``[b, d]``                    one vector per example (no tokens)
``btd``    ``[b, t, d]``                 t tokens of d features (transformers, batch-first RNNs)
``bct``    ``[b, c, t]``                 t time steps of c channels (Conv1d, EEG, audio)
``bchw``   ``[b, c, h, w]``              h·w positions of c channels (Conv2d maps)
``bhwc``   ``[b, h, w, c]``              h·w positions of c channels (channels-last maps)
``flat``   ``[b, ...]``                  everything after b as one vector (pooling ``none``)
=========  ===========================  ==========================================================

Tokens are then pooled by the source's pooling (mean, max, first, last, or kept with ``tokens``).
Outputs of rank 2 need no layout. For rank 3 and more, :func:`default_layout` knows the layouts torch documents for its
own layer types (``Conv1d`` → ``bct``, ``Conv2d`` → ``bchw``, a batch-first ``TransformerEncoderLayer`` → ``btd``);
any other module's output needs a layout, and :func:`layout_error` says so instead of reading ``[b, c, t]`` as
``[b, t, d]``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from probewise.errors import SourceError

__all__ = ["COMMON_LAYOUTS", "as_tokens", "check_layout", "default_layout", "layout_error"]

COMMON_LAYOUTS = {
    "bd": "[b, d]: one vector per example",
    "btd": "[b, tokens, features]: transformers, batch-first RNNs",
    "bct": "[b, channels, time]: Conv1d, EEG, audio (time steps become tokens)",
    "bchw": "[b, channels, height, width]: Conv2d maps (h·w positions become tokens)",
    "bhwc": "[b, height, width, channels]: channels-last maps",
    "flat": "[b, ...]: everything after b as one vector (pooling 'none')",
}
_FEATURE = ("c", "d")

_BCT = (nn.Conv1d, nn.ConvTranspose1d, nn.BatchNorm1d, nn.InstanceNorm1d, nn.MaxPool1d, nn.AvgPool1d,
        nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d, nn.LPPool1d)
_BCHW = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.MaxPool2d, nn.AvgPool2d,
         nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)
_BATCH_FIRST = (nn.MultiheadAttention, nn.LSTM, nn.GRU, nn.RNN)
#: Modules that act on the last axis: with the batch first (the source feeds ``[b, ...]``), rank 3 is [b, t, d].
_FEATURES_LAST = (nn.Linear, nn.Bilinear, nn.LayerNorm, nn.RMSNorm, nn.Embedding)


def check_layout(layout: str) -> str:
    """Return ``layout`` if it is a valid layout string, else raise :class:`SourceError` saying what is valid."""
    if layout == "flat":
        return layout
    ok = (isinstance(layout, str) and len(layout) >= 2 and layout.isalpha() and layout.islower()
          and layout[0] == "b" and len(set(layout)) == len(layout) and sum(ch in _FEATURE for ch in layout) == 1)
    if not ok:
        common = ", ".join(f"{k!r} ({v})" for k, v in COMMON_LAYOUTS.items())
        raise SourceError(f"layout {layout!r} is not valid: name each axis with one letter, 'b' (batch) first and "
                          f"exactly one feature axis 'c' or 'd'; e.g. {common}.")
    return layout


def default_layout(module: nn.Module | None, rank: int) -> str | None:
    """The layout torch documents for ``module``'s output of rank ``rank``, or None when it is not known."""
    if rank == 2:
        return "bd"
    if rank == 3 and isinstance(module, _BCT):
        return "bct"
    if rank == 4 and isinstance(module, _BCHW):
        return "bchw"
    if rank == 3 and (isinstance(module, _FEATURES_LAST) or _batch_first(module)):
        return "btd"
    return None


def _batch_first(module: nn.Module | None) -> bool:
    if isinstance(module, nn.TransformerEncoder | nn.TransformerDecoder):
        module = module.layers[0] if len(module.layers) else None
    if isinstance(module, nn.TransformerEncoderLayer | nn.TransformerDecoderLayer):
        module = module.self_attn
    return isinstance(module, _BATCH_FIRST) and bool(getattr(module, "batch_first", False))


def layout_error(name: str, shape: tuple[int, ...], module: nn.Module | None = None) -> SourceError:
    """The error for an output of rank ≥ 3 whose layout nobody said."""
    what = f" ({type(module).__name__})" if module is not None else ""
    if len(shape) == 3:
        options = "'btd' ([b, tokens, features], transformers) or 'bct' ([b, channels, time], Conv1d/EEG)"
    elif len(shape) == 4:
        options = "'bchw' ([b, channels, h, w], conv maps) or 'bhwc' (channels last)"
    else:
        options = "a string naming each axis, e.g. 'bcthw' for video maps"
    return SourceError(
        f"layer {name!r}{what} outputs {list(shape)} (rank {len(shape)}) and its layout is not known: say which axis "
        f"holds the features and which are tokens with layout= (CLI: --layout): {options}, or 'flat' for one vector "
        "per example (pooling 'none'). A per-layer choice: layout={name: layout}."
    )


def as_tokens(t: torch.Tensor, layout: str, name: str = "output") -> torch.Tensor:
    """Read ``t`` by ``layout``: ``[b, d]`` for 'bd'/'flat', else ``[b, tokens, d]`` (token axes flattened in order)."""
    check_layout(layout)
    if layout == "flat":
        return t.reshape(t.shape[0], -1)
    if t.dim() != len(layout):
        raise SourceError(f"layer {name!r} outputs {list(t.shape)} (rank {t.dim()}), but its layout {layout!r} names "
                          f"{len(layout)} axes; give a layout with one letter per axis.")
    if layout == "bd":
        return t
    feat = next(i for i, ch in enumerate(layout) if ch in _FEATURE)
    token_axes = [i for i in range(1, t.dim()) if i != feat]
    return t.permute(0, *token_axes, feat).reshape(t.shape[0], -1, t.shape[feat])
