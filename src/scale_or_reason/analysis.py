"""Stage 4: the study's table and its accuracy-versus-compute figures.

    papermill notebooks/04_pareto.ipynb out.ipynb -p parameters_file parameters/embedded.yaml
    # or, without Jupyter:
    python -c "from scale_or_reason import analysis; analysis.run('parameters/embedded.yaml')"

Writes `runs/<study>/results.csv` (one row per student and benchmark) and the figures, PNG and
PDF, into the unit's `figures/` and, when `analysis.figures_dir` is set, into that folder too.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from . import paths, plots, store
from .params import StudyParams, load_study
from .results import collect_results


def family_panels(study: StudyParams) -> dict[str, str]:
    """Each family's in-distribution benchmark (the first with variant `test`)."""
    panels: dict[str, str] = {}
    for benchmark in study.benchmarks:
        if benchmark.variant == "test":
            panels.setdefault(benchmark.family, benchmark.name)
    return panels


def figure_folders(study: StudyParams, folder: Path) -> list[Path]:
    folders = [folder / "figures"]
    if study.analysis.figures_dir:
        folders.append(paths.resolve(study.analysis.figures_dir))
    return folders


def draw_figures(study: StudyParams, results: pd.DataFrame, folders: list[Path]) -> dict[str, plt.Figure]:
    plots.set_style()
    scales = list(study.students.scales)
    panels = family_panels(study)
    count = study.analysis.flops
    figures = {
        f"accuracy_vs_{flops}": plots.accuracy_vs_flops(results, panels, flops, scales, count)
        for flops in ("train_flops", "inference_flops")
    }
    figures["accuracy_vs_params"] = plots.accuracy_vs_params(results, [b.name for b in study.benchmarks], scales)
    figures["flops_exact_vs_paper"] = plots.flops_divergence(results, scales)
    for name, figure in figures.items():
        plots.save(figure, folders, name)
        plt.close(figure)  # shown where the notebook asks for it, not all at once when drawn
    return figures


def analyse(study: StudyParams) -> tuple[pd.DataFrame, dict[str, plt.Figure]]:
    """Collect the results, write the table and draw the figures."""
    folder = store.analysis_dir(study)
    folder.mkdir(parents=True, exist_ok=True)
    results = collect_results(study)
    for path in (folder / "results.csv", store.results_csv(study)):
        store.write_atomic(path, lambda tmp: results.to_csv(tmp, index=False))
    figures = draw_figures(study, results, figure_folders(study, folder))
    store.mark_complete(folder, rows=len(results), figures=sorted(figures))
    return results, figures


def run(parameters_file: str) -> pd.DataFrame:
    return analyse(load_study(parameters_file))[0]
