"""Weight averaging over the learning rate's decay: the student saved is the mean of its weights
after every optimizer step of the decay phase, not the last step's (`training.average_decay`).

The last iterate carries the noise of its last few batches; the average over the decay phase
(stochastic weight averaging on the schedule's own tail) keeps what every late step agrees on.
The running sum lives beside the trainer's periodic checkpoints (`averaged_weights.pt`), so a
resumed run averages the same steps as an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import TrainerCallback

STATE_FILE = "averaged_weights.pt"


class DecayAverage(TrainerCallback):
    """Sums the weights after each of the last `decay_steps` optimizer steps; at the end of
    training, loads their mean into the model."""

    def __init__(self, model: torch.nn.Module, total_steps: int, decay_steps: int):
        self.model, self.first = model, total_steps - decay_steps + 1
        self.total: dict[str, torch.Tensor] = {}
        self.count = 0

    def on_train_begin(self, args, state, control, resume_from_checkpoint=None, **kwargs):
        saved = Path(resume_from_checkpoint or "") / STATE_FILE
        if resume_from_checkpoint and saved.is_file():
            stored = torch.load(saved, weights_only=True)
            self.total, self.count = stored["total"], int(stored["count"])

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step < self.first:
            return
        with torch.no_grad():
            for name, weight in self.model.named_parameters():
                if name in self.total:
                    self.total[name] += weight.detach().float()
                else:
                    self.total[name] = weight.detach().float().clone()
        self.count += 1

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            torch.save({"total": self.total, "count": self.count}, folder / STATE_FILE)

    def on_train_end(self, args, state, control, **kwargs):
        if not self.count:
            return
        with torch.no_grad():
            for name, weight in self.model.named_parameters():
                weight.copy_((self.total[name] / self.count).to(weight.dtype))
