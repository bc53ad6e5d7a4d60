"""`sor`: run a study, or check its parameters and see what is left to do.

    sor study parameters/embedded.yaml            # every unfinished unit, then the analysis
    sor study parameters/embedded.yaml --jobs 2   # two units side by side
    sor check parameters/embedded.yaml            # validate, list units and their state
"""

from __future__ import annotations

import argparse
import sys

from . import store
from .params import ParametersError, load_study
from .runner import STAGES, UnitFailed, UnknownNotebookParameter, plan, run_study


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sor", description="Scale or Reason: compute-equivalent distillation studies")
    commands = parser.add_subparsers(dest="command", required=True)
    study = commands.add_parser("study", help="run a study end to end (resumes unfinished work)")
    study.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    study.add_argument("--jobs", type=int, default=None, help="units run side by side (default: runner.jobs)")
    study.add_argument("--rerun", nargs="+", default=(), choices=STAGES, metavar="STAGE", help=f"redo finished units of these stages ({', '.join(STAGES)})")
    check = commands.add_parser("check", help="validate a parameters file and list its units")
    check.add_argument("parameters")
    return parser


def _check(parameters_file: str) -> None:
    study = load_study(parameters_file)
    for unit in plan(study, parameters_file):
        state = "complete" if store.is_complete(unit.folder) else "to do"
        print(f"{unit.key:<28} {state:<9} {unit.folder}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "study":
            if args.jobs is not None and args.jobs < 1:
                raise ParametersError(f"--jobs must be at least 1, not {args.jobs}")
            run_study(args.parameters, jobs=args.jobs, rerun=tuple(args.rerun))
        else:
            _check(args.parameters)
    except (ParametersError, UnknownNotebookParameter) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except UnitFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
