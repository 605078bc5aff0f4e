"""python -m harness.ci: the release history spread over CI runners (.github/workflows/releases.yml).

The release environments stay defined once, in asv.releases.json; this module cuts them into
the workflow's jobs and judges what the jobs bring back:

``matrix [CONFIG]``
    The jobs as GitHub Actions matrix JSON: one per framework line (the environments that
    name one framework in BENCH_FRAMEWORKS), each with the asv machine its results go under,
    ``ci-<framework>``. A line stays on one machine name from run to run, so its trend is
    one series; the runners differ, which is why each run compares releases side by side on
    one runner, and the cost family's instruction counts, which the runner does not move.
``config FRAMEWORK OUT [CONFIG]``
    That job's asv config: CONFIG with only the framework's environments, everything else
    (results and html folders, build, benchmarks) as it was, so its results files are named
    as a whole run's would be.
``regressions RESULTS ARTIFACTS``
    For every run the jobs brought (each ARTIFACTS/*/results), harness.regressions against
    the newest earlier commit in the same machine and environment in RESULTS (where the
    previously published results were merged in); exits 1 if any regressed, naming each. With
    nothing earlier (the first run), says so and passes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from asv import util

from harness.process import ROOT
from harness.report.results import load_runs

RELEASES_CONFIG = ROOT / "asv.releases.json"
MACHINE_PREFIX = "ci-"


def _framework(entry: dict) -> str:
    return entry.get("env_nobuild", {}).get("BENCH_FRAMEWORKS", "").strip()


def jobs(config: Path = RELEASES_CONFIG) -> list[dict[str, str]]:
    """One job per framework named by the config's environments, in their order."""
    conf = util.load_json(str(config), js_comments=True)
    names = []
    for entry in conf.get("include", []):
        framework = _framework(entry)
        if not framework or "," in framework:
            raise SystemExit(f"ci: every release environment must name one framework in BENCH_FRAMEWORKS: {entry}")
        if framework not in names:
            names.append(framework)
    return [{"framework": name, "machine": MACHINE_PREFIX + name} for name in names]


def job_config(framework: str, out: Path, config: Path = RELEASES_CONFIG) -> int:
    """Write the config of ``framework``'s job; the number of its environments."""
    conf = util.load_json(str(config), js_comments=True)
    conf["include"] = [entry for entry in conf.get("include", []) if _framework(entry) == framework]
    if not conf["include"]:
        raise SystemExit(f"ci: {config} has no release environment for {framework!r}")
    # Relative folders as the full config means them: from the checkout, not from OUT's folder.
    base = config.resolve().parent
    for key in ("repo", "benchmark_dir", "results_dir", "html_dir", "env_dir"):
        if key in conf and not Path(conf[key]).is_absolute():
            conf[key] = str(base / conf[key])
    conf.setdefault("results_dir", str(base / "results"))
    conf.setdefault("html_dir", str(base / "html"))
    conf.setdefault("env_dir", str(base / ".asv" / "env"))
    out.write_text(json.dumps(conf, indent=1))
    return len(conf["include"])


def regressions(results: Path, artifacts: Path) -> int:
    """Each run the jobs brought against the newest earlier commit of its machine and environment."""
    from harness import regressions as judge

    runs = load_runs(results)
    new = [run for job in sorted(artifacts.glob("*/results")) for run in load_runs(job)]
    if not new:
        print(f"ci: no job brought results ({artifacts})", file=sys.stderr)
        return 1
    status, judged = 0, 0
    for run in sorted(new, key=lambda r: (r.machine, r.env)):
        earlier = [
            r
            for r in runs
            if r.machine == run.machine and r.env == run.env and r.commit != run.commit and r.recency < run.recency
        ]  # fmt: skip
        if not earlier:
            print(f"{run.machine} {run.env}: nothing earlier to compare with")
            continue
        old = max(earlier, key=lambda r: r.recency)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = judge.main(
                ["--results", str(results), "--machine", run.machine, "--env", run.env,
                 "--commits", old.commit, run.commit]
            )  # fmt: skip
        judged += 1
        verdict = "REGRESSION" if code else "ok"
        print(f"{run.machine} {run.env}: {old.commit[:8]} -> {run.commit[:8]}: {verdict}")
        if code:
            print("\n".join("    " + line for line in out.getvalue().splitlines()))
        status = max(status, code)
    verdict = "regressions found" if status else "none regressed"
    print(f"ci: {judged} environments compared with earlier results, {verdict}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.ci", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    matrix = sub.add_parser("matrix")
    matrix.add_argument("config", nargs="?", type=Path, default=RELEASES_CONFIG)
    one = sub.add_parser("config")
    one.add_argument("framework")
    one.add_argument("out", type=Path)
    one.add_argument("config", nargs="?", type=Path, default=RELEASES_CONFIG)
    judged = sub.add_parser("regressions")
    judged.add_argument("results", type=Path)
    judged.add_argument("artifacts", type=Path)
    args = parser.parse_args(argv)
    if args.command == "matrix":
        print(json.dumps({"include": jobs(args.config)}))
        return 0
    if args.command == "config":
        count = job_config(args.framework, args.out, args.config)
        print(f"ci: {args.out}: {count} environments of {args.framework}", file=sys.stderr)
        return 0
    return regressions(args.results, args.artifacts)


if __name__ == "__main__":
    sys.exit(main())
