"""Where the server and the load generators run: this host alone (the default), or the server
here and the generators on other hosts, driven over SSH.

The measuring process (asv's, or a ``python -m harness.*`` command) always runs on the
server's host: what the suite reads of a server (its CPU time, resident memory, the threads it
pins, its instructions under valgrind) comes from this host's /proc. A generator needs nothing
of the server's host: it takes its spec and commands on stdin and answers on stdout
(harness/loadgen), so the same process runs under ``ssh host python -m harness.loadgen``
unchanged, reports its own CPU time, and times latencies on its own clock (no clock is
compared across hosts).

The file, named by ``BENCH_TOPOLOGY`` (README, "Bigger than one machine"; an example in
topology.example.json)::

    {
      "server": {"address": "10.0.0.1", "cpus": [0, 1, 2, 3]},
      "generators": [
        {"ssh": "bench@10.0.0.2", "cpus": [0, 1, 2, 3],
         "root": "/home/bench/asyncweb-bench", "python": ".venv/bin/python",
         "ssh_options": ["-i", "/home/me/.ssh/bench_ed25519"]}
      ]
    }

``server.address`` is the address the server binds and the generators connect to (one of this
host's); ``server.cpus`` the CPUs the server's processes are pinned to (default: all of this
host's, as nothing else of the load runs here). Each generator host gives its SSH destination,
the CPUs its generator processes pin themselves to (one process per CPU), a checkout of the
suite set up with scripts/setup.sh (``root``) and the interpreter there (``python``, relative to
``root`` or absolute). Nothing is left running on a generator host: the ssh client dies with the
measuring process (PR_SET_PDEATHSIG), and a generator exits as soon as its stdin closes, even
in the middle of a window (harness/loadgen).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TOPOLOGY_ENV = "BENCH_TOPOLOGY"
LOOPBACK = "127.0.0.1"
# BatchMode: a missing key fails at once instead of asking for a password nobody will type.
# ServerAlive*: a generator host that stops answering ends the ssh client (and the benchmark
# with a GeneratorError) within ~15 s rather than hanging the run.
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3")


class TopologyError(ValueError):
    """The topology file is missing, malformed or inconsistent; the message names the cause."""


@dataclass(frozen=True)
class GeneratorHost:
    """A host the generator processes run on over SSH."""

    ssh: str  # the ssh destination, [user@]host
    cpus: tuple[int, ...]
    root: str  # the suite's checkout there
    python: str = ".venv/bin/python"  # relative to root, or absolute
    ssh_options: tuple[str, ...] = ()

    def command(self, argv: list[str], env: Mapping[str, str]) -> list[str]:
        """The local command that runs ``python argv`` on this host, in its checkout, with ``env``.

        ``exec`` leaves the generator as the SSH session's only process, so that when the
        session ends nothing of it remains."""
        variables = [f"{k}={v}" for k, v in {**env, "PYTHONPATH": self.root}.items()]
        remote = f"cd {shlex.quote(self.root)} && exec env {shlex.join(variables)} {shlex.join([self.python, *argv])}"
        return ["ssh", *SSH_OPTIONS, *self.ssh_options, self.ssh, remote]


@dataclass(frozen=True)
class Slot:
    """Where one generator process runs: a host (None: this one) and a CPU (None: unpinned)."""

    cpu: int | None
    host: GeneratorHost | None = None

    def command(self, argv: list[str], env: Mapping[str, str]) -> list[str] | None:
        """The command for a remote slot; None for this host (the caller runs argv itself)."""
        return None if self.host is None else self.host.command(argv, env)

    def describe(self) -> str:
        cpu = "unpinned" if self.cpu is None else f"cpu {self.cpu}"
        return f"{self.host.ssh if self.host else 'local'} {cpu}"


@dataclass(frozen=True)
class Plan:
    """The CPUs of one measurement: the server's (empty: unpinned) and a slot per generator CPU."""

    server_cpus: tuple[int, ...]
    generators: tuple[Slot, ...]
    # Why the server has fewer CPUs than workers, or "": said with every figure of such a run.
    note: str = ""

    @property
    def server_cpu(self) -> int | None:
        return self.server_cpus[0] if self.server_cpus else None


@dataclass(frozen=True)
class Topology:
    address: str = LOOPBACK
    server_cpus: tuple[int, ...] | None = None  # None: the local plan's
    hosts: tuple[GeneratorHost, ...] = ()
    source: str = "local"  # the file it was read from
    local_cpus: tuple[int, ...] = field(default_factory=lambda: tuple(sorted(os.sched_getaffinity(0))))

    @property
    def remote(self) -> bool:
        return bool(self.hosts)

    def plan(self, workers: int = 1) -> Plan:
        """Which CPUs serve ``workers`` server processes, and where the generators run.

        Locally the server takes ``workers`` CPUs and the generators the rest, but the
        generators keep at least one: with fewer CPUs than workers + 1 the workers share the
        server's CPUs, and the note says so (the figure is then not the scaling it names).
        With remote generators the server has this host's CPUs (or the file's) to itself.
        """
        cpus = self.local_cpus
        if self.remote:
            server = self.server_cpus if self.server_cpus is not None else cpus
            slots = tuple(Slot(cpu, host) for host in self.hosts for cpu in host.cpus)
            note = _shared_note(workers, len(server), "the topology's server CPUs")
            return Plan(tuple(server[:workers]), slots, note)
        if len(cpus) < 2:  # nothing to separate: unpinned, and the results say so (compare.setup_record)
            return Plan((), (Slot(None),), _shared_note(workers, 1, "this host, which has one CPU,"))
        server = cpus[: max(1, min(workers, len(cpus) - 1))]
        note = _shared_note(workers, len(server), f"this host's {len(cpus)} CPUs less one for the generator")
        return Plan(server, tuple(Slot(cpu) for cpu in cpus[len(server) :]), note)

    def record(self) -> dict:
        """How the load was placed, kept with every measurement's set-up."""
        if not self.remote:
            return {"topology": "local"}
        return {
            "topology": self.source,
            "server_address": self.address,
            "generator_hosts": [{"ssh": h.ssh, "cpus": list(h.cpus)} for h in self.hosts],
        }


