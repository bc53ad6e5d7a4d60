"""Weight averaging over the decay phase: the saved weights are the mean of the decay's iterates,
and a resumed run averages the same steps."""

from types import SimpleNamespace

import torch

from scale_or_reason.training.averaging import STATE_FILE, DecayAverage


def steps(callback, model, first, last, args):
    for step in range(first, last + 1):
        with torch.no_grad():
            model.weight.fill_(float(step))  # the weights after optimizer step `step`
        callback.on_step_end(args, SimpleNamespace(global_step=step), None)


def test_the_student_saved_is_the_mean_over_the_decay_steps(tmp_path):
    model = torch.nn.Linear(2, 1, bias=False)
    args = SimpleNamespace(output_dir=str(tmp_path))
    callback = DecayAverage(model, total_steps=10, decay_steps=4)
    callback.on_train_begin(args, None, None)
    steps(callback, model, 1, 10, args)
    callback.on_train_end(args, None, None)
    assert model.weight.tolist() == [[8.5, 8.5]]  # steps 7, 8, 9 and 10


def test_a_resumed_run_averages_the_same_steps(tmp_path):
    model = torch.nn.Linear(2, 1, bias=False)
    args = SimpleNamespace(output_dir=str(tmp_path))
    first = DecayAverage(model, total_steps=10, decay_steps=4)
    steps(first, model, 1, 8, args)
    (tmp_path / "checkpoint-8").mkdir()
    first.on_save(args, SimpleNamespace(global_step=8), None)
    assert (tmp_path / "checkpoint-8" / STATE_FILE).is_file()
    resumed = DecayAverage(model, total_steps=10, decay_steps=4)  # a fresh process
    resumed.on_train_begin(args, None, None, resume_from_checkpoint=str(tmp_path / "checkpoint-8"))
    steps(resumed, model, 9, 10, args)
    resumed.on_train_end(args, None, None)
    assert model.weight.tolist() == [[8.5, 8.5]]
