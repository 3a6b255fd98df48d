"""The monitor on real models: streaming scores equal an offline pass, flags stop generation, the cascade, the CLI."""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pytest
import torch

from probewise.artifact import ProbeArtifact, model_fingerprint
from probewise.errors import ConfigError, ProbeError
from probewise.monitor import Monitor
from probewise.probes import LogisticProbe
from probewise.probes.longcontext import EMAMaxProbe, MultiMaxProbe, RollingAttentionProbe
from probewise.steer import resolve_stack
from tests.conftest import load_pretrained


def _artifacts(model, d=32, threshold=0.0):
    """Linear probes (each pooling) and long-context probes, at several layers including the top one."""
    fp = model_fingerprint(model)
    top = resolve_stack(model).n_layers
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, d)) * 0.05
    y = (X[:, 0] > 0).astype(int)
    arts = {f"lin_{p}": ProbeArtifact(LogisticProbe().fit(X, y), "m", fp, layer, p, threshold=threshold)
            for p, layer in (("mean", 1), ("last", 2), ("max", top), ("first", 0))}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 8, d, generator=g) * 0.05
    yt = torch.arange(48) % 2
    for name, probe, layer in (("multimax", MultiMaxProbe(n_heads=2, epochs=2), 2),
                               ("emamax", EMAMaxProbe(epochs=2), top),
                               ("rolling", RollingAttentionProbe(n_heads=2, window=3, epochs=2), 1)):
        arts[name] = ProbeArtifact(probe.fit(x, yt), "m", fp, layer, "tokens", threshold=threshold)
    return arts


def _offline(model, arts, seq, mask=None, position_ids=None):
    """Run the full sequences through the model once and compute each probe's prefix scores per row."""
    with torch.no_grad():
        hs = model(seq, attention_mask=mask, position_ids=position_ids, output_hidden_states=True,
                   use_cache=False).hidden_states
    out = {}
    for name, art in arts.items():
        rows = []
        for r in range(seq.shape[0]):
            keep = slice(None) if mask is None else mask[r].bool()
            h = hs[art.layer][r][keep]
            rows.append(art.probe.token_scores([h])[0] if art.pooling == "tokens" else art.prefix_scores(h))
        out[name] = rows
    return out


PROMPT = torch.tensor([[101, 1996, 4937, 2938, 2006, 1996, 13523, 102]])


@pytest.mark.parametrize("which", ["gpt2", "llama"])
def test_streaming_scores_equal_offline_pass(which, request):
    model = request.getfixturevalue(which)
    arts = _artifacts(model)
    with Monitor(model, arts) as mon:
        seq = mon.generate(PROMPT, max_new_tokens=10, do_sample=False, pad_token_id=0)
    assert seq.shape[1] == PROMPT.shape[1] + 10
    trace = mon.traces[0]
    assert trace.token_ids == seq[0].tolist() and trace.positions == list(range(seq.shape[1]))
    offline = _offline(model, arts, seq)
    for name in arts:
        on = np.asarray(trace.scores[name])
        assert on.shape == (seq.shape[1],), name
        np.testing.assert_allclose(on, offline[name][0], atol=1e-5, rtol=0, err_msg=name)
    assert len(mon.token_scores("multimax")[0]) == seq.shape[1]
    assert mon.sequence_scores("lin_mean")[0] == trace.scores["lin_mean"][-1]


def test_plain_generate_without_cache_and_without_last_step(gpt2):
    arts = _artifacts(gpt2)
    with Monitor(gpt2, arts) as mon, torch.no_grad():
        cached = gpt2.generate(PROMPT, max_new_tokens=6, do_sample=False, pad_token_id=0,
                               stopping_criteria=mon.stopping_criteria())
    n = cached.shape[1] - 1  # generate never runs the model on the last token it samples
    offline = _offline(gpt2, arts, cached)
    for name in arts:
        np.testing.assert_allclose(mon.traces[0].scores[name], offline[name][0][:n], atol=1e-5, rtol=0)
    with Monitor(gpt2, arts) as mon:
        again = mon.generate(PROMPT, max_new_tokens=6, do_sample=False, pad_token_id=0, use_cache=False)
    assert torch.equal(again, cached)  # no KV cache: the re-fed prefix is recognised, only new tokens are scored
    for name in arts:
        np.testing.assert_allclose(mon.traces[0].scores[name], offline[name][0], atol=1e-5, rtol=0)


