"""`sor`: run a study, check its parameters and see what is left to do, or count a model's FLOPs.

    sor study parameters/embedded.yaml            # every unfinished unit, then the analysis
    sor study parameters/embedded.yaml --jobs 2   # two units side by side
    sor study parameters/embedded.yaml --publish-figures   # then copy its figures into figures/embedded
    sor study parameters/paper.yaml --dry-run     # validate and print the plan, load nothing
    sor study parameters/smoke.yaml --executor slurm   # every unit a Slurm job (runner.slurm)
    sor check parameters/embedded.yaml            # validate, list units and their state
    sor doctor parameters/paper.yaml              # this machine against the study, no weights loaded
    sor doctor parameters/paper.yaml --smoke --scale 7b   # then 20 steps and 8 generations, random weights
    sor jury parameters/paper.yaml                # re-score saved generations with the `jury:` judges
    sor tensorboard parameters/embedded.yaml      # serve every training run's curves, named scale-recipe-seed
    sor readme parameters/embedded.yaml           # the README's accuracy table from accuracy.csv
    sor compare figures/embedded/accuracy.csv runs/embedded/analysis-*/tables/accuracy.csv
    sor flops --config runs/embedded/train/xl-ift-*/model --samples 1000 \
        --prompt-tokens 1000 --completion-tokens 10000 --generated-tokens 10000
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

from . import units
from .config import paths
from .config.params import ParametersError, load_study
from .core.flops import ConfigError
from .orchestration.interface import (
    EXECUTORS,
    STEPS,
    WARMUP_STEPS,
    SlurmUnavailable,
    UnitFailed,
    UnknownNotebookParameter,
)
from .orchestration.lock import StudyLocked
from .orchestration.preflight import check_paths
from .units import STAGES

# Each command imports the heavy libraries it uses (torch, transformers, papermill, lm-eval,
# pandas) in its own function: `sor --help`, a bad argument or `sor check` then answer in about a
# second instead of the ten that loading them all takes.


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sor",
        description="Scale or Reason: compute-equivalent distillation studies",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('scale-or-reason')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = False  # bare `sor` prints the usage and the commands, not one line
    study = commands.add_parser("study", help="run a study end to end (resumes unfinished work)")
    study.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    study.add_argument("--jobs", type=int, default=None, help="units run side by side (default: runner.jobs)")
    study.add_argument(
        "--rerun",
        nargs="+",
        default=(),
        choices=STAGES,
        metavar="STAGE",
        help="redo finished units of these stages: "
        + ", ".join(f"{stage} ({notebook})" for stage, notebook in units.STAGE_NOTEBOOKS.items()),
    )
    study.add_argument(
        "--dry-run", action="store_true", help="validate and print the plan with estimated FLOPs; run nothing"
    )
    study.add_argument(
        "--wait",
        action="store_true",
        help="if another runner holds the study, wait for it instead of stopping",
    )
    study.add_argument(
        "--publish-figures",
        action="store_true",
        help="then copy the study's figures into its committed analysis.figures_dir (what `make study` does)",
    )
    _overrides(study)
    study.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only the units whose key matches (shell style, repeatable: 'train:xs-*'), and what "
        "they need; `sor check` lists the keys",
    )
    study.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="run units on this machine (local) or as Slurm jobs (runner.slurm)",
    )
    jury = commands.add_parser("jury", help="re-score a study's saved generations with its LLM jury")
    jury.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    check = commands.add_parser("check", help="validate a parameters file and list its units")
    check.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    _overrides(check)
    doctor = commands.add_parser(
        "doctor", help="check this machine against a study: packages, devices, memory, disk, models and data"
    )
    doctor.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    doctor.add_argument(
        "--smoke",
        action="store_true",
        help="then train a student with random weights for a few steps and generate for 8 prompts",
    )
    _overrides(doctor)
    doctor.add_argument("--scale", default=None, help="the smoke test's student (default: the largest)")
    doctor.add_argument("--steps", type=_count, default=STEPS, help=f"optimizer steps (default {STEPS})")
    board = commands.add_parser("tensorboard", help="serve the training curves of every run of a study")
    board.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    board.add_argument("--port", type=int, default=6006, help="the port TensorBoard serves on")
    board.add_argument(
        "--print", action="store_true", help="print the tensorboard command instead of running it"
    )
    compare = commands.add_parser(
        "compare",
        help="how many of a rerun's seed means land inside a committed accuracy.csv's prediction intervals",
    )
    compare.add_argument("committed", help="an accuracy.csv, e.g. figures/embedded/accuracy.csv")
    compare.add_argument(
        "rerun", help="the rerun's accuracy.csv (runs/<study>/analysis-*/tables/accuracy.csv)"
    )
    readme = commands.add_parser(
        "readme", help="rewrite the README's accuracy table of a study from its committed accuracy.csv"
    )
    readme.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    readme.add_argument(
        "--readme", default=None, help="the file to rewrite (default: the project's README.md)"
    )
    counter = commands.add_parser("flops", help="parameters and FLOPs of a model config, as JSON")
    counter.add_argument("--config", required=True, help="a config.json, a checkpoint folder, or a hub id")
    counter.add_argument("--samples", type=_count, default=1, help="training sequences (default 1)")
    counter.add_argument("--prompt-tokens", type=_count, default=0, help="prompt length P")
    counter.add_argument("--completion-tokens", type=_count, default=0, help="training target length T")
    counter.add_argument(
        "--generated-tokens", type=_count, default=0, help="tokens generated after the prompt"
    )
    return parser


def _overrides(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="change one parameter for this run (repeatable; dotted key, YAML value: "
        "training.epochs=1, 'seeds=[0, 1]'), validated like the file",
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, but for flags and options whose help already says it."""

    def _get_help_string(self, action):
        unset = action.default is None or action.default is False or action.default == ()
        if unset or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, with exit status 2 and one line for bad arguments (its own default is a usage),
    and every option's default in its help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def _flops(args) -> None:
    import json

    from .core import flops
    from .core.model_configs import load_config

    arch = flops.architecture(load_config(args.config))
    if not (args.prompt_tokens or args.completion_tokens or args.generated_tokens):
        print(
            "note: no --prompt-tokens, --completion-tokens or --generated-tokens: parameter counts only, "
            "every FLOPs figure is 0",
            file=sys.stderr,
        )
    counts = flops.summary(
        arch, args.samples, args.prompt_tokens, args.completion_tokens, args.generated_tokens
    )
    print(json.dumps(counts, indent=2))


