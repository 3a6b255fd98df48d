"""One minibatch trainer for every non-convex probe: AdamW, warmup + cosine, early stopping, seeded.

The trainer knows nothing of probe families. It fits any ``nn.Module`` whose ``forward`` takes one batch of
the input *fields* and returns logits: ``[b, k]``, or ``[L, b, k]`` in *layered* mode, where every parameter
carries a leading layer axis ``[L, ...]`` and the inputs are ``[L, n, ...]``: ``L`` independent problems (one
per layer of a model) trained in one tensor program, the loss summed over layers and early stopping tracked
per layer (each layer keeps the weights of its own best epoch). ``k = 1`` logit means a binary problem
(logistic loss); ``k > 1`` logits mean softmax cross-entropy.

A field is a tensor with examples on axis 0 (axis 1 in layered mode), or a
:class:`~probewise.store.ragged.Ragged` of token sequences, which reaches the module as two arguments, a
zero-padded ``x [b, t, d]`` and a bool ``mask [b, t]`` (True = token), padded per batch to the batch's
longest sequence.

Randomness comes only from ``TrainConfig.seed``: shuffling uses a private CPU ``torch.Generator`` and
:class:`SeededDropout` a private generator on the training device; the global RNG is never touched, so the
same seed and inputs give bitwise identical weights on CPU.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probewise.fit.trainer import TrainConfig, train
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(200, 4, generator=g)
    >>> y = (X[:, 0] > 0).long()
    >>> model = nn.Linear(4, 1)
    >>> _ = nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    >>> config = TrainConfig(lr=0.1, epochs=30, batch_size=32, seed=0)
    >>> result = train(model, (X[:160],), y[:160], (X[160:],), y[160:], config)
    >>> result.best_val_loss[0] < 0.2, result.epochs_run <= 30
    (True, True)
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from probewise.errors import ConfigError, DataError
from probewise.store.ragged import Ragged

__all__ = [
    "SeededDropout",
    "TrainConfig",
    "TrainResult",
    "derive_seed",
    "gather_padded",
    "holdout_split",
    "per_layer_loss",
    "ragged_take",
    "take_batch",
    "train",
]

Field = torch.Tensor | Ragged


@dataclass
class TrainConfig:
    """Settings of one minibatch training run.

    Attributes:
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay, applied to weights only (not to parameters whose name
            contains ``bias``, ``norm`` or ``query``).
        epochs: maximum number of passes over the training data.
        batch_size: examples per step (the last batch of an epoch may be smaller).
        patience: stop after this many epochs without a better validation loss (in every layer); ``None``
            trains all ``epochs``. The best epoch's weights are restored either way.
        warmup_frac: fraction of all ``epochs * steps_per_epoch`` steps of linear warmup before the cosine decay.
        seed: the only source of randomness (shuffling, dropout; probes also derive their initialization).
        device: where to train (``"cpu"``, ``"cuda:0"``, ...); ``None``: where the model already is.
        ddp: under torchrun, train one model on all ranks with ``DistributedDataParallel``: every global
            batch is split across ranks and the gradients averaged, so the updates are those of one process
            (up to the order of float sums; dropout masks differ). The opt-in path for one probe too large
            for one device. Outside torchrun it changes nothing. See also
            :func:`probewise.distributed.data_parallel`.
    """

    lr: float = 1e-3
    weight_decay: float = 1e-2
    epochs: int = 100
    batch_size: int = 128
    patience: int | None = 10
    warmup_frac: float = 0.05
    seed: int = 0
    device: str | None = None
    ddp: bool = False

    def __post_init__(self) -> None:
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}.")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        if int(self.epochs) < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs!r}.")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size!r}.")
        if self.patience is not None and int(self.patience) < 1:
            raise ConfigError(f"patience must be >= 1 or None (no early stopping), got {self.patience!r}.")
        if not 0 <= self.warmup_frac < 1:
            raise ConfigError(f"warmup_frac must be in [0, 1), got {self.warmup_frac!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What happened during :func:`train` (per-layer lists have one entry when not layered).

    Attributes:
        best_epoch: ``[L]`` 1-based epoch whose weights were restored, per layer.
        best_val_loss: ``[L]`` validation loss of the restored weights.
        epochs_run: epochs actually run (early stopping may end training before ``epochs``).
        train_seconds: wall time of the whole run.
        val_history: ``[epochs_run][L]`` validation loss after every epoch.
        train_history: ``[epochs_run]`` mean training loss per epoch (summed over layers).
    """

    best_epoch: list[int]
    best_val_loss: list[float]
    epochs_run: int
    train_seconds: float
    val_history: list[list[float]] = field(default_factory=list)
    train_history: list[float] = field(default_factory=list)


