"""python -m harness.ci: the release history spread over CI runners (.github/workflows/releases.yml).

The release environments stay defined once, in asv.releases.json; this module cuts them into
the workflow's jobs and judges what the jobs bring back:

``matrix [--config CONFIG]``
    The jobs as GitHub Actions matrix JSON: one per framework line (the environments that
    name one framework in BENCH_FRAMEWORKS), each with the asv machine its results go under,
    ``ci-<framework>``. A line stays on one machine name from run to run, so its trend is
    one series; hosted runners differ in speed, which is why each run sets a line's releases
    side by side on one runner (against the baseline measured there too), and why the
    regression check judges the cost family's instruction counts, which the runner's speed
    does not move. It needs nothing but asv, so the planning job installs nothing else.
``environments FRAMEWORK [--config CONFIG]``
    asv's names of that line's environments, one a line: the job passes each as ``-E NAME``
    (asv 0.6 selects an environment by its name) to scripts/releases.sh, which then runs
    with the whole config, as a run on one host does.
``regressions ARTIFACTS PREVIOUS``
    Every run the jobs brought (each ARTIFACTS/*/results) against the newest run of the same
    machine and environment in PREVIOUS, the previously published results (a run of the same
    commit too: a weekly run of an unchanged suite is still compared), with
    ``harness.regressions --old-results``; exits 1 if any regressed, naming each. Without a
    previous publication (the first run) or an earlier run of an environment, says so and
    passes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from asv import util

# Not harness.process.ROOT: importing that brings the servers package and its dependencies.
RELEASES_CONFIG = Path(__file__).resolve().parent.parent / "asv.releases.json"
MACHINE_PREFIX = "ci-"
SELECTION = "BENCH_FRAMEWORKS"  # servers.SELECTION_ENV, not imported for the same reason
# harness.interpreters.LATEST_RELEASES_ENV: the latest releases on the other interpreters. No
# job runs those: the jobs' container (python:3.11-bookworm) has one interpreter, and they are
# one environment per interpreter, not a framework's line (scripts/releases.sh runs them).
LATEST_RELEASES = "BENCH_LATEST_RELEASES"


def _framework(variables: dict) -> str:
    return variables.get(SELECTION, "").strip()


def jobs(config: Path = RELEASES_CONFIG) -> list[dict[str, str | int]]:
    """One job per framework named by the config's environments, in their order, with the
    number of environments it measures."""
    conf = util.load_json(str(config), js_comments=True)
    counts: dict[str, int] = {}
    for entry in conf.get("include", []):
        if entry.get("env_nobuild", {}).get(LATEST_RELEASES):
            continue
        framework = _framework(entry.get("env_nobuild", {}))
        if not framework or "," in framework:
            raise SystemExit(f"ci: every release environment must name one framework in {SELECTION}: {entry}")
        counts[framework] = counts.get(framework, 0) + 1
    return [{"framework": name, "machine": MACHINE_PREFIX + name, "environments": n} for name, n in counts.items()]


def environments(framework: str, config: Path = RELEASES_CONFIG) -> list[str]:
    """asv's names of ``framework``'s environments in ``config``, as ``asv run -E`` takes them."""
    from asv import environment
    from asv.config import Config

    conf = Config.load(str(config))
    names = [
        env.name
        for env in environment.get_environments(conf, None, verbose=False)
        if _framework(env.env_vars) == framework
    ]
    if not names:
        raise SystemExit(f"ci: {config} has no release environment for {framework!r} that this host can make")
    return names


def regressions(artifacts: Path, previous: Path) -> int:
    """Each run the jobs brought against the newest previously published run of its machine
    and environment; 1 if any regressed, else 0."""
    from harness import regressions as judge
    from harness.report.results import load_runs

    new = [(job, run) for job in sorted(artifacts.glob("*/results")) for run in load_runs(job)]
    if not new:
        print(f"ci: no job brought results ({artifacts})", file=sys.stderr)
        return 1
    if not previous.is_dir():
        print(f"ci: no previous publication ({previous}): nothing to compare with")
    published = load_runs(previous) if previous.is_dir() else []
    status, judged = 0, 0
    for job, run in sorted(new, key=lambda pair: (pair[1].machine, pair[1].env, pair[1].recency)):
        earlier = [r for r in published if r.machine == run.machine and r.env == run.env]
        if not earlier:
            print(f"{run.machine} {run.env}: nothing published earlier to compare with")
            continue
        old = max(earlier, key=lambda r: r.recency)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = judge.main(
                ["--results", str(job), "--old-results", str(previous), "--machine", run.machine,
                 "--env", run.env, "--commits", old.commit, run.commit]
            )  # fmt: skip
        judged += 1
        print(f"{run.machine} {run.env}: {old.commit[:8]} -> {run.commit[:8]}: {'REGRESSION' if code else 'ok'}")
        if code:
            print("\n".join("    " + line for line in out.getvalue().splitlines()))
        status = max(status, code)
    verdict = "regressions found" if status else "none regressed"
    print(f"ci: {judged} of {len(new)} runs compared with the previous publication, {verdict}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.ci", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    matrix = sub.add_parser("matrix", help="the workflow's jobs, as matrix JSON")
    matrix.add_argument("--config", type=Path, default=RELEASES_CONFIG)
    envs = sub.add_parser("environments", help="asv's names of one line's environments, one a line")
    envs.add_argument("framework")
    envs.add_argument("--config", type=Path, default=RELEASES_CONFIG)
    judged = sub.add_parser("regressions", help="the jobs' runs against the previous publication")
    judged.add_argument("artifacts", type=Path, help="one folder per job, each holding results/")
    judged.add_argument("previous", type=Path, help="the previously published results folder (may be absent)")
    args = parser.parse_args(argv)
    if args.command == "matrix":
        print(json.dumps({"include": jobs(args.config)}))
        return 0
    if args.command == "environments":
        print("\n".join(environments(args.framework, args.config)))
        return 0
    return regressions(args.artifacts, args.previous)


if __name__ == "__main__":
    sys.exit(main())
