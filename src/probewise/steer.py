"""Concept vectors and steering hooks: write a probe's direction into a model's residual stream.

Example:
    >>> import torch, transformers
    >>> from probewise.steer import steer
    >>> cfg = transformers.GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32)
    >>> model = transformers.GPT2LMHeadModel(cfg).eval()
    >>> ids = torch.tensor([[1, 2, 3, 4]])
    >>> with torch.no_grad():
    ...     plain = model(ids).logits
    ...     with steer(model, {1: torch.ones(16)}, alpha=0.0):
    ...         same = model(ids).logits
    ...     with steer(model, {1: torch.ones(16)}, alpha=4.0, positions="last"):
    ...         moved = model(ids).logits
    >>> torch.equal(plain, same), torch.equal(plain[:, :3], moved[:, :3]), torch.equal(plain[:, 3], moved[:, 3])
    (True, True, False)

Layers follow probewise's indexing (:mod:`probewise.sources.hf`): layer ``i < L`` is ``hidden_states[i]``, the
input of block ``i``, changed by a forward pre-hook on that block (so block ``i`` and everything above read the
steered stream). Layer ``L`` (the top, ``L`` = number of blocks) is the model's last hidden state, which for
decoders comes after the final norm: it is changed by a forward hook on the base model's output, so it only
moves what reads that output (the LM head's logits shift by ``alpha * W_U v``; an encoder's ``pooler_output`` is
not recomputed). Hooks are never replacing modules; they are removed on exit, also when an exception is raised.

Positions index the sequence as fed to the model (padding included). ``"all"`` steers every token of every
forward call; ``"last"`` steers the last token of each call, which under ``generate()`` with a KV cache is the
last prompt token, then each new token; a ``slice``, ``range`` or list names absolute positions (a KV-cache step
at offset ``p`` covers positions ``p, p + 1, ...``, read from the cache length). Without a cache every step
re-feeds the whole sequence: ``"last"`` then steers only the newest token of each step's pass.

The top layer and ``output_hidden_states``: transformers records ``hidden_states[i]`` before the pre-hook of block
``i`` runs, so steering at layer ``i`` shows in ``hidden_states[i + 1]`` onwards; probewise's readers hooked on block
``i`` (:class:`probewise.monitor.Monitor`) see the steered stream, because steering hooks run first.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from probewise.errors import ConfigError, ProbeError
from probewise.sources.blocks import find_blocks

__all__ = ["MODES", "Stability", "Stack", "Steering", "concept_vector", "directional_stability", "resolve_stack",
           "steer"]

MODES = ("add", "project_out", "clamp")


# ------------------------------------------------------------------------------------------- the block stack
@dataclass(frozen=True, eq=False)
class Stack:
    """Where to hook a model: its base (whose output is the last hidden state), its blocks, and sizes.

    Attributes:
        base: the module returning the last hidden state (``model.base_model`` for transformers models).
        blocks: the ``ModuleList`` of blocks; layer ``i < L`` is the input of ``blocks[i]``.
        blocks_path: attribute path of ``blocks`` in the model.
        n_layers: ``L``, the number of blocks; valid layers are ``0..L``.
        hidden_size: width ``d`` of the residual stream.
    """

    base: nn.Module
    blocks: nn.ModuleList
    blocks_path: str
    n_layers: int
    hidden_size: int | None
    _index: dict[str, int]

    def check_layer(self, layer: Any) -> int:
        """``layer`` as an int in ``0..L`` (negative counts from the top), or a :class:`ConfigError`."""
        if isinstance(layer, bool) or not isinstance(layer, int | np.integer):
            raise ConfigError(f"layer {layer!r} is not an int; layers are 0..{self.n_layers} (0 = embeddings).")
        i = int(layer) + (self.n_layers + 1 if layer < 0 else 0)
        if not 0 <= i <= self.n_layers:
            raise ConfigError(f"layer {layer} is not in this model: it has {self.n_layers} blocks, so layers "
                              f"0..{self.n_layers} (0 = embeddings, {self.n_layers} = last hidden state).")
        return i

    def arg(self, args: tuple, kwargs: dict, name: str) -> Any:
        """Argument ``name`` of a forward call of :attr:`base`, given by keyword or position (None if absent)."""
        if name in kwargs:
            return kwargs[name]
        i = self._index.get(name)
        return args[i] if i is not None and i < len(args) else None

    def kv_cache(self, args: tuple, kwargs: dict) -> Any:
        """The KV cache a forward call of :attr:`base` was given, or None (transformers >= 5.24 names it
        ``cache``; earlier versions ``past_key_values``)."""
        past = self.arg(args, kwargs, "cache")
        return past if past is not None else self.arg(args, kwargs, "past_key_values")

    def call_info(self, args: tuple, kwargs: dict) -> CallInfo:
        """What a forward call of :attr:`base` is about to process (see :class:`CallInfo`)."""
        def arg(name: str) -> Any:
            return self.arg(args, kwargs, name)

        ids = arg("input_ids")
        ids = ids if isinstance(ids, torch.Tensor) else None
        x = ids if ids is not None else arg("inputs_embeds")
        if not isinstance(x, torch.Tensor):
            x = next((a for a in itertools.chain(args, kwargs.values()) if isinstance(a, torch.Tensor)), None)
        b, t = (int(x.shape[0]), int(x.shape[1])) if x is not None and x.dim() >= 2 else (1, 0)
        offset = _cache_length(self.kv_cache(args, kwargs))
        mask = arg("attention_mask")
        valid = None
        if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.shape[0] == b and mask.shape[1] >= t:
            valid = mask[:, offset : offset + t] if mask.shape[1] >= offset + t else mask[:, -t:]
        return CallInfo(b, t, offset, ids, valid)


@dataclass(frozen=True, eq=False)
class CallInfo:
    """One forward call: batch ``b``, new tokens ``t``, ``offset`` (tokens already in the KV cache), the chunk's
    ``input_ids [b, t]`` (None for embeddings input) and its attention mask ``valid [b, t]`` (nonzero = a token;
    None: all valid)."""

    b: int
    t: int
    offset: int
    input_ids: torch.Tensor | None
    valid: torch.Tensor | None


def _cache_length(past: Any) -> int:
    if past is None:
        return 0
    if hasattr(past, "get_seq_length"):
        return int(past.get_seq_length())
    try:  # legacy tuple of (key, value) per layer: [b, heads, t, d]
        return int(past[0][0].shape[-2])
    except (IndexError, TypeError, AttributeError):
        return 0


def resolve_stack(model: nn.Module, blocks_path: str | None = None) -> Stack:
    """Find the blocks (with :func:`probewise.sources.blocks.find_blocks`, ``blocks_path`` overriding) and the base.

    Example:
        >>> import transformers
        >>> from probewise.steer import resolve_stack
        >>> cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        ...                                num_attention_heads=2, num_key_value_heads=1)
        >>> st = resolve_stack(transformers.LlamaForCausalLM(cfg))
        >>> st.blocks_path, st.n_layers, st.hidden_size
        ('model.layers', 2, 16)
    """
    config = getattr(model, "config", None)
    expected = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    path, blocks = find_blocks(model, blocks_path, expected if blocks_path is None else None)
    base = getattr(model, "base_model", None)
    base = base if isinstance(base, nn.Module) else model
    d = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None) or getattr(config, "d_model", None)
    if d is None and hasattr(model, "get_input_embeddings"):
        try:
            d = model.get_input_embeddings().embedding_dim
        except (AttributeError, NotImplementedError):
            d = None
    try:
        params = tuple(p for p in inspect.signature(base.forward).parameters
                       if p not in ("args", "kwargs", "self"))
    except (TypeError, ValueError):
        params = ()
    return Stack(base, blocks, path, len(blocks), int(d) if d else None, {p: i for i, p in enumerate(params)})


def _hidden_of(args: tuple, kwargs: dict) -> torch.Tensor | None:
    h = args[0] if args else kwargs.get("hidden_states")
    return h if isinstance(h, torch.Tensor) else None


def _with_hidden(args: tuple, kwargs: dict, h: torch.Tensor) -> tuple[tuple, dict]:
    if args:
        return (h, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": h}


def _output_hidden(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "last_hidden_state"):
        return output.last_hidden_state
    if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def _replace_output_hidden(output: Any, h: torch.Tensor) -> Any:
    if isinstance(output, torch.Tensor):
        return h
    if hasattr(output, "last_hidden_state"):
        old = output.last_hidden_state
        output["last_hidden_state"] = h
        hs = getattr(output, "hidden_states", None)
        if isinstance(hs, tuple) and hs and hs[-1] is old:
            output["hidden_states"] = (*hs[:-1], h)
        return output
    return (h, *output[1:])


# ------------------------------------------------------------------------------------------- concept vectors
def concept_vector(probe: Any) -> np.ndarray:
    """The unit direction ``[d]`` in the model's activation space along which a probe's score grows fastest.

    Works for linear probes on pooled features (:class:`~probewise.probes.LinearProbe`: its
    ``concept_vector()``), for the linear long-context probes (:class:`~probewise.probes.longcontext.MeanLinearProbe`,
    :class:`~probewise.probes.longcontext.EMAMaxProbe`: the token weights divided by the standardization scale),
    and for a :class:`~probewise.artifact.ProbeArtifact` holding either. Binary probes only.

    Example:
        >>> import numpy as np
        >>> from probewise.probes import LogisticProbe
        >>> from probewise.steer import concept_vector
        >>> X = np.random.default_rng(0).normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
        >>> v = concept_vector(LogisticProbe().fit(X, y))
        >>> round(float(np.linalg.norm(v)), 6), int(np.argmax(np.abs(v)))
        (1.0, 0)

    Raises:
        ProbeError: a non-linear or multiclass probe (no single direction).
    """
    probe = getattr(probe, "probe", probe)  # a ProbeArtifact
    if hasattr(probe, "concept_vector"):
        v = np.asarray(probe.concept_vector(), dtype=np.float64)
    else:
        module = getattr(probe, "module_", None)
        linear = getattr(module, "linear", None)
        if not isinstance(linear, nn.Linear):
            raise ProbeError(f"{type(probe).__name__} has no single linear direction; concept vectors come from "
                             "linear probes (logistic, ridge, mean-diff, MeanLinearProbe, EMAMaxProbe).")
        w = linear.weight.detach().double().cpu() / module.scale.detach().double().cpu()
        v = w.numpy()
        v = v[0] if v.shape[0] == 1 else v
        v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    if v.ndim != 1:
        raise ProbeError(f"{type(probe).__name__} is multiclass ({v.shape[0]} directions); steer with one row of "
                         "probe.concept_vector(), the direction of one class.")
    return v


@dataclass(frozen=True)
class Stability:
    """Cosine similarity of a probe's direction across bootstrap resamples and across regularization values.

    Attributes:
        boot_mean: mean pairwise cosine over ``n_boot`` bootstrap refits (1.0 = the same direction every time).
        boot_min: the smallest pairwise cosine among them.
        c_mean: mean pairwise cosine across the values in ``Cs`` (None when not asked).
        c_min: the smallest of those.
        n_boot: bootstrap refits.
        Cs: regularization values compared.
        n: examples.
    """

    boot_mean: float
    boot_min: float
    c_mean: float | None
    c_min: float | None
    n_boot: int
    Cs: list[float] | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready), e.g. for ``ProbeArtifact(metrics={"directional_stability": ...})``."""
        return asdict(self)


