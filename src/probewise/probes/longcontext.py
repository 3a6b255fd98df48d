"""Long-context probes with a streaming form, after "Building Production-Ready Probes For Gemini" (Kramar et al.).

Each probe scores a token sequence from per-token quantities of the standardized tokens ``z_t`` and an
aggregation over positions, and exists in three equivalent forms:

* batch: ``decision_function(X)``, the final score of every sequence (what training optimizes);
* running: ``token_scores(X)``, the score of every prefix ``x[:t+1]`` (what a monitor shows after token ``t``);
* streaming: ``state = probe.stream()``, then ``state.update(x_t)`` per new token, returning the score so far
  with O(1) state (O(window) for :class:`RollingAttentionProbe`); equal to the batch score of the prefix up to
  float32 rounding. The scorer modules also stream ``b`` sequences at once from raw tokens
  (``init_batch`` / ``step_batch`` / ``feed_batch``: what :class:`ScoreStream` and the monitor use).

The aggregations (``k`` outputs: 1 for two classes, else one per class; ``H`` heads):

1. :class:`MeanLinearProbe`: ``mean_t (W z_t + b)``. Stream: running sum and count.
2. :class:`EMAMaxProbe`: per-token score ``s_t = W z_t + b``, bias-corrected exponential moving average
   ``e_t = alpha e_{t-1} + (1 - alpha) s_t``, ``ê_t = e_t / (1 - alpha^t)`` (a weighted mean of the scores
   so far, ``ê_1 = s_1``), then ``max_t ê_t``. Stream: ``e``, ``alpha^t`` and the running max.
3. :class:`AttentionProbe`: per head ``h`` a query score ``a_th = q_h . z_t`` and a value ``v_th = V_h z_t``;
   ``sum_h sum_t softmax_t(a_h)_t v_th + b``. Stream: per head the running max of ``a`` and the max-stabilized
   softmax numerator and denominator (rescaled when the max grows).
4. :class:`MultiMaxProbe`: ``sum_h max_t (w_h . z_t + b_h)`` (the brief's definition; the paper's MultiMax
   takes, per head, the value at the hard-max position of the query score). Stream: per-head running max; the
   standardization is folded into the weights (:meth:`MultiMaxScorer.fold`), so a token costs one
   matrix-vector product for all heads, an in-place maximum and a sum.
5. :class:`RollingAttentionProbe`: for each position, per head, the attention-weighted mean of the values over
   the last ``window`` tokens, summed over heads (``r_t``), then ``max_t r_t``. Stream: a ring buffer of the
   last ``window`` (score, value) pairs, O(window) memory and O(window) = O(1) work per token for a fixed window.

Padding never matters: inputs are converted to left-aligned sequences (see
:func:`probewise.probes._torch_base.as_tokens`) and padded positions get zero attention weight and are
excluded from every mean and max.

Example:
    >>> import torch
    >>> from probewise.probes.longcontext import MultiMaxProbe
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 20, 8, generator=g)
    >>> y = torch.arange(64) % 2
    >>> probe = MultiMaxProbe(n_heads=2, epochs=2).fit(x, y)
    >>> state = probe.stream()
    >>> scores = [state.update(token) for token in x[0]]
    >>> abs(scores[-1] - float(probe.decision_function(x[:1])[0])) < 1e-4
    True
    >>> bool(abs(probe.token_scores(x[:1])[0] - torch.tensor(scores).numpy()).max() < 1e-4)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from probewise.errors import ConfigError, DataError
from probewise.fit.trainer import gather_padded
from probewise.probes._torch_base import ProbeModule, TokenProbe, as_tokens, seeded_linear, uniform_init

__all__ = [
    "AttentionProbe",
    "EMAMaxProbe",
    "MeanLinearProbe",
    "MultiMaxProbe",
    "RollingAttentionProbe",
    "ScoreStream",
    "ema_scan",
]

_NEG = -1e30  # finite "minus infinity" for masked attention logits (keeps all-masked rows NaN-free)


def _masked_max(r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``max_t r[b, t, ...]`` over valid positions."""
    m = mask.view(*mask.shape, *([1] * (r.dim() - 2)))
    return r.masked_fill(~m, float("-inf")).amax(1)


