"""Moment probe: a linear head on the first-order moment plus one on a compact second-order statistic.

After "Tuning Pre-trained Model via Moment Probing" (Gao et al., ICCV 2023): the logits of a linear classifier
on the first-order moment of the tokens (their mean, or the CLS token) are summed with those of a linear
classifier on second-order statistics, so the probe sees how channels co-vary across tokens, which no function
of the mean can. The paper's second-order branch (multi-head convolutional cross-covariance, MHC3) is kept in
spirit, not to the letter: tokens are standardized and projected to ``r`` dimensions (a learned ``[d, r]``
map), the ``r`` channels are split into ``g`` groups of ``s = r / g``, and for each group ``j`` the
cross-covariance with the next group, ``C_j = (1/t) sum_t (z_t,j - mean_j)(z_t,j+1 - mean_j+1)^T`` (``[s, s]``,
groups taken cyclically, so ``g = 1`` is the full covariance of the projection), is computed over the valid
tokens with one einsum. The ``g s^2 = r^2 / g`` numbers feed the second linear head. Cost per sequence is
``O(t (d r + r s))``; parameters ``d r + (r^2 / g) k + d k + 2k`` (no ``d^2`` covariance is ever formed).
The paper's PSRP backbone-tuning module is out of scope for a frozen-model probe.

Example:
    >>> import torch
    >>> from probewise.probes.moment import MomentProbe
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 12, 8, generator=g)
    >>> y = torch.arange(64) % 2
    >>> probe = MomentProbe(proj_dim=8, groups=2, epochs=2).fit(x, y)
    >>> probe.report_["parameters"]          # 8*8 proj + (2*4*4 + 1) + (8 + 1)
    106
"""

from __future__ import annotations

import torch
from torch import nn

from probewise.errors import ConfigError
from probewise.probes._torch_base import ProbeModule, TokenProbe, seeded_linear, uniform_init

__all__ = ["MomentModule", "MomentProbe"]


class MomentModule(ProbeModule):
    """First-order head (mean or CLS token) + head on grouped cross-covariances of a low-dim projection."""

    def __init__(self, n_features: int, first_order: str, second_order: bool, proj_dim: int, groups: int,
                 n_outputs: int, generator: torch.Generator) -> None:
        super().__init__((n_features,))
        self.first_order = first_order
        self.groups = groups
        self.head1 = seeded_linear(n_features, n_outputs, generator)
        self.has_second = second_order
        if second_order:
            s = proj_dim // groups
            self.proj = nn.Parameter(uniform_init((n_features, proj_dim), n_features, generator))
            self.head2 = seeded_linear(groups * s * s, n_outputs, generator)

    def second_order_features(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[b, g s^2]`` cross-covariances between consecutive channel groups of the projected tokens."""
        b, t, _ = z.shape
        m = mask.to(z.dtype)[..., None]
        count = m.sum(1).clamp(min=1)
        p = z @ self.proj
        p = (p - (p * m).sum(1, keepdim=True) / count[:, None]) * m
        pg = p.view(b, t, self.groups, -1)
        cov = torch.einsum("btgs,btgu->bgsu", pg, pg.roll(-1, dims=2)) / count[:, :, None, None]
        return cov.reshape(b, -1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = self.standardize(x).masked_fill(~mask[..., None], 0.0)
        if self.first_order == "cls":
            first = z[:, 0]
        else:
            first = z.sum(1) / mask.sum(1, keepdim=True).clamp(min=1).to(z.dtype)
        logits = self.head1(first)
        if self.has_second:
            logits = logits + self.head2(self.second_order_features(z, mask))
        return logits


class MomentProbe(TokenProbe):
    """Moment probing on token sequences: first-order logits + second-order (cross-covariance) logits.

    Args:
        first_order: ``"mean"`` (mean of the valid tokens) or ``"cls"`` (the first token).
        second_order: include the second-order branch (``False`` leaves the first-order linear head alone,
            a baseline).
        proj_dim: ``r``, width of the learned projection before the covariances (a multiple of ``groups``).
        groups: ``g``, number of channel groups; each contributes an ``[r/g, r/g]`` cross-covariance.
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.

    Fit with token sequences: ``MomentProbe().fit(ragged, y)`` or ``.fit((x, mask), y)``.

    Example:
        >>> import torch
        >>> from probewise.probes.moment import MomentProbe
        >>> x = torch.randn(32, 6, 4, generator=torch.Generator().manual_seed(0))
        >>> MomentProbe(proj_dim=4, groups=1, epochs=1).fit(x, torch.arange(32) % 3).decision_function(x).shape
        (32, 3)
    """

    def __init__(self, first_order: str = "mean", second_order: bool = True, proj_dim: int = 64, groups: int = 4,
                 lr: float = 1e-3, weight_decay: float = 1e-2, epochs: int = 100, batch_size: int = 64,
                 patience: int | None = 10, warmup_frac: float = 0.05, seed: int = 0,
                 device: str | None = None) -> None:
        self.first_order = first_order
        self.second_order = second_order
        self.proj_dim = proj_dim
        self.groups = groups
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features: int, n_outputs: int, generator: torch.Generator) -> MomentModule:
        if self.first_order not in ("mean", "cls"):
            raise ConfigError(f"first_order must be 'mean' or 'cls', got {self.first_order!r}.")
        r, g = int(self.proj_dim), int(self.groups)
        if g < 1 or r < g or r % g:
            raise ConfigError(f"proj_dim must be a positive multiple of groups; got proj_dim={self.proj_dim!r}, "
                              f"groups={self.groups!r}.")
        return MomentModule(n_features, self.first_order, bool(self.second_order), r, g, n_outputs, generator)