def test_left_padded_batch_scores_only_real_tokens(gpt2):
    arts = {k: v for k, v in _artifacts(gpt2).items() if k in ("lin_mean", "multimax", "emamax")}
    ids = torch.tensor([[0, 0, 0, 101, 1037, 3899, 102], [101, 1996, 4937, 2938, 2006, 1996, 102]])
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [1] * 7])
    with Monitor(gpt2, arts) as mon:
        seq = mon.generate(ids, attention_mask=mask, max_new_tokens=5, do_sample=False, pad_token_id=0)
    full = torch.cat([mask, torch.ones(2, 5, dtype=torch.long)], 1)
    assert [len(t.token_ids) for t in mon.traces] == full.sum(1).tolist()
    assert mon.traces[0].positions[0] == 3
    pos = (full.cumsum(-1) - 1).masked_fill(full == 0, 0)  # the position ids generate() uses
    offline = _offline(gpt2, arts, seq, full, pos)
    for name in arts:
        for r in range(2):
            np.testing.assert_allclose(mon.traces[r].scores[name], offline[name][r], atol=1e-5, rtol=0)


def test_encoder_forward_pass_matches_pooled_features(minilm_path):
    import transformers

    from probewise.sources.hf import HFSource

    model = load_pretrained(minilm_path, causal=False)
    tok = transformers.AutoTokenizer.from_pretrained(minilm_path)
    texts = ["the cat sat on the mat", "a dog barked", "stocks fell sharply on monday after the report"]
    X = np.random.default_rng(0).normal(size=(100, 384))
    art = ProbeArtifact(LogisticProbe().fit(X, (X[:, 0] > 0).astype(int)), "minilm", model_fingerprint(model), 3,
                        "mean", threshold=0.0)
    with Monitor(model, {"p": art}) as mon, torch.no_grad():
        model(**tok(texts, padding=True, return_tensors="pt"))
    assert [len(t.token_ids) for t in mon.traces] == [len(tok(t)["input_ids"]) for t in texts]
    src = HFSource(minilm_path, layers=[3], pooling="mean", device="cpu")
    assert src.describe()["fingerprint"] == art.model_fingerprint
    pooled = src.run_batch(texts)["3"].numpy()
    np.testing.assert_allclose(mon.sequence_scores("p"), art.probe.decision_function(pooled), atol=1e-5)


def test_flag_callback_stops_generation(gpt2):
    arts = _artifacts(gpt2)
    art = arts["multimax"]
    with Monitor(gpt2, {"mm": art}) as mon:
        free = mon.generate(PROMPT, max_new_tokens=12, do_sample=False, pad_token_id=0)
    running = np.asarray(mon.traces[0].scores["mm"])
    k = PROMPT.shape[1] + 3  # make the running max cross the threshold at the 4th generated token's step
    assert running[k] > running[k - 1], "the fixture must rise there"
    art.threshold = float((running[k] + running[k - 1]) / 2)
    events, tokens = [], []
    with Monitor(gpt2, {"mm": art}, on_flag=lambda e: events.append(e) or True,
                 on_token=tokens.append) as mon:
        stopped = mon.generate(PROMPT, max_new_tokens=12, do_sample=False, pad_token_id=0)
    assert stopped.shape[1] == k + 2 < free.shape[1]  # the step that crossed, plus the token sampled at it
    assert torch.equal(stopped[0], free[0, : k + 2])
    assert len(events) == 1 and events[0].position == k and events[0].flagged
    assert mon.traces[0].first_flag["mm"] == k and mon.traces[0].stopped
    assert len(tokens) == k + 1 and all(t.probe == "mm" for t in tokens)
    assert mon.flagged("mm").tolist() == [True]
    with Monitor(gpt2, {"mm": art}, stop_on_flag=True) as mon:
        assert mon.generate(PROMPT, max_new_tokens=12, do_sample=False, pad_token_id=0).shape[1] == k + 2


def test_cascade_defers_exactly_the_band(gpt2):
    rng = np.random.default_rng(3)
    ids = torch.as_tensor(rng.integers(1000, 5000, size=(12, 6)))
    arts = _artifacts(gpt2)
    with Monitor(gpt2, {"p": arts["lin_mean"]}) as mon, torch.no_grad():
        gpt2(ids)
    s = mon.sequence_scores("p")
    lo, hi = np.sort(s)[3], np.sort(s)[8]  # edges sit exactly on scores: both are inside the band
    arts["lin_mean"].band = (float(lo), float(hi))
    seen = []

    def second(traces):
        seen.extend(traces)
        return np.array([t.token_ids[0] % 2 for t in traces])

    d = mon.cascade("p", second)
    band = (s >= lo) & (s <= hi)
    assert d.deferred.tolist() == band.tolist() and band.sum() == 6
    assert [mon.traces.index(t) for t in seen] == np.flatnonzero(band).tolist()
    expect = np.where(band, ids[:, 0].numpy() % 2, s > hi)
    assert d.pred.tolist() == expect.astype(int).tolist()


