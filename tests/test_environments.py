"""asv's environments made by uv (harness/environments.py) and the suite's wheel installed by it
(scripts/suite_wheel.py install): the same installs as pip's, pip where uv fails."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from asv import environment, util
from asv.config import Config

from harness import environments
from harness.process import ROOT

UV = environments.uv_binary()
needs_uv = pytest.mark.skipif(UV is None, reason="uv is not installed (pyproject.toml's dev extra)")


def stand_in_env(tmp_path: Path, req: dict[str, str]) -> environment.Environment:
    """An asv virtualenv environment of this interpreter with ``req`` as its matrix."""
    conf = Config.from_json({**util.load_json(str(ROOT / "asv.conf.json"), js_comments=True),
                             "pythons": [f"{sys.version_info.major}.{sys.version_info.minor}"],
                             "matrix": {"req": req}, "env_dir": str(tmp_path / "env")})  # fmt: skip
    [env] = environment.get_environments(conf, None, verbose=False)
    return env


def test_the_installer_is_uv_from_the_suites_environment_unless_pip_is_asked_for(monkeypatch):
    monkeypatch.delenv(environments.INSTALLER_ENV, raising=False)
    assert UV is not None and Path(UV).name == "uv"
    monkeypatch.setenv(environments.INSTALLER_ENV, "pip")
    assert environments.uv_binary() is None


def test_uv_makes_asvs_calls_in_asvs_order_and_pip_makes_those_it_fails(tmp_path, monkeypatch):
    env = stand_in_env(tmp_path, {"aiohttp": "3.9.5", "tornado": ""})
    made: list[tuple[str, list[str]]] = []

    def uv_install(uv, python, args, build_env=None):
        made.append(("uv", list(args)))
        if "tornado" in args:
            raise environments.UvFailed("no such release")

    monkeypatch.setattr(environments, "uv_install", uv_install)
    monkeypatch.setattr(env, "_run_pip", lambda args, **kwargs: made.append(("pip", list(args))))
    monkeypatch.setattr(env, "run", lambda args, **kwargs: made.append(("python", list(args))))
    monkeypatch.setattr(environments, "sysconfig_purelib", lambda python: "SITE")
    environments.install_requirements(env, "uv")
    installs = [call for call in made if call[0] != "python"]
    assert installs[:5] == [
        ("uv", ["install", "-v", "wheel", "pip>=8"]),
        ("uv", ["install", "-v", "--upgrade", "aiohttp==3.9.5"]),
        ("uv", ["install", "-v", "--upgrade", "tornado"]),
        ("pip", ["install", "-v", "--upgrade", "tornado"]),  # uv failed it: pip's outcome stands
        ("uv", ["install", "-v", "--upgrade", "build"]),  # asv's own requirements follow
    ]
    assert made[-1] == ("python", ["-m", "compileall", "-q", "-j", "0", "SITE"])  # once, at the end
    assert made.count(made[-1]) == 1


@needs_uv
def test_an_environment_made_by_uv_is_complete_compiled_and_accepted_by_asv(tmp_path):
    env = environments.with_uv(stand_in_env(tmp_path, {"six": ""}), UV)
    env.create()
    python = Path(env._path) / "bin" / "python"
    site = Path(environments.sysconfig_purelib(str(python)))
    assert (site / "six.py").is_file()
    assert list((site / "__pycache__").glob("six.cpython-*.pyc")), "not byte-compiled as pip would"
    assert subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0  # asv uses pip
    again = stand_in_env(tmp_path, {"six": ""})
    assert again.check_presence(), "asv would make it again"


def load_suite_wheel():
    spec = importlib.util.spec_from_file_location("suite_wheel", ROOT / "scripts" / "suite_wheel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wheel(folder: Path, text: str) -> Path:
    """A wheel named as the suite's is (every commit's the same name) holding ``text`` in one module."""
    folder.mkdir(parents=True)
    path = folder / "asyncweb_bench-0.1.0-py3-none-any.whl"
    info = "asyncweb_bench-0.1.0.dist-info"
    files = {
        "stand_in_suite.py": text,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: asyncweb-bench\nVersion: 0.1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(data: str) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data.encode()).digest()).rstrip(b"=").decode()

    record = "".join(f"{name},sha256={digest(data)},{len(data.encode())}\n" for name, data in files.items())
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return path


@needs_uv
def test_each_commits_wheel_is_installed_though_all_have_one_name(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([UV, "venv", "--quiet", str(venv)], check=True)
    python = venv / "bin" / "python"
    script = ROOT / "scripts" / "suite_wheel.py"
    for commit in ("a", "b"):
        built = wheel(tmp_path / commit, f"COMMIT = {commit!r}\n")
        done = subprocess.run([python, script, "install", built], env={**os.environ, environments.UV_ENV: UV},
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        installed = subprocess.run([python, "-c", "import stand_in_suite; print(stand_in_suite.COMMIT)"],
                                   capture_output=True, text=True)  # fmt: skip
        assert installed.stdout.strip() == commit


def test_the_suites_wheel_falls_back_to_pip_when_uv_fails(tmp_path, monkeypatch, capsys):
    suite_wheel = load_suite_wheel()
    failing = tmp_path / "uv"
    failing.write_text("#!/bin/sh\necho 'error: no index here' >&2\nexit 2\n")
    failing.chmod(0o755)
    monkeypatch.setenv(environments.UV_ENV, str(failing))
    ran: list[list[str]] = []
    real_run = subprocess.run

    def run(command, **kwargs):
        ran.append([str(word) for word in command])
        if command[0] == str(failing):
            return real_run(command, **kwargs)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(suite_wheel.subprocess, "run", run)
    assert suite_wheel.main(["install", str(tmp_path / "suite.whl")]) == 0
    assert ran[-1] == [sys.executable, "-m", "pip", "install", str(tmp_path / "suite.whl")]
    assert "uv could not install suite.whl (error: no index here); installing with pip" in capsys.readouterr().err