def ema_scan(s: torch.Tensor, alpha: float, chunk: int = 256) -> torch.Tensor:
    """Bias-corrected EMA along axis 1 of ``s [b, t, k]``: ``ê_t = sum_{u<=t} alpha^(t-u) (1-alpha) s_u / (1-alpha^t)``.

    Computed chunk by chunk with a ``[chunk, chunk]`` decay matrix (``O(t * chunk)`` work, no sequential loop
    over tokens and no ``alpha^-t`` overflow), carrying the EMA between chunks.
    """
    b, t, k = s.shape
    e = s.new_zeros(b, k)
    parts = []
    for c0 in range(0, t, chunk):
        sc = s[:, c0 : c0 + chunk]
        n = sc.shape[1]
        j = torch.arange(n, device=s.device)
        diff = j[:, None] - j[None, :]
        decay = torch.where(diff >= 0, alpha ** diff.clamp(min=0).to(torch.float64), 0.0).to(s.dtype)
        carry = (alpha ** (j + 1).to(torch.float64)).to(s.dtype)
        ec = (1 - alpha) * torch.einsum("ji,bik->bjk", decay, sc) + carry[None, :, None] * e[:, None, :]
        e = ec[:, -1]
        parts.append(ec)
    steps = torch.arange(1, t + 1, device=s.device, dtype=torch.float64)
    correction = (1 - alpha**steps).to(s.dtype)
    return torch.cat(parts, 1) / correction[None, :, None]


class SequenceScorer(ProbeModule):
    """A long-context scorer: ``forward(x, mask) -> [b, k]``, ``running(x, mask) -> [b, t, k]`` and the streaming
    pair ``init_state() -> dict`` / ``step(state, z [d]) -> [k]`` (``z`` standardized)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.final(self.standardize(x), mask)

    def running_scores(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.running(self.standardize(x), mask)

    def final(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def running(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def init_state(self) -> dict:
        raise NotImplementedError

    def step(self, state: dict, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # batched streaming of raw tokens: what ScoreStream and the monitor call (MultiMax overrides it with one matmul)
    def init_batch(self, b: int) -> Any:
        """The streaming state of ``b`` sequences at once, for :meth:`step_batch` and :meth:`feed_batch`."""
        return [self.init_state() for _ in range(b)]

    @torch.no_grad()
    def step_batch(self, state: Any, x: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """Feed the raw (not standardized) token ``x[r]`` to each sequence ``r`` in ``rows`` (``x [b, d]``); return
        the ``[b, k]`` scores so far (NaN in the other rows)."""
        z = self.standardize(x)
        if len(rows) == x.shape[0]:
            return torch.stack([self.step(state[r], z[r]) for r in rows])
        out = z.new_full((x.shape[0], self.n_out), float("nan"))
        for r in rows:
            out[r] = self.step(state[r], z[r])
        return out

    def step_binary(self, state: Any, x: torch.Tensor, rows: list[int]) -> list[float]:
        """:meth:`step_batch` of a binary scorer (``k = 1``), the scores as Python floats (a monitor's per-token
        call)."""
        return [v for (v,) in self.step_batch(state, x, rows).tolist()]

    @torch.no_grad()
    def feed_batch(self, state: Any, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Feed ``x [b, t, d]`` (raw tokens, in order; only where the bool ``mask [b, t]`` is True); return the
        ``[b, t, k]`` score after each token (NaN where ``mask`` is False)."""
        b, t, _ = x.shape
        keep = mask.cpu().numpy()
        out = x.new_full((b, t, self.n_out), float("nan"))
        for j in range(t):
            rows = np.flatnonzero(keep[:, j]).tolist()
            if rows:
                out[:, j] = self.step_batch(state, x[:, j], rows)
        return out