def test_wrong_model_or_layer_refused_and_hooks_removed(gpt2, llama):
    art = _artifacts(gpt2)["lin_mean"]
    with pytest.raises(ProbeError, match="fingerprint"):
        Monitor(llama, {"p": art})
    with pytest.raises(ProbeError, match="not layer 2"):
        Monitor(gpt2, {"p": art}, layers={"p": 2})
    with pytest.warns(UserWarning):
        Monitor(llama, {"p": art}, allow_mismatch=True)
    with pytest.raises(ConfigError, match="ProbeArtifact"):
        Monitor(gpt2, {"p": art.probe})
    st = resolve_stack(gpt2)
    before = [len(m._forward_pre_hooks) + len(m._forward_hooks) for m in (st.base, *st.blocks)]
    with pytest.raises(RuntimeError, match="boom"), Monitor(gpt2, _artifacts(gpt2)):
        raise RuntimeError("boom")
    assert [len(m._forward_pre_hooks) + len(m._forward_hooks) for m in (st.base, *st.blocks)] == before


def test_cli_monitor_and_steer(tiny_gpt2, gpt2, tmp_path, capsys):
    from probewise.action_commands import add_parsers

    arts = _artifacts(gpt2)
    arts["lin_mean"].save(tmp_path / "lin")
    arts["multimax"].save(tmp_path / "mm")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the cat sat on the mat\n\nstocks fell sharply\n")
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hello there"}]}) + "\n")
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return args.func(args)

    out, html = tmp_path / "scores.jsonl", tmp_path / "view.html"
    assert run("monitor", "--model", tiny_gpt2, "--artifact", tmp_path / "lin", "--probe", tmp_path / "mm.json",
               "--prompts", prompts, "--generate", 5, "--out", out, "--html", html) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 2 and set(recs[0]["scores"]) == {"lin", "mm"}
    assert len(recs[0]["token_ids"]) == recs[0]["n_prompt_tokens"] + 5 == len(recs[0]["scores"]["mm"])
    page = html.read_text()
    assert page.count('class="tok"') == 2 * sum(len(r["token_ids"]) for r in recs)
    assert "http" not in page and "<script src" not in page
    assert run("monitor", "--model", tiny_gpt2, "--artifact", tmp_path / "lin", "--prompts", chat,
               "--out", tmp_path / "chat.jsonl.out") == 0
    capsys.readouterr()
    steer_json = tmp_path / "steer.json"
    assert run("steer", "--model", tiny_gpt2, "--artifact", tmp_path / "lin", "--prompts", prompts,
               "--alphas", "1,4", "--max-new-tokens", 4, "--max-ppl-factor", 1.5, "--out", steer_json) == 0
    printed = capsys.readouterr().out
    res = json.loads(steer_json.read_text())
    rows = {r["alpha"]: r for r in res["alphas"]}
    assert set(rows) == {0.0, 1.0, 4.0} and rows[0.0]["ppl_factor"] == 1.0
    assert rows[4.0]["score_steered_shift"] > rows[1.0]["score_steered_shift"] > 0  # steering at the probe's layer
    ok = [a for a in (1.0, 4.0) if rows[a]["ppl_factor"] <= 1.5]
    assert res["chosen_alpha"] == (max(ok) if ok else 0.0)
    assert "chosen alpha" in printed
    with pytest.raises(ConfigError, match="encoder"):
        run("monitor", "--model", "default", "--artifact", tmp_path / "lin", "--prompts", prompts, "--generate", 3,
            "--out", tmp_path / "x.jsonl")