def _pairwise(vs: list[np.ndarray]) -> tuple[float, float]:
    V = np.stack(vs)
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    cos = V @ V.T
    iu = np.triu_indices(len(vs), 1)
    return float(cos[iu].mean()), float(cos[iu].min())


def directional_stability(
    X: Any,
    y: Any,
    probe_factory: Callable[..., Any] | Any,
    n_boot: int = 20,
    Cs: Iterable[float] | None = None,
    seed: int = 0,
    *,
    param: str = "C",
) -> Stability:
    """How stable a linear probe's direction is (as in RAPTOR): pairwise cosines across bootstrap refits and ``Cs``.

    Example:
        >>> import numpy as np
        >>> from probewise.probes import LogisticProbe
        >>> from probewise.steer import directional_stability
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 6)); y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
        >>> st = directional_stability(X, y, LogisticProbe(), n_boot=5, Cs=[0.1, 1.0, 10.0])
        >>> st.boot_mean > 0.9, st.c_min > 0.9
        (True, True)

    Args:
        X: features ``[n, d]``.
        y: binary labels ``[n]``.
        probe_factory: an unfitted probe (cloned for every fit, ``param`` set to each value of ``Cs``), or a
            callable returning a fresh probe: ``probe_factory()`` for the bootstrap and ``probe_factory(C)`` for
            each value of ``Cs``.
        n_boot: bootstrap resamples (>= 2); each keeps both classes.
        Cs: regularization values to compare on the full data (None: skip).
        seed: seed of the resampling.
        param: the parameter ``Cs`` sets on a probe instance (``"C"`` for logistic, ``"alpha"`` for ridge).

    Returns:
        A :class:`Stability`.
    """
    from sklearn.base import clone

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ConfigError(f"X must be [n, d] with one label per row; got X {X.shape} and y {y.shape}.")
    if int(n_boot) < 2:
        raise ConfigError(f"n_boot must be >= 2 to compare directions, got {n_boot!r}.")

    def make(value: float | None = None) -> Any:
        if callable(probe_factory) and not hasattr(probe_factory, "fit"):
            return probe_factory() if value is None else probe_factory(value)
        est = clone(probe_factory)
        return est if value is None else est.set_params(**{param: value})

    rng = np.random.default_rng(seed)
    boot: list[np.ndarray] = []
    while len(boot) < int(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if len(np.unique(y[idx])) < 2:
            continue
        boot.append(concept_vector(make().fit(X[idx], y[idx])))
    b_mean, b_min = _pairwise(boot)
    c_mean = c_min = None
    cs = None if Cs is None else [float(c) for c in Cs]
    if cs is not None and len(cs) >= 2:
        c_mean, c_min = _pairwise([concept_vector(make(c).fit(X, y)) for c in cs])
    return Stability(b_mean, b_min, c_mean, c_min, int(n_boot), cs, int(len(y)))


# ------------------------------------------------------------------------------------------- steering
def _position_index(positions: Any, offset: int, t: int) -> slice | torch.Tensor | None:
    """Indices into a chunk covering absolute positions ``offset..offset+t-1`` (None: all of it)."""
    if isinstance(positions, str):
        return None if positions == "all" else slice(t - 1, t)
    if isinstance(positions, slice | range):
        start = positions.start or 0
        step = positions.step or 1
        stop = offset + t if positions.stop is None else min(positions.stop, offset + t)
        first = start if start >= offset else start + -(-(offset - start) // step) * step
        if first >= stop:
            return torch.empty(0, dtype=torch.long)
        return slice(first - offset, stop - offset, step)
    idx = [p - offset for p in positions if offset <= p < offset + t]
    return torch.tensor(idx, dtype=torch.long)


def _check_positions(positions: Any) -> Any:
    if isinstance(positions, str):
        if positions not in ("all", "last"):
            raise ConfigError(f"positions must be 'all', 'last', a slice or a list of ints, got {positions!r}.")
        return positions
    if isinstance(positions, slice | range):
        if any(v is not None and v < 0 for v in (positions.start, positions.stop)) or (positions.step or 1) < 1:
            raise ConfigError("a positions slice names absolute positions: start/stop >= 0 and step >= 1.")
        return positions
    try:
        out = sorted({int(p) for p in positions})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"positions must be 'all', 'last', a slice or a list of ints, got {positions!r}.") from e
    if out and out[0] < 0:
        raise ConfigError("positions are absolute indices into the sequence (>= 0); use 'last' for the newest token.")
    return out


class Steering:
    """Hooks adding ``alpha * v`` to (or projecting out / clamping along ``v`` in) the residual stream; see
    :func:`steer`. A context manager; :meth:`attach`/:meth:`remove` do the same by hand."""

    def __init__(self, model: nn.Module, vectors: Mapping[int, Any], alpha: float = 1.0, mode: str = "add",
                 positions: Any = "all", blocks_path: str | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}.")
        if not vectors:
            raise ConfigError("vectors is empty: give {layer: vector}.")
        self.model = model
        self.alpha = float(alpha)
        self.mode = mode
        self.positions = _check_positions(positions)
        self.stack = resolve_stack(model, blocks_path)
        self.vectors: dict[int, torch.Tensor] = {}
        for layer, v in vectors.items():
            i = self.stack.check_layer(layer)
            t = torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v).detach().reshape(-1)
            t = t.to(torch.float32)
            d = self.stack.hidden_size
            if d is not None and t.numel() != d:
                raise ConfigError(f"the vector for layer {layer} has {t.numel()} entries; the model's hidden size "
                                  f"is {d}.")
            if not bool(torch.isfinite(t).all()):
                raise ConfigError(f"the vector for layer {layer} contains NaN or infinity.")
            if mode != "add":
                norm = torch.linalg.vector_norm(t)
                if float(norm) == 0:
                    raise ConfigError(f"the vector for layer {layer} is zero: nothing to project out or clamp.")
                t = t / norm
            self.vectors[i] = t
        self._handles: list[Any] = []
        self._offset = 0
        self._cache: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}

    # -- the arithmetic -------------------------------------------------------------------------------------
    def _vec(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        key = (layer, h.device, h.dtype)
        if key not in self._cache:
            self._cache[key] = self.vectors[layer].to(h.device)
        return self._cache[key]

    def apply(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """Steer ``h [b, t, d]`` (the chunk at offset :attr:`offset`) at ``layer``; returns a new tensor."""
        idx = _position_index(self.positions, self._offset, h.shape[1]) if h.dim() == 3 else None
        if isinstance(idx, torch.Tensor) and idx.numel() == 0:
            return h
        v = self._vec(layer, h)
        sel = h if idx is None else h[:, idx]
        x = sel.float()
        if self.mode == "add":
            new = x + self.alpha * v
        else:
            target = 0.0 if self.mode == "project_out" else self.alpha
            new = x + (target - x @ v)[..., None] * v
        new = new.to(h.dtype)
        if idx is None:
            return new
        out = h.clone()
        out[:, idx] = new
        return out

    # -- hooks ----------------------------------------------------------------------------------------------
    def _base_pre(self, _mod: nn.Module, args: tuple, kwargs: dict) -> None:
        self._offset = self.stack.call_info(args, kwargs).offset

    def attach(self) -> Steering:
        """Register the hooks (steering hooks run before any other hook on the same module)."""
        if self._handles:
            raise ConfigError("this steering is already attached; use a new steer(...) or remove() it first.")
        try:
            self._handles.append(self.stack.base.register_forward_pre_hook(self._base_pre, with_kwargs=True,
                                                                           prepend=True))
            for layer in self.vectors:
                if layer < self.stack.n_layers:
                    def pre(_mod, args, kwargs, layer=layer):
                        h = _hidden_of(args, kwargs)
                        return None if h is None else _with_hidden(args, kwargs, self.apply(layer, h))
                    self._handles.append(self.stack.blocks[layer].register_forward_pre_hook(
                        pre, with_kwargs=True, prepend=True))
                else:
                    def post(_mod, _args, output, layer=layer):
                        h = _output_hidden(output)
                        return None if h is None else _replace_output_hidden(output, self.apply(layer, h))
                    self._handles.append(self.stack.base.register_forward_hook(post, prepend=True))
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Remove every hook (idempotent)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def __enter__(self) -> Steering:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.remove()


def steer(
    model: nn.Module,
    vectors: Mapping[int, Any],
    alpha: float = 1.0,
    mode: str = "add",
    positions: str | slice | range | Iterable[int] = "all",
    blocks_path: str | None = None,
) -> Steering:
    """Steer a model's residual stream while inside the returned context manager.

    Example:
        >>> import torch, transformers
        >>> from probewise.steer import steer
        >>> cfg = transformers.GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32)
        >>> model = transformers.GPT2LMHeadModel(cfg).eval()
        >>> with steer(model, {0: torch.randn(16)}, alpha=8.0) as s:
        ...     _ = model.generate(torch.tensor([[1, 2]]), max_new_tokens=3, do_sample=False, pad_token_id=0)
        >>> s.attached
        False

    Args:
        model: a transformers model (decoder: GPT-2, Llama, Qwen, ...; or an encoder such as BERT/MiniLM) or any
            module whose block stack :func:`probewise.sources.blocks.find_blocks` finds.
        vectors: ``{layer: v [d]}``; layers as in probewise (``i`` = input of block ``i``; ``L`` = last hidden
            state; negative counts from the top). A :func:`concept_vector` is the usual ``v``.
        alpha: ``add``: the multiple of ``v`` added; ``clamp``: the value the component along ``v`` is set to;
            ignored by ``project_out``.
        mode: ``"add"`` (``h + alpha v``; ``v`` as given), ``"project_out"`` (remove the component along the unit
            ``v``) or ``"clamp"`` (set that component to ``alpha``).
        positions: ``"all"``, ``"last"``, a ``slice``/``range`` or a list of absolute positions (module docstring).
        blocks_path: attribute path of the block ``ModuleList`` when probewise cannot guess it.

    Returns:
        A :class:`Steering`, attached on ``__enter__`` and removed on ``__exit__`` (also after an exception).
    """
    return Steering(model, vectors, alpha, mode, positions, blocks_path)
