"""Attentive probes over token sequences: efficient probing (EP) and the V-JEPA / AIM attentive pooler.

Both read token sequences (a :class:`~probewise.store.ragged.Ragged`, ``(x [n, t, d], mask [n, t])``, a
``[n, t, d]`` array or a list of ``[t_i, d]`` arrays), standardize every channel with statistics of the
training tokens, pool the tokens of each sequence by cross-attention from learned queries (padded positions
get zero attention weight), then apply a linear classifier.

* :class:`EfficientProbe` follows "Attention, Please! Revisiting Attentive Probing for Masked Image Modeling"
  (Psomas et al., 2025; code: github.com/billpsomas/efficient-probing, ``poolings/ep.py``). With learned
  queries the query, key and output projections of multi-head cross-attention are redundant (``q W_q`` is
  just another learned vector, ``q W_q (x W_k)^T = (q W_q W_k^T) x^T``, and ``W_o`` folds into the
  classifier), so EP keeps ``M`` learned queries ``q_j [d]`` scoring the raw tokens, ``a_j = softmax_t(q_j .
  x_t / sqrt(d))``, and a *single* linear value projection ``W_v [d, p]`` (as in the paper's code; not a key
  projection). The projected values ``x_t W_v`` are split into ``M`` chunks of ``p / M`` channels; query ``j``
  aggregates chunk ``j``; the chunks are concatenated into one ``[p]`` vector (the paper's choice: concatenate,
  not average) and fed to the linear classifier. Parameters: ``M d + d p + p k + k``.
* :class:`AttentivePoolerProbe` is the V-JEPA ``AttentivePooler`` / AIM style head: one learned query token, a
  pre-norm multi-head cross-attention block (LayerNorm on tokens, q/k/v/out projections, residual onto the
  query) followed by an MLP residual block (LayerNorm, ``d -> mlp_ratio d -> d``, GELU), then a linear head.
  Parameters: about ``(4 + 2 mlp_ratio) d^2``, roughly ``12 d^2`` (7.1 M at ``d = 768``, against EP's 0.6 M
  with ``M = 32, p = d``).

Example:
    >>> import torch
    >>> from probewise.probes.attentive import AttentivePoolerProbe, EfficientProbe
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 10, 8, generator=g)
    >>> y = (x[:, 3, 0] > 0).long()
    >>> ep = EfficientProbe(n_queries=2, epochs=2).fit(x, y)
    >>> ap = AttentivePoolerProbe(n_heads=2, epochs=2).fit(x, y)
    >>> ep.report_["parameters"], ap.report_["parameters"]
    (89, 889)
    >>> ep.predict_proba(x).shape
    (64, 2)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from probewise.errors import ConfigError
from probewise.fit.trainer import gather_padded
from probewise.probes._torch_base import ProbeModule, TokenProbe, as_tokens, seeded_linear

__all__ = ["AttentivePoolerProbe", "EfficientProbe"]


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis (tokens) of ``scores [b, ..., t]``; ``mask [b, t]`` False -> weight 0."""
    m = mask.view(mask.shape[0], *([1] * (scores.dim() - 2)), mask.shape[1])
    return torch.softmax(scores.masked_fill(~m, float("-inf")), dim=-1)


