"""What a monitored run records: one :class:`TokenEvent` per scored token (handed to callbacks), one :class:`Trace`
per sequence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TokenEvent", "Trace"]


@dataclass(frozen=True)
class TokenEvent:
    """One scored token, handed to ``on_token`` (every token) and ``on_flag`` (a sequence's first crossing).

    Attributes:
        probe: the probe's name.
        row: the sequence's row in the batch.
        position: the token's absolute position in the sequence as fed (padding included).
        token_id: its id (-1 when the model was fed embeddings).
        score: the probe's score of the sequence up to and including this token.
        threshold: the artifact's threshold (None: no threshold).
        flagged: ``score >= threshold``.
    """

    probe: str
    row: int
    position: int
    token_id: int
    score: float
    threshold: float | None
    flagged: bool


@dataclass
class Trace:
    """What the monitor saw of one sequence: its scored tokens and, per probe, the score after each of them.

    Attributes:
        token_ids: ids of the scored tokens, in order (padding excluded).
        positions: their absolute positions in the sequence as fed.
        scores: probe name → score after each token (``[len(token_ids)]``).
        first_flag: probe name → position of the first token whose running score reached the threshold (or None).
        stopped: generation of this sequence was stopped by a flag.
    """

    token_ids: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)
    first_flag: dict[str, int | None] = field(default_factory=dict)
    stopped: bool = False

    def score(self, name: str) -> float:
        """The sequence score of probe ``name`` (after the last scored token; NaN before any)."""
        s = self.scores.get(name) or []
        return float(s[-1]) if s else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"token_ids": list(self.token_ids), "positions": list(self.positions),
                "scores": {k: list(v) for k, v in self.scores.items()}, "first_flag": dict(self.first_flag),
                "stopped": self.stopped}
