"""asv.releases.json, the release history's environments: one per framework release, each pinning
its framework and the stack it runs on (the stack at one release everywhere), naming the framework
it measures, and readable by the reports as that framework's point."""

from __future__ import annotations

import collections
import importlib.metadata
import re
import subprocess
import sys
from types import MappingProxyType

import pytest
from asv import util

import servers
from benchmarks import bench_cost
from harness.interpreters import LATEST_RELEASES_ENV
from harness.process import ROOT
from harness.report.results import Run, interpreter_runs

EVERY_ENTRY = util.load_json(str(ROOT / "asv.releases.json"), js_comments=True)["include"]
# The release lines (on the primary interpreter); the others hold every latest release on another one.
INCLUDE = [entry for entry in EVERY_ENTRY if LATEST_RELEASES_ENV not in entry.get("env_nobuild", {})]
LATEST_ON_OTHERS = [entry for entry in EVERY_ENTRY if entry not in INCLUDE]


def measured_framework(entry: dict) -> str:
    return entry["env_nobuild"][servers.SELECTION_ENV]


def lines() -> dict[str, list[str]]:
    by_framework = collections.defaultdict(list)
    for entry in INCLUDE:
        framework = measured_framework(entry)
        by_framework[framework].append(entry["req"][framework])
    return by_framework


def test_every_framework_has_four_releases_and_websockets_eight():
    found = lines()
    for name in servers.FRAMEWORKS_UNDER_TEST:
        framework = servers.get(name)
        if framework.no_release_history:
            assert name not in found, f"{name} has a line although: {framework.no_release_history}"
            continue
        assert len(found[name]) >= 4, f"{name}: {found[name]}"
    assert len(found["websockets"]) == 8, found["websockets"]


def test_each_line_is_in_release_order_from_the_oldest_supported():
    for name, releases in lines().items():
        assert releases == sorted(releases, key=servers.release_key), f"{name}: {releases}"
        oldest = servers.get(name).min_version
        assert not oldest or servers.release_key(releases[0]) >= servers.release_key(oldest), (name, releases)


def test_an_environment_pins_its_framework_and_its_stack_at_one_release_along_its_line():
    stack_pins: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for entry in INCLUDE:
        framework = servers.get(measured_framework(entry))
        assert entry["python"] == "3.11"
        assert set(entry["req"]) == {framework.package, *framework.stack}, entry
        # Named even where it pins one framework: picows, the generator's library, is
        # installed everywhere and would be measured again at its one release.
        assert entry["env_nobuild"] == {servers.SELECTION_ENV: framework.name}, entry
        for package in framework.stack:
            stack_pins[framework.name, package].add(entry["req"][package])
    assert all(len(releases) == 1 for releases in stack_pins.values()), dict(stack_pins)


# One pin, one with its stack, and one pin unnamed, as release environments were recorded before
# every one named its framework.
@pytest.mark.parametrize(
    "entry", [INCLUDE[0], next(e for e in INCLUDE if len(e["req"]) > 1), {"req": {"tornado": "6.1"}}]
)
def test_the_reports_read_an_environment_as_its_frameworks_release(entry):
    run = Run(
        machine="m", commit="c", date=0, started_at=0, env="e", values=MappingProxyType({}),
        pins=MappingProxyType(entry["req"]), env_vars=MappingProxyType(entry.get("env_nobuild", {})),
    )  # fmt: skip
    framework = entry.get("env_nobuild", {}).get(servers.SELECTION_ENV) or next(iter(entry["req"]))
    assert run.release == (framework, entry["req"][framework])


def test_the_selection_names_registered_frameworks_and_always_keeps_the_baseline(monkeypatch):
    monkeypatch.setenv(servers.SELECTION_ENV, "aiohttp, tornado")
    assert servers.selection() == ("baseline", "aiohttp", "tornado")
    assert "not selected" in servers.unavailable("websockets")
    assert servers.unavailable("aiohttp") is None
    monkeypatch.setenv(servers.SELECTION_ENV, "aiohttp,nosuch")
    with pytest.raises(servers.UnknownFramework, match="nosuch"):
        servers.selection()
    monkeypatch.delenv(servers.SELECTION_ENV)
    assert servers.selection() == tuple(servers.FRAMEWORKS)


def test_a_release_environment_measures_the_cost_of_its_framework_alone(monkeypatch):
    monkeypatch.setenv(servers.SELECTION_ENV, "tornado")  # as in a release environment of Tornado
    assert bench_cost.measured_frameworks() == ["tornado"]
    assert {framework for _workload, framework in bench_cost.flamegraph_plan()} == {"tornado"}
    monkeypatch.delenv(servers.SELECTION_ENV)
    assert bench_cost.measured_frameworks() == list(servers.FRAMEWORKS)


def installed_with(package: str) -> set[str]:
    """The distributions ``package`` itself requires (in this environment's metadata)."""
    requirements = importlib.metadata.requires(package) or []
    return {re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0].lower().replace("-", "_") for r in requirements}


@pytest.mark.parametrize("name", [n for n in servers.FRAMEWORKS_UNDER_TEST if not servers.get(n).no_release_history])
def test_each_server_starts_with_only_what_its_release_environment_installs(name):
    # A release environment installs its framework, its stack and the suite's own pins; the
    # default one installs every framework, which once hid granian's server importing
    # uvicorn through Starlette's module. Every other framework's package is made
    # unimportable here, as it is absent there.
    framework = servers.get(name)
    allowed = {framework.package, *framework.stack} | installed_with(framework.package)
    others = {servers.get(n).package for n in servers.FRAMEWORKS_UNDER_TEST} | {
        package for n in servers.FRAMEWORKS_UNDER_TEST for package in servers.get(n).stack
    }
    blocked = sorted(others - allowed - {"picows"})  # picows: the generator's, installed everywhere
    code = f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\nimport servers\nservers.load({name!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, f"{name} with {blocked} absent:\n{done.stderr[-1500:]}"


def test_every_other_interpreter_has_one_environment_of_every_lines_latest_release():
    assert [entry["python"] for entry in LATEST_ON_OTHERS] == ["3.10", "3.12", "3.13"]
    newest = {}
    for entry in INCLUDE:  # each line in release order: the last entry is its latest release
        newest.update(entry["req"] if measured_framework(entry) != "sanic" else {"sanic": entry["req"]["sanic"]})
    # On 3.10 the newest lines of four require 3.11: the newest releases that install there.
    on_310 = {"tornado": "6.5.10", "websockets": "16.1.1", "starlette": "1.7.0", "fastapi": "0.162.5"}
    for entry in LATEST_ON_OTHERS:
        assert entry["req"] == (newest | on_310 if entry["python"] == "3.10" else newest), entry["python"]
        assert entry["env_nobuild"] == {LATEST_RELEASES_ENV: "1"}, "every framework measured, marked for the reports"
    run = Run("box", "c" * 40, 1, 1, "env", MappingProxyType(LATEST_ON_OTHERS[0]["req"]), MappingProxyType({}),
              MappingProxyType(LATEST_ON_OTHERS[0]["env_nobuild"]), python="3.10")  # fmt: skip
    assert run.release is None and interpreter_runs([run]) == {("box", "3.10"): run}