class MeanLinearScorer(SequenceScorer):
    def __init__(self, d: int, k: int, generator: torch.Generator) -> None:
        super().__init__((d,))
        self.n_out = k
        self.linear = seeded_linear(d, k, generator)

    def final(self, z, mask):
        m = mask.to(z.dtype)[..., None]
        return (self.linear(z) * m).sum(1) / m.sum(1)

    def running(self, z, mask):
        m = mask.to(z.dtype)[..., None]
        return torch.cumsum(self.linear(z) * m, 1) / torch.cumsum(m, 1).clamp(min=1)

    def init_state(self):
        return {"sum": torch.zeros(self.linear.out_features, device=self.mean.device), "n": 0}

    def step(self, state, z):
        state["sum"] = state["sum"] + self.linear(z)
        state["n"] += 1
        return state["sum"] / state["n"]


class EMAMaxScorer(SequenceScorer):
    def __init__(self, d: int, k: int, alpha: float, generator: torch.Generator) -> None:
        super().__init__((d,))
        self.n_out = k
        self.linear = seeded_linear(d, k, generator)
        self.alpha = float(alpha)

    def _ema(self, z):
        return ema_scan(self.linear(z), self.alpha)

    def final(self, z, mask):
        return _masked_max(self._ema(z), mask)

    def running(self, z, mask):
        return torch.cummax(self._ema(z), dim=1).values

    def init_state(self):
        k = self.linear.out_features
        return {"e": torch.zeros(k, device=self.mean.device), "power": 1.0,
                "max": torch.full((k,), float("-inf"), device=self.mean.device)}

    def step(self, state, z):
        state["power"] *= self.alpha
        state["e"] = self.alpha * state["e"] + (1 - self.alpha) * self.linear(z)
        state["max"] = torch.maximum(state["max"], state["e"] / (1 - state["power"]))
        return state["max"]


class _HeadsMixin:
    """Per-head query scores ``a [.., H]`` and values ``v [.., H, k]`` of standardized tokens."""

    def _init_heads(self, d: int, k: int, n_heads: int, generator: torch.Generator) -> None:
        self.n_out = k
        self.query = nn.Parameter(uniform_init((d, n_heads), d, generator))
        self.value = nn.Parameter(uniform_init((n_heads, d, k), d, generator))
        self.bias = nn.Parameter(torch.zeros(k))

    def _heads(self, z):
        return z @ self.query, torch.einsum("...d,hdk->...hk", z, self.value)


class AttentionScorer(_HeadsMixin, SequenceScorer):
    def __init__(self, d: int, k: int, n_heads: int, generator: torch.Generator) -> None:
        super().__init__((d,))
        self._init_heads(d, k, n_heads, generator)

    def final(self, z, mask):
        a, v = self._heads(z)
        w = torch.softmax(a.masked_fill(~mask[..., None], float("-inf")), dim=1)
        return torch.einsum("bth,bthk->bk", w, v) + self.bias

    def running(self, z, mask):
        a, v = self._heads(z)
        a = a.double().masked_fill(~mask[..., None], float("-inf"))
        v = v.double()
        log_den = torch.logcumsumexp(a, dim=1)[..., None]
        pos = torch.logcumsumexp(a[..., None] + torch.log(v.clamp(min=0)), dim=1)
        neg = torch.logcumsumexp(a[..., None] + torch.log((-v).clamp(min=0)), dim=1)
        ratio = torch.exp(pos - log_den) - torch.exp(neg - log_den)
        return (ratio.sum(2) + self.bias.double()).to(z.dtype)

    def init_state(self):
        h, _, k = self.value.shape
        dev = self.mean.device
        return {"max": torch.full((h,), float("-inf"), device=dev), "den": torch.zeros(h, device=dev),
                "num": torch.zeros(h, k, device=dev)}

    def step(self, state, z):
        a, v = self._heads(z)
        new_max = torch.maximum(state["max"], a)
        rescale = torch.exp(state["max"] - new_max)
        w = torch.exp(a - new_max)
        state["den"] = state["den"] * rescale + w
        state["num"] = state["num"] * rescale[:, None] + w[:, None] * v
        state["max"] = new_max
        return (state["num"] / state["den"][:, None]).sum(0) + self.bias


