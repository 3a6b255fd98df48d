"""Reports: a self-contained HTML report, models × tasks leaderboards, figures for papers.

Names are imported on first use (matplotlib loads only when a report is drawn, not when the CLI starts).

Example:
    >>> from probewise import report
    >>> report.FIGURE_FORMATS
    ('png', 'svg', 'pdf')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: File formats of exported figures (``probewise report --format``).
FIGURE_FORMATS = ("png", "svg", "pdf")

_LAZY = {
    "Leaderboard": "probewise.report.compare", "leaderboard": "probewise.report.compare",
    "load_results": "probewise.report.compare", "export_figures": "probewise.report.figures",
    "render_report": "probewise.report.html", "write_report": "probewise.report.html",
    "plot_layer_curves": "probewise.report.plots",
}

__all__ = ["FIGURE_FORMATS", "Leaderboard", "export_figures", "leaderboard", "load_results", "plot_layer_curves",
           "render_report", "write_report"]

if TYPE_CHECKING:
    from probewise.report.compare import Leaderboard, leaderboard, load_results  # noqa: F401
    from probewise.report.figures import export_figures  # noqa: F401
    from probewise.report.html import render_report, write_report  # noqa: F401
    from probewise.report.plots import plot_layer_curves  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'probewise.report' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
