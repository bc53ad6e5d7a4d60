import pytest

from scale_or_reason import units
from scale_or_reason.core import files


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")

    def half_written(tmp):
        tmp.write_text("partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        files.write_atomic(target, half_written)
    assert target.read_text() == "old"
    files.write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_folders_are_replaced_whole(tmp_path):
    def fill(tmp):
        tmp.mkdir()
        (tmp / "weights").write_text("1")

    files.write_atomic(tmp_path / "model", fill)
    files.write_atomic(tmp_path / "model", fill)
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["weights"]


def test_completion_marker_and_reset(tmp_path):
    unit = tmp_path / "unit"
    unit.mkdir()
    (unit / "half.txt").write_text("x")
    assert not units.is_complete(unit)
    with pytest.raises(FileNotFoundError, match="has not finished"):
        units.require_complete(unit, "training")
    units.reset(unit)
    assert list(unit.iterdir()) == []
    units.mark_complete(unit, rows=3)
    assert units.is_complete(unit) and files.read_json(unit / units.COMPLETE)["rows"] == 3


def test_unit_folders_are_keyed_by_their_parameters(smoke_study):
    other_seed = smoke_study.model_copy(update={"seed": 1})
    more_epochs = smoke_study.model_copy(
        update={"training": smoke_study.training.model_copy(update={"epochs": 2})}
    )
    more_threads = smoke_study.model_copy(
        update={"training": smoke_study.training.model_copy(update={"threads": 2})}
    )
    assert units.data_dir(other_seed) != units.data_dir(smoke_study)
    assert units.train_dir(more_epochs, "tiny", "ift") != units.train_dir(smoke_study, "tiny", "ift")
    assert units.data_dir(more_epochs) == units.data_dir(smoke_study)
    assert units.train_dir(more_threads, "tiny", "ift") == units.train_dir(smoke_study, "tiny", "ift")
    assert units.eval_dir(more_epochs, "tiny", "ift") != units.eval_dir(smoke_study, "tiny", "ift")
