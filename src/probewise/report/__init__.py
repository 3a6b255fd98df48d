"""Reports: a self-contained HTML report, models × tasks leaderboards, figures for papers."""

from probewise.report.compare import Leaderboard, leaderboard, load_results
from probewise.report.figures import export_figures
from probewise.report.html import render_report, write_report
from probewise.report.plots import plot_layer_curves

__all__ = ["Leaderboard", "export_figures", "leaderboard", "load_results", "plot_layer_curves", "render_report",
           "write_report"]
