"""The remote topology (harness/topology.py): the file and its errors, the CPU plan, the
generator's command over SSH, a generator that outlives its harness for not an instant, and,
for real, a headline workload through asv with the server in one network namespace and its
generators in another, reached over SSH (tests/netns.py), leaving nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asv import util

import servers
from harness import topology
from harness.asv_run import asv_home_env
from harness.compare import QUICK_ENV
from harness.loadgen.__main__ import EXIT_ORPHANED
from harness.loadspec import WsEcho
from harness.process import ROOT, ServerProcess
from harness.topology import GeneratorHost, Slot, Topology, TopologyError
from tests import netns
from tests.conftest import pid_alive

ASV = [sys.executable, "-m", "asv"]


# --- the file ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        ("not json", "is not JSON"),
        ("[]", 'needs a "server" object'),
        ('{"server": {}}', '"server.address" must be'),
        ('{"server": {"address": "10.0.0.1"}}', 'names no "generators"'),
        ('{"server": {"address": "10.0.0.1"}, "generators": [{"ssh": "h", "cpus": [0]}]}', '"root"'),
        ('{"server": {"address": "10.0.0.1"}, "generators": [{"ssh": "h", "root": "/r", "cpus": []}]}', "cpus must"),
        ('{"server": {"address": "10.0.0.1", "cpus": [4096]}, "generators": []}', "server.cpus [4096]"),
        ('{"server": {"address": "10.0.0.1"}, "hosts": []}', "unknown keys ['hosts']"),
    ],
)
def test_a_bad_topology_file_names_its_fault(tmp_path, content, cause):
    path = tmp_path / "topology.json"
    path.write_text(content)
    with pytest.raises(TopologyError, match=cause.replace("[", r"\[").replace("]", r"\]")):
        topology.load(path)
    done = subprocess.run([sys.executable, "-m", "harness.topology", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and "topology: error:" in done.stderr


def test_no_file_is_the_local_topology_and_a_missing_file_an_error(monkeypatch, tmp_path):
    monkeypatch.delenv(topology.TOPOLOGY_ENV, raising=False)
    assert not topology.current().remote and topology.current().record() == {"topology": "local"}
    monkeypatch.setenv(topology.TOPOLOGY_ENV, str(tmp_path / "absent.json"))
    with pytest.raises(TopologyError, match="cannot read the topology file .*absent.json"):
        topology.current()


# --- the plan ------------------------------------------------------------------------------


def test_locally_the_server_gets_one_cpu_per_worker_and_the_generators_keep_one():
    four = Topology(local_cpus=(0, 1, 2, 3))
    assert four.plan(1) == topology.Plan((0,), (Slot(1), Slot(2), Slot(3)))
    assert four.plan(2) == topology.Plan((0, 1), (Slot(2), Slot(3)))
    crowded = four.plan(4)
    assert crowded.server_cpus == (0, 1, 2) and crowded.generators == (Slot(3),)
    assert "4 workers share 3 CPUs" in crowded.note
    two = Topology(local_cpus=(0, 1)).plan(2)
    assert two.server_cpus == (0,) and "not a 2-core figure" in two.note
    assert Topology(local_cpus=(0,)).plan(1) == topology.Plan((), (Slot(None),))


def test_with_remote_generators_the_server_has_this_hosts_cpus():
    host = GeneratorHost("bench@10.0.0.2", (0, 1), "/srv/suite")
    remote = Topology("10.0.0.1", None, (host,), "t.json", local_cpus=(0, 1, 2, 3))
    plan = remote.plan(4)
    assert plan.server_cpus == (0, 1, 2, 3) and not plan.note
    assert plan.generators == (Slot(0, host), Slot(1, host))
    assert remote.record()["generator_hosts"] == [{"ssh": "bench@10.0.0.2", "cpus": [0, 1]}]


def test_the_remote_command_survives_the_remote_shell(tmp_path):
    # What ssh hands the remote shell, run by a shell here: the checkout, the interpreter and
    # every argument arrive intact, quotes and spaces included.
    root = tmp_path / "a checkout's dir"
    root.mkdir()
    host = GeneratorHost("h", (0,), str(root), sys.executable)
    program = "import os, sys; print(os.getcwd(), os.environ['X'], os.environ['PYTHONPATH'], sys.argv[1:])"
    argv = ["-c", program, "a 'b'"]
    command = host.command(argv, {"X": "it's"})
    assert command[:1] == ["ssh"] and command[-2] == "h"
    done = subprocess.run(["sh", "-c", command[-1]], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"{root} it's {root} [\"a 'b'\"]"


# --- the generator without its harness -----------------------------------------------------


def test_a_generator_whose_stdin_ends_mid_window_exits_at_once(start_server):
    # Over SSH the end of stdin is all a generator learns of a harness that died: it must not
    # run its window (or anything) to the end.
    server: ServerProcess = start_server("baseline")
    spec = WsEcho(connections=2, size=32, url=server.url("/ws/echo", "ws"), warmup_s=0)
    generator = subprocess.Popen(
        [sys.executable, "-m", "harness.loadgen", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        generator.stdin.write(spec.to_json().encode() + b"\ngo 60\n")
        generator.stdin.flush()
        assert b"connect_s" in generator.stdout.readline()  # Ready
        time.sleep(0.3)  # inside the 60 s window
        generator.stdin.close()
        assert generator.wait(timeout=5) == EXIT_ORPHANED
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait()


# --- for real: two namespaces, SSH between them -------------------------------------------


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    reason = netns.unavailable()
    if reason:
        pytest.skip(reason)
    made = netns.make_hosts(tmp_path_factory.mktemp("hosts"))
    try:
        yield made
    finally:
        made.remove()


def asv_setup(hosts: netns.Hosts, work: Path, extra: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    conf = util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    conf.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        results_dir=str(work / "results"),
        html_dir=str(work / "html"),
    )
    (work / "asv.conf.json").write_text(json.dumps(conf))
    env = asv_home_env(work / "home", {**os.environ, **extra})
    common = ["--config", str(work / "asv.conf.json")]
    subprocess.run(ASV + ["machine", "--yes", "--machine", "remote", *common], check=True, env=env, cwd=work)
    return common, env


def processes_in(hosts: netns.Hosts, namespace: str, marker: bytes) -> set[int]:
    found = set()
    for pid in hosts.pids_in(namespace):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:
            pass
    return found


def everything_gone(hosts: netns.Hosts, timeout: float = 15.0) -> tuple[set[int], set[int], list[str]]:
    """(processes left in the server namespace, in the generator namespace besides its sshd,
    sockets listening besides the sshd's), once empty or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        server_side = hosts.pids_in(hosts.server_ns)
        generator_side = hosts.pids_in(hosts.generator_ns) - {hosts.sshd.pid}
        sockets = [s for s in hosts.listening(hosts.server_ns) + hosts.listening(hosts.generator_ns)
                   if f"{hosts.generator_address}:22 " not in s]  # fmt: skip
        if not (server_side or generator_side or sockets) or time.monotonic() > deadline:
            return server_side, generator_side, sockets
        time.sleep(0.2)


@pytest.mark.timeout(300)
def test_the_topology_check_reaches_the_generator_host(hosts, tmp_path):
    good = hosts.topology(tmp_path / "good.json", [1])
    done = subprocess.run(hosts.on_server([sys.executable, "-m", "harness.topology", str(good)]),
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"root@{hosts.generator_address} cpu 1" in done.stdout
    bad = json.loads(good.read_text())
    bad["generators"][0]["root"] = "/nonexistent/checkout"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    done = subprocess.run(hosts.on_server([sys.executable, "-m", "harness.topology", str(tmp_path / "bad.json")]),
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 1 and f"root@{hosts.generator_address}: cannot run the generator" in done.stderr


@pytest.mark.timeout(600)
def test_a_headline_workload_runs_across_hosts_and_asv_publishes_it(hosts, tmp_path):
    extra = {
        topology.TOPOLOGY_ENV: str(hosts.topology(tmp_path / "topology.json", [1])),
        servers.SELECTION_ENV: "aiohttp",
        QUICK_ENV: "1",
    }
    common, env = asv_setup(hosts, tmp_path, extra)
    seen: dict[str, set[int]] = {"generator side": set(), "server side": set()}
    server_commands: set[bytes] = set()
    running = threading.Event()
    running.set()

    def watch() -> None:  # where the generators and servers run, while asv measures
        while running.is_set():
            seen["generator side"] |= processes_in(hosts, hosts.generator_ns, b"-m\0harness.loadgen\0")
            seen["server side"] |= processes_in(hosts, hosts.server_ns, b"-m\0harness.loadgen\0")
            for pid in processes_in(hosts, hosts.server_ns, b"-m\0servers\0"):
                try:
                    server_commands.add(Path(f"/proc/{pid}/cmdline").read_bytes())
                except OSError:
                    pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    try:
        run = subprocess.run(
            hosts.on_server(ASV + ["run", *common, "--python=same", "--quick", "--machine", "remote", "--show-stderr",
                                   "--set-commit-hash", commit, "--bench", r"bench_websocket\.EchoText32B\."]),
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=500,
        )  # fmt: skip
    finally:
        running.clear()
        watcher.join()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert seen["generator side"], "no load generator ran in the generator's namespace"
    assert not seen["server side"], "a load generator ran beside the server"
    # Every server bound the server host's own address, not loopback.
    assert server_commands, "no server ran in the server's namespace"
    assert all(f"--host\0{hosts.server_address}\0".encode() in c for c in server_commands), server_commands
    results = json.loads(next((tmp_path / "results" / "remote").glob(f"{commit[:8]}*.json")).read_text())
    column = dict(zip(results["result_columns"], results["results"]["bench_websocket.EchoText32B.track_time_per_op"],
                      strict=False))  # fmt: skip
    measured = dict(zip(column["params"][0], column["result"], strict=True))
    assert measured["'aiohttp'"] > 0 and measured["'baseline'"] > 0, measured
    published = subprocess.run(ASV + ["publish", *common], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert published.returncode == 0, published.stderr
    graphs = list((tmp_path / "html" / "graphs").rglob("bench_websocket.EchoText32B.track_time_per_op.json"))
    assert graphs, "asv published no graph of the measurement"
    assert not any(everything_gone(hosts))


@pytest.mark.timeout(300)
def test_a_run_killed_mid_way_leaves_nothing_on_either_host(hosts, tmp_path):
    extra = {
        topology.TOPOLOGY_ENV: str(hosts.topology(tmp_path / "topology.json", [1])),
        servers.SELECTION_ENV: "aiohttp",
    }
    common, env = asv_setup(hosts, tmp_path, extra)
    env.pop(QUICK_ENV, None)  # a full headline measurement: seconds of windows to be killed in
    asv = subprocess.Popen(
        hosts.on_server(ASV + ["run", *common, "--python=same", "--machine", "remote", "--bench",
                               r"bench_websocket\.EchoText32B\."]),
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not processes_in(hosts, hosts.generator_ns, b"-m\0harness.loadgen\0"):
            assert asv.poll() is None, "asv ended before its generators started"
            time.sleep(0.05)
        generators = processes_in(hosts, hosts.generator_ns, b"-m\0harness.loadgen\0")
        assert generators, "no generator started on the generator host"
        time.sleep(1.0)  # connected, windows under way
    finally:
        asv.kill()  # SIGKILL to asv alone: nothing else is told
        asv.wait()
    server_side, generator_side, sockets = everything_gone(hosts)
    assert not server_side, f"left in the server's namespace: {server_side}"
    assert not generator_side, f"left on the generator host: {generator_side}"
    assert not sockets, f"still listening: {sockets}"
    assert not [pid for pid in generators if pid_alive(pid)]


def test_removing_the_hosts_leaves_no_namespace_or_sshd(hosts):
    sshd = hosts.sshd.pid
    hosts.remove()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert hosts.server_ns not in listed and hosts.generator_ns not in listed
    assert not pid_alive(sshd)


def test_the_example_file_is_a_valid_topology(monkeypatch):
    # Written for a 4-CPU server host: read as on one.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    example = topology.load(ROOT / "topology.example.json")
    assert example.server_cpus == (0, 1, 2, 3)
    assert [h.ssh for h in example.hosts] == ["bench@10.0.0.2", "bench@10.0.0.3"]
    assert example.hosts[1].python == ".venv/bin/python"