class MultiMaxScorer(SequenceScorer):
    def __init__(self, d: int, k: int, n_heads: int, generator: torch.Generator) -> None:
        super().__init__((d,))
        self.n_out = k
        self.weight = nn.Parameter(uniform_init((n_heads, d, k), d, generator))
        self.bias = nn.Parameter(torch.zeros(n_heads, k))

    def _scores(self, z):
        return torch.einsum("...d,hdk->...hk", z, self.weight) + self.bias

    def final(self, z, mask):
        return _masked_max(self._scores(z), mask).sum(1)

    def running(self, z, mask):
        return torch.cummax(self._scores(z), dim=1).values.sum(2)

    def init_state(self):
        return {"max": torch.full(tuple(self.bias.shape), float("-inf"), device=self.mean.device)}

    def step(self, state, z):
        state["max"] = torch.maximum(state["max"], self._scores(z))
        return state["max"].sum(0)

    @torch.no_grad()
    def fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The standardization folded into the heads: ``(W [d, H*k], c [H*k])`` with ``x @ W + c`` the head scores
        ``w_h . z + b_h`` of the raw token ``x`` (``z = (x - mean) / scale``; ``(x - mean) / scale . w =
        x . (w / scale) - mean / scale . w``), computed in float64 from the current parameters and stored in
        float32, so that one matrix-vector product scores every head."""
        h, d, k = self.weight.shape
        w = (self.weight.double() / self.scale.double()[None, :, None]).permute(1, 0, 2).reshape(d, h * k)
        c = self.bias.double().reshape(-1) - self.mean.double() @ w
        return w.float().contiguous(), c.float()

    def init_batch(self, b):
        w, c = self.fold()
        return {"w": w, "c": c, "max": torch.full((b, w.shape[1]), float("-inf"), device=w.device)}

    def _head_sum(self, m):
        return m.sum(-1, keepdim=True) if self.n_out == 1 else m.unflatten(-1, (-1, self.n_out)).sum(-2)

    def _step_max(self, state, x, rows):
        m = state["max"]
        s = torch.addmm(state["c"], x, state["w"])                               # [b, H*k], every head at once
        if len(rows) == x.shape[0]:
            torch.maximum(m, s, out=m)
            return None
        idx = torch.as_tensor(rows, dtype=torch.long, device=m.device)
        m[idx] = torch.maximum(m[idx], s[idx])
        fed = torch.zeros(x.shape[0], 1, dtype=torch.bool, device=m.device)
        fed[idx] = True
        return fed

    def step_batch(self, state, x, rows):
        fed = self._step_max(state, x, rows)
        out = self._head_sum(state["max"])
        return out if fed is None else out.masked_fill(~fed, float("nan"))

    def step_binary(self, state, x, rows):
        # the decoding step of a monitored model, two torch ops (matmul, in-place max) and the head sum in Python:
        # between two forward passes each op runs with cold caches, so the number of calls, not the arithmetic,
        # is the cost. The sum is in float64 (the batch form sums in float32): equal up to float32 rounding.
        self._step_max(state, x, rows)
        return [sum(r) for r in state["max"].tolist()]

    def feed_batch(self, state, x, mask):
        mask = mask.to(x.device)
        s = torch.matmul(x, state["w"]).add_(state["c"]).masked_fill_(~mask[..., None], float("-inf"))
        cm = torch.maximum(torch.cummax(s, dim=1).values, state["max"][:, None])  # [b, t, H*k]
        state["max"].copy_(cm[:, -1])
        return self._head_sum(cm).masked_fill_(~mask[..., None], float("nan"))


class RollingAttentionScorer(_HeadsMixin, SequenceScorer):
    def __init__(self, d: int, k: int, n_heads: int, window: int, generator: torch.Generator) -> None:
        super().__init__((d,))
        self._init_heads(d, k, n_heads, generator)
        self.window = int(window)

    def rolling(self, z, mask):
        """``r [b, t, k]``: at each position the heads' attention means over the last ``window`` tokens."""
        a, v = self._heads(z)
        a = a.masked_fill(~mask[..., None], _NEG)
        v = v.masked_fill(~mask[..., None, None], 0.0)
        w = min(self.window, z.shape[1])
        a_win = F.pad(a, (0, 0, w - 1, 0), value=_NEG).unfold(1, w, 1)          # [b, t, H, w]
        v_win = F.pad(v, (0, 0, 0, 0, w - 1, 0)).unfold(1, w, 1)                 # [b, t, H, k, w]
        return torch.einsum("bthw,bthkw->btk", torch.softmax(a_win, dim=-1), v_win) + self.bias

    def final(self, z, mask):
        return _masked_max(self.rolling(z, mask), mask)

    def running(self, z, mask):
        return torch.cummax(self.rolling(z, mask), dim=1).values

    def init_state(self):
        h, _, k = self.value.shape
        dev = self.mean.device
        return {"a": torch.full((self.window, h), float("-inf"), device=dev),
                "v": torch.zeros(self.window, h, k, device=dev), "n": 0,
                "max": torch.full((k,), float("-inf"), device=dev)}

    def step(self, state, z):
        a, v = self._heads(z)
        slot = state["n"] % self.window
        state["a"][slot] = a
        state["v"][slot] = v
        state["n"] += 1
        w = torch.softmax(state["a"], dim=0)                                      # [window, H]
        r = torch.einsum("wh,whk->k", w, state["v"]) + self.bias
        state["max"] = torch.maximum(state["max"], r)
        return state["max"]