def test_token_type_ids_reach_every_step(gpt2):
    """A tokenizer that returns token_type_ids (the MiniLM's, on a GPT-2 stand-in) changes GPT-2's activations:
    the extra last step must pass them like generate() does, or the last score would come from another input."""
    arts = {k: v for k, v in _artifacts(gpt2).items() if k in ("lin_last", "multimax")}
    tt = torch.zeros_like(PROMPT)
    with Monitor(gpt2, arts) as mon:
        seq = mon.generate(PROMPT, token_type_ids=tt, max_new_tokens=6, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        hs = gpt2(seq, token_type_ids=torch.zeros_like(seq), output_hidden_states=True).hidden_states
    for name, art in arts.items():
        h = hs[art.layer][0]
        off = art.probe.token_scores([h])[0] if art.pooling == "tokens" else art.prefix_scores(h)
        np.testing.assert_allclose(mon.traces[0].scores[name], off, atol=1e-5, rtol=0)


def test_finished_rows_are_not_scored_after_their_end(gpt2):
    """In a batch, generate() pads a row that produced its end-of-sequence token while the others go on: the
    monitor scores that token and nothing after it, with and without the KV cache."""
    arts = {k: v for k, v in _artifacts(gpt2).items() if k in ("lin_mean", "multimax")}
    ids = torch.tensor([[101, 7592], [101, 2088]])
    p = ids.shape[1]
    with Monitor(gpt2, arts) as mon:
        free = mon.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=0)
    gen0, gen1 = free[0, p:].tolist(), free[1, p:].tolist()
    k = next(j for j in range(1, 7) if gen0[j] not in gen0[:j] + gen1 + [0])  # row 0's token k becomes its end
    eos = gen0[k]
    for use_cache in (True, False):
        with Monitor(gpt2, arts) as mon:
            seq = mon.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=eos,
                               use_cache=use_cache)
        assert seq[0, p + k] == eos and (seq[0, p + k + 1:] == 0).all() and torch.equal(seq[1], free[1])
        assert mon.traces[0].token_ids == seq[0, : p + k + 1].tolist()
        assert mon.traces[1].token_ids == seq[1].tolist() and not mon.traces[0].stopped
        mask = torch.ones_like(seq)
        mask[0, p + k + 1:] = 0
        offline = _offline(gpt2, arts, seq, mask)
        for name in arts:
            for r in range(2):
                np.testing.assert_allclose(mon.traces[r].scores[name], offline[name][r], atol=1e-5, rtol=0)


def test_beam_search_and_several_returned_sequences_are_scored(gpt2):
    """Beam search reorders hypotheses between steps: the monitor scores the returned sequences after it. With
    num_return_sequences, each row's mask is repeated as generate() repeats its rows."""
    arts = {k: v for k, v in _artifacts(gpt2).items() if k in ("lin_mean", "multimax", "rolling")}
    seen = []
    with Monitor(gpt2, arts, on_token=seen.append) as mon:
        out = mon.generate(PROMPT, max_new_tokens=6, num_beams=3, num_return_sequences=2, do_sample=False,
                           pad_token_id=0)
    assert out.shape == (2, PROMPT.shape[1] + 6) and len(mon.traces) == 2
    assert len(seen) == len(arts) * out.numel()
    offline = _offline(gpt2, arts, out)
    for name in arts:
        for r in range(2):
            assert mon.traces[r].token_ids == out[r].tolist()
            np.testing.assert_allclose(mon.traces[r].scores[name], offline[name][r], atol=1e-5, rtol=0)
    ids = torch.tensor([[0, 0, 101, 1037, 3899, 102], [101, 1996, 4937, 2938, 2006, 102]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1] * 6])
    with Monitor(gpt2, arts) as mon:
        torch.manual_seed(0)
        seq = mon.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=True, num_return_sequences=2,
                           pad_token_id=0)
    assert seq.shape[0] == 4 and [len(t.token_ids) for t in mon.traces] == [8, 8, 10, 10]
    full = torch.cat([mask.repeat_interleave(2, 0), torch.ones(4, 4, dtype=torch.long)], 1)
    pos = (full.cumsum(-1) - 1).masked_fill(full == 0, 0)
    offline = _offline(gpt2, arts, seq, full, pos)
    for name in arts:
        for r in range(4):
            np.testing.assert_allclose(mon.traces[r].scores[name], offline[name][r], atol=1e-5, rtol=0)


def test_multiclass_probe_refused_with_advice(gpt2):
    fp = model_fingerprint(gpt2)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 32))
    y = np.arange(90) % 3
    g = torch.Generator().manual_seed(0)
    mm = MultiMaxProbe(n_heads=2, epochs=1).fit(torch.randn(30, 5, 32, generator=g), np.arange(30) % 3)
    for art in (ProbeArtifact(LogisticProbe().fit(X, y), "m", fp, 1, "mean"),
                ProbeArtifact(mm, "m", fp, 1, "tokens")):
        with pytest.raises(ProbeError, match="3 classes.*one binary probe per class"):
            Monitor(gpt2, {"p": art})
