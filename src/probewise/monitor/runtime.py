"""Probes attached to a running model: per-token scores while it generates, flags, stopping and a cascade.

Example:
    >>> import numpy as np, torch, transformers
    >>> from probewise.artifact import ProbeArtifact, model_fingerprint
    >>> from probewise.monitor import Monitor
    >>> from probewise.probes import LogisticProbe
    >>> cfg = transformers.GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=64,
    ...                               bos_token_id=0, eos_token_id=0)
    >>> model = transformers.GPT2LMHeadModel(cfg).eval()
    >>> X = np.random.default_rng(0).normal(size=(100, 16)); y = (X[:, 0] > 0).astype(int)
    >>> art = ProbeArtifact(LogisticProbe().fit(X, y), "tiny", model_fingerprint(model), layer=1, pooling="mean",
    ...                     threshold=1e9)
    >>> with Monitor(model, {"p": art}) as mon:
    ...     out = mon.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=5, do_sample=False, pad_token_id=0)
    >>> trace = mon.traces[0]
    >>> len(trace.token_ids) == out.shape[1], len(trace.scores["p"]) == out.shape[1], mon.flagged("p").tolist()
    (True, True, [False])

How it works: a forward pre-hook on the model's base reads the call (batch, new tokens, KV-cache length, attention
mask); a forward pre-hook on block ``i`` (or a forward hook on the base's output for the top layer ``L``) hands the
layer's hidden states of the *new* tokens to each probe's streaming form. With a KV cache (``generate()``'s default)
each step brings one token per sequence, so a step costs O(1) per probe: a running mean/max/last of the pooled
linear score, or the long-context probe's own stream state
(:meth:`~probewise.probes.longcontext.LongContextProbe.stream`).
Without a cache, a causal model re-fed the same prefix is recognised (its ids are compared) and only the new
positions are scored; any other call starts new sequences. Padding (attention mask 0) is never scored.

Scores are the probe's raw ``decision_function`` scores of each prefix: ``trace.scores[name][j]`` is the score of
the sequence cut after its ``j``-th scored token, equal (up to float rounding) to
:meth:`~probewise.artifact.ProbeArtifact.prefix_scores` of an offline pass over the same tokens. A sequence is
*flagged* when its final score is ``>= threshold`` (the decision the threshold was calibrated for);
``trace.first_flag[name]`` is the first position whose running score crossed it (for max-type aggregations the two
agree; a running mean can cross and fall back). ``on_flag`` fires at that first crossing; returning ``True`` from
it (or ``stop_on_flag=True``) stops that sequence through a transformers ``StoppingCriteria``: :meth:`Monitor.generate`
adds it, or pass :meth:`Monitor.stopping_criteria` to ``generate`` yourself. Generation stops after the step that
crossed, so the output holds one more token (the one sampled at that step), never scored.

``model.generate`` does not run the model on the last token it samples; :meth:`Monitor.generate` (with
``score_last=True``) runs that one extra cached step so that every output token is scored. Within
:meth:`Monitor.generate`, a row of a batch that has ended is scored up to its end-of-sequence token (generate
pads it afterwards), and beam search is scored after generation, on the returned sequences.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from probewise.artifact import ProbeArtifact, model_fingerprint
from probewise.errors import ConfigError
from probewise.monitor.streams import _make_stream
from probewise.monitor.traces import TokenEvent, Trace
from probewise.steer import CallInfo, _cache_length, _output_hidden, resolve_stack

__all__ = ["Monitor"]


def _is_causal(model: nn.Module) -> bool:
    from probewise.sources.hf import CAUSAL_MODEL_TYPES

    cfg = getattr(model, "config", None)
    return bool(getattr(cfg, "is_decoder", False)) or getattr(cfg, "model_type", None) in CAUSAL_MODEL_TYPES


class Monitor:
    """Score a running model with probes, token by token; see the module docstring.

    Args:
        model: a transformers model (``AutoModelForCausalLM`` to generate; encoders for forward passes).
        probes: ``{name: ProbeArtifact}`` (a single artifact is named ``"probe"``).
        layers: ``{name: layer}`` to read some probes elsewhere than their artifact's layer (refused unless
            ``allow_mismatch``).
        on_token: called with a :class:`TokenEvent` for every scored token and probe.
        on_flag: called with the :class:`TokenEvent` of a sequence's first crossing of a probe's threshold; return
            ``True`` to stop generating that sequence.
        stop_on_flag: stop every sequence at its first crossing (no callback needed).
        allow_mismatch: attach even when the model's fingerprint or the layer differs from the artifact's (a warning).
        blocks_path: attribute path of the block stack, for architectures probewise cannot guess.
    """

    def __init__(self, model: nn.Module, probes: Mapping[str, ProbeArtifact] | ProbeArtifact, *,
                 layers: Mapping[str, int] | None = None, on_token: Callable[[TokenEvent], Any] | None = None,
                 on_flag: Callable[[TokenEvent], Any] | None = None, stop_on_flag: bool = False,
                 allow_mismatch: bool = False, blocks_path: str | None = None) -> None:
        if isinstance(probes, ProbeArtifact):
            probes = {"probe": probes}
        if not probes:
            raise ConfigError("give at least one probe: Monitor(model, {name: ProbeArtifact}).")
        bad = [k for k, v in probes.items() if not isinstance(v, ProbeArtifact)]
        if bad:
            raise ConfigError(f"probes must be ProbeArtifact objects (ProbeArtifact.load(path)); {bad[0]!r} is not.")
        layers = dict(layers or {})
        unknown = set(layers) - set(probes)
        if unknown:
            raise ConfigError(f"layers names probes that are not given: {sorted(unknown)}.")
        self.model = model
        self.artifacts = dict(probes)
        self.stack = resolve_stack(model, blocks_path)
        fp = model_fingerprint(model) if any(a.model_fingerprint for a in probes.values()) else None
        self.layers = {name: art.check_model(model, layers.get(name), allow_mismatch=allow_mismatch, fingerprint=fp,
                                             blocks_path=blocks_path)
                       for name, art in probes.items()}
        self._streams = {name: _make_stream(art) for name, art in probes.items()}
        self._by_layer: dict[int, list[str]] = {}
        for name, layer in self.layers.items():
            self._by_layer.setdefault(layer, []).append(name)
        self.on_token = on_token
        self.on_flag = on_flag
        self.stop_on_flag = bool(stop_on_flag)
        self._causal = _is_causal(model)
        self._handles: list[Any] = []
        self.traces: list[Trace] = []
        self._stop: list[bool] = []   # rows a flag stopped (what the stopping criterion reports)
        self._skip: list[bool] = []   # rows no longer scored: stopped, or finished (see _eos)
        self._ids: list[Any] = []
        self._no_stop: dict[tuple[int, torch.device], torch.Tensor] = {}
        self._n_seen = 0
        self._call: tuple | None = None
        self._warned = False
        self._eos: frozenset[int] = frozenset()  # inside generate(): a row that has fed one of these is finished
        self._paused = False

    # -- attach / detach ------------------------------------------------------------------------------------
    def attach(self) -> Monitor:
        """Register the hooks (also done by ``with Monitor(...)``)."""
        if self._handles:
            raise ConfigError("this monitor is already attached.")
        try:
            self._handles.append(self.stack.base.register_forward_pre_hook(self._begin, with_kwargs=True))
            for layer in self._by_layer:
                if layer < self.stack.n_layers:
                    def pre(_mod, args, kwargs, layer=layer):
                        h = args[0] if args else kwargs.get("hidden_states")
                        if isinstance(h, torch.Tensor):
                            self._feed(layer, h)
                    self._handles.append(self.stack.blocks[layer].register_forward_pre_hook(pre, with_kwargs=True))
                else:
                    def post(_mod, _args, output, layer=layer):
                        h = _output_hidden(output)
                        if h is not None:
                            self._feed(layer, h)
                    self._handles.append(self.stack.base.register_forward_hook(post))
        except BaseException:
            self.detach()
            raise
        return self

    def detach(self) -> None:
        """Remove every hook (idempotent); the traces stay readable."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def reset(self) -> None:
        """Forget the current sequences (the next forward call starts new ones anyway)."""
        self.traces = []
        self._stop = []
        self._skip = []
        self._ids = []
        self._n_seen = 0

    # -- hooks ----------------------------------------------------------------------------------------------
    def _start(self, b: int) -> None:
        self.traces = [Trace(scores={n: [] for n in self.artifacts}, first_flag=dict.fromkeys(self.artifacts))
                       for _ in range(b)]
        self._stop = [False] * b
        self._skip = [False] * b
        self._ids = []
        self._n_seen = 0
        for s in self._streams.values():
            s.start(b)

    def _begin(self, _mod: nn.Module, args: tuple, kwargs: dict) -> None:
        if self._paused:
            self._call = None
            return
        if self.traces and self._fast_step(args, kwargs):
            return
        info: CallInfo = self.stack.call_info(args, kwargs)
        b, t = info.b, info.t
        if t == 1 and 0 < info.offset == self._n_seen and b == len(self.traces):
            ids = [-1] * b if info.input_ids is None else [v for (v,) in info.input_ids.tolist()]
            self._step(ids, None if info.valid is None else [v for (v,) in info.valid.tolist()], info.offset)
            return
        ids = info.input_ids.cpu().numpy() if info.input_ids is not None else np.full((b, t), -1, dtype=np.int64)
        skip, new = 0, True
        if self.traces and b == len(self.traces):
            if info.offset > 0:
                new = False
                if info.offset != self._n_seen and not self._warned:
                    self._warned = True
                    warnings.warn(f"the KV cache holds {info.offset} tokens but the monitor saw {self._n_seen}; "
                                  "scores continue from the monitor's state.", stacklevel=2)
            elif (self._causal and info.input_ids is not None and 0 < self._n_seen < t
                  and np.array_equal(ids[:, : self._n_seen],
                                     np.concatenate([np.asarray(c).reshape(b, -1) for c in self._ids], 1))):
                new, skip = False, self._n_seen  # no KV cache: the same prefix re-fed, score the new tokens only
        if new:
            self._start(b)
        base = info.offset
        feed = np.ones((b, t), dtype=bool) if info.valid is None else info.valid.cpu().numpy() != 0
        if skip:
            feed[:, :skip] = False
        if not new:
            if any(self._skip):
                feed &= ~np.asarray(self._skip)[:, None]
            if self._eos:  # generate() pads a finished row: nothing after its end-of-sequence token is scored
                end = feed & np.isin(ids, list(self._eos))
                for r in np.flatnonzero(end.any(1)).tolist():
                    feed[r, int(np.argmax(end[r])) + 1:] = False
                    self._skip[r] = True
        self._ids.append(ids[:, skip:])
        self._n_seen = base + t
        full = feed.all()
        for r, trace in enumerate(self.traces):
            cols = np.arange(t) if full else np.flatnonzero(feed[r])
            if cols.size:
                trace.token_ids.extend(ids[r, cols].tolist())
                trace.positions.extend((cols + base).tolist())
        self._call = ("chunk", feed, base, ids)

    def _fast_step(self, args: tuple, kwargs: dict) -> bool:
        """A decoding step with the KV cache (one new token per sequence, the cache holding what the monitor saw),
        read straight from the call: ``Stack.call_info``'s answer for that case, with fewer torch calls."""
        ids = self.stack.arg(args, kwargs, "input_ids")
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.shape[1] != 1 or ids.shape[0] != len(self.traces):
            return False
        pos = _cache_length(self.stack.kv_cache(args, kwargs))
        if pos != self._n_seen or pos == 0:
            return False
        mask = self.stack.arg(args, kwargs, "attention_mask")
        valid = None
        if isinstance(mask, torch.Tensor):
            if mask.dim() != 2 or mask.shape[0] != ids.shape[0] or mask.shape[1] < pos + 1:
                return False  # a mask call_info reads another way
            col = mask.numpy()[:, pos] if mask.is_cpu and mask.dtype != torch.bfloat16 else mask[:, pos]
            valid = col.tolist()
        self._step([v for (v,) in ids.tolist()], valid, pos)
        return True

    def _step(self, ids: list[int], valid: list | None, pos: int) -> None:
        """A decoding step with the KV cache (the common case, kept lean): new token ``ids[r]`` at position ``pos``
        of each row; ``valid``: its attention mask (None: all valid)."""
        skip = self._skip
        if valid is None and not any(skip):
            rows = list(range(len(ids)))
        else:
            rows = [r for r in range(len(ids)) if (valid is None or valid[r]) and not skip[r]]
        traces = self.traces
        for r in rows:
            traces[r].token_ids.append(ids[r])
            traces[r].positions.append(pos)
        if self._eos:  # generate() pads a finished row: score its end-of-sequence token, nothing after it
            for r in rows:
                if ids[r] in self._eos:
                    skip[r] = True
        self._ids.append(ids)
        self._n_seen = pos + 1
        self._call = ("step", rows, pos, ids)

    def _feed(self, layer: int, h: torch.Tensor) -> None:
        if self._call is None or h.dim() != 3:
            return
        if self._call[0] == "step":  # a decoding step (see _step)
            _, rows, pos, ids = self._call
            if h.shape[1] != 1 or h.shape[0] != len(ids) or not rows:
                return
            x = h.detach() if h.requires_grad else h
            for name in self._by_layer[layer]:
                self._record_step(name, self._streams[name].step(x, rows), rows, pos, ids)
            return
        _, feed, base, ids = self._call
        if h.shape[:2] != feed.shape:
            return  # a call the base pre-hook did not see (e.g. a nested model); nothing to align with
        if not feed.any():
            return
        x = h.detach()
        for name in self._by_layer[layer]:
            self._record(name, self._streams[name].feed(x, feed), feed, base, ids)

    def _record_step(self, name: str, scores: list[float], rows: list[int], pos: int, ids: list[int]) -> None:
        thr = self.artifacts[name].threshold
        for r in rows:
            v = scores[r]
            trace = self.traces[r]
            trace.scores[name].append(v)
            if self.on_token is not None:
                self.on_token(TokenEvent(name, r, pos, ids[r], v, thr, thr is not None and v >= thr))
            if thr is not None and v >= thr and trace.first_flag[name] is None:
                self._flag(name, r, pos, ids[r], v, thr)

    def _flag(self, name: str, r: int, pos: int, token_id: int, v: float, thr: float) -> None:
        trace = self.traces[r]
        trace.first_flag[name] = pos
        stop = self.on_flag(TokenEvent(name, r, pos, int(token_id), float(v), thr, True)) \
            if self.on_flag is not None else None
        if stop is True or self.stop_on_flag:
            self._stop[r] = True
            self._skip[r] = True
            trace.stopped = True

    def _record(self, name: str, scores: np.ndarray, feed: np.ndarray, base: int, ids: np.ndarray) -> None:
        thr = self.artifacts[name].threshold
        full = feed.all()
        for r, trace in enumerate(self.traces):
            if full:
                cols, vals = None, scores[r]
            else:
                cols = np.flatnonzero(feed[r])
                if not cols.size:
                    continue
                vals = scores[r, cols]
            trace.scores[name].extend(vals.tolist())
            if self.on_token is not None:
                for c, v in zip(range(len(vals)) if cols is None else cols.tolist(), vals.tolist(), strict=True):
                    self.on_token(TokenEvent(name, r, base + c, int(ids[r, c]), v, thr,
                                             thr is not None and v >= thr))
            if thr is not None and trace.first_flag[name] is None and vals.max() >= thr:
                hit = int(np.flatnonzero(vals >= thr)[0])
                c = hit if cols is None else int(cols[hit])
                self._flag(name, r, base + c, ids[r, c], vals[hit], thr)

    # -- generation -----------------------------------------------------------------------------------------
    def stopping_criteria(self) -> Any:
        """A ``transformers.StoppingCriteriaList`` stopping the sequences a flag asked to stop; pass it to
        ``model.generate(..., stopping_criteria=...)`` (:meth:`generate` does)."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        monitor = self

        class StopOnFlag(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
                stop, b = monitor._stop, input_ids.shape[0]
                if len(stop) != b or not any(stop):
                    key = (b, input_ids.device)
                    if key not in monitor._no_stop:
                        monitor._no_stop[key] = torch.zeros(b, dtype=torch.bool, device=input_ids.device)
                    return monitor._no_stop[key]
                return torch.tensor(stop, dtype=torch.bool, device=input_ids.device)

        return StoppingCriteriaList([StopOnFlag()])

    @torch.no_grad()
    def generate(self, *args: Any, score_last: bool = True, **kwargs: Any) -> Any:
        """``model.generate(*args, **kwargs)`` with the monitor's stopping criteria added.

        With ``score_last`` the last sampled token (which ``generate`` never runs through the model) is scored by
        one more cached step. In a batch, a sequence that has ended (its end-of-sequence token is scored) is not
        scored further: ``generate`` pads it while the others go on. Beam search (``num_beams > 1``) reorders
        hypotheses between steps, so the monitor scores the returned sequences with one forward pass after
        generation instead (flags and callbacks then come after it, and cannot stop it). Returns what
        ``generate`` returns.
        """
        if not self._handles:
            raise ConfigError("attach the monitor first: `with Monitor(model, probes) as mon: mon.generate(...)`.")
        crit = self.stopping_criteria()
        extra = kwargs.pop("stopping_criteria", None)
        if extra:
            crit = type(crit)([*extra, *crit])
        want_dict = bool(kwargs.pop("return_dict_in_generate", False))
        cfg = kwargs.get("generation_config") or getattr(self.model, "generation_config", None)
        beams = kwargs.get("num_beams", getattr(cfg, "num_beams", 1)) or 1
        eos = kwargs["eos_token_id"] if "eos_token_id" in kwargs else getattr(cfg, "eos_token_id", None)
        eos = [] if eos is None else eos.reshape(-1).tolist() if isinstance(eos, torch.Tensor) else \
            [eos] if isinstance(eos, int) else list(eos)
        if beams > 1:
            self.reset()
            self._paused = True
            try:
                out = self.model.generate(*args, stopping_criteria=crit, return_dict_in_generate=True, **kwargs)
            finally:
                self._paused = False
            self._score_sequences(out.sequences, args, kwargs, frozenset(int(e) for e in eos))
            return out if want_dict else out.sequences
        self._eos = frozenset(int(e) for e in eos)
        try:
            out = self.model.generate(*args, stopping_criteria=crit, return_dict_in_generate=True, **kwargs)
            if score_last:
                self._score_last(out, kwargs)
        finally:
            self._eos = frozenset()
        return out if want_dict else out.sequences

    def _inputs(self, seq: torch.Tensor, kwargs: dict) -> tuple[torch.Tensor, dict[str, Any]]:
        """The attention mask of the sequences ``generate`` returned (the prompt's, then ones) and the other inputs
        it extended (token types), each row repeated as ``generate`` did (``num_return_sequences``, beams)."""
        b, n = seq.shape

        def rows(t: torch.Tensor) -> torch.Tensor:
            return (t if t.shape[0] == b else t.repeat_interleave(b // t.shape[0], dim=0)).to(seq.device)

        mask = torch.ones(b, n, dtype=torch.long, device=seq.device)
        attention_mask = kwargs.get("attention_mask")
        if attention_mask is not None:
            mask[:, : attention_mask.shape[1]] = rows(attention_mask)
        extra: dict[str, Any] = {}
        tt = kwargs.get("token_type_ids")
        if isinstance(tt, torch.Tensor):  # generate() extends token types with the last value
            tt = rows(tt)
            extra["token_type_ids"] = torch.cat([tt, tt[:, -1:].expand(b, n - tt.shape[1])], 1)
        return mask, extra

    def _score_sequences(self, seq: torch.Tensor, args: tuple, kwargs: dict, eos: frozenset[int]) -> None:
        """Score finished sequences with one forward pass (after beam search): the prompt and the generated tokens
        up to each row's first end-of-sequence token."""
        ids = args[0] if args else kwargs.get("input_ids", kwargs.get("inputs"))
        if not isinstance(ids, torch.Tensor) or not self._causal:
            raise ConfigError("the monitor scores beam search from the returned sequences: pass input_ids to a "
                              "decoder-only model (or decode greedily / by sampling to score while generating).")
        mask, extra = self._inputs(seq, kwargs)
        p = ids.shape[1]
        if eos and seq.shape[1] > p:
            end = torch.isin(seq[:, p:], torch.tensor(sorted(eos), device=seq.device))
            after = (end.long().cumsum(1) - end.long()) > 0  # after the first end-of-sequence token: padding
            mask[:, p:] = mask[:, p:].masked_fill(after, 0)
        if _accepts(self.model, "position_ids"):
            extra["position_ids"] = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        self.reset()
        self.model(input_ids=seq, attention_mask=mask, use_cache=False, **extra)

    def _score_last(self, out: Any, kwargs: dict) -> None:
        seq = out.sequences
        if (not self.traces or len(self.traces) != seq.shape[0] or self._n_seen >= seq.shape[1]
                or all(self._skip)):
            return  # nothing left to score, or rows that do not align
        n = seq.shape[1]
        mask, extra = self._inputs(seq, kwargs)
        cache = getattr(out, "cache", None)  # transformers >= 5.24; earlier `past_key_values`
        if cache is None:
            cache = getattr(out, "past_key_values", None)
        if cache is not None and _cache_length(cache) == n - 1 == self._n_seen:
            name = "cache" if _accepts(self.model, "cache") else "past_key_values"
            kw: dict[str, Any] = {name: cache, "attention_mask": mask, "use_cache": True}
            if _accepts(self.model, "position_ids"):
                pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
                kw["position_ids"] = pos[:, -1:]
            kw.update({k: v[:, -1:] for k, v in extra.items()})
            self.model(input_ids=seq[:, -1:], **kw)
        else:
            self.model(input_ids=seq, attention_mask=mask, use_cache=False, **extra)

    # -- results --------------------------------------------------------------------------------------------
    def _check_name(self, name: str) -> ProbeArtifact:
        if name not in self.artifacts:
            raise ConfigError(f"no probe named {name!r}; this monitor has {sorted(self.artifacts)}.")
        return self.artifacts[name]

    def token_scores(self, name: str) -> list[np.ndarray]:
        """Per sequence, the score after each scored token ``[t_i]``."""
        self._check_name(name)
        return [np.asarray(tr.scores[name], dtype=np.float64) for tr in self.traces]

    def sequence_scores(self, name: str) -> np.ndarray:
        """The score of each sequence so far ``[b]`` (after its last scored token)."""
        self._check_name(name)
        return np.array([tr.score(name) for tr in self.traces], dtype=np.float64)

    def flagged(self, name: str) -> np.ndarray:
        """``[b]`` bool: sequence score ``>= threshold``, the decision at the artifact's calibrated FPR."""
        art = self._check_name(name)
        if art.threshold is None:
            raise ConfigError(f"probe {name!r} has no threshold; set one at a target FPR on validation "
                              "(probewise.metrics.threshold_at_fpr) and save it in the artifact.")
        return self.sequence_scores(name) >= art.threshold

    def cascade(self, name: str, second: Callable[[Any], Any] | None = None, *, cascade: Any = None,
                inputs: Any = None) -> Any:
        """Decide every sequence with a two-threshold cascade on probe ``name``'s sequence scores.

        Scores below the band pass, above it are flagged, and the band (``tau_low <= s <= tau_high``) is deferred
        to ``second``, which receives the deferred :class:`Trace` objects (or ``inputs[idx]`` when ``inputs`` is
        given) and returns one score or 0/1 decision each.

        Args:
            name: the probe.
            second: the second classifier; with the artifact's ``band`` it builds the cascade.
            cascade: a ready :class:`~probewise.evaluation.thresholds.Cascade` instead.
            inputs: an array indexed by the deferred rows, handed to the second stage.

        Returns:
            A :class:`~probewise.evaluation.thresholds.CascadeDecision` (``pred [b]``, ``deferred [b]``).
        """
        art = self._check_name(name)
        if cascade is None:
            if second is None:
                raise ConfigError("give the second classifier (second=...) or a ready cascade (cascade=...).")
            cascade = art.cascade(second)
        if inputs is None:
            inputs = np.empty(len(self.traces), dtype=object)
            inputs[:] = self.traces
        return cascade.predict(self.sequence_scores(name), inputs)


def _accepts(model: nn.Module, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
