"""Two test hosts on this machine: network namespaces joined by a veth pair, the second
running its own sshd, for the remote topology (harness/topology.py) to be tested for real.

The measuring side runs in the "server" namespace (commands wrapped with ``Hosts.on_server``),
the generators in the "generator" namespace, reached over SSH at its own address; nothing is
bound or connected outside the pair's private addresses. ``Hosts.remove`` stops the sshd and
deletes both namespaces (and with them the veth pair).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.process import ROOT, die_with_parent
from tests.conftest import pid_alive

SSHD = "/usr/sbin/sshd"
SSH_READY_TIMEOUT_S = 10.0


@dataclass
class Hosts:
    server_ns: str
    generator_ns: str
    server_address: str
    generator_address: str
    key: Path
    sshd: subprocess.Popen | None = None
    files: Path = field(default_factory=Path)

    def on_server(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.server_ns, *argv]

    def on_generator(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.generator_ns, *argv]

    def ssh_options(self) -> list[str]:
        return [
            "-i", str(self.key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip

    def topology(self, path: Path, generator_cpus: list[int]) -> Path:
        """A topology file: the server here (server namespace), generators over SSH."""
        path.write_text(
            json.dumps(
                {
                    "server": {"address": self.server_address, "cpus": [0]},
                    "generators": [
                        {
                            "ssh": f"root@{self.generator_address}",
                            "cpus": generator_cpus,
                            "root": str(ROOT),
                            "python": sys.executable,
                            "ssh_options": self.ssh_options(),
                        }
                    ],
                },
                indent=2,
            )
        )
        return path

    def pids_in(self, namespace: str) -> set[int]:
        """Live processes whose network namespace is ``namespace``."""
        wanted = os.stat(f"/run/netns/{namespace}").st_ino
        pids = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.stat(f"/proc/{entry}/ns/net").st_ino == wanted and pid_alive(int(entry)):
                        pids.add(int(entry))
        return pids

    def listening(self, namespace: str) -> list[str]:
        """The TCP sockets listening in ``namespace``, as ss prints them."""
        done = subprocess.run(["ip", "netns", "exec", namespace, "ss", "-Htln"], capture_output=True, text=True)
        return [line for line in done.stdout.splitlines() if line.strip()]

    def remove(self) -> None:
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            try:
                self.sshd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
                self.sshd.wait()
        for namespace in (self.server_ns, self.generator_ns):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def unavailable() -> str | None:
    """Why two namespaced hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces and an sshd need root"
    for tool in ("ip", "ssh", "ssh-keygen", SSHD):
        if shutil.which(tool) is None:
            return f"{tool} is missing (scripts/setup.sh installs openssh-server)"
    return None


def run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


def make_hosts(files: Path) -> Hosts:
    """Create the two namespaces, the veth pair between them and the generator's sshd."""
    tag = os.getpid() % 100000
    subnet = 10 + tag % 240
    hosts = Hosts(
        server_ns=f"asvb-srv-{tag}",
        generator_ns=f"asvb-gen-{tag}",
        server_address=f"10.213.{subnet}.1",
        generator_address=f"10.213.{subnet}.2",
        key=files / "client_key",
        files=files,
    )
    try:
        run(["ip", "netns", "add", hosts.server_ns])
        run(["ip", "netns", "add", hosts.generator_ns])
        veth_server, veth_generator = f"asvs{tag}", f"asvg{tag}"
        run(["ip", "link", "add", veth_server, "netns", hosts.server_ns, "type", "veth",
             "peer", "name", veth_generator, "netns", hosts.generator_ns])  # fmt: skip
        for namespace, device, address in (
            (hosts.server_ns, veth_server, hosts.server_address),
            (hosts.generator_ns, veth_generator, hosts.generator_address),
        ):
            run(["ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", device])
            run(["ip", "-n", namespace, "link", "set", device, "up"])
            run(["ip", "-n", namespace, "link", "set", "lo", "up"])
        for key in ("client_key", "host_key"):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(files / key)])
        (files / "authorized_keys").write_text((files / "client_key.pub").read_text())
        config = files / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress {hosts.generator_address}",
                    f"HostKey {files / 'host_key'}",
                    f"AuthorizedKeysFile {files / 'authorized_keys'}",
                    f"PidFile {files / 'sshd.pid'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",  # the keys live in the test's temporary folder
                    # A client that vanished without closing its connection is dropped within
                    # ~4 s, and its session (the generator's stdin) with it.
                    "ClientAliveInterval 2",
                    "ClientAliveCountMax 2",
                    "LogLevel ERROR",
                ]
            )
            + "\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        hosts.sshd = subprocess.Popen(
            hosts.on_generator([SSHD, "-D", "-e", "-f", str(config)]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(files / "sshd.log", "wb"),  # noqa: SIM115 (closed with the process)
            preexec_fn=die_with_parent(None),
        )
        deadline = time.monotonic() + SSH_READY_TIMEOUT_S
        while True:
            probe = subprocess.run(
                hosts.on_server(["ssh", *hosts.ssh_options(), "-o", "BatchMode=yes", "-o", "ConnectTimeout=2",
                                 f"root@{hosts.generator_address}", "true"]),
                capture_output=True, text=True,
            )  # fmt: skip
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline or hosts.sshd.poll() is not None:
                log = (files / "sshd.log").read_text(errors="replace")
                raise RuntimeError(f"the generator namespace's sshd did not answer: {probe.stderr.strip()} {log}")
            time.sleep(0.2)
    except BaseException:
        hosts.remove()
        raise
    return hosts
