"""The README's and guides' shell and Python blocks run as written (in a temp folder, in order)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HANG_GUARD_S

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "docs/evaluating-an-encoder.md", "docs/probing-an-llm.md", "docs/deploying-a-monitor.md",
        "docs/big-models.md", "docs/store.md"]
BLOCK = re.compile(r"```(bash|python)\n(.*?)```", re.S)


def blocks(doc: str):
    for lang, body in BLOCK.findall((ROOT / doc).read_text()):
        if "make demo" in body or "make test" in body:
            continue  # the README's two set-up commands: CI runs `make test` itself
        yield lang, body


@pytest.mark.parametrize("doc", DOCS)
def test_doc_blocks_run(doc, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    ran = 0
    for lang, body in blocks(doc):
        cmd = ["bash", "-euo", "pipefail", "-c", body] if lang == "bash" else [sys.executable, "-c", body]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert proc.returncode == 0, f"{doc} block failed:\n{body}\n--- stderr ---\n{proc.stderr[-3000:]}"
        ran += 1
    assert ran >= 2