class ScoreStream:
    """The running score of one sequence, fed token by token (see :meth:`LongContextProbe.stream`).

    ``update(x)`` takes one token ``[d]`` (or several ``[m, d]``, fed in order) and returns the score of the
    sequence so far: a float for a binary probe (positive = ``classes_[1]``), else a ``[k]`` array of logits.
    """

    def __init__(self, module: SequenceScorer, binary: bool) -> None:
        self._module = module
        self._binary = binary
        self.reset()

    def reset(self) -> None:
        """Forget every token seen (start a new sequence)."""
        self._state = self._module.init_batch(1)
        self._score: torch.Tensor | None = None
        self.n_tokens = 0

    @torch.no_grad()
    def update(self, x: Any) -> float | np.ndarray:
        """Feed token(s) ``x [d]`` or ``[m, d]``; return the score after the last of them."""
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        t = t.to(device=self._module.mean.device, dtype=torch.float32)
        d = self._module.mean.shape[0]
        if t.shape[-1] != d or t.dim() not in (1, 2):
            raise DataError(f"a token must be [{d}] (or [m, {d}] for several), got shape {tuple(t.shape)}.")
        if not bool(torch.isfinite(t).all()):
            raise DataError("token contains NaN or infinity.")
        if t.dim() == 1:
            self._score = self._module.step_batch(self._state, t[None], [0])[0]
            self.n_tokens += 1
        else:
            fed = torch.ones(1, t.shape[0], dtype=torch.bool, device=t.device)
            self._score = self._module.feed_batch(self._state, t[None], fed)[0, -1]
            self.n_tokens += t.shape[0]
        return self.score

    @property
    def score(self) -> float | np.ndarray | None:
        """Score of the tokens seen so far (``None`` before the first token)."""
        if self._score is None:
            return None
        s = self._score.detach().cpu()
        return float(s[0]) if self._binary else s.numpy().copy()


class LongContextProbe(TokenProbe):
    """Base of the long-context probes: batch ``decision_function``, running ``token_scores``, ``stream()``."""

    def stream(self) -> ScoreStream:
        """A fresh :class:`ScoreStream` (O(1) state) for scoring one sequence token by token."""
        check_is_fitted(self, "module_")
        return ScoreStream(self.module_.eval(), self.n_outputs_ == 1)

    @torch.no_grad()
    def token_scores(self, X: Any) -> list[np.ndarray]:
        """Score of every prefix: one array per sequence, ``[t_i]`` (binary) or ``[t_i, k]``.

        Entry ``t`` equals ``decision_function`` of the sequence cut after token ``t`` (and a stream's score
        after ``t + 1`` updates), up to float32 rounding.
        """
        check_is_fitted(self, "module_")
        r = as_tokens(X)
        device = self._device()
        lengths = r.lengths.tolist()
        out: list[np.ndarray] = []
        bs = max(int(self.batch_size), 1)
        for s in range(0, len(lengths), bs):
            idx = torch.arange(s, min(len(lengths), s + bs))
            x, mask = gather_padded(r, idx, device)
            run = self.module_.eval().running_scores(x, mask).float().cpu()
            for i, n in zip(range(len(idx)), lengths[s : s + bs], strict=True):
                seq = run[i, :n]
                out.append((seq[:, 0] if self.n_outputs_ == 1 else seq).numpy())
        return out

    def _check_heads(self) -> int:
        h = int(self.n_heads)
        if h < 1:
            raise ConfigError(f"n_heads must be >= 1, got {self.n_heads!r}.")
        return h


