"""The interpreter axis: which of the configured Pythons this host has, and where.

asv's ``pythons`` (asv.conf.json) names versions, and asv finds each as ``python3.X`` on PATH.
On the hosts this suite targets those are pyenv shims, which exist for every installed
version but run only the ones pyenv's global setting selects: asv would find a shim, create
nothing, and report a virtualenv error. So each version is looked up here: the first
``python3.X`` on PATH that runs and reports that version, else pyenv's newest install of it
(``$PYENV_ROOT/versions/3.X.*``). Those found are linked into one folder that
``python -m harness.asv_run`` puts first on asv's PATH; those not found are n/a, with the
reason, in the run's summary and on the site.

The first version in ``pythons`` is the primary one: every benchmark runs there (and the
release history's lines, asv.releases.json). The others run the headline
(benchmarks/headline.txt) and its cost (bench_cost.HeadlineCost): twelve frameworks' whole
suite on four interpreters would take four default runs. The release history adds, on each
of them, one environment with every framework's latest release (LATEST_RELEASES_ENV).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# asv.releases.json marks with this env_nobuild variable its environments holding the latest
# release of every framework on an interpreter other than the primary one.
LATEST_RELEASES_ENV = "BENCH_LATEST_RELEASES"
PROBE_TIMEOUT_S = 10.0
# Prints the version an executable really runs and the interpreter behind it (a pyenv shim's
# choice depends on the folder and PYENV_VERSION, so the link goes to what it ran): a shim
# that cannot run one prints an error.
PROBE = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
VERSION = re.compile(r"\d+\.\d+")


@dataclass(frozen=True)
class Interpreter:
    """One configured version: its executable, or why there is none (n/a)."""

    version: str  # "3.12"
    executable: Path | None
    reason: str = ""  # why it is missing, when executable is None

    @property
    def found(self) -> bool:
        return self.executable is not None


def _probe(executable: Path) -> tuple[str, Path | None]:
    """The version ``executable`` runs and the interpreter that ran, or why it cannot be run."""
    try:
        done = subprocess.run(
            [str(executable), "-c", PROBE], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}", None
    if done.returncode != 0:
        first = next((line.strip() for line in done.stderr.splitlines() if line.strip()), "")
        return f"error: exit status {done.returncode}" + (f": {first}" if first else ""), None
    version, _, ran = done.stdout.strip().partition("\n")
    return version, Path(ran) if ran else executable


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _pyenv_candidates(version: str) -> list[Path]:
    """pyenv's installs of ``version`` (3.12.1, 3.12.4, ...), newest first."""
    versions = pyenv_root() / "versions"
    pattern = re.compile(rf"{re.escape(version)}\.\d+")
    found = [p for p in versions.glob(f"{version}.*") if pattern.fullmatch(p.name)] if versions.is_dir() else []
    found.sort(key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True)
    return [p / "bin" / f"python{version}" for p in found]


def find(version: str, path: str | None = None) -> Interpreter:
    """``version`` ("3.X") on this host: PATH's python3.X if it runs that version, else pyenv's."""
    if not VERSION.fullmatch(version):
        return Interpreter(version, None, f"{version!r} is not a MAJOR.MINOR version")
    tried = []
    on_path = shutil.which(f"python{version}", path=path)
    for candidate in [*([Path(on_path)] if on_path else []), *_pyenv_candidates(version)]:
        answer, ran = _probe(candidate)
        if answer == version and ran is not None:
            return Interpreter(version, ran)
        tried.append(f"{candidate} ({answer if answer.startswith('error') else 'runs ' + answer})")
    if not tried:
        reason = f"python{version} is not on PATH and pyenv ({pyenv_root()}) has no {version}.x installed"
    else:
        reason = f"no python{version} here runs: tried " + "; ".join(tried)
    return Interpreter(version, None, reason)


def find_all(versions: list[str], path: str | None = None) -> list[Interpreter]:
    return [find(version, path) for version in versions]


def link_folder(interpreters: list[Interpreter], folder: Path) -> Path:
    """A folder holding ``python3.X`` for each interpreter found, linked to its executable:
    first on asv's PATH, it makes asv (which looks up ``python3.X``) find exactly these."""
    folder.mkdir(parents=True, exist_ok=True)
    for interpreter in interpreters:
        link = folder / f"python{interpreter.version}"
        if link.is_symlink() or link.exists():
            link.unlink()
        if interpreter.executable is not None:
            link.symlink_to(interpreter.executable)
    return folder


def with_folder_first(folder: Path, path: str | None = None) -> str:
    """PATH with ``folder`` first."""
    rest = os.environ.get("PATH", "") if path is None else path
    return os.pathsep.join([str(folder), *[p for p in rest.split(os.pathsep) if p and p != str(folder)]])


def primary(pythons: list[str]) -> str:
    """The interpreter every benchmark runs on: the first the config names."""
    return pythons[0]
