"""`sor`: run a study, check its parameters and see what is left to do, or count a model's FLOPs.

    sor study parameters/embedded.yaml            # every unfinished unit, then the analysis
    sor study parameters/embedded.yaml --jobs 2   # two units side by side
    sor check parameters/embedded.yaml            # validate, list units and their state
    sor flops --config runs/embedded/train/xl-ift-*/model --samples 1000 \
        --prompt-tokens 1000 --completion-tokens 10000 --generated-tokens 10000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from huggingface_hub.errors import StrictDataclassError

from . import flops, store
from .flops import ConfigError
from .params import ParametersError, load_study
from .runner import STAGES, UnitFailed, UnknownNotebookParameter, plan, run_study


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sor", description="Scale or Reason: compute-equivalent distillation studies")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    study = commands.add_parser("study", help="run a study end to end (resumes unfinished work)")
    study.add_argument("parameters", help="a parameters file, e.g. parameters/embedded.yaml")
    study.add_argument("--jobs", type=int, default=None, help="units run side by side (default: runner.jobs)")
    study.add_argument("--rerun", nargs="+", default=(), choices=STAGES, metavar="STAGE", help=f"redo finished units of these stages ({', '.join(STAGES)})")
    check = commands.add_parser("check", help="validate a parameters file and list its units")
    check.add_argument("parameters")
    counter = commands.add_parser("flops", help="parameters and FLOPs of a model config, as JSON")
    counter.add_argument("--config", required=True, help="a config.json, a checkpoint folder, or a hub id")
    counter.add_argument("--samples", type=_count, default=1, help="training sequences (default 1)")
    counter.add_argument("--prompt-tokens", type=_count, default=0, help="prompt length P")
    counter.add_argument("--completion-tokens", type=_count, default=0, help="training target length T")
    counter.add_argument("--generated-tokens", type=_count, default=0, help="tokens generated after the prompt")
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with exit status 2 and one line for bad arguments (its own default is a usage)."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def load_config(source: str):
    """A model config from a config.json, a folder holding one, or a hub id (network permitting).

    A local file that transformers cannot parse as a config (an unknown model type, say) is read as
    plain JSON, so that any decoder with the usual fields can still be counted.
    """
    from transformers import AutoConfig

    path = Path(source)
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.exists() or source.startswith((".", "/")):
        if not path.is_file():
            raise ConfigError(f"no model config at {path}")
        try:
            return AutoConfig.from_pretrained(str(path), trust_remote_code=False)
        except (ValueError, OSError, TypeError, StrictDataclassError):
            try:
                return SimpleNamespace(**json.loads(path.read_text()))
            except (json.JSONDecodeError, TypeError, UnicodeDecodeError):
                raise ConfigError(f"{path}: not a JSON model config") from None
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (ValueError, OSError) as error:
        raise ConfigError(f"cannot load config {source!r} from the hub: {str(error).splitlines()[0]}") from None


def _flops(args) -> None:
    arch = flops.architecture(load_config(args.config))
    counts = flops.summary(arch, args.samples, args.prompt_tokens, args.completion_tokens, args.generated_tokens)
    print(json.dumps(counts, indent=2))


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
        elif args.command == "flops":
            _flops(args)
        else:
            _check(args.parameters)
    except (ParametersError, UnknownNotebookParameter, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except UnitFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