def _compare(committed: str, rerun: str) -> None:
    import pandas as pd

    from .analysis.uncertainty import describe_agreement, rerun_agreement

    table = rerun_agreement(pd.read_csv(committed), pd.read_csv(rerun))
    if table.empty:
        raise ParametersError(f"{committed} and {rerun} share no student and benchmark")
    print(describe_agreement(table))
    outside = table[table["inside"].eq(False)]
    if len(outside):
        print(outside.drop(columns="inside").to_string(index=False, float_format="%.3f"))


def _readme(args) -> int:
    from pathlib import Path

    from .analysis.stages import update_readme

    readme = Path(args.readme) if args.readme else paths.project_dir() / "README.md"
    try:
        changed = update_readme(load_study(args.parameters), readme)
    except ValueError as error:  # no figures_dir, or the README lacks the table's markers
        print(f"error: {readme}: {error}", file=sys.stderr)
        return 2
    print(f"{readme}: accuracy table {'rewritten' if changed else 'already up to date'}")
    return 0


def _doctor(args) -> int:
    from .core import machine
    from .orchestration import doctor
    from .orchestration.smoke import describe_smoke, largest_scale, run_smoke

    study = load_study(args.parameters, args.overrides)
    checks = doctor.doctor(study, args.parameters)
    print(doctor.format_checks(checks))
    failed = any(check.status == "fail" for check in checks)
    if not args.smoke:
        return 1 if failed else 0
    if args.steps <= WARMUP_STEPS:
        raise ParametersError(f"--steps must exceed the {WARMUP_STEPS} warm-up steps, not {args.steps}")
    scale = args.scale or largest_scale(study)
    blocking = doctor.smoke_blockers(study, scale, checks)
    if blocking:
        print(f"\nsmoke test of {scale} not run: {blocking}", file=sys.stderr)
        return 1
    record = run_smoke(study, scale, args.steps)
    print("\n" + describe_smoke(record))
    records = machine.record_smoke(record)
    print(f"recorded for {record['device']} in {records}: `sor study --dry-run` uses its MFU")
    return 1 if failed else 0


