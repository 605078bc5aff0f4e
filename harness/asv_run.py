"""python -m harness.asv_run: the scripts' asv run, on this host's own machine, judged by the results it wrote.

``machine`` prints this host's asv machine name (the one ``asv machine --yes`` gives it:
the hostname), registering it in ~/.asv-machine.json when absent. ``run`` does that, creates
every environment the config defines itself, one per CPU at a time (asv 0.6 aborts the whole
run when one cannot be created), runs ``asv run --machine <that name>`` in those it could create, then
judges each environment from the results files: measured in this run, already measured by
an earlier one, or not measured, with the cause. It exits 1 when nothing was measured (the
caller must not publish), 0 otherwise, naming every environment that was not measured.
``dirs`` prints a config's results and html folders.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from asv import environment, util
from asv.commands import make_argparser
from asv.config import Config
from asv.console import log
from asv.machine import Machine, MachineCollection
from asv.repo import get_repo
from asv.results import Results, get_existing_hashes, get_filename

from harness import environments, interpreters, shared
from harness.compare import PRIMARY_PYTHON_ENV, QUICK_ENV
from harness.cost import store
from harness.report.interpreters import load_verdicts, verdicts_path
from harness.report.results import QUICK_SUFFIX, headline_classes

ASV = [sys.executable, "-m", "asv"]
OK_STATUSES = ("measured", "kept")
# An interpreter the config names that this host does not have: n/a, neither measured nor a failure.
NO_INTERPRETER = "no interpreter"
CAUSE_CHARS = 300  # a cause is one line of a summary; the full output is above it
# Creating an environment (virtualenv, then the installs) measures nothing, so it may use every
# core: one at a time, the release history's 48 took 12 to 25 s each with pip, 14 minutes in
# all. uv's calls wait on the package index more than they compute: two per core made the
# default run's four in 40 s, one per core in 48 (pip, one per core: 103).
CREATE_WORKERS = max(1, len(os.sched_getaffinity(0)))
CREATE_WORKERS_UV = 2 * CREATE_WORKERS


def asv_home_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) with HOME at ``home``, which is created: asv keeps its
    machine file at ``os.path.expanduser('~/.asv-machine.json')``, so a run with this
    environment leaves the user's own file alone (so do pip's cache and virtualenv's seed data)."""
    home.mkdir(parents=True, exist_ok=True)
    return {**(os.environ if base is None else base), "HOME": str(home)}


def machine_file() -> Path:
    """Where asv 0.6 reads and writes its machines (through HOME)."""
    return Path(MachineCollection.get_machine_file_path())


def host_machine_name() -> str:
    """The name ``asv machine --yes`` gives this host: asv's default, the node name."""
    return Machine.get_defaults()["machine"]


def registered_machines() -> list[str]:
    path = machine_file()
    if not path.is_file():
        return []
    return [name for name in util.load_json(str(path), MachineCollection.api_version) if name != "version"]


def ensure_machine(quick: bool = False) -> tuple[str, bool]:
    """This host's machine name (with QUICK_SUFFIX for a quick pass), and whether it had to
    be registered now.

    The entry is looked up by its exact name: asv itself, asked for the hostname, answers
    with whatever single machine the file holds (MachineCollection.load), which is how a
    test's "smoke" machine once received a user's real results.
    """
    name = host_machine_name() + (QUICK_SUFFIX if quick else "")
    if name in registered_machines():
        return name, False
    # What `asv machine --yes` stores (asv's defaults), without its "no information" error first.
    MachineCollection.save(name, {**Machine.get_defaults(), "machine": name})
    return name, True


@dataclass(frozen=True)
class Verdict:
    """What one environment gave for one commit."""

    env: str
    commit: str
    status: str  # measured, kept, not created, not built, nothing ran, failed, no results, no interpreter
    detail: str
    python: str = ""

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def unavailable(self) -> bool:
        """An interpreter this host lacks: n/a with the reason, no failure of the run."""
        return self.status == NO_INTERPRETER


def _values(results: Results, key: str) -> list:
    value = results.get_result_value(key, results.get_result_params(key))
    return value if isinstance(value, list) else [value]


