"""Find the stack of transformer blocks of a model, in one place for every caller (extraction, steering).

Example:
    >>> import torch.nn as nn
    >>> from probewise.sources.blocks import find_blocks
    >>> class M(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    >>> name, blocks = find_blocks(M())
    >>> name, len(blocks)
    ('layers', 3)
"""

from __future__ import annotations

import torch.nn as nn

from probewise.errors import SourceError

# Known attribute paths of the block list, tried first (decoders and encoders of transformers).
KNOWN_PATHS = (
    "encoder.layer",  # BERT, RoBERTa, ViT, DeiT, ELECTRA
    "encoder.layers",  # CLIP, Whisper encoder, wav2vec2
    "h",  # GPT-2, GPT-J, Falcon (base model)
    "transformer.h",
    "layers",  # Llama, Mistral, Qwen2, Gemma, Phi (base model)
    "model.layers",
    "gpt_neox.layers",
    "decoder.layers",  # OPT
    "model.decoder.layers",
    "transformer.layer",  # DistilBERT
    "blocks",  # timm ViT, DINO
    "encoder.blocks",
)


def _get(module: nn.Module, path: str) -> nn.Module | None:
    cur: object = module
    for part in path.split("."):
        cur = getattr(cur, part, None)
        if cur is None:
            return None
    return cur if isinstance(cur, nn.Module) else None


def find_blocks(model: nn.Module, path: str | None = None, expected: int | None = None) -> tuple[str, nn.ModuleList]:
    """Return `(attribute path, ModuleList)` of the model's block stack.

    Args:
        path: an explicit attribute path (the override for unknown architectures).
        expected: the number of blocks the config declares, used to reject wrong guesses.
    """
    if path is not None:
        found = _get(model, path)
        if not isinstance(found, nn.ModuleList):
            raise SourceError(f"{type(model).__name__} has no ModuleList at {path!r}.")
        return path, found
    for p in KNOWN_PATHS:
        found = _get(model, p)
        if isinstance(found, nn.ModuleList) and (expected is None or len(found) == expected):
            return p, found
    best: tuple[str, nn.ModuleList] | None = None
    for name, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList) and (expected is None or len(mod) == expected):
            if best is None or len(mod) > len(best[1]):
                best = (name, mod)
    if best is None:
        raise SourceError(
            f"could not find the block stack of {type(model).__name__}"
            + (f" ({expected} blocks expected)" if expected else "")
            + "; pass blocks_path='attribute.path.to.ModuleList'."
        )
    return best
