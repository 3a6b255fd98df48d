"""A small self-contained HTML page colouring each token by a probe's score (no network, no external assets).

Example:
    >>> import os, tempfile
    >>> from probewise.monitor.view import render_view
    >>> rec = {"prompt": "hi", "tokens": ["hello", "world"], "scores": {"tox": [-1.0, 2.0]}, "threshold": {"tox": 0.0},
    ...        "score": {"tox": 2.0}, "flagged": {"tox": True}}
    >>> page = render_view([rec], title="demo")
    >>> page.startswith("<!DOCTYPE html>"), "http" in page, page.count('class="tok"')
    (True, False, 2)

Records are the lines of ``probewise monitor --out scores.jsonl``: ``pieces`` (each token as it reads in the text)
or ``tokens`` (the tokenizer's tokens, made readable by :func:`token_text`), ``scores`` (probe name → score after
each token), and optionally ``threshold``, ``score``, ``flagged`` and ``prompt``. A token is red when
its running score is above the probe's threshold (0 when none), blue below, more saturated further away; hover a
token to read its score.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["render_view", "token_text", "write_view"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;max-width:70em;color:#111}
h1{font-size:1.3em} .rec{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.meta{color:#555;font-size:.85em;margin-bottom:.4em} .probe{margin:.3em 0;line-height:1.9}
.name{display:inline-block;min-width:8em;font-weight:600;font-size:.85em}
.tok{border-radius:3px;padding:1px 0;white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace}
.flag{color:#b91c1c;font-weight:600} .ok{color:#15803d} .legend span{padding:2px 8px;margin-right:4px}
"""


def token_text(token: str) -> str:
    """How a tokenizer's token reads in running text (BPE ``Ġ``/``Ċ``, SentencePiece ``▁``, WordPiece ``##``)."""
    if token.startswith("##"):
        return token[2:]
    t = token.replace("Ġ", " ").replace("Ċ", "\n").replace("▁", " ")
    if t == token and not token.startswith(("<", "[")) and t[:1] not in (" ", "\n"):
        return " " + t  # WordPiece: a new word unless marked with ##
    return t


def _colour(score: float, center: float, scale: float) -> str:
    if not math.isfinite(score):
        return "transparent"
    c = max(-1.0, min(1.0, (score - center) / scale))
    if score >= center:  # at or above the threshold: clearly red even just above it, deeper further above
        return f"rgba(220,38,38,{0.35 + 0.5 * c:.3f})"
    return f"rgba(37,99,235,{abs(c) * 0.75:.3f})"  # below: fades to white at the threshold


def _centers(records: Sequence[dict]) -> dict[str, tuple[float, float]]:
    """Per probe: the threshold (or 0) and the largest distance of a score from it (the colour scale)."""
    out: dict[str, tuple[float, float]] = {}
    for rec in records:
        for name, scores in (rec.get("scores") or {}).items():
            thr = (rec.get("threshold") or {}).get(name)
            center = float(thr) if thr is not None else 0.0
            prev = out.get(name, (center, 1e-12))[1]
            dev = max([abs(float(s) - center) for s in scores if s is not None and math.isfinite(float(s))] or [0.0])
            out[name] = (center, max(prev, dev))
    return out


def render_view(records: Iterable[dict[str, Any]], title: str | None = None) -> str:
    """The HTML page (a string) for monitor records; see the module docstring."""
    records = list(records)
    centers = _centers(records)
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{esc(title or 'probewise monitor')}</title><style>{_CSS}</style></head><body>",
             f"<h1>{esc(title or 'probewise monitor')}</h1>",
             '<p class="legend"><span style="background:rgba(37,99,235,.6)">below threshold</span>'
             '<span style="background:rgba(220,38,38,.6)">above threshold</span> colour: the running score of '
             "the text up to each token; hover a token for its score.</p>"]
    for i, rec in enumerate(records):
        pieces = rec.get("pieces")
        tokens = [str(t) for t in pieces] if pieces else [token_text(str(t)) for t in rec.get("tokens") or []]
        parts.append('<div class="rec">')
        meta = [f"#{rec.get('index', i)}"]
        if rec.get("prompt") is not None:
            meta.append("prompt: " + esc(str(rec["prompt"])[:200]))
        parts.append(f'<div class="meta">{" · ".join(meta)}</div>')
        for name, scores in (rec.get("scores") or {}).items():
            center, scale = centers.get(name, (0.0, 1.0))
            final = (rec.get("score") or {}).get(name)
            flagged = (rec.get("flagged") or {}).get(name)
            verdict = "" if flagged is None else (' <span class="flag">flagged</span>' if flagged
                                                  else ' <span class="ok">pass</span>')
            head = f'<span class="name">{esc(name)}'
            if final is not None:
                head += f" {float(final):.3f}"
            spans = []  # no whitespace between spans: the pieces carry their own spaces
            for tok, s in zip(tokens, scores, strict=False):
                s = float("nan") if s is None else float(s)
                spans.append(f'<span class="tok" title="{esc(name)}: {s:.4f}" '
                             f'style="background:{_colour(s, center, scale)}">{esc(tok)}</span>')
            parts.append(f'<div class="probe">{head}{verdict}</span> {"".join(spans)}</div>')
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_view(records: Iterable[dict[str, Any]], path: str | Path, title: str | None = None) -> Path:
    """Write :func:`render_view` to ``path`` (parent folders created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_view(records, title), encoding="utf-8")
    return p
