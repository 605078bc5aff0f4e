"""Installing into the runs' asv environments with uv, asv's pip as the fallback.

asv's virtualenv environments install their requirements with pip, one call per requirement
(`pip install wheel pip>=8`, then each framework in the config's order, each call resolving
again), and the suite's wheel with one more (the configs' install_command). Creating the
default run's 3.12 environment that way took 58 s here, and the four of a default run 103 s
two at a time; uv made the same environment, with the same releases of every package, in 8 s.
Installing nothing measures anything, so the installer is free to change; what is installed
may not: the same calls in the same order, each upgrading what it names as pip's would
(`--upgrade`), every module byte-compiled as pip compiles it (a first import that compiles
would allocate differently in the servers the cost family counts).

uv reads no pip configuration (an index or find-links a host sets for pip). A call uv cannot
carry out, whatever the reason, is done again by pip as asv would, so an environment that pip
can make is made, and one it cannot make fails with pip's own message (harness.asv_run
.failure_cause). BENCH_INSTALLER=pip makes every environment with pip alone.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from asv import environment, util

# Where the project's install command (scripts/suite_wheel.py, which asv runs with an
# environment's own python) finds uv: set by harness.asv_run for its asv runs.
UV_ENV = "BENCH_UV"
INSTALLER_ENV = "BENCH_INSTALLER"  # "pip": asv's own installs, no uv
UV_TIMEOUT_S = 600  # an sdist that must be built (an old release) can take minutes


def uv_binary() -> str | None:
    """The uv executable of the suite's own environment (pyproject.toml's dev extra), or None
    when it has none or BENCH_INSTALLER=pip."""
    if os.environ.get(INSTALLER_ENV, "").lower() == "pip":
        return None
    beside = Path(sys.executable).parent / "uv"  # .venv/bin/uv, as pip installs the wheel's binary
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return None


class UvFailed(Exception):
    """uv could not carry out an install; the message is its output's last lines."""


def uv_install(uv: str, python: str, args: list[str], env: dict[str, str] | None = None) -> None:
    """``uv pip install`` with pip's ``install`` arguments ``args`` into ``python``'s environment."""
    words = [a for a in args if a not in ("install", "-v")]  # uv's -v is a debug log, not pip's detail
    command = [uv, "pip", "install", "--python", python, "--quiet", *words]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=UV_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UvFailed(str(exc)) from None
    if done.returncode != 0:
        raise UvFailed(" | ".join((done.stderr or done.stdout).strip().splitlines()[-3:]))


def install_requirements(env: environment.Environment, uv: str) -> None:
    """asv's Virtualenv._install_requirements, each pip call made by uv instead; a call uv
    fails is made by pip, as asv makes it."""
    python = os.path.join(env._path, "bin", "python")
    build_env = {**os.environ, **env.build_env_vars}

    calls = [["install", "-v", "wheel", "pip>=8"]]
    requirements = {**env._requirements, **env._base_requirements}
    for key, value in requirements.items():
        name = key[4:] if key.startswith("pip+") else key
        declaration = util.ParsedPipDeclaration(f"{name} {value}")
        calls.append(util.construct_pip_call(lambda args: args, declaration)())
    for args in calls:
        try:
            uv_install(uv, python, args, build_env)
        except UvFailed:
            env._run_pip(args, env=build_env)  # pip's outcome and message stand
    # pip byte-compiles what it installs, uv nothing unless asked, and then only in a call
    # that installs something: compiled here, once, with the environment's own interpreter
    # (compileall, as pip does it), every module is, whoever installed it. A file that does
    # not compile (a template named .py) is left as pip leaves it: it is no failure.
    env.run(["-m", "compileall", "-q", "-j", "0", sysconfig_purelib(python)], valid_return_codes=None)


def sysconfig_purelib(python: str) -> str:
    """The site-packages folder of ``python``'s environment."""
    command = [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def with_uv(env: environment.Environment, uv: str | None) -> environment.Environment:
    """``env``, its requirements to be installed by uv when it creates itself (asv's virtualenv
    environments only, and only with ``uv``)."""
    if uv is not None and type(env).__name__ == "Virtualenv" and hasattr(env, "_install_requirements"):
        env._install_requirements = functools.partial(install_requirements, env, uv)
    return env
