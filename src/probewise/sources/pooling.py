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


def unpad(hidden: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Keep every non-padding token: a list of `[t_i, d]` tensors, one per example."""
    m = mask.to(torch.bool)
    return [hidden[i][m[i]] for i in range(hidden.shape[0])]
