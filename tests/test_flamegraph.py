"""Flame graphs: py-spy records a real server under the suite's load into a speedscope
file; a missing or failing py-spy is a FlamegraphError naming it, with nothing left
running; the vendored viewer's links resolve to the viewer and the profile."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin

import psutil
import pytest

from harness.cost import flamegraph
from harness.cost.flamegraph import FlamegraphError, record_flamegraph
from harness.process import START_LOG_ENV, ServerError
from harness.report import speedscope
from harness.report.speedscope import vendor_speedscope, viewer_link
from harness.workloads import ws_echo
from tests.conftest import live_children, pid_alive

WORKLOAD = ws_echo(32, 10)


def name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.NoSuchProcess:
        return ""


@pytest.fixture
def server_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The file harness.process logs each server start to; afterwards, every server it
    names and every other process the test started must be gone."""
    log = tmp_path / "starts.log"
    monkeypatch.setenv(START_LOG_ENV, str(log))
    before = {c.pid for c in live_children()}
    yield log
    servers = [int(line.split()[1]) for line in log.read_text().splitlines()] if log.exists() else []
    assert not [pid for pid in servers if pid_alive(pid)], "a server outlived record_flamegraph"
    left = [c for c in live_children() if c.pid not in before]
    assert not left, f"left running: {[name(c) for c in left]}"


def test_records_a_speedscope_profile_of_the_server(tmp_path: Path, server_log: Path) -> None:
    out = tmp_path / "flamegraphs" / "aiohttp.speedscope.json"
    assert record_flamegraph(WORKLOAD, "aiohttp", out, seconds=1, warmup_s=0.2) == out
    profile = json.loads(out.read_text())
    assert profile["exporter"].startswith("py-spy@")
    assert profile["name"].startswith("aiohttp: ws_echo_text_32B_c10")
    assert sum(len(p["samples"]) for p in profile["profiles"]) > 0
    assert any("aiohttp" in frame.get("file", "") for frame in profile["shared"]["frames"])
    assert [p.name for p in out.parent.iterdir()] == [out.name], "the temporary file was left beside it"


def test_missing_py_spy_fails_at_once_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_log: Path
) -> None:
    # Neither beside the interpreter nor on PATH.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "py-spy" in (flamegraph.py_spy_missing() or "")
    started = time.monotonic()
    with pytest.raises(FlamegraphError, match="py-spy not found.*pip install py-spy"):
        record_flamegraph(WORKLOAD, "aiohttp", tmp_path / "out.json", seconds=1)
    assert time.monotonic() - started < 1.0
    assert not server_log.exists(), "a server was started"
    assert not (tmp_path / "out.json").exists()


def test_failing_py_spy_is_reported_with_what_it_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_log: Path
) -> None:
    # What py-spy says when it may not trace the server (e.g. without CAP_SYS_PTRACE).
    fake = tmp_path / "py-spy"
    fake.write_text(
        "#!/bin/sh\necho 'Error: Failed to get process executable name.' >&2\n"
        "echo '    0: Permission denied (os error 13)' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(flamegraph, "find_py_spy", lambda: str(fake))
    out = tmp_path / "out.json"
    with pytest.raises(FlamegraphError, match=r"(?s)status 1.*Permission denied \(os error 13\).*CAP_SYS_PTRACE"):
        record_flamegraph(WORKLOAD, "aiohttp", out, seconds=1, warmup_s=0.1)
    assert server_log.exists(), "py-spy ran against a server"
    assert not out.exists() and list(tmp_path.glob(".out.json.*")) == []


def test_server_death_is_a_server_error(tmp_path: Path, server_log: Path) -> None:
    def kill_the_server() -> None:
        # Once py-spy is recording it, with the load running.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(name(c) == "py-spy" for c in live_children()):
                time.sleep(0.3)
                os.kill(int(server_log.read_text().split()[1]), signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_server)
    killer.start()
    try:
        with pytest.raises(ServerError, match="aiohttp server died"):
            record_flamegraph(WORKLOAD, "aiohttp", tmp_path / "out.json", seconds=2, warmup_s=0.1)
    finally:
        killer.join()
    assert not (tmp_path / "out.json").exists()


@pytest.fixture
def viewer_installed() -> None:
    if not (speedscope.SPEEDSCOPE_DIST / "index.html").is_file():
        pytest.fail(f"speedscope's viewer is not in {speedscope.SPEEDSCOPE_DIST}: run scripts/setup.sh (npm ci)")


def test_vendored_viewer_replaces_the_old_one(tmp_path: Path, viewer_installed: None) -> None:
    html = tmp_path / "html"
    stale = html / "speedscope" / "stale.js"
    stale.parent.mkdir(parents=True)
    stale.write_text("")
    index = vendor_speedscope(html)
    assert index == html / "speedscope" / "index.html"
    assert "<script" in index.read_text()
    assert not stale.exists()
    assert [p.name for p in html.iterdir()] == ["speedscope"]


def test_no_viewer_without_the_npm_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speedscope, "SPEEDSCOPE_DIST", tmp_path / "absent")
    assert vendor_speedscope(tmp_path / "html") is None


def test_viewer_link_opens_the_profile_from_the_page(tmp_path: Path) -> None:
    html = tmp_path / "html"
    page = html / "frameworks" / "index.html"
    # Folder names with characters that mean something in a URL or in speedscope's hash.
    profile = html / "profiles" / "m&1=x" / "c#2?%41" / "aiohttp.speedscope.json"
    link = viewer_link(page, profile, html, "aiohttp: ws echo & more")
    assert not link.startswith(("/", "file:")), "a relative URL, for a site served from anywhere"
    # Resolved as a browser does from the page, then as speedscope does from its own page.
    viewer_url, fragment = urldefrag(urljoin(page.as_uri(), link))
    assert viewer_url == (html / "speedscope" / "index.html").as_uri()
    params = dict(part.split("=") for part in fragment.split("&"))  # speedscope's own parsing
    assert urljoin(viewer_url, unquote(params["profileURL"])) == profile.as_uri()
    assert unquote(params["title"]) == "aiohttp: ws echo & more"
    assert params["view"] == "left-heavy"
