"""wrk as an independent check of the Python generator's HTTP figures.

wrk (C, epoll) does not verify bodies, so a request is first checked once by hand
(status, content type, exact body); during the run any non-2xx response or socket error
fails the check. Returns requests per second, for an agreement check against the suite's generator (harness/loadgen).
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import urllib.request

from harness.process import ServerProcess, cpu_plan, die_with_parent
from harness.workloads import BASELINE_LOOP
from servers import contract

WRK = "wrk"
EXPECTED = {
    contract.JSON: (contract.APPLICATION_JSON, None),  # body depends on the codec: checked as JSON
    contract.PLAINTEXT: (contract.TEXT_PLAIN, contract.PLAINTEXT_BODY),
}


class WrkError(RuntimeError):
    pass


def parse_wrk_output(output: str) -> float:
    """Requests/sec from wrk's report; WrkError on any error count or a missing figure."""
    for problem in ("Non-2xx or 3xx responses", "Socket errors"):
        if problem in output:
            line = next(line for line in output.splitlines() if problem in line)
            raise WrkError(f"wrk reported {line.strip()!r}")
    match = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not match:
        raise WrkError(f"no Requests/sec in wrk's output:\n{output[-1000:]}")
    return float(match.group(1))


def check_once(url: str, path: str, context: ssl.SSLContext | None = None) -> None:
    """One request by hand, verified, before wrk's unverified flood; over https the server is
    verified against ``context`` (wrk itself verifies no certificate)."""
    content_type, body = EXPECTED[path]
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        got = response.read()
        if response.status != 200 or not (response.headers.get("Content-Type") or "").startswith(content_type):
            raise WrkError(f"GET {url}: status {response.status}, content type {response.headers.get('Content-Type')}")
    if (body is not None and got != body) or (body is None and json.loads(got) != contract.JSON_MESSAGE):
        raise WrkError(f"GET {url}: wrong body {got[:80]!r}")


def wrk_requests_per_second(
    url: str, *, connections: int = 64, duration_s: float = 2.0, threads: int = 1, cpu: int | None = None
) -> float:
    """Run wrk against ``url`` (pinned to ``cpu``) and return its requests per second."""
    if shutil.which(WRK) is None:
        raise WrkError("wrk is not installed (Debian package wrk)")
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s", url]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 30, preexec_fn=die_with_parent(cpu)
    )
    if result.returncode != 0:
        raise WrkError(f"wrk exited with status {result.returncode}: {result.stderr.strip()[-500:]}")
    return parse_wrk_output(result.stdout)


def wrk_get(
    framework: str,
    path: str = contract.JSON,
    *,
    connections: int = 64,
    duration_s: float = 2.0,
    loop: str = "asyncio",
    json_codec: str = "stdlib",
) -> float:
    """Requests per second wrk gets from ``framework``'s server on GET ``path``, with the
    server pinned as compare() pins it (the baseline on its own loop, as there)."""
    if path not in EXPECTED:
        raise ValueError(f"no expected response known for GET {path}")
    server_cpu, generator_cpus = cpu_plan()
    server_loop = BASELINE_LOOP if framework == "baseline" else loop
    with ServerProcess(framework, loop=server_loop, json_codec=json_codec, cpu=server_cpu) as server:
        url = server.url(path)
        check_once(url, path)
        rate = wrk_requests_per_second(url, connections=connections, duration_s=duration_s, cpu=generator_cpus[0])
        server.check_alive()
    return rate
