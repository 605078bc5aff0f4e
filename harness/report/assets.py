"""asv's web libraries: fetched once from the npm registry, then served from html/vendor/ instead of CDNs.

asv 0.6.6's index.html loads jQuery, flot and bootstrap from public CDNs, so without outside
network (CI) the site shows nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from harness.process import ROOT

ASSETS_DIR = ROOT / ".asv-assets"

# asv 0.6.6's index.html CDN files (by the URL's last part) -> (npm package, file in its tarball).
# The same releases asv pins, except stupidtable 1.0.1, which npm does not have (1.1.3 is).
ASV_ASSETS = {
    "jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js"),
    "jquery.flot.selection.min.js": ("flot@0.8.3", "jquery.flot.selection.js"),
    "jquery.flot.categories.min.js": ("flot@0.8.3", "jquery.flot.categories.js"),
    "jquery.flot.orderBars.js": ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "stupidtable.min.js": ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "bootstrap.min.css": ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}
# The integrity attribute goes too: npm's files are not byte-identical to the CDN's minified ones.
CDN_TAG = re.compile(r'(src|href)="https://[^"]*/([^"/]+)"((?:\s+integrity="[^"]*")?)')


def vendor(html_dir: Path, assets_dir: Path = ASSETS_DIR) -> bool:
    """Serve asv's CDN scripts from html/vendor/ (copies from ``assets_dir``). False if absent."""
    index = html_dir / "index.html"
    text = index.read_text()
    wanted = {name for _attr, name, _integrity in CDN_TAG.findall(text) if name in ASV_ASSETS}
    if not all((assets_dir / name).is_file() for name in wanted):
        return False
    (html_dir / "vendor").mkdir(exist_ok=True)
    for name in wanted:
        shutil.copyfile(assets_dir / name, html_dir / "vendor" / name)

    def local(match: re.Match) -> str:
        attr, name, _integrity = match.groups()
        return f'{attr}="vendor/{name}"' if name in ASV_ASSETS else match.group(0)

    index.write_text(CDN_TAG.sub(local, text))
    return True


def fetch(assets_dir: Path = ASSETS_DIR) -> None:
    """Pack asv's web libraries from the npm registry into ``assets_dir`` (once)."""
    if all((assets_dir / name).is_file() for name in ASV_ASSETS):
        return
    assets_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        packages = sorted({package for package, _file in ASV_ASSETS.values()})
        subprocess.run(["npm", "pack", "--silent", *packages], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        for name, (package, member) in ASV_ASSETS.items():
            base, version = package.rsplit("@", 1)
            with tarfile.open(Path(tmp) / f"{base}-{version}.tgz") as tar:
                source = tar.extractfile(f"package/{member}")
                if source is None:
                    raise RuntimeError(f"{package} has no {member}")
                (assets_dir / name).write_bytes(source.read())
