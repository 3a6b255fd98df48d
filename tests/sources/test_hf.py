import numpy as np
import pytest
import torch
import transformers

from probewise.errors import SourceError
from probewise.sources.hf import HFSource, parse_layers

from ..conftest import SENTENCES


def _reference(path, texts):
    tok = transformers.AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    model = transformers.AutoModel.from_pretrained(path).eval()
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hs = model(**enc, output_hidden_states=True).hidden_states
    return [h.numpy() for h in hs], enc["attention_mask"].numpy().astype(bool)


def _pool_ref(h, mask, how):
    out = []
    for i in range(h.shape[0]):
        toks = h[i][mask[i]]
        out.append({"mean": toks.mean(0), "max": toks.max(0), "first": toks[0], "last": toks[-1]}[how])
    return np.stack(out)


@pytest.mark.parametrize("pooling", ["mean", "max", "first", "last", "tokens"])
def test_minilm_matches_output_hidden_states(minilm_path, pooling):
    hs, mask = _reference(minilm_path, SENTENCES)
    src = HFSource(minilm_path, layers="all", pooling=pooling, device="cpu")
    assert src.layers == list(range(7))
    out = src.run_batch(SENTENCES)
    for i in range(7):
        if pooling == "tokens":
            for j, seq in enumerate(out[str(i)]):
                np.testing.assert_allclose(seq.numpy(), hs[i][j][mask[j]], atol=1e-5)
        else:
            np.testing.assert_allclose(out[str(i)].numpy(), _pool_ref(hs[i], mask, pooling), atol=1e-5)
    if pooling == "tokens":
        ids = out["__token_ids__"]
        assert [len(t) for t in ids] == mask.sum(1).tolist()


def test_truncated_forward_identical_and_skips_blocks(minilm_path):
    full = HFSource(minilm_path, layers="all", device="cpu").run_batch(SENTENCES)
    trunc_src = HFSource(minilm_path, layers=[0, 1, 2], device="cpu")
    calls = []
    hooks = [b.register_forward_hook(lambda *a, i=i: calls.append(i)) for i, b in enumerate(trunc_src.blocks)]
    trunc = trunc_src.run_batch(SENTENCES)
    for h in hooks:
        h.remove()
    assert calls == [0, 1], "blocks above the deepest requested layer must not run"
    for i in ("0", "1", "2"):
        assert torch.equal(trunc[i], full[i])
    assert not any(h for h in trunc_src.blocks[0]._forward_pre_hooks.values()), "hooks must be removed"


def test_parse_layers():
    assert parse_layers(None, 7) == list(range(7))
    assert parse_layers("0,3,-1", 7) == [0, 3, 6]
    assert parse_layers("2-4", 7) == [2, 3, 4]
    with pytest.raises(SourceError, match="layer 9 is not in this model"):
        parse_layers([9], 7)
    with pytest.raises(SourceError, match="not an index"):
        parse_layers(["top"], 7)


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama"])
def test_tiny_decoders(request, fixture):
    path = request.getfixturevalue(fixture)
    hs, mask = _reference(path, SENTENCES[:4])
    src = HFSource(path, layers="all", pooling="last", device="cpu")
    out = src.run_batch(SENTENCES[:4])
    for i in range(len(hs)):
        np.testing.assert_allclose(out[str(i)].numpy(), _pool_ref(hs[i], mask, "last"), atol=1e-5)
    # truncated forward on a decoder gives the same lower layers
    trunc = HFSource(path, layers=[1], pooling="last", device="cpu").run_batch(SENTENCES[:4])
    assert torch.allclose(trunc["1"], out["1"], atol=1e-6)
    with pytest.raises(SourceError, match="pooling 'first' is not available"):
        HFSource(path, pooling="first", device="cpu")


def test_tiny_vit(tiny_vit, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    src = HFSource(tiny_vit, layers="all", pooling="first", device="cpu")
    assert src.modality == "image"
    out = src.run_batch(paths)
    proc = transformers.AutoImageProcessor.from_pretrained(tiny_vit)
    model = transformers.AutoModel.from_pretrained(tiny_vit).eval()
    with torch.no_grad():
        pix = proc(images=[Image.open(p).convert("RGB") for p in paths], return_tensors="pt")["pixel_values"]
        hs = model(pixel_values=pix, output_hidden_states=True).hidden_states
    for i in range(4):
        np.testing.assert_allclose(out[str(i)].numpy(), hs[i][:, 0].numpy(), atol=1e-5)


def test_missing_model_path(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        HFSource(str(tmp_path / "no-such-model"))


def test_unknown_pooling(minilm_path):
    from probewise.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown pooling"):
        HFSource(minilm_path, pooling="median")


@pytest.mark.parametrize("pooling", ["mean", "max", "first", "last", "tokens"])
def test_encode_shard_batches_equal_per_batch_tokenizing(minilm_path, pooling):
    """A batch cut from the shard's one tokenization gives bitwise the same outputs as tokenizing the batch."""
    src = HFSource(minilm_path, layers=[0, 3, 6], pooling=pooling, device="cpu")
    texts = SENTENCES * 2 + ["x", "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 3]
    shard = src.encode_shard(texts)
    assert shard.lengths.tolist() == src.lengths(texts)
    for idx in ([0, 2, 5], [17, 3], list(range(len(texts)))[::-1], [16]):
        items = [texts[i] for i in idx]
        want_enc = src.processor(items, truncation=True, max_length=src.max_length, padding=True, return_tensors="pt")
        got_enc = shard.batch(idx).encoding
        assert set(got_enc) == set(want_enc) and all(torch.equal(got_enc[k], want_enc[k]) for k in want_enc)
        got, want = src.run_batch(items, encoded=shard.batch(idx)), src.run_batch(items)
        assert got.keys() == want.keys()
        for k in want:
            if isinstance(want[k], list):
                assert all(torch.equal(a, b) for a, b in zip(got[k], want[k], strict=True))
            else:
                assert torch.equal(got[k], want[k])


def test_encode_shard_word_labels_match(minilm_path):
    src = HFSource(minilm_path, layers=[2], pooling="tokens", device="cpu")
    texts = ["the unbelievably long word here", "a cat", "tokenization splits words into pieces"]
    labels = [[1, 0, 2, 0, 1], [0, 1], [2, 2, 0, 1, 0]]
    shard = src.encode_shard(texts, words=True)
    assert shard.lengths.tolist() == src.lengths(texts, words=True)
    idx = [2, 0, 1]
    got = src.run_batch([texts[i] for i in idx], [labels[i] for i in idx], encoded=shard.batch(idx))
    want = src.run_batch([texts[i] for i in idx], [labels[i] for i in idx])
    for k in ("2", "__token_ids__", "__token_labels__"):
        assert all(torch.equal(a, b) for a, b in zip(got[k], want[k], strict=True))
    with pytest.raises(SourceError, match="words=True"):
        src.run_batch(texts[:1], labels[:1], encoded=src.encode_shard(texts[:1]).batch([0]))


def test_encode_shard_not_for_images(tiny_vit):
    assert HFSource(tiny_vit, device="cpu").encode_shard(["img.png"]) is None
