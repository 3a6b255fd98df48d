"""`probewise report` and `probewise compare`: an HTML report, paper figures and leaderboards from result files.

Example:
    $ probewise report probewise-demo/results -o report.html --figure-format svg --figures-dir figures
    $ probewise compare runs/ --markdown leaderboard.md --latex leaderboard.tex -o compare.html

RESULTS are result JSON files, or folders searched recursively for JSON files of format ``probewise-results``
(other JSON files there, such as store manifests, are skipped). Errors are `ProbewiseError` subclasses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from probewise.report import FIGURE_FORMATS

__all__ = ["add_parsers", "cmd_compare", "cmd_report"]

_RESULTS_HELP = "result JSON files, or folders holding them (searched recursively)"


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report; with --figure-format or --figures-dir, also each plot as its own file."""
    from probewise.report.compare import load_results
    from probewise.report.figures import export_figures
    from probewise.report.html import write_report

    results = load_results(args.results)
    out = write_report(results, args.out, title=args.title, metric=args.metric)
    print(f"wrote {out} ({len(results)} result{'s' * (len(results) != 1)})")
    if args.format or args.figures_dir:
        folder = Path(args.figures_dir) if args.figures_dir else out.with_name(out.stem + "_figures")
        paths = export_figures(results, folder, args.format or "png", metric=args.metric)
        print(f"wrote {len(paths)} figures to {folder}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print the models × tasks leaderboard as Markdown; write Markdown, LaTeX and HTML files when asked."""
    from probewise.report.compare import leaderboard, load_results
    from probewise.report.html import write_leaderboard

    results = load_results(args.results)
    lb = leaderboard(results, args.metric, probe=args.probe, allow_mixed=args.allow_mixed)
    print(lb.to_markdown())
    written = []
    for path, text in ((args.markdown, lb.to_markdown()), (args.latex, lb.to_latex())):
        if path:
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text + "\n", encoding="utf-8")
            written.append(p)
    if args.out:
        written.append(write_leaderboard(lb, results, args.out, title=args.title))
    if written:
        print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` and `compare` sub-commands (each sets ``func``, taking the namespace, returning a code)."""
    p = subparsers.add_parser("report", help="one self-contained HTML report (plots, tables, provenance) of results")
    p.add_argument("results", nargs="+", metavar="RESULTS", help=_RESULTS_HELP)
    p.add_argument("-o", "--out", default="report.html", help="HTML file to write (default: report.html)")
    p.add_argument("--title", help="report title")
    p.add_argument("--metric", default="accuracy", help="test metric shown (default: accuracy)")
    p.add_argument("--figure-format", dest="format", choices=FIGURE_FORMATS,
                   help="also write each plot as its own file in this format (for papers)")
    p.add_argument("--format", dest="format", choices=FIGURE_FORMATS, help=argparse.SUPPRESS)  # old name
    p.add_argument("--figures-dir", help="folder for those figures (default: <report name>_figures)")
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("compare", help="models × tasks leaderboard (Markdown, LaTeX, HTML)")
    p.add_argument("results", nargs="+", metavar="RESULTS", help=_RESULTS_HELP)
    p.add_argument("--markdown", metavar="OUT.md", help="write the Markdown table here")
    p.add_argument("--latex", metavar="OUT.tex", help="write the LaTeX (booktabs) table here")
    p.add_argument("-o", "--out", metavar="OUT.html", help="write an HTML leaderboard page here")
    p.add_argument("--metric", default="accuracy", help="test metric compared (default: accuracy)")
    p.add_argument("--probe", help="compare this probe family (default: per cell, the family best on validation)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="compare a task across different datasets (different dataset fingerprints); marked with †")
    p.add_argument("--title", help="title of the HTML page")
    p.set_defaults(func=cmd_compare)
