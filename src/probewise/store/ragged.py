"""`Ragged`: variable-length token sequences stored flat, `values [T, d]` with `offsets [n + 1]`.

Example:
    >>> import torch
    >>> from probewise.store.ragged import Ragged
    >>> r = Ragged(torch.arange(10.).reshape(5, 2), torch.tensor([0, 2, 5]))
    >>> len(r), r.lengths.tolist(), r[1].shape
    (2, [2, 3], torch.Size([3, 2]))
    >>> x, mask = r.padded(); tuple(x.shape), mask.sum().item()
    ((2, 3, 2), 5)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Ragged:
    values: torch.Tensor
    offsets: torch.Tensor

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> torch.Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def select(self, idx) -> Ragged:
        """A new Ragged holding examples `idx` (in that order)."""
        parts = [self[int(i)] for i in idx]
        lengths = torch.tensor([len(p) for p in parts], dtype=torch.int64)
        offsets = torch.zeros(len(parts) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(lengths, 0)
        values = torch.cat(parts) if parts else self.values[:0]
        return Ragged(values, offsets)

    def padded(self, max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`[n, t, d]` zero-padded values and a `[n, t]` bool mask (True = token); truncates to `max_len`."""
        lengths = self.lengths
        t = int(lengths.max()) if len(lengths) else 0
        if max_len is not None:
            t = min(t, max_len)
        x = self.values.new_zeros((len(self), t, *self.values.shape[1:]))
        mask = torch.zeros(len(self), t, dtype=torch.bool)
        for i in range(len(self)):
            seq = self[i][:t]
            x[i, : len(seq)] = seq
            mask[i, : len(seq)] = True
        return x, mask

    @staticmethod
    def from_list(parts: list[torch.Tensor]) -> Ragged:
        offsets = torch.zeros(len(parts) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(torch.tensor([len(p) for p in parts], dtype=torch.int64), 0)
        return Ragged(torch.cat(parts) if parts else torch.empty(0), offsets)
