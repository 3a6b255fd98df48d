"""Gray-box output signatures (LOS): per token, the top-k next-token log-probabilities and the log-probability
the model gave to the token that actually came next.

    >>> import torch, transformers
    >>> cfg = transformers.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32)
    >>> _ = torch.manual_seed(0); m = transformers.GPT2LMHeadModel(cfg).eval()
    >>> output_signatures(m, torch.tensor([[1, 2, 3, 4]]), top_k=5).shape
    torch.Size([1, 4, 6])

Status: the feature function only; the store/CLI wiring (`probewise extract --features signatures`) is not done.
"""

from __future__ import annotations

import torch

from probewise.errors import ConfigError


@torch.no_grad()
def output_signatures(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      top_k: int = 10) -> torch.Tensor:
    """[b, t, top_k + 1] float32: at position i the top_k log-probabilities (descending) of the next token after
    position i, then the log-probability of the actual token i+1 (0.0 at the last position, which has none)."""
    if top_k < 1:
        raise ConfigError(f"top_k must be >= 1, got {top_k}; pass e.g. top_k=10")
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
    if top_k > logits.shape[-1]:
        raise ConfigError(f"top_k={top_k} exceeds the vocabulary ({logits.shape[-1]}); pass a smaller top_k")
    logp = torch.log_softmax(logits, dim=-1)
    top = logp.topk(top_k, dim=-1).values
    actual = torch.zeros(logp.shape[:2], dtype=logp.dtype)
    actual[:, :-1] = logp[:, :-1].gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return torch.cat([top, actual[..., None]], dim=-1)
