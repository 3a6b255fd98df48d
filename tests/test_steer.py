"""Steering hooks on real models (tiny random decoders saved and reloaded, the real MiniLM encoder); concept vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probewise.artifact import ProbeArtifact, model_fingerprint
from probewise.errors import ConfigError, ProbeError
from probewise.monitor import Monitor
from probewise.probes import LogisticProbe, MeanDiffProbe
from probewise.probes.longcontext import MeanLinearProbe, MultiMaxProbe
from probewise.steer import concept_vector, directional_stability, resolve_stack, steer
from tests.conftest import load_pretrained


@pytest.fixture(scope="module")
def qwen2(tmp_path_factory):
    import transformers

    cfg = transformers.Qwen2Config(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    path = tmp_path_factory.mktemp("qwen2")
    torch.manual_seed(0)
    transformers.Qwen2ForCausalLM(cfg).save_pretrained(path)
    return load_pretrained(str(path))


@pytest.fixture(scope="module")
def minilm(minilm_path):
    import transformers

    return load_pretrained(minilm_path, causal=False), transformers.AutoTokenizer.from_pretrained(minilm_path)


IDS = torch.tensor([[101, 1996, 4937, 2938, 2006, 1996, 13523, 102], [101, 1037, 3899, 17554, 102, 2057, 3328, 102]])


def _hook_counts(model):
    st = resolve_stack(model)
    mods = [st.base, *st.blocks]
    return [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in mods]


@pytest.mark.parametrize("which", ["gpt2", "llama", "qwen2"])
@pytest.mark.parametrize("positions", ["all", "last", slice(2, None), [0, 5]])
def test_alpha_zero_is_bit_identical_decoders(which, positions, request):
    model = request.getfixturevalue(which)
    n = resolve_stack(model).n_layers
    vecs = {i: torch.randn(32, generator=torch.Generator().manual_seed(i)) for i in range(n + 1)}
    with torch.no_grad():
        plain = model(IDS).logits
        with steer(model, vecs, alpha=0.0, positions=positions):
            same = model(IDS).logits
        with steer(model, vecs, alpha=3.0, positions=positions):
            moved = model(IDS).logits
    assert torch.equal(plain, same)
    assert not torch.equal(plain, moved)


def test_alpha_zero_is_bit_identical_minilm_and_generate(minilm, gpt2):
    model, tok = minilm
    enc = tok(["the cat sat on the mat", "a dog"], padding=True, return_tensors="pt")
    v = {i: torch.ones(384) for i in range(7)}
    with torch.no_grad():
        plain = model(**enc, output_hidden_states=True)
        with steer(model, v, alpha=0.0):
            same = model(**enc, output_hidden_states=True)
    assert torch.equal(plain.last_hidden_state, same.last_hidden_state)
    assert all(torch.equal(a, b) for a, b in zip(plain.hidden_states, same.hidden_states, strict=True))
    prompt = IDS[:1]
    with torch.no_grad():
        ref = gpt2.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0, output_scores=True,
                            return_dict_in_generate=True)
        with steer(gpt2, {1: torch.ones(32), 4: torch.ones(32)}, alpha=0.0, positions="last"):
            out = gpt2.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0, output_scores=True,
                                return_dict_in_generate=True)
    assert torch.equal(ref.sequences, out.sequences)
    assert all(torch.equal(a, b) for a, b in zip(ref.scores, out.scores, strict=True))


def test_hooks_removed_after_exit_and_exception(gpt2, minilm):
    for model in (gpt2, minilm[0]):
        before = _hook_counts(model)
        d = resolve_stack(model).hidden_size
        with steer(model, {0: torch.ones(d), 2: torch.ones(d), -1: torch.ones(d)}, alpha=1.0):
            assert _hook_counts(model) != before
        assert _hook_counts(model) == before
        with pytest.raises(RuntimeError, match="boom"), steer(model, {1: torch.ones(d)}, alpha=1.0, mode="clamp"):
            raise RuntimeError("boom")
        assert _hook_counts(model) == before
    with pytest.raises(ConfigError, match="not in this model"):
        steer(gpt2, {7: torch.ones(32)})
    with pytest.raises(ConfigError, match="hidden size"):
        steer(gpt2, {1: torch.ones(8)})
    with pytest.raises(ConfigError, match="mode"):
        steer(gpt2, {1: torch.ones(32)}, mode="scale")


def _greedy_reference(model, prompt, v, layer, alpha, n, positions_of_step):
    """Greedy decoding without a KV cache, steering the given absolute positions at every full forward pass."""
    seq = prompt
    for _ in range(n):
        with steer(model, {layer: v}, alpha=alpha, positions=positions_of_step(seq.shape[1])):
            logits = model(seq, use_cache=False).logits
        seq = torch.cat([seq, logits[:, -1:].argmax(-1)], 1)
    return seq


@pytest.mark.parametrize("which", ["gpt2", "llama", "qwen2"])
def test_last_position_under_kv_cache_steers_each_new_token_once(which, request):
    model = request.getfixturevalue(which)
    v = torch.randn(32, generator=torch.Generator().manual_seed(1))
    v = 3 * v / v.norm()
    prompt = IDS[:1, :5]
    p = prompt.shape[1]
    with torch.no_grad():
        with steer(model, {1: v}, alpha=2.0, positions="last"):
            cached = model.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0)
        # the same tokens are steered when every pass re-reads the whole sequence: positions p-1, p, p+1, ...
        ref = _greedy_reference(model, prompt, v, 1, 2.0, 6, lambda t: list(range(p - 1, t)))
        plain = model.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0)
        with steer(model, {1: v}, alpha=2.0, positions=slice(3, None)):
            sliced = model.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0)
        ref_sliced = _greedy_reference(model, prompt, v, 1, 2.0, 6, lambda t: slice(3, None))
    assert torch.equal(cached, ref)
    assert torch.equal(sliced, ref_sliced)
    assert not torch.equal(cached, plain)


def test_top_layer_steers_the_last_hidden_state(gpt2):
    lm_w = gpt2.get_output_embeddings().weight  # [vocab, d]
    v = torch.zeros(32)
    v[0] = 1.0
    with torch.no_grad():
        plain = gpt2(IDS).logits
        with steer(gpt2, {4: v}, alpha=2.0):
            moved = gpt2(IDS).logits
    torch.testing.assert_close(moved - plain, (2.0 * lm_w[:, 0]).expand_as(plain), atol=1e-5, rtol=0)


def test_project_out_and_clamp_set_the_component(gpt2):
    X = np.random.default_rng(0).normal(size=(200, 32))
    probe = LogisticProbe().fit(X, (X[:, 3] > 0).astype(int))
    art = ProbeArtifact(probe, "g", model_fingerprint(gpt2), layer=2, pooling="mean")
    v = concept_vector(art)
    w = np.linalg.norm(probe.coef_)
    b = float(probe.intercept_[0])
    for mode, alpha, expected in (("project_out", 5.0, b), ("clamp", 1.5, b + 1.5 * w)):
        with torch.no_grad(), steer(gpt2, {2: v}, alpha=alpha, mode=mode), Monitor(gpt2, {"p": art}) as mon:
            gpt2(IDS)
        np.testing.assert_allclose(mon.sequence_scores("p"), expected, atol=1e-5)


def test_steering_raises_the_probe_score_exactly_at_its_layer(gpt2):
    X = np.random.default_rng(1).normal(size=(200, 32))
    probe = MeanDiffProbe().fit(X, (X[:, 0] + X[:, 1] > 0).astype(int))
    art = ProbeArtifact(probe, "g", model_fingerprint(gpt2), layer=3, pooling="mean")
    v = concept_vector(art)
    scores = {}
    for alpha in (0.0, 2.0):
        with torch.no_grad(), steer(gpt2, {3: v}, alpha=alpha), Monitor(gpt2, {"p": art}) as mon:
            gpt2(IDS)
        scores[alpha] = mon.sequence_scores("p")
    np.testing.assert_allclose(scores[2.0] - scores[0.0], 2.0 * np.linalg.norm(probe.coef_), rtol=1e-6)


@pytest.fixture(scope="module")
def negation_store(tmp_path_factory):
    from probewise.extract import ExtractConfig, run_extract

    out = tmp_path_factory.mktemp("neg") / "store"
    return run_extract(ExtractConfig(out=str(out), task="negation", task_size=100, layers="3", pooling="mean",
                                     progress=False))


def test_concept_vector_raises_score_on_held_out_text_minilm(minilm, negation_store):
    from probewise.data.tasks import make_task

    model, tok = minilm
    st = negation_store
    X, y = st.read(3, "train").numpy(), st.labels[st.indices("train")]
    art = ProbeArtifact.from_store(st, LogisticProbe().fit(X, y), 3)
    stab = directional_stability(X, y, LogisticProbe(), n_boot=4, Cs=[0.1, 1.0])
    assert 0 < stab.boot_min <= stab.boot_mean <= 1 and stab.c_mean is not None
    art.metrics = {"directional_stability": stab.to_dict()}
    task = make_task("negation", n=100, seed=0)
    held_out = [t for t, s in zip(task.texts, task.split, strict=True) if s == 2]
    enc = tok(held_out, padding=True, return_tensors="pt")
    v = concept_vector(art)
    mon = Monitor(model, {"neg": art})
    scores = {}
    for layer, alpha in ((None, 0.0), (2, 4.0), (2, -4.0)):  # steer one block below the probe's layer
        with torch.no_grad(), mon, steer(model, {layer or 0: v}, alpha=alpha):
            model(**enc)
        scores[alpha] = mon.sequence_scores("neg")
    assert (scores[4.0] > scores[0.0]).all() and (scores[-4.0] < scores[0.0]).all()
    # the monitor reading an encoder forward pass equals the store's pooled features of the same texts
    np.testing.assert_allclose(scores[0.0], art.probe.decision_function(st.read(3, "test").numpy()), atol=1e-4)


def test_concept_vectors_of_probe_kinds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 2] > 0).astype(int)
    assert int(np.argmax(np.abs(concept_vector(LogisticProbe().fit(X, y))))) == 2
    tokens = torch.as_tensor(rng.normal(size=(120, 4, 5)), dtype=torch.float32)
    yt = (tokens[:, :, 2].mean(1) > 0).long()
    v = concept_vector(MeanLinearProbe(epochs=30, lr=1e-2).fit(tokens, yt))
    assert abs(np.linalg.norm(v) - 1) < 1e-9 and int(np.argmax(np.abs(v))) == 2
    with pytest.raises(ProbeError, match="no single linear direction"):
        concept_vector(MultiMaxProbe(n_heads=2, epochs=1).fit(tokens, yt))
    with pytest.raises(ProbeError, match="multiclass"):
        concept_vector(LogisticProbe().fit(X, np.digitize(X[:, 0], [-0.5, 0.5])))


def test_directional_stability_separates_signal_from_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 10))
    y = (X[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    signal = directional_stability(X, y, LogisticProbe(), n_boot=6, Cs=[0.01, 1.0, 100.0], seed=1)
    noise = directional_stability(X, rng.integers(0, 2, 400), LogisticProbe(), n_boot=6, seed=1)
    assert signal.boot_mean > 0.95 and signal.c_min > 0.9
    assert noise.boot_mean < 0.8 and noise.c_mean is None
    again = directional_stability(X, y, lambda C=1.0: LogisticProbe(C=C), n_boot=6, Cs=[0.01, 1.0, 100.0], seed=1)
    assert again.to_dict() == signal.to_dict()  # same seed, same numbers; a factory works like an instance
