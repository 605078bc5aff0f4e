"""The reader's page, written next to asv's site after ``asv publish``.

``python -m harness.site [--results results] [--html html]`` reads asv's results and
writes ``html/frameworks.html``: (a) the frameworks side by side per workload at their
latest releases (the default environment, newest commit per machine) with the generator's
headroom and the server's saturation, and (b) each workload's trend across the releases
of each framework (the release environments of asv.releases.json); then it prints the
terminal summary. ``--fetch-assets`` (run by scripts/setup.sh) packs asv's web libraries
from the npm registry into .asv-assets/; each publish copies them to html/vendor/ and
points index.html at them. The work is in harness.report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report import assets, page, summary
from harness.report.results import headline_classes, load_runs


def build(results_dir: Path, html_dir: Path, assets_dir: Path = assets.ASSETS_DIR) -> Path:
    """Write html/frameworks.html, link it from asv's index.html, vendor asv's scripts."""
    written = page.write(load_runs(results_dir), html_dir)
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
    print(summary.render(load_runs(args.results), headline_classes()))
    print(f"site: wrote {written}")


if __name__ == "__main__":
    main()