def _tensorboard(args) -> int:
    import shlex
    import subprocess

    study = load_study(args.parameters)
    found = units.tensorboard_runs(study)
    if not found:
        print(
            f"error: {study.study} has no training run with TensorBoard event files yet "
            "(training.report_to: tensorboard writes them into each training unit)",
            file=sys.stderr,
        )
        return 1
    spec = ",".join(f"{name}:{folder}" for name, folder in found.items())
    command = [sys.executable, "-m", "tensorboard.main", "--logdir_spec", spec, "--port", str(args.port)]
    if args.print:
        print(shlex.join(command))
        return 0
    print(f"{len(found)} runs of {study.study}; serving on http://localhost:{args.port}", flush=True)
    return subprocess.call(command)


def _publish(parameters_file: str) -> None:
    from .analysis.stages import publish_figures

    study = load_study(parameters_file)
    if not study.analysis.figures_dir:
        print(f"nothing published: {study.study} has no analysis.figures_dir", file=sys.stderr)
        return
    compare_before_publishing(study)
    written, removed = publish_figures(study, parameters_file)
    print(f"published {len(written)} files into {study.analysis.figures_dir}")
    if removed:
        print(f"removed figures the study no longer draws: {', '.join(path.name for path in removed)}")


def compare_before_publishing(study) -> None:
    """Set the fresh accuracy table beside the committed one (git's version, else the file last
    published) through the committed prediction intervals, before publishing overwrites it."""
    import io

    import pandas as pd

    from .analysis.stages import PUBLISHED_ACCURACY
    from .analysis.uncertainty import describe_agreement, rerun_agreement
    from .core import files

    fresh = units.analysis_dir(study) / "tables" / PUBLISHED_ACCURACY
    published = paths.resolve(study.analysis.figures_dir) / PUBLISHED_ACCURACY
    text = files.committed_text(published)
    source = "git's version" if text is not None else "the published file"
    if text is None and published.is_file():
        text = published.read_text()
    if text is None or not fresh.is_file():
        return
    table = rerun_agreement(pd.read_csv(io.StringIO(text)), pd.read_csv(fresh))
    if table.empty:
        return
    print(f"this run against {published} ({source}): {describe_agreement(table)}")
    outside = table[table["inside"].eq(False)]
    if len(outside):
        print(outside.drop(columns="inside").to_string(index=False, float_format="%.3f"))


def _check(parameters_file: str, overrides: list[str]) -> None:
    study = load_study(parameters_file, overrides)
    check_paths(study)
    for unit in units.plan(study, parameters_file):
        state = "complete" if units.is_complete(unit.folder) else "to do"
        print(f"{unit.key:<28} {state:<9} {unit.folder}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "parameters", None):
        paths.use_project_of(args.parameters)
    try:
        if args.command == "study":
            if args.jobs is not None and args.jobs < 1:
                raise ParametersError(f"--jobs must be at least 1, not {args.jobs}")
            if args.publish_figures and args.overrides:
                raise ParametersError(
                    "--publish-figures publishes the parameters file's own study: drop --set"
                )
            if args.dry_run:
                from .orchestration.estimates import dry_run

                print(dry_run(args.parameters, tuple(args.overrides), tuple(args.only)))
            else:
                from .orchestration.runner import run_study

                run_study(
                    args.parameters,
                    jobs=args.jobs,
                    rerun=tuple(args.rerun),
                    wait=args.wait,
                    executor=args.executor,
                    overrides=tuple(args.overrides),
                    only=tuple(args.only),
                )
                if args.publish_figures:
                    _publish(args.parameters)
        elif args.command == "tensorboard":
            return _tensorboard(args)
        elif args.command == "doctor":
            return _doctor(args)
        elif args.command == "flops":
            _flops(args)
        elif args.command == "jury":
            from .evaluation.jury import rescore_study

            print(rescore_study(load_study(args.parameters)).to_string(index=False))
        elif args.command == "readme":
            return _readme(args)
        elif args.command == "compare":
            _compare(args.committed, args.rerun)
        else:
            _check(args.parameters, args.overrides)
    except (ParametersError, UnknownNotebookParameter, ConfigError, SlurmUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (UnitFailed, StudyLocked, FileNotFoundError, ConnectionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