def _finite(value) -> bool:
    return isinstance(value, int | float) and not math.isnan(value)


def judge_one(
    results_dir: Path,
    machine: str,
    env: str,
    commit: str,
    since_ms: float,
    built: bool | None = None,
    asv_completed: bool = True,
) -> Verdict:
    """One environment at one commit, from its results file (asv 0.6 format).

    A benchmark belongs to this run when asv stamped it (started_at) at or after ``since_ms``;
    older values in the same file were merged in by asv from earlier runs. Those count as
    kept only when asv went through its run (``asv_completed``) and so chose to skip them.
    ``built``: whether the project is installed in the environment at ``commit`` (None: unknown).
    """
    path = results_dir / get_filename(machine, commit, env)
    if not path.is_file():
        return Verdict(env, commit, "no results", f"asv wrote no results for it ({path} is missing)")
    results = Results.load(str(path))
    keys = list(results.get_all_result_keys())
    fresh = [key for key in keys if (results.started_at.get(key) or 0) >= since_ms]
    if not fresh:
        earlier = any(_finite(v) for key in keys for v in _values(results, key))
        if earlier and asv_completed:
            return Verdict(env, commit, "kept", "measured by an earlier run: asv skipped it (results kept)")
        if earlier:
            return Verdict(env, commit, "no results", "asv run failed before measuring it (only older results exist)")
        return Verdict(env, commit, "no results", "asv ran nothing in it in this run and it holds no value")
    values = [v for key in fresh for v in _values(results, key)]
    measured = sum(map(_finite, values))
    failed = sum(1 for key in fresh if any(v is None for v in _values(results, key)))
    if measured:
        detail = f"{measured} values from {len(fresh)} benchmarks"
        return Verdict(env, commit, "measured", detail + (f"; {failed} benchmarks failed" if failed else ""))
    # asv records no duration for a benchmark it skipped rather than ran.
    if all(results.duration.get(key) is None for key in fresh):
        if built is False:
            return Verdict(
                env, commit, "not built",
                f"the project could not be built or installed in it, so asv skipped all {len(fresh)} benchmarks "
                f"(see 'Building for {env}' in asv's output above)",
            )  # fmt: skip
        return Verdict(
            env, commit, "nothing ran",
            f"asv skipped all {len(fresh)} benchmarks: the project did not install, the suite did not import "
            "or every setup_cache failed (see asv's output above)",
        )  # fmt: skip
    if failed:
        return Verdict(env, commit, "failed", f"all {failed} benchmarks failed (see asv's output above)")
    return Verdict(env, commit, "failed", f"none of its {len(fresh)} benchmarks gave a value (all n/a)")


def judge(
    results_dir: Path,
    machine: str,
    envs: list[str],
    commits: list[str],
    since_ms: float,
    not_created: Mapping[str, str] | None = None,
    installed: Mapping[str, str | None] | None = None,
    asv_status: int | None = 0,
) -> list[Verdict]:
    """Every environment at every commit: ``not_created`` maps the environments asv could not
    create to the cause; ``installed`` is each environment's installed commit after the run;
    ``asv_status`` is asv run's exit status (None: not started), which tells only whether it
    went through its run (0, or 2 when a benchmark failed) or stopped early."""
    completed = asv_status in (0, 2)
    verdicts = []
    for env in envs:
        for commit in commits:
            if not_created and env in not_created:
                verdicts.append(Verdict(env, commit, "not created", f"asv could not create it: {not_created[env]}"))
            else:
                built = None if installed is None or env not in installed else installed[env] == commit
                verdicts.append(judge_one(results_dir, machine, env, commit, since_ms, built, completed))
    return verdicts