def _shared_note(workers: int, cpus: int, where: str) -> str:
    if workers <= cpus:
        return ""
    return f"{workers} workers share {cpus} CPU{'s' if cpus > 1 else ''} ({where}): not a {workers}-core figure"


def load(path: str | os.PathLike[str]) -> Topology:
    """Read and check a topology file (see the module's docstring)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TopologyError(f"cannot read the topology file {path} ({TOPOLOGY_ENV}): {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise TopologyError(f"the topology file {path} is not JSON: {exc}") from None
    where = f"the topology file {path}"
    if not isinstance(data, dict) or not isinstance(data.get("server"), dict):
        raise TopologyError(f'{where} needs a "server" object with the "address" generators connect to')
    unknown = set(data) - {"server", "generators"}
    if unknown:
        raise TopologyError(f"{where}: unknown keys {sorted(unknown)}")
    server = data["server"]
    address = server.get("address")
    if not isinstance(address, str) or not address:
        raise TopologyError(f'{where}: "server.address" must be an address of this host the generators can reach')
    server_cpus = _cpus(server["cpus"], f"{where}: server.cpus") if "cpus" in server else None
    if server_cpus is not None and not set(server_cpus) <= os.sched_getaffinity(0):
        raise TopologyError(f"{where}: server.cpus {list(server_cpus)} are not all CPUs this process may use")
    hosts = []
    for i, entry in enumerate(data.get("generators") or []):
        label = f"{where}: generators[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("ssh"), str) or not entry.get("root"):
            raise TopologyError(f'{label} needs "ssh" (the destination), "cpus" and "root" (the checkout there)')
        options = entry.get("ssh_options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise TopologyError(f"{label}: ssh_options must be a list of strings")
        hosts.append(
            GeneratorHost(
                ssh=entry["ssh"],
                cpus=_cpus(entry.get("cpus"), f"{label}.cpus"),
                root=str(entry["root"]),
                python=str(entry.get("python", GeneratorHost.python)),
                ssh_options=tuple(options),
            )
        )
    if not hosts:
        raise TopologyError(f'{where} names no "generators": the local topology needs no file')
    return Topology(address, server_cpus, tuple(hosts), str(path))


def _cpus(value: object, label: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(c, int) and c >= 0 for c in value):
        raise TopologyError(f"{label} must be a non-empty list of CPU numbers")
    return tuple(value)


def current() -> Topology:
    """The topology of this run: the file ``BENCH_TOPOLOGY`` names, or this host alone."""
    path = os.environ.get(TOPOLOGY_ENV)
    return load(path) if path else Topology()


CHECK_TIMEOUT_S = 30.0
# What a generator host must be able to do: import the generator's connectors (its checkout is
# set up) and use the CPUs the file gives it.
CHECK_PROGRAM = "import os, harness.loadgen.websocket, harness.loadgen.http; print(sorted(os.sched_getaffinity(0)))"


def check_hosts(topology: Topology) -> list[str]:
    """What is wrong with each generator host (unreachable over SSH, no set-up checkout, missing
    CPUs), one line each; empty when every host is ready."""
    problems = []
    for host in topology.hosts:
        try:
            done = subprocess.run(
                host.command(["-c", CHECK_PROGRAM], {}),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            problems.append(f"{host.ssh}: no answer over ssh within {CHECK_TIMEOUT_S:g} s")
            continue
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            problems.append(f"{host.ssh}: cannot run the generator in {host.root} with {host.python}: {tail[0]}")
            continue
        available = set(json.loads(done.stdout.strip().splitlines()[-1]))
        if not set(host.cpus) <= available:
            problems.append(f"{host.ssh}: cpus {sorted(set(host.cpus) - available)} are not available there")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.topology [FILE]``: check a topology (default: BENCH_TOPOLOGY's) and
    every generator host over SSH, and print where one server worker and its generators run."""
    args = sys.argv[1:] if argv is None else argv
    try:
        topology = load(args[0]) if args else current()
    except TopologyError as exc:
        print(f"topology: error: {exc}", file=sys.stderr)
        return 2
    plan = topology.plan()
    print(f"topology: {topology.source}; server on {topology.address}, CPUs {list(plan.server_cpus) or 'unpinned'}")
    print("generators: " + ", ".join(slot.describe() for slot in plan.generators))
    problems = check_hosts(topology)
    for problem in problems:
        print(f"topology: error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
