"""Pool token representations `[b, t, d]` into one vector per example, respecting padding.

Example:
    >>> import torch
    >>> from probewise.sources.pooling import pool
    >>> h = torch.arange(12.).reshape(1, 3, 4)
    >>> mask = torch.tensor([[1, 1, 0]])
    >>> pool(h, mask, "mean").tolist()
    [[2.0, 3.0, 4.0, 5.0]]
"""

from __future__ import annotations

import torch

from probewise.errors import ConfigError

POOLINGS = ("mean", "last", "first", "max", "tokens")


def check_pooling(name: str) -> str:
    if name not in POOLINGS:
        raise ConfigError(f"unknown pooling {name!r}; choose one of {', '.join(POOLINGS)}.")
    return name


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool `hidden` `[b, t, d]` over its non-padding positions (`mask` `[b, t]`, 1 = token) → `[b, d]`.

    `first` and `last` take the first/last non-padding token, so left and right padding both work.
    """
    m = mask.to(torch.bool)
    if how == "mean":
        w = m.to(hidden.dtype).unsqueeze(-1)
        return (hidden * w).sum(1) / w.sum(1).clamp_min(1.0)
    if how == "max":
        neg = torch.finfo(hidden.dtype).min
        return hidden.masked_fill(~m.unsqueeze(-1), neg).amax(1)
    pos = torch.arange(m.shape[1], device=m.device).expand_as(m)
    if how == "last":
        idx = torch.where(m, pos, torch.full_like(pos, -1)).amax(1)
    elif how == "first":
        idx = torch.where(m, pos, torch.full_like(pos, m.shape[1])).amin(1)
    else:
        raise ConfigError(f"pool() takes mean/last/first/max, not {how!r}.")
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]


def pool_layers(hiddens: list[torch.Tensor], mask: torch.Tensor, how: str) -> list[torch.Tensor]:
    """`pool` of several layers' `[b, t, d]` over one batch's `mask`, bitwise equal to calling `pool` per layer.

    The mask's weights (mean), fill mask (max) or token positions (first/last) are computed once for the
    batch instead of once per layer. The reduction itself is the same as `pool`'s (a matrix product would
    sum in another order and change the low bits).
    """
    if how not in ("mean", "max", "first", "last"):
        raise ConfigError(f"pool() takes mean/last/first/max, not {how!r}.")
    m = mask.to(torch.bool)
    if how == "mean":
        weights: dict[torch.dtype, tuple[torch.Tensor, torch.Tensor]] = {}
        out = []
        for h in hiddens:
            if h.dtype not in weights:
                w = m.to(h.dtype).unsqueeze(-1)
                weights[h.dtype] = w, w.sum(1).clamp_min(1.0)
            w, denom = weights[h.dtype]
            out.append((h * w).sum(1) / denom)
        return out
    if how == "max":
        pad = ~m.unsqueeze(-1)
        return [h.masked_fill(pad, torch.finfo(h.dtype).min).amax(1) for h in hiddens]
    pos = torch.arange(m.shape[1], device=m.device).expand_as(m)
    if how == "last":
        idx = torch.where(m, pos, torch.full_like(pos, -1)).amax(1)
    else:
        idx = torch.where(m, pos, torch.full_like(pos, m.shape[1])).amin(1)
    rows = torch.arange(m.shape[0], device=m.device)
    return [h[rows, idx] for h in hiddens]


def unpad(hidden: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Keep every non-padding token: a list of `[t_i, d]` tensors, one per example."""
    m = mask.to(torch.bool)
    return [hidden[i][m[i]] for i in range(hidden.shape[0])]