def report(label: str, verdicts: list[Verdict], machine: str, config: Path, asv_status: int | None) -> str:
    """The closing summary: one line per environment (and commit), then the verdict."""
    commits = sorted({v.commit for v in verdicts})
    ran = "asv run was not started" if asv_status is None else f"asv run exited {asv_status}"
    lines = [f"{label}: summary for machine {machine!r}, {config}, commit {', '.join(c[:8] for c in commits)} ({ran})"]
    for v in verdicts:
        where = v.env if len(commits) == 1 else f"{v.env} @ {v.commit[:8]}"
        mark = "ok" if v.ok else "n/a" if v.unavailable else "NOT MEASURED"
        lines.append(f"  {mark:<12} {where}: {v.status}: {v.detail}")
    missing = [v for v in verdicts if v.unavailable]
    verdicts = [v for v in verdicts if not v.unavailable]
    bad = [v for v in verdicts if not v.ok]
    unit = "environments" if len(commits) == 1 else "environment-commit pairs"
    good = len(verdicts) - len(bad)
    if missing:
        pythons = ", ".join(sorted({v.python for v in missing}))
        lines.append(f"{label}: n/a on this host: Python {pythons} (not installed; see the lines above).")
    if not bad:
        lines.append(f"{label}: all {len(verdicts)} {unit} measured.")
    elif good:
        names = ", ".join(v.env if len(commits) == 1 else f"{v.env} @ {v.commit[:8]}" for v in bad)
        lines.append(
            f"{label}: WARNING: {len(bad)} of {len(verdicts)} {unit} NOT measured ({names}): "
            "their results are missing; the others are published."
        )
    else:
        lines.append(f"{label}: FAILED: nothing was measured ({len(bad)} of {len(verdicts)} {unit} failed, named "
                     "above); nothing is published.")  # fmt: skip
    return "\n".join(lines)


def exit_status(verdicts: list[Verdict]) -> int:
    """1 when nothing was measured (nor already measured), else 0."""
    return 0 if any(v.ok for v in verdicts) else 1


def configured_pythons(conf: Config) -> list[str]:
    """The versions a config names: its ``pythons``, then any an ``include`` entry adds."""
    named = [str(p) for p in conf.pythons]
    named += [str(entry["python"]) for entry in getattr(conf, "include", None) or [] if "python" in entry]
    return [p for p in dict.fromkeys(named) if p != "same"]


def use_interpreters(conf: Config, label: str) -> list[interpreters.Interpreter]:
    """Looks up every configured Python (harness.interpreters) and puts those found first on
    PATH, for asv here and for the asv run it starts; returns them all, found or not."""
    found = interpreters.find_all(configured_pythons(conf))
    folder = interpreters.link_folder(found, Path(conf.env_dir) / ".pythons")
    os.environ["PATH"] = interpreters.with_folder_first(folder)
    for interpreter in found:
        if interpreter.found:
            print(f"{label}: Python {interpreter.version}: {interpreter.executable}")
        else:
            print(f"{label}: Python {interpreter.version}: n/a: {interpreter.reason}")
    return found


def record_verdicts(results_dir: Path, machine: str, verdicts: list[Verdict]) -> None:
    """Keeps each commit's verdicts beside its profiles (report.interpreters.verdicts_path), merged with earlier
    runs' by environment, so that the site can say why an environment or interpreter has no
    figures; an environment measured once stays measured when a later run only kept it."""
    for commit in sorted({v.commit for v in verdicts}):
        path = verdicts_path(results_dir, machine, commit)
        known = load_verdicts(results_dir, machine, commit)
        for v in verdicts:
            if v.commit != commit or (v.status == "kept" and v.env in known):
                continue
            known[v.env] = {"python": v.python, "status": v.status, "detail": v.detail}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")


def parse_run_args(config: Path, asv_args: list[str]) -> argparse.Namespace:
    """asv run's own reading of the arguments (range, -E, --machine, ...)."""
    parser, _ = make_argparser()
    return parser.parse_args(["run", "--config", str(config), *asv_args])


