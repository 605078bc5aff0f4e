"""The flame-graph viewer: copies speedscope's built viewer into the site and links pages
to it with a profile to open.

Vendored from the npm package (harness/node, installed by scripts/setup.sh), not linked to
www.speedscope.app: the site must work offline, as asv's own libraries do (assets.py).

speedscope loads ``#profileURL=`` only when its page is served over http(s) (it refuses
file:// pages), so open the site through a web server (``asv preview``, ``python -m http.server``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import quote

from harness.process import ROOT

# The package ships its viewer prebuilt (for its CLI, which opens it from file://).
SPEEDSCOPE_DIST = ROOT / "harness/node/node_modules/speedscope/dist/release"
VIEWER_DIR = "speedscope"


def vendor_speedscope(html_dir: Path) -> Path | None:
    """Copy the viewer into ``html_dir/speedscope`` (replacing what was there); its
    index.html, or None when the npm package is not installed."""
    if not (SPEEDSCOPE_DIST / "index.html").is_file():
        return None
    target = html_dir / VIEWER_DIR
    staging = html_dir / f".{VIEWER_DIR}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    # Copied whole then swapped in, so a page never links to a half-copied viewer.
    shutil.copytree(SPEEDSCOPE_DIST, staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target / "index.html"


def viewer_link(from_page: Path, profile: Path, html_dir: Path, title: str) -> str:
    """A relative URL, for a link on ``from_page``, that opens ``profile`` in the viewer
    vendored into ``html_dir``, titled ``title``."""
    viewer = Path(os.path.abspath(html_dir / VIEWER_DIR / "index.html"))
    page_dir = os.path.abspath(from_page.parent)
    to_viewer = Path(os.path.relpath(viewer, page_dir)).as_posix()
    # speedscope fetch()es profileURL as given, so it resolves against the viewer's page. A
    # URL, not a path: quoted, so that a "#", "?" or "%" in a folder name stays part of it.
    to_profile = quote(Path(os.path.relpath(os.path.abspath(profile), viewer.parent)).as_posix())
    # Then quoted again, every reserved character: speedscope splits the hash on "&" and "="
    # and decodes each value once. left-heavy: the flame graph (same stacks merged, widest first), not
    # speedscope's default time-ordered chart, whose order means little for a busy server.
    fragment = f"profileURL={quote(to_profile, safe='')}&title={quote(title, safe='')}&view=left-heavy"
    return f"{quote(to_viewer)}#{fragment}"