class SeededDropout(nn.Module):
    """Dropout drawing its masks from a private generator (attached by :func:`train`), never the global RNG.

    Example:
        >>> import torch
        >>> from probewise.fit.trainer import SeededDropout
        >>> drop = SeededDropout(0.5)
        >>> drop.generator = torch.Generator().manual_seed(0)
        >>> y = drop(torch.ones(1000))
        >>> sorted(set(y.tolist())), abs(y.mean().item() - 1) < 0.1
        ([0.0, 2.0], True)
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {p!r}.")
        self.p = float(p)
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.generator is None:
            raise ConfigError("SeededDropout needs a generator in training mode; train the module with "
                              "probewise.fit.trainer.train (which attaches one) or set `.generator`.")
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def derive_seed(seed: int, stream: int) -> int:
    """An independent 63-bit seed for random stream ``stream`` of ``seed`` (numpy ``SeedSequence``)."""
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def holdout_split(codes: torch.Tensor, frac: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded stratified split of ``range(n)``: about ``frac`` of every class goes to validation.

    Every class with at least two examples puts at least one in validation and keeps at least one for training.

    Returns:
        ``(train_idx, val_idx)``, sorted int64 tensors on CPU.

    Raises:
        DataError: if no class has two examples (nothing can be held out).
    """
    codes = torch.as_tensor(codes).cpu()
    g = torch.Generator().manual_seed(derive_seed(seed, 7))
    train_parts, val_parts = [], []
    for c in torch.unique(codes):
        idx = torch.nonzero(codes == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_val = min(max(1, round(frac * len(idx))), len(idx) - 1) if len(idx) >= 2 else 0
        val_parts.append(idx[:n_val])
        train_parts.append(idx[n_val:])
    val = torch.cat(val_parts).sort().values
    if len(val) == 0:
        raise DataError("too few examples to hold out a validation split; pass X_val and y_val explicitly.")
    return torch.cat(train_parts).sort().values, val


def ragged_take(r: Ragged, idx: torch.Tensor) -> Ragged:
    """Examples ``idx`` of ``r`` (in that order) as a new Ragged, with one vectorized gather."""
    idx = torch.as_tensor(idx, dtype=torch.int64, device=r.offsets.device)
    starts = r.offsets[idx]
    lengths = r.offsets[idx + 1] - starts
    offsets = torch.zeros(len(idx) + 1, dtype=torch.int64, device=r.offsets.device)
    offsets[1:] = torch.cumsum(lengths, 0)
    total = int(offsets[-1])
    within = torch.arange(total, device=r.offsets.device) - torch.repeat_interleave(offsets[:-1], lengths)
    pos = torch.repeat_interleave(starts, lengths) + within
    return Ragged(r.values[pos.to(r.values.device)], offsets)


def gather_padded(
    r: Ragged, idx: torch.Tensor | None, device: torch.device, max_len: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded float32 ``x [b, t, d]`` and bool ``mask [b, t]`` of examples ``idx`` (all if None) on ``device``.

    Tokens are left-aligned (``mask[i]`` is a prefix of True); ``t`` is the longest of the batch. Vectorized:
    one gather of ``values``, no Python loop over examples.
    """
    offsets = r.offsets
    if idx is None:
        idx = torch.arange(len(offsets) - 1, device=offsets.device)
    idx = torch.as_tensor(idx, dtype=torch.int64, device=offsets.device)
    starts = offsets[idx]
    lengths = offsets[idx + 1] - starts
    t = int(lengths.max()) if len(idx) else 0
    if max_len is not None:
        t = min(t, max_len)
    pos = torch.arange(t, device=offsets.device)
    mask = pos[None, :] < lengths[:, None]
    flat = (starts[:, None] + pos[None, :]).clamp(max=max(len(r.values) - 1, 0))
    x = r.values[flat.to(r.values.device)]
    x = x.to(device=device, dtype=torch.float32)
    mask = mask.to(device)
    return x.masked_fill(~mask[..., None], 0.0), mask


def per_layer_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean loss per layer ``[L]`` of logits ``[L, b, k]`` against labels ``[b]`` (logistic if ``k == 1``)."""
    L, b, k = logits.shape
    if k == 1:
        target = y.to(logits.dtype).expand(L, b)
        return F.binary_cross_entropy_with_logits(logits[..., 0], target, reduction="none").mean(1)
    return F.cross_entropy(logits.reshape(L * b, k), y.repeat(L), reduction="none").view(L, b).mean(1)


def _n_examples(fields: Sequence[Field], layered: bool) -> int:
    sizes = set()
    for f in fields:
        if isinstance(f, Ragged):
            if layered:
                raise ConfigError("layered training takes tensors [L, n, ...], not Ragged token sequences.")
            sizes.add(len(f))
        else:
            sizes.add(int(f.shape[1] if layered else f.shape[0]))
    if len(sizes) != 1:
        raise DataError(f"all input fields must hold the same number of examples, got sizes {sorted(sizes)}.")
    return sizes.pop()


def take_batch(fields: Sequence[Field], idx: torch.Tensor, device: torch.device, layered: bool) -> list[torch.Tensor]:
    """Examples ``idx`` of every field, on ``device``: a tensor gives one tensor, a Ragged gives ``x, mask``."""
    out: list[torch.Tensor] = []
    for f in fields:
        if isinstance(f, Ragged):
            out.extend(gather_padded(f, idx, device))
        else:
            i = idx.to(f.device)
            part = f[:, i] if layered else f[i]
            out.append(part.to(device=device, dtype=torch.float32 if part.is_floating_point() else part.dtype))
    return out


def _check_logits(logits: torch.Tensor, L: int, b: int, layered: bool) -> None:
    want = f"[{L}, {b}, k]" if layered else f"[{b}, k]"
    ok = logits.dim() == 3 and logits.shape[:2] == (L, b) if layered else logits.dim() == 2 and logits.shape[0] == b
    if not ok:
        raise ConfigError(f"the model must return logits {want}, got shape {tuple(logits.shape)}"
                          + ("; in layered mode every parameter and input carries a leading layer axis [L, ...]."
                             if layered else "."))


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lname = name.lower()
        (no_decay if ("bias" in lname or "norm" in lname or "query" in lname) else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def _schedule(total_steps: int, warmup_frac: float):
    warmup = int(round(warmup_frac * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _ddp_group(config: TrainConfig) -> tuple[int, int] | None:
    """``(rank, world_size)`` when ``config.ddp`` asks for data parallelism inside a torchrun process group."""
    from probewise.distributed import data_parallel_enabled

    if not (config.ddp or data_parallel_enabled()):
        return None
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_world_size() < 2:
        return None
    return dist.get_rank(), dist.get_world_size()


def _local_part(idx: torch.Tensor, group: tuple[int, int] | None) -> tuple[torch.Tensor, float]:
    """This rank's rows of a global batch and the loss weight that makes DDP's averaged gradient the batch mean.

    DDP averages the ranks' gradients; weighting each rank's mean loss by ``rows_r · world / rows`` turns that
    average into the gradient of the whole batch's mean loss. A rank left without rows takes one row at weight 0.
    """
    if group is None:
        return idx, 1.0
    rank, world = group
    part = idx[rank::world]
    if len(part) == 0:
        return idx[:1], 0.0
    return part, len(part) * world / len(idx)


def _sum_ranks(t: torch.Tensor, group: tuple[int, int] | None) -> torch.Tensor:
    if group is None:
        return t
    import torch.distributed as dist

    t = t.clone()
    dist.all_reduce(t)
    return t / group[1]  # each rank's running sum is weighted by world / rows: divide it back


def _from_rank0(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    import torch.distributed as dist

    box = t.to(device if dist.get_backend() == "nccl" else "cpu").clone()
    dist.broadcast(box, 0)
    return box.cpu()


@torch.no_grad()
def _val_loss(model, fields, y, device, batch_size, layered) -> torch.Tensor:
    n = _n_examples(fields, layered)
    total = None
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size))
        logits = model(*take_batch(fields, idx, device, layered))
        if not layered:
            logits = logits[None]
        part = per_layer_loss(logits.float(), y[idx].to(device)) * len(idx)
        total = part if total is None else total + part
    return (total / n).double().cpu()


def train(
    model: nn.Module,
    inputs: Sequence[Field],
    y: torch.Tensor,
    val_inputs: Sequence[Field],
    y_val: torch.Tensor,
    config: TrainConfig,
    *,
    layered: bool = False,
) -> TrainResult:
    """Train ``model`` in place with AdamW, warmup + cosine schedule and early stopping on validation loss.

    Args:
        model: ``forward(*fields)`` returns logits ``[b, k]`` (or ``[L, b, k]`` when ``layered``); its parameters
            are already initialized (from the caller's own seeded generator).
        inputs: training fields (tensors ``[n, ...]`` / ``[L, n, ...]`` or :class:`Ragged`); may live on CPU
            while the model trains on an accelerator (batches are moved one at a time).
        y: ``[n]`` int64 class indices in ``[0, k)`` (``{0, 1}`` when ``k == 1``).
        val_inputs, y_val: validation fields and labels, used for early stopping and best-epoch selection.
        config: the :class:`TrainConfig`.
        layered: every parameter has a leading layer axis ``L``; each layer keeps its own best weights.

    Returns:
        A :class:`TrainResult`. The model ends in eval mode holding the best weights (per layer).
    """
    device = torch.device(config.device) if config.device is not None else next(model.parameters()).device
    model.to(device)
    y = torch.as_tensor(y, dtype=torch.int64)
    y_val = torch.as_tensor(y_val, dtype=torch.int64)
    n = _n_examples(inputs, layered)
    if n != len(y) or _n_examples(val_inputs, layered) != len(y_val):
        raise DataError(f"labels do not match inputs: {n} training examples and {len(y)} labels, "
                        f"{_n_examples(val_inputs, layered)} validation examples and {len(y_val)} labels.")
    if n == 0 or len(y_val) == 0:
        raise DataError("training and validation sets must both be non-empty.")
    params = [p for p in model.parameters() if p.requires_grad]
    L = int(params[0].shape[0]) if layered else 1
    if layered and any(p.dim() == 0 or p.shape[0] != L for p in params):
        raise ConfigError("layered training needs every parameter to carry the same leading layer axis [L, ...].")

    start_time = time.perf_counter()
    shuffle_gen = torch.Generator().manual_seed(derive_seed(config.seed, 1))
    dropout_gen = torch.Generator(device=device).manual_seed(derive_seed(config.seed, 2))
    for m in model.modules():
        if isinstance(m, SeededDropout):
            m.generator = dropout_gen
    bs = int(config.batch_size)
    steps_per_epoch = math.ceil(n / bs)
    group = _ddp_group(config)
    net = model if group is None else nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(int(config.epochs) * steps_per_epoch, config.warmup_frac))

    best = [p.detach().clone() for p in params]
    best_loss = torch.full((L,), math.inf, dtype=torch.float64)
    best_epoch = torch.zeros(L, dtype=torch.int64)
    val_history: list[list[float]] = []
    train_history: list[float] = []
    epoch = 0
    try:
        for epoch in range(1, int(config.epochs) + 1):
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen)
            running = torch.zeros((), dtype=torch.float64)
            for s in range(steps_per_epoch):
                idx = perm[s * bs : (s + 1) * bs]
                part, weight = _local_part(idx, group)
                logits = net(*take_batch(inputs, part, device, layered))
                _check_logits(logits, L, len(part), layered)
                if not layered:
                    logits = logits[None]
                loss = per_layer_loss(logits.float(), y[part].to(device)).sum() * weight
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                running += loss.detach().double().cpu() * len(idx)
            train_history.append(float(_sum_ranks(running, group) / n))

            model.eval()
            losses = _val_loss(model, val_inputs, y_val, device, max(bs, 256), layered)
            if group is not None:  # every rank stops and keeps weights on rank 0's numbers
                losses = _from_rank0(losses, device)
            val_history.append(losses.tolist())
            improved = torch.isfinite(losses) & (losses < best_loss)
            if bool(improved.any()):
                best_loss = torch.where(improved, losses, best_loss)
                best_epoch = torch.where(improved, torch.full_like(best_epoch, epoch), best_epoch)
                with torch.no_grad():
                    for b, p in zip(best, params, strict=True):
                        if layered:
                            keep = improved.to(device).view(L, *([1] * (p.dim() - 1)))
                            b.copy_(torch.where(keep, p.detach(), b))
                        else:
                            b.copy_(p.detach())
            if config.patience is not None and bool(((epoch - best_epoch) >= int(config.patience)).all()):
                break
    finally:
        for m in model.modules():
            if isinstance(m, SeededDropout):
                m.generator = None
        if group is not None:
            # The DDP wrapper sits in reference cycles: left to the garbage collector it can outlive the process
            # group and abort the interpreter at exit ("terminate called without an active exception").
            del net
            gc.collect()
    with torch.no_grad():
        for b, p in zip(best, params, strict=True):
            p.copy_(b)
    model.eval()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return TrainResult(
        best_epoch=[int(e) for e in best_epoch],
        best_val_loss=[float(v) for v in best_loss],
        epochs_run=epoch,
        train_seconds=time.perf_counter() - start_time,
        val_history=val_history,
        train_history=train_history,
    )