def resolve_commits(conf: Config, args: argparse.Namespace) -> list[str]:
    """The commits asv run will measure for these arguments, as asv 0.6's Run.run picks them;
    resolved before the run, so NEW and EXISTING mean what they meant to asv."""
    repo = get_repo(conf)
    spec = args.range
    old = None
    if spec is None:
        hashes = list(dict.fromkeys(repo.get_hash_from_name(branch) for branch in conf.branches))
    elif spec == "EXISTING":
        hashes = get_existing_hashes(conf.results_dir)
    elif spec == "NEW":
        old = get_existing_hashes(conf.results_dir)
        hashes = repo.get_new_branch_commits(conf.branches, old)
    elif spec == "TAGS":
        hashes = list(reversed(list(repo.get_tags().keys())))
    elif spec == "ALL":
        hashes = repo.get_new_branch_commits(conf.branches, [])
    elif spec == "HEAD":
        hashes = [repo.get_hash_from_name("HEAD")]
    elif spec.startswith("HASHFILE:"):
        if spec == "HASHFILE:-":
            raise util.UserError("HASHFILE:- is not supported here: name a file")
        names = Path(spec[len("HASHFILE:") :]).read_text().split()
        hashes = [repo.get_hash_from_name(name) for name in names]
    else:
        hashes = repo.get_hashes_from_range(spec)
    if args.date_period is not None:
        hashes = repo.filter_date_period(hashes, args.date_period, old)
    if args.steps is not None:
        hashes = util.pick_n(hashes, args.steps)
    return hashes


