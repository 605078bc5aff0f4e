"""The reader's pages, written next to asv's site after ``asv publish``.

``python -m harness.site [--results results] [--html html]`` reads asv's results and
writes ``html/frameworks.html``: (a) the frameworks side by side per workload at their
latest releases (the default environment, newest commit per machine) with the generator's
headroom and the server's saturation, and (b) each workload's trend across the releases
of each framework (the release environments of asv.releases.json); and ``html/cost.html``:
the cost per operation (instructions, system calls) per case, across releases and at the
latest, with a profile page per run and a diff page against the previous release (the
cost records and flame graphs they link are copied under html/cost/, the speedscope viewer
to html/speedscope/); then it prints the terminal summary. ``--fetch-assets`` (run by
scripts/setup.sh) packs asv's web libraries from the npm registry into .asv-assets/; each
publish copies them to html/vendor/ and points index.html at them. The work is in
harness.report.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from harness.process import ROOT
from harness.report import assets, cost_page, page, speedscope, summary
from harness.report.interpreters import load_verdicts
from harness.report.results import headline_classes, latest_runs, load_runs


def build(results_dir: Path, html_dir: Path, assets_dir: Path = assets.ASSETS_DIR) -> Path:
    """Write html/frameworks.html and html/cost.html (with its pages), link them from asv's
    index.html, vendor asv's scripts and the speedscope viewer."""
    runs = load_runs(results_dir)
    verdicts = {machine: load_verdicts(results_dir, machine, run.commit) for machine, run in latest_runs(runs).items()}
    written = page.write(runs, html_dir, verdicts)
    viewer = speedscope.vendor_speedscope(html_dir)
    if viewer is None:
        print(
            "site: the speedscope viewer is not installed (scripts/setup.sh installs it); "
            "cost pages link flame graphs as speedscope JSON files",
            file=sys.stderr,
        )
    cost_page.write(runs, results_dir, html_dir, viewer=viewer is not None)
    # cost.html points readers at README's section on the cost numbers; asv's own project link
    # (asv.conf.json's project_url) is README.md too. A copy keeps the site self-contained.
    shutil.copyfile(ROOT / "README.md", html_dir / "README.md")
    if not assets.vendor(html_dir, assets_dir):
        print(
            f"site: {assets_dir} lacks asv's web libraries (scripts/setup.sh fetches them); "
            "index.html keeps loading them from public CDNs",
            file=sys.stderr,
        )
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="asv's results_dir")
    parser.add_argument("--html", type=Path, default=Path("html"), help="asv's html_dir, after asv publish")
    parser.add_argument("--assets", type=Path, default=assets.ASSETS_DIR, help="local copies of asv's web libraries")
    parser.add_argument("--fetch-assets", action="store_true", help="only fetch those libraries with npm")
    args = parser.parse_args(argv)
    if args.fetch_assets:
        assets.fetch(args.assets)
        return
    written = build(args.results, args.html, args.assets)
    runs = load_runs(args.results)
    verdicts = {machine: load_verdicts(args.results, machine, run.commit) for machine, run in latest_runs(runs).items()}
    print(summary.render(runs, headline_classes(), verdicts))
    print(f"site: wrote {written} and {args.html / cost_page.PAGE}")


if __name__ == "__main__":
    main()
