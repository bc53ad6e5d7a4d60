"""The command line answers at once: help, version, usage, `sor check` and the dry run load none
of the heavy libraries (they load where a command uses them), and every argument explains itself."""

import argparse
import subprocess
import sys

import pytest

from conftest import PARAMETERS, REPO
from scale_or_reason.cli import _parser, main

HEAVY = ("torch", "transformers", "trl", "papermill", "lm_eval", "datasets", "scipy", "matplotlib")


def _modules_loaded_by(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stdout.split("\n")[-2].split()


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        [],
        ["check", str(PARAMETERS / "embedded.yaml")],
        ["study", "--help"],
        ["study", str(PARAMETERS / "embedded.yaml"), "--dry-run"],
        ["study", str(PARAMETERS / "paper.yaml"), "--dry-run"],
    ],
    ids=["help", "bare", "check", "study-help", "dry-run", "paper-dry-run"],
)
def test_a_quick_command_loads_no_heavy_library(argv):
    code = f"from scale_or_reason.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert _modules_loaded_by(code) == []


def test_bare_sor_prints_the_usage_and_every_command(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: sor")
    for command in ("study", "check", "doctor", "compare", "flops"):
        assert f"    {command} " in out


def test_sor_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("sor 0.")


def _actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from ((f"{name} {a.dest}", a) for a in command._actions)
        else:
            yield action.dest, action


def test_every_argument_has_help_and_the_stages_name_their_notebooks(capsys):
    missing = [name for name, action in _actions(_parser()) if not action.help]
    assert missing == []
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "train (02_train.ipynb)" in out and "(default: local)" in out