def failure_cause(output: str) -> str:
    """The line of a failed command's output that says why: pip's last ERROR, else the last error."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for wanted in (lambda line: line.startswith("ERROR:"), lambda line: "error" in line.lower()):
        found = [line for line in lines if wanted(line)]
        if found:
            return found[-1][:CAUSE_CHARS]
    return lines[-1][:CAUSE_CHARS] if lines else ""


def create_environment(env: environment.Environment) -> str | None:
    """Create ``env`` as asv setup would (asv prints the failing command's output); None, or the cause.

    Here rather than by asv setup, because asv 0.6's run and setup abort altogether when one
    environment cannot be created (and asv setup exits 1 even when it succeeds).
    """
    try:
        env.create()
    except util.ProcessError as exc:
        return failure_cause(f"{exc.stdout}\n{exc.stderr}") or str(exc)
    except (util.UserError, OSError) as exc:
        return str(exc)
    return None


def _without_env_options(asv_args: list[str]) -> list[str]:
    # The run is then restricted to the environments that were created, by name.
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-E", "--environment", action="append")
    parser.add_argument("--python", action="append")
    return parser.parse_known_args(asv_args)[1]


def run(label: str, config: Path, asv_args: list[str], summary: Path | None = None) -> int:
    """The scripts' measuring step; see the module's docstring. Returns the exit status."""
    if asv_args[:1] == ["--"]:
        asv_args = asv_args[1:]
    args = parse_run_args(config, asv_args)
    quick = args.quick and not args.env_spec
    if quick:
        if args.range is not None:
            print(f"{label}: --quick measures the working tree as it is, filed under HEAD: it takes no revision "
                  f"range ({args.range})", file=sys.stderr)  # fmt: skip
            return 2
        asv_args, args = quick_pass(config, asv_args)
    elif args.range is None:  # options alone: the current commit, as with no argument at all
        asv_args = [*asv_args, "HEAD^!"]
        args = parse_run_args(config, asv_args)
    conf = Config.load(str(config))
    if args.dry_run:
        print(f"{label}: --dry-run records nothing to publish; run asv directly", file=sys.stderr)
        return 2
    pythons = [] if quick else use_interpreters(conf, label)
    primary = interpreters.primary(configured_pythons(conf)) if pythons else ""
    envs = list(environment.get_environments(conf, args.env_spec, verbose=False))
    if any(isinstance(env, environment.ExistingEnvironment) for env in envs) and not quick:
        print(f"{label}: measures in asv's own environments; for this interpreter run asv run --python=same "
              "directly (README.md, Running part of it)", file=sys.stderr)  # fmt: skip
        return 2
    if not envs:
        print(f"{label}: FAILED: no environment of {config} can be made on this host "
              f"(pythons {conf.pythons} not found?); nothing is published.")  # fmt: skip
        return 1
    wanted = {env.python for env in envs}
    absent = [p for p in pythons if not p.found and (not args.env_spec or p.version in wanted)]
    commits = [get_repo(conf).get_hash_from_name("HEAD")] if quick else resolve_commits(conf, args)
    if not commits:
        print(f"{label}: FAILED: the arguments {asv_args} select no commit; nothing is published.")
        return 1
    host = host_machine_name()
    if args.quick and args.machine:
        print(f"{label}: --quick records under this host's quick machine ({host}{QUICK_SUFFIX}); leave --machine "
              "out", file=sys.stderr)  # fmt: skip
        return 2
    if args.machine and args.machine != host:
        machine = args.machine
        if machine not in registered_machines():
            print(f"{label}: machine {machine!r} is not in {machine_file()}: register it with "
                  f"asv machine --machine {machine}, or leave --machine out to use this host's own entry",
                  file=sys.stderr)  # fmt: skip
            return 2
    else:
        machine, registered = ensure_machine(quick=args.quick)
        if registered:
            print(f"{label}: registered this host as asv machine {machine!r} in {machine_file()} "
                  "(as asv machine --yes would)")  # fmt: skip
    if args.quick:
        # One short window per figure (harness.compare.quick), kept apart from the full runs'
        # history under its own machine: the site marks it, and no trend mixes the two.
        print(f"{label}: quick pass: every class once in short windows, recorded as machine {machine!r}")
    print(f"{label}: machine {machine!r}, {len(envs)} environments, commits {', '.join(c[:8] for c in commits)}")

    log.enable()
    not_created = {}
    uv = environments.uv_binary()
    envs = [environments.with_uv(env, uv) for env in envs]
    installer, workers = ("uv (pip where it fails)", CREATE_WORKERS_UV) if uv else ("pip", CREATE_WORKERS)
    print(f"{label}: creating {len(envs)} environment(s), {workers} at a time, installing with {installer}",
          flush=True)  # fmt: skip
    with log.set_level(logging.WARNING), ThreadPoolExecutor(workers) as pool:
        creating = [pool.submit(create_environment, env) for env in envs]
        try:
            for env, future in zip(envs, creating, strict=True):
                cause = future.result()
                log.flush()  # asv leaves its last line open
                if cause is not None:
                    not_created[env.name] = cause
                    print(f"{label}: could not create {env.name}: {cause}", flush=True)
        except BaseException:  # interrupted: create no other environment
            pool.shutdown(cancel_futures=True)
            raise
    created = [env.name for env in envs if env.name not in not_created]

    asv_status = None
    since_ms = time.time() * 1000
    # The cost benchmarks save their profiles beside the results of this machine (harness/cost/store.py).
    env = {**os.environ, store.RESULTS_ENV: str(Path(conf.results_dir).resolve()), store.MACHINE_ENV: machine}
    if args.quick:
        env[QUICK_ENV] = "1"
    if uv:
        env[environments.UV_ENV] = uv  # the suite's install command installs with it (scripts/suite_wheel.py)
    if primary:
        env[PRIMARY_PYTHON_ENV] = primary
    for names, extra in asv_passes(envs, created, primary, asv_args):
        given = _without_bench_options(asv_args) if "--bench" in extra else asv_args  # extra narrows them
        selected = asv_args if names is None else [*_without_env_options(given), *_env_options(names), *extra]
        sys.stdout.flush()
        command = [*ASV, "run", "--config", str(config), "--machine", machine, *selected]
        # Measurements that several classes take alike are taken once (harness/shared.py).
        with shared.sharing(selected) as sharing_env:
            status = subprocess.run(command, env={**env, **sharing_env}).returncode
        # asv's own meaning: 0 all well, 2 a benchmark failed, anything else it stopped early.
        asv_status = status if asv_status in (None, 0) or status not in (0, 2) else asv_status
    installed = None if quick else {env.name: env.installed_commit_hash for env in envs}
    names = [env.name for env in envs]
    verdicts = judge(Path(conf.results_dir), machine, names, commits, since_ms, not_created, installed, asv_status)
    by_name = {env.name: str(env.python) for env in envs}
    verdicts = [dataclasses.replace(v, python=by_name.get(v.env, "")) for v in verdicts]
    verdicts += [
        Verdict(f"py{p.version}", c, NO_INTERPRETER, p.reason, python=p.version) for p in absent for c in commits
    ]
    if not quick:
        record_verdicts(Path(conf.results_dir), machine, verdicts)
    text = report(label, verdicts, machine, config, asv_status)
    print("\n" + text)
    if summary is not None:
        summary.write_text(text + "\n")
    return exit_status(verdicts)


def quick_pass(config: Path, asv_args: list[str]) -> tuple[list[str], argparse.Namespace]:
    """asv run's arguments for a quick pass (asv's --quick; scripts/bench.sh --quick): it checks
    the working tree as it is, in this interpreter's .venv (the frameworks scripts/setup.sh
    installed: no environment to create, no wheel to build), filed under HEAD (asv takes no
    range for it), and always measures: the tree may have changed since the last pass at the
    same commit."""
    kept = [a for a in asv_args if a not in ("--skip-existing-successful", "--skip-existing")]
    asv_args = [*kept, "--python=same", "--set-commit-hash", "HEAD"]
    return asv_args, parse_run_args(config, asv_args)


def asv_passes(
    envs: list[environment.Environment], created: list[str], primary: str, asv_args: list[str]
) -> list[tuple[list[str] | None, list[str]]]:
    """The asv runs to make: (environment names, or None for the arguments as given; extra
    arguments). Environments on the primary interpreter run what the arguments select; those
    on the others run only the headline and its cost (harness/interpreters.py says why),
    unless the arguments name benchmarks themselves. One pass when nothing needs splitting."""
    if not created:
        return []
    others = [e.name for e in envs if e.name in created and primary and str(e.python) != primary]
    if not others:
        return [(None if len(created) == len(envs) else created, [])]
    firsts = [name for name in created if name not in others]
    chosen = shared.bench_patterns(asv_args)  # the release history names the headline's
    patterns = without_syscalls(chosen) if chosen else [other_interpreters_pattern()]
    narrowed = [arg for pattern in patterns for arg in ("--bench", pattern)]
    return [*([(firsts, [])] if firsts else []), (others, narrowed)]


def other_interpreters_pattern() -> str:
    """asv's --bench on the interpreters after the primary: the headline and its instructions per
    op, which the site compares across interpreters, not its system calls (counting them took
    ~15 s an interpreter of the default run; the primary interpreter counts them). When the
    arguments name benchmarks, those, without system calls (without_syscalls)."""
    names = [name.replace(".", r"\.") + r"\." for name in headline_classes()]
    return "^(" + "|".join([*names, r"bench_cost\.HeadlineCost\.track_instructions_per_op"]) + ")"


def without_syscalls(patterns: list[str]) -> list[str]:
    """asv --bench ``patterns`` narrowed to leave track_syscalls_per_op out, for the other
    interpreters when the arguments name benchmarks (the release history does)."""
    return [rf"^(?!.*\.track_syscalls_per_op)(?=.*(?:{pattern}))" for pattern in patterns]


def _without_bench_options(asv_args: list[str]) -> list[str]:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-b", "--bench", action="append")
    return parser.parse_known_args(asv_args)[1]


def _env_options(names: list[str]) -> list[str]:
    return [option for name in names for option in ("-E", name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.asv_run", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("machine", help="print this host's asv machine name, registering it if absent")
    measure = commands.add_parser("run", help="setup, asv run on this host's machine, and the verdict")
    measure.add_argument("--config", type=Path, default=Path("asv.conf.json"))
    measure.add_argument("--label", default="asv_run", help="names the caller in messages")
    measure.add_argument("--summary", type=Path, help="also write the closing summary here")
    measure.add_argument("asv_args", nargs=argparse.REMAINDER, help="-- then asv run's arguments")
    dirs = commands.add_parser("dirs", help="print the config's results and html folders, one a line")
    dirs.add_argument("--config", type=Path, default=Path("asv.conf.json"))
    args = parser.parse_args(argv)
    try:
        if args.command == "machine":
            name, registered = ensure_machine()
            if registered:
                print(f"registered this host as asv machine {name!r} in {machine_file()}", file=sys.stderr)
            print(name)
            return 0
        if args.command == "dirs":
            conf = Config.load(str(args.config))
            print(conf.results_dir)
            print(conf.html_dir)
            return 0
        return run(args.label, args.config, args.asv_args, args.summary)
    except (util.UserError, util.ProcessError) as exc:
        # A missing config, an unknown branch or revision: asv's own words, no traceback.
        print(f"{getattr(args, 'label', 'asv_run')}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