class EfficientModule(ProbeModule):
    """EP: ``M`` learned queries on raw (standardized) tokens, one value projection, concatenated outputs."""

    def __init__(self, n_features: int, n_queries: int, value_dim: int, n_outputs: int,
                 generator: torch.Generator) -> None:
        super().__init__((n_features,))
        self.query = nn.Parameter(torch.randn(n_queries, n_features, generator=generator) * 0.02)
        self.value = seeded_linear(n_features, value_dim, generator, bias=False)
        self.head = seeded_linear(value_dim, n_outputs, generator)
        self.qk_scale = n_features**-0.5

    def attention(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attention weights ``[b, M, t]`` of every query over the tokens of ``x [b, t, d]``."""
        z = self.standardize(x)
        return _masked_softmax(torch.einsum("btd,md->bmt", z, self.query) * self.qk_scale, mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = self.standardize(x)
        b, t, _ = z.shape
        m = self.query.shape[0]
        attn = _masked_softmax(torch.einsum("btd,md->bmt", z, self.query) * self.qk_scale, mask)
        v = self.value(z).view(b, t, m, -1)
        pooled = torch.einsum("bmt,btmc->bmc", attn, v).reshape(b, -1)
        return self.head(pooled)


class PoolerModule(ProbeModule):
    """V-JEPA attentive pooler: one query, pre-norm multi-head cross-attention + MLP residual, linear head."""

    def __init__(self, n_features: int, n_heads: int, mlp_ratio: float, n_outputs: int,
                 generator: torch.Generator) -> None:
        super().__init__((n_features,))
        d = n_features
        hidden = max(1, int(round(mlp_ratio * d)))
        self.n_heads = n_heads
        self.query = nn.Parameter(torch.randn(d, generator=generator) * 0.02)
        self.norm1 = nn.LayerNorm(d)
        self.q_proj = seeded_linear(d, d, generator)
        self.k_proj = seeded_linear(d, d, generator)
        self.v_proj = seeded_linear(d, d, generator)
        self.out_proj = seeded_linear(d, d, generator)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = seeded_linear(d, hidden, generator)
        self.fc2 = seeded_linear(hidden, d, generator)
        self.head = seeded_linear(d, n_outputs, generator)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tokens = self.norm1(self.standardize(x))
        b, t, d = tokens.shape
        h = self.n_heads
        q = self.q_proj(self.query).view(h, d // h)
        k = self.k_proj(tokens).view(b, t, h, d // h)
        v = self.v_proj(tokens).view(b, t, h, d // h)
        attn = _masked_softmax(torch.einsum("hc,bthc->bht", q, k) / math.sqrt(d // h), mask)
        pooled = self.query + self.out_proj(torch.einsum("bht,bthc->bhc", attn, v).reshape(b, d))
        pooled = pooled + self.fc2(F.gelu(self.fc1(self.norm2(pooled))))
        return self.head(pooled)


class EfficientProbe(TokenProbe):
    """Efficient probing (EP): multi-query cross-attention without q/k/out projections, then a linear head.

    Args:
        n_queries: number ``M`` of learned queries (each attends over the tokens on its own).
        value_dim: width ``p`` of the value projection, a multiple of ``n_queries``; ``None``: ``d`` rounded up
            to a multiple of ``n_queries`` (the paper's default ``d_out = 1``).
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.

    Fit with token sequences: ``EfficientProbe().fit(ragged, y)`` or ``.fit((x, mask), y)``; see the module
    docstring. ``attention(X)`` returns each query's attention map (interpretable: where it looked).

    Example:
        >>> import torch
        >>> from probewise.probes.attentive import EfficientProbe
        >>> x = torch.randn(32, 5, 4, generator=torch.Generator().manual_seed(0))
        >>> probe = EfficientProbe(n_queries=2, epochs=1).fit(x, (x[:, 0, 0] > 0).long())
        >>> [a.shape for a in probe.attention(x[:2])]
        [(2, 5), (2, 5)]
    """

    def __init__(self, n_queries: int = 8, value_dim: int | None = None, lr: float = 1e-3,
                 weight_decay: float = 1e-2, epochs: int = 100, batch_size: int = 64, patience: int | None = 10,
                 warmup_frac: float = 0.05, seed: int = 0, device: str | None = None) -> None:
        self.n_queries = n_queries
        self.value_dim = value_dim
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features: int, n_outputs: int, generator: torch.Generator) -> EfficientModule:
        m = int(self.n_queries)
        if m < 1:
            raise ConfigError(f"n_queries must be >= 1, got {self.n_queries!r}.")
        p = int(self.value_dim) if self.value_dim is not None else m * math.ceil(n_features / m)
        if p < m or p % m:
            raise ConfigError(f"value_dim must be a positive multiple of n_queries={m}, got {self.value_dim!r}.")
        return EfficientModule(n_features, m, p, n_outputs, generator)

    @torch.no_grad()
    def attention(self, X) -> list:
        """Attention maps: one ``[M, t_i]`` numpy array per sequence."""
        r = as_tokens(X)
        x, mask = gather_padded(r, None, self._device())
        attn = self.module_.attention(x, mask).cpu()
        return [attn[i, :, : int(n)].numpy() for i, n in enumerate(r.lengths.tolist())]


class AttentivePoolerProbe(TokenProbe):
    """V-JEPA / AIM attentive pooler: one learned query, a multi-head cross-attention block, a linear head.

    Args:
        n_heads: attention heads (must divide ``d``).
        mlp_ratio: width of the block's MLP as a multiple of ``d``.
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.

    Example:
        >>> import torch
        >>> from probewise.probes.attentive import AttentivePoolerProbe
        >>> x = torch.randn(32, 5, 4, generator=torch.Generator().manual_seed(0))
        >>> AttentivePoolerProbe(n_heads=2, epochs=1).fit(x, (x[:, 0, 0] > 0).long()).predict(x).shape
        (32,)
    """

    def __init__(self, n_heads: int = 4, mlp_ratio: float = 4.0, lr: float = 1e-3, weight_decay: float = 1e-2,
                 epochs: int = 100, batch_size: int = 64, patience: int | None = 10, warmup_frac: float = 0.05,
                 seed: int = 0, device: str | None = None) -> None:
        self.n_heads = n_heads
        self.mlp_ratio = mlp_ratio
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features: int, n_outputs: int, generator: torch.Generator) -> PoolerModule:
        h = int(self.n_heads)
        if h < 1 or n_features % h:
            raise ConfigError(f"n_heads must divide the feature size {n_features}, got {self.n_heads!r}.")
        if not self.mlp_ratio > 0:
            raise ConfigError(f"mlp_ratio must be > 0, got {self.mlp_ratio!r}.")
        return PoolerModule(n_features, h, float(self.mlp_ratio), n_outputs, generator)
