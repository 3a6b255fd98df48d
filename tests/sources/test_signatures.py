import pytest
import torch
import transformers

from probewise.errors import ConfigError
from probewise.sources.signatures import output_signatures


@pytest.fixture(scope="module")
def gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32)
    return transformers.GPT2LMHeadModel(cfg).eval()


def test_actual_token_logprob_matches_the_models_own_loss(gpt2):
    ids = torch.tensor([[1, 7, 3, 9, 4, 2]])
    sig = output_signatures(gpt2, ids, top_k=3)
    loss = gpt2(input_ids=ids, labels=ids).loss  # HF's mean next-token cross-entropy
    assert torch.allclose(-sig[0, :-1, -1].mean(), loss, atol=1e-5)
    assert sig[0, -1, -1] == 0.0
    top = sig[0, :, :3]
    assert (top[:, :-1] >= top[:, 1:]).all()  # descending
    assert (sig[0, :-1, -1] <= top[:-1, 0] + 1e-6).all()  # the actual token is never above the top-1


def test_bad_top_k_is_refused(gpt2):
    with pytest.raises(ConfigError, match="top_k"):
        output_signatures(gpt2, torch.tensor([[1, 2]]), top_k=0)
    with pytest.raises(ConfigError, match="vocabulary"):
        output_signatures(gpt2, torch.tensor([[1, 2]]), top_k=51)
