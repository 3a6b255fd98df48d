"""Streaming scorers: each probe's running score of a sequence, updated as the model reads new tokens.

A *stream* holds one probe's state for a batch of sequences: ``start(b)`` opens ``b`` sequences, then each call
hands it the hidden states of the tokens the model just read, and it returns the probe's score of every sequence
cut after each of those tokens (the score of the prefix so far) without going back over earlier tokens.
``feed(x [b, t, d], m [b, t])`` takes a chunk of ``t`` tokens (a prompt, or a forward pass without a KV cache; the
bool mask ``m`` says which are scored); ``step(x [b, 1, d], rows)`` takes one decoding step, the cheap path a
cached ``generate`` takes once per token. :func:`_make_stream` picks the form for a probe artifact: a running
pooled ``w.x + b`` for binary linear probes, a running pooled vector scored by ``decision_function`` for other
binary probes on pooled features, and the long-context probe's own streaming state for probes on token sequences.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

from probewise.artifact import ProbeArtifact
from probewise.errors import ProbeError


class _Stream:
    """Batched streaming score of one probe: ``start(b)``, then ``feed(x [b, t, d], m [b, t]) -> [b, t]`` float64
    (NaN where the numpy bool mask ``m`` is False)."""

    def start(self, b: int) -> None:
        raise NotImplementedError

    def feed(self, x: torch.Tensor, m: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def step(self, x: torch.Tensor, rows: list[int]) -> list[float]:
        """One decoding step: ``x [b, 1, d]`` (not requiring grad), one new token for each of ``rows``; returns
        ``[b]`` scores (those of the other rows are unspecified)."""
        m = np.zeros((x.shape[0], 1), dtype=bool)
        m[rows] = True
        return self.feed(x, m)[:, 0].tolist()


def _as_numpy(x: torch.Tensor) -> np.ndarray:
    return (x if x.dtype == torch.float32 else x.float()).cpu().numpy()


class _LinearStream(_Stream):
    """A binary linear probe on pooled features: running mean / max / last / first of ``x``, then ``w.x + b``.

    ``w.x`` runs in float64 (as the probe's ``decision_function``) on the activations' device; only scores come
    back. A decoding step is one matrix-vector product and a few Python floats (the cheapest in-loop work: between
    two forward passes every op runs with cold caches).
    """

    def __init__(self, probe: Any, pooling: str) -> None:
        self.w = np.asarray(probe.coef_, dtype=np.float64)[0]
        self.bias = float(np.asarray(probe.intercept_).reshape(-1)[0])
        self.pooling = pooling
        self._dev: dict[torch.device, torch.Tensor] = {}

    def start(self, b: int) -> None:
        self.sum = [0.0] * b
        self.n = [0.0] * b
        self.first = [math.nan] * b
        self.max: np.ndarray | torch.Tensor | None = None

    def _w(self, device: torch.device) -> torch.Tensor:
        if device not in self._dev:
            self._dev[device] = torch.as_tensor(self.w, device=device)
        return self._dev[device]

    def _dots(self, x: torch.Tensor) -> np.ndarray:
        """``x [..., d] @ w`` as float64 ``[...]``."""
        return (x.double() @ self._w(x.device)).cpu().numpy()

    def step(self, x: torch.Tensor, rows: list[int]) -> list[float]:
        b = x.shape[0]
        if self.pooling not in ("mean", "last") or len(rows) != b:
            return super().step(x, rows)
        d = torch.mv(x.reshape(b, -1).double(), self._w(x.device)).tolist()
        bias = self.bias
        if self.pooling == "last":
            return [v + bias for v in d]
        sums, ns = self.sum, self.n
        for r, v in enumerate(d):
            sums[r] += v
            ns[r] += 1.0
        return [s_ / n_ + bias for s_, n_ in zip(sums, ns, strict=True)]

    def _running_max(self, x: torch.Tensor, m: np.ndarray) -> np.ndarray:
        mt = torch.as_tensor(m, device=x.device)
        cm = torch.cummax(x.float().masked_fill(~mt[..., None], -math.inf), dim=1).values
        if self.max is not None:
            cm = torch.maximum(cm, self.max[:, None])
        self.max = cm[:, -1]
        return (cm.double() @ self._w(x.device)).cpu().numpy()

    def feed(self, x: torch.Tensor, m: np.ndarray) -> np.ndarray:
        if self.pooling == "max":
            s = self._running_max(x, m)
        else:
            s = self._dots(x)
            if self.pooling == "mean":
                cs = np.cumsum(np.where(m, s, 0.0), 1) + np.asarray(self.sum)[:, None]
                cn = np.cumsum(m.astype(np.float64), 1) + np.asarray(self.n)[:, None]
                self.sum, self.n = cs[:, -1].tolist(), cn[:, -1].tolist()
                s = np.divide(cs, cn, out=np.full(cs.shape, math.nan), where=cn > 0)
            elif self.pooling == "first":
                out = np.empty_like(s)
                first = np.asarray(self.first)
                for j in range(s.shape[1]):
                    first = np.where(m[:, j] & np.isnan(first), s[:, j], first)
                    out[:, j] = first
                self.first, s = first.tolist(), out
        s = s + self.bias
        return s if m.all() else np.where(m, s, math.nan)


class _PooledStream(_Stream):
    """Any binary probe on pooled features: the running pooled vector, scored by ``decision_function`` per token."""

    def __init__(self, probe: Any, pooling: str) -> None:
        self.probe = probe
        self.pooling = pooling

    def start(self, b: int) -> None:
        self.state: np.ndarray | None = None
        self.n = np.zeros(b)

    def feed(self, x: torch.Tensor, m: np.ndarray) -> np.ndarray:
        xs = _as_numpy(x).astype(np.float64)
        b, t, d = xs.shape
        if self.state is None:
            self.state = np.full((b, d), -np.inf if self.pooling == "max" else 0.0)
        out = np.full((b, t), math.nan)
        for j in range(t):
            r = m[:, j]
            if not r.any():
                continue
            if self.pooling == "mean":
                self.state[r] += xs[r, j]
            elif self.pooling == "max":
                self.state[r] = np.maximum(self.state[r], xs[r, j])
            else:
                take = r if self.pooling == "last" else r & (self.n == 0)
                self.state[take] = xs[take, j]
            self.n[r] += 1
            pooled = self.state[r] / self.n[r, None] if self.pooling == "mean" else self.state[r]
            out[r, j] = np.asarray(self.probe.decision_function(pooled), dtype=np.float64).reshape(-1)
        return out


class _TokenStream(_Stream):
    """A long-context probe's own streaming form, all sequences at once: the scorer's ``init_batch`` /
    ``step_batch`` / ``feed_batch`` on raw activations (see :mod:`probewise.probes.longcontext`)."""

    def __init__(self, probe: Any) -> None:
        self.module = probe.module_.eval()
        self._dev: dict[torch.device, Any] = {}

    def _module(self, device: torch.device) -> Any:
        if device not in self._dev:
            here = next(self.module.buffers()).device
            self._dev[device] = self.module if here == device else copy.deepcopy(self.module).to(device)
        return self._dev[device]

    def start(self, b: int) -> None:
        self.b = b
        self.state: Any = None

    def _begin(self, x: torch.Tensor) -> Any:
        self.mod = self._module(x.device)
        with torch.no_grad():
            self.state = self.mod.init_batch(self.b)
        return self.state

    def step(self, x: torch.Tensor, rows: list[int]) -> list[float]:
        state = self.state if self.state is not None else self._begin(x)
        x = x.reshape(x.shape[0], -1) if x.dtype == torch.float32 else x.reshape(x.shape[0], -1).float()
        if torch.is_grad_enabled():
            with torch.no_grad():
                return self.mod.step_binary(state, x, rows)
        return self.mod.step_binary(state, x, rows)

    @torch.no_grad()
    def feed(self, x: torch.Tensor, m: np.ndarray) -> np.ndarray:
        state = self.state if self.state is not None else self._begin(x)
        s = self.mod.feed_batch(state, x.float(), torch.as_tensor(m, device=x.device))
        return s[..., 0].double().cpu().numpy()


def _make_stream(art: ProbeArtifact) -> _Stream:
    probe = art.probe
    if not art.binary:
        raise ProbeError(f"{type(probe).__name__} has {len(probe.classes_)} classes; the monitor scores binary "
                         "probes (one score per token, one threshold at a calibrated FPR). Train one binary probe "
                         "per class to watch (labels: that class vs the rest) and monitor those.")
    if art.pooling == "tokens":
        if not hasattr(probe, "stream") or not hasattr(getattr(probe, "module_", None), "step_binary"):
            raise ProbeError(f"{type(probe).__name__} reads token sequences but has no streaming form; monitor with "
                             "a long-context probe (MeanLinear, EMAMax, Attention, MultiMax, RollingAttention) or a "
                             "probe on pooled features.")
        return _TokenStream(probe)
    coef = getattr(probe, "coef_", None)
    if coef is not None and hasattr(probe, "concept_vector") and np.asarray(coef).shape[0] == 1:
        return _LinearStream(probe, art.pooling)
    return _PooledStream(probe, art.pooling)