class MeanLinearProbe(LongContextProbe):
    """Mean-pooled linear probe, ``mean_t (W z_t + b)``, trained on tokens (the long-context baseline).

    Args:
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.
    """

    def __init__(self, lr: float = 1e-2, weight_decay: float = 1e-2, epochs: int = 100, batch_size: int = 64,
                 patience: int | None = 10, warmup_frac: float = 0.05, seed: int = 0,
                 device: str | None = None) -> None:
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features, n_outputs, generator):
        return MeanLinearScorer(n_features, n_outputs, generator)


class EMAMaxProbe(LongContextProbe):
    """Per-token linear score, bias-corrected EMA over tokens with decay ``alpha``, max over positions.

    Args:
        alpha: EMA decay in ``[0, 1)`` (0: max of the raw per-token scores).
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.
    """

    def __init__(self, alpha: float = 0.9, lr: float = 1e-2, weight_decay: float = 1e-2, epochs: int = 100,
                 batch_size: int = 64, patience: int | None = 10, warmup_frac: float = 0.05, seed: int = 0,
                 device: str | None = None) -> None:
        self.alpha = alpha
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features, n_outputs, generator):
        if not 0 <= float(self.alpha) < 1:
            raise ConfigError(f"alpha must be in [0, 1), got {self.alpha!r}.")
        return EMAMaxScorer(n_features, n_outputs, float(self.alpha), generator)


class AttentionProbe(LongContextProbe):
    """Multi-head attention probe: per head softmax over tokens of ``q_h . z_t``, weighting ``V_h z_t``; heads summed.

    Args:
        n_heads: number of heads ``H``.
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.
    """

    def __init__(self, n_heads: int = 4, lr: float = 1e-2, weight_decay: float = 1e-2, epochs: int = 100,
                 batch_size: int = 64, patience: int | None = 10, warmup_frac: float = 0.05, seed: int = 0,
                 device: str | None = None) -> None:
        self.n_heads = n_heads
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features, n_outputs, generator):
        return AttentionScorer(n_features, n_outputs, self._check_heads(), generator)


class MultiMaxProbe(LongContextProbe):
    """MultiMax: ``sum_h max_t (w_h . z_t + b_h)``; a single strong token per head is never diluted by length.

    Args:
        n_heads: number of heads ``H``.
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.
    """

    def __init__(self, n_heads: int = 4, lr: float = 1e-2, weight_decay: float = 1e-2, epochs: int = 100,
                 batch_size: int = 64, patience: int | None = 10, warmup_frac: float = 0.05, seed: int = 0,
                 device: str | None = None) -> None:
        self.n_heads = n_heads
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features, n_outputs, generator):
        return MultiMaxScorer(n_features, n_outputs, self._check_heads(), generator)


class RollingAttentionProbe(LongContextProbe):
    """Max over positions of rolling-window attention means (window ``window``, heads summed).

    Args:
        n_heads: number of heads ``H``.
        window: tokens in each window (the current one and the ``window - 1`` before it).
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.
    """

    def __init__(self, n_heads: int = 4, window: int = 16, lr: float = 1e-2, weight_decay: float = 1e-2,
                 epochs: int = 100, batch_size: int = 64, patience: int | None = 10, warmup_frac: float = 0.05,
                 seed: int = 0, device: str | None = None) -> None:
        self.n_heads = n_heads
        self.window = window
        self._set_training(lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device)

    def _build_module(self, n_features, n_outputs, generator):
        if int(self.window) < 1:
            raise ConfigError(f"window must be >= 1, got {self.window!r}.")
        return RollingAttentionScorer(n_features, n_outputs, self._check_heads(), int(self.window), generator)

