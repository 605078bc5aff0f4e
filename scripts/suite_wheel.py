"""asv's build and install commands: the suite's wheel for a commit, built once and shared by
every environment, and installed by uv where harness.asv_run found it.

asv builds the project in each environment it measures. The suite is pure Python and its wheel
depends on nothing but the commit's files, yet the release history built it 48 times, once per
environment, each in a fresh isolated build environment for setuptools. The first environment
to need a commit's wheel builds it into <env_dir>/suite-wheels/<commit>/ (beside asv's
environments); every environment copies it from there into its own build cache, where asv's
install command finds it.

Installing the wheel (and its pinned dependencies) took pip 5-8 s an environment, uv about
one: harness.asv_run names uv's binary in BENCH_UV (harness/environments.py). Without it, or
when uv fails, pip installs it as asv's default install command would.

Usage, from asv.conf.json and asv.releases.json (asv runs it with the environment's python):
    python {conf_dir}/scripts/suite_wheel.py {commit} {build_dir} {build_cache_dir} {env_dir}
    python {conf_dir}/scripts/suite_wheel.py install {wheel_file}
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

KEEP_COMMITS = 8  # older commits' wheels are removed: a run measures a few commits at most


def shared_wheel(commit: str, build_dir: Path, shared: Path) -> Path:
    """The commit's wheel in ``shared``, built from ``build_dir`` (asv's checkout of it) unless
    an earlier environment built it already."""
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        # asv may build environments in parallel (asv run --parallel): one builds, the others wait.
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / commit
        if not built.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=f".{commit}-", dir=shared))
            try:
                command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(staging), str(build_dir)]
                subprocess.run(command, check=True)
                staging.rename(built)  # complete or absent: a failed build leaves nothing to reuse
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            older = sorted((d for d in shared.iterdir() if d.is_dir() and not d.name.startswith(".")),
                           key=lambda d: d.stat().st_mtime)  # fmt: skip
            for stale in older[:-KEEP_COMMITS]:
                shutil.rmtree(stale, ignore_errors=True)
        wheels = sorted(built.glob("*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"suite_wheel: expected one wheel in {built}, found {[w.name for w in wheels]}")
        return wheels[0]


def install(wheel: Path) -> int:
    """Install ``wheel`` into this interpreter's environment: by uv (BENCH_UV) if it can, else by pip."""
    uv = os.environ.get("BENCH_UV")
    if uv:
        uv_pip = [uv, "pip", "install", "--python", sys.executable, "--quiet"]
        # The wheel with its pinned dependencies (byte-compiled, as pip compiles them), then the
        # wheel again, replacing whatever copy was there: every commit's wheel has the same name.
        commands = [[*uv_pip, "--compile-bytecode", str(wheel)], [*uv_pip, "--no-deps", "--reinstall", str(wheel)]]
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                cause = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
                print(f"suite_wheel: uv could not install {wheel.name} ({cause}); installing with pip", file=sys.stderr)
                break
        else:
            # uv leaves the bytecode it compiled out of the wheel's RECORD, so a reinstall keeps
            # it, and Python trusts a .pyc whose source has the same size and second of mtime:
            # another commit's code could run (tests/test_environments.py). Compiled afresh here.
            site = Path(sysconfig.get_paths()["purelib"])
            with zipfile.ZipFile(wheel) as archive:
                tops = sorted({name.split("/")[0] for name in archive.namelist()})
            ours = [str(site / top) for top in tops if not top.endswith((".dist-info", ".data"))]
            return subprocess.run([sys.executable, "-m", "compileall", "-f", "-q", *ours]).returncode
    return subprocess.run([sys.executable, "-m", "pip", "install", str(wheel)]).returncode


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "install":
        return install(Path(argv[1]))
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    commit, build_dir, cache_dir, env_dir = argv
    wheel = shared_wheel(commit, Path(build_dir), Path(env_dir).resolve().parent / "suite-wheels")
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, Path(cache_dir) / wheel.name)
    print(f"suite_wheel: {wheel.name} for {commit[:8]} from {wheel.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
