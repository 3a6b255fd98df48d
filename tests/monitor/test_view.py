"""The monitor's HTML view: colours that say which side of the threshold a token is on."""

import re

from probewise.monitor.view import render_view


def _alpha(page: str, token: str) -> tuple[str, float]:
    m = re.search(r'background:rgba\((\d+),(\d+),(\d+),([\d.]+)\)">' + " ?" + re.escape(token) + "<", page)
    assert m, token
    return ("red" if m[1] == "220" else "blue"), float(m[4])


def test_just_above_threshold_is_clearly_red_and_below_fades():
    rec = {"tokens": ["far", "near", "edge", "over", "top"], "scores": {"p": [0.0, 0.49, 0.5, 0.51, 1.0]},
           "threshold": {"p": 0.5}, "flagged": {"p": True}, "score": {"p": 1.0}}
    page = render_view([rec])
    assert _alpha(page, "over")[0] == "red" and _alpha(page, "over")[1] >= 0.35  # just above: visibly red
    assert _alpha(page, "edge") == ("red", 0.35)  # at the threshold counts as flagged
    assert _alpha(page, "top") == ("red", 0.85)
    colour, a = _alpha(page, "near")
    assert colour == "blue" and a < 0.05  # just below: almost white
    assert _alpha(page, "far") == ("blue", 0.75)
    assert 'class="flag">flagged' in page
