"""Stages 4 to 7: the study's tables, fits, verdicts, figures and summary.

    papermill notebooks/04_pareto.ipynb out.ipynb -p parameters_file parameters/embedded.yaml
    papermill notebooks/05_curriculum.ipynb out.ipynb -p parameters_file parameters/embedded.yaml
    papermill notebooks/06_transfer.ipynb out.ipynb -p parameters_file parameters/transfer.yaml
    papermill notebooks/07_data_efficiency.ipynb out.ipynb -p parameters_file parameters/data_efficiency.yaml
    # or, without Jupyter:
    python -c "from scale_or_reason.analysis import stages; stages.run('parameters/embedded.yaml')"

`analyse` (04) writes `runs/<study>/results.csv` (one row per student and benchmark), small tables
(`tables/*.csv`: fits, verdicts, answer lengths, truncated generations, curricula), the figures
(PNG and PDF, in the unit's `figures/`) and `runs/<study>/summary.md`: an analysis run in a
notebook changes nothing outside the runs folder. `publish_figures` (`sor study --publish-figures`,
what `make study` runs) copies a finished study's figures, its accuracy.csv and summary into the
committed `analysis.figures_dir`. `analyse_curricula` (05) draws the curriculum figures,
`analyse_transfer` (06) the transfer gaps and trace granularity, `analyse_efficiency` (07) the
data-efficiency tables. Every number in a summary is computed here; none is typed in.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from .. import units
from ..config import paths
from ..config.families import IN_DISTRIBUTION
from ..config.params import StudyParams, load_study
from ..config.recipes import FORMATS
from ..core import files
from . import (
    answer_lengths,
    efficiency,
    granularity,
    headings,
    markdown,
    plots,
    prediction,
    reported,
    transfer,
    uncertainty,
    verdicts,
)
from .results import collect_results, in_distribution, item_outcomes, pure, seed_means
from .summary import write_summary

FIGURES = "figures"  # in every analysis unit's folder
ANALYSIS_STAGES = ("analyze", "curriculum", "transfer", "efficiency")
PUBLISHED_SUMMARY = "summary.md"  # published beside the figures
PUBLISHED_ACCURACY = "accuracy.csv"  # beside the figures: what a rerun is compared with


def publish_figures(study: StudyParams, parameters_file: str | Path) -> tuple[list[Path], list[Path]]:
    """Copy the figures of the study's finished analysis units, its accuracy table and its summary
    into `analysis.figures_dir`, and remove the figures there that the study no
    longer draws (the folder is the study's own); returns the files written and removed."""
    if not study.analysis.figures_dir:
        raise ValueError(f"study {study.study!r} has no analysis.figures_dir to publish into")
    target = paths.resolve(study.analysis.figures_dir)
    sources = []
    for unit in units.plan(study, parameters_file):
        if unit.stage in ANALYSIS_STAGES:
            units.require_complete(unit.folder, f"the {unit.stage} unit")
            sources += sorted((unit.folder / FIGURES).glob("*.p[dn][fg]"))
    accuracy = units.analysis_dir(study) / "tables" / "accuracy.csv"
    if accuracy.is_file():
        sources.append(accuracy)
    summary = units.study_dir(study) / PUBLISHED_SUMMARY
    if summary.is_file():  # the numbers behind the figures, for a reader without a run
        sources.append(summary)
    target.mkdir(parents=True, exist_ok=True)
    written = [
        files.write_atomic(target / source.name, lambda tmp, s=source: shutil.copyfile(s, tmp))
        for source in sources
    ]
    drawn = {source.name for source in sources}
    stale = sorted(path for path in target.glob("*.p[dn][fg]") if path.name not in drawn)
    for path in stale:
        path.unlink()
    return written, stale


@dataclass
class Analysis:
    """Everything the analysis computed, as the notebooks display it: `results` has a row per run
    (student and seed) and benchmark, `students` their mean over seeds."""

    results: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    figures: dict[str, plt.Figure] = field(default_factory=dict)
    summary: str = ""
    students: pd.DataFrame | None = None
    # A figure's heading where the figure would state a finding: stated only when the numbers show it.
    headings: dict[str, str] = field(default_factory=dict)

    def heading(self, name: str) -> str:
        """A markdown heading: the finding where the numbers show it, else the question."""
        return "## " + self.headings.get(name, headings.QUESTIONS[name])

    def figures_for(self, name: str) -> list[plt.Figure]:
        """The figure `name`, or, in a reported study, that figure of every corpus (`general-name`)."""
        return _named(self.figures, name)

    def tables_for(self, name: str) -> list[pd.DataFrame]:
        """The table `name`, or that table of every corpus, as `figures_for`."""
        return _named(self.tables, name)


def _named(found: dict, name: str) -> list:
    return [value for key, value in found.items() if key == name or key.endswith(f"-{name}")]


def uncertainty_tables(
    study: StudyParams, students: pd.DataFrame, fits: pd.DataFrame, replicates: dict
) -> dict[str, pd.DataFrame]:
    """Every accuracy's interval, reasoning minus IFT per family and scale, each student's
    probability of being on the frontiers and the fitted curves' bands, from the bootstrap (items
    resampled, a t-scaled seed term: `replicates`, per benchmark)."""
    panels = study.family_panels()
    train_flops = students[["scale", "recipe", "train_flops"]].drop_duplicates(["scale", "recipe"])
    curves = {
        (row.family, row.recipe, row.flops): verdicts.fit_of(fits, row.family, row.recipe, row.flops)
        for row in fits.itertuples()
    }
    return {
        "accuracy": uncertainty.accuracy_table(replicates),
        "differences": uncertainty.format_differences(replicates, panels),
        "gains": uncertainty.gains_over_ift(replicates, panels),
        "frontier_probability": uncertainty.frontier_table(replicates, train_flops),
        "fit_bands": uncertainty.fit_bands(
            students, curves, replicates, panels, study.analysis.teacher_accuracy
        ),
    }


def prediction_tables(
    study: StudyParams, students: pd.DataFrame, replicates: dict, differences: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """`analysis.predict` on the study's own students: fitted on the bootstrap replicates, the
    study's verdicts (with their intervals) the truth to score against."""
    predict = study.analysis.predict
    ladder, samples = prediction.study_ladder(study, students, replicates)
    ceilings = dict.fromkeys(ladder["family"], study.analysis.teacher_accuracy)
    found = prediction.predict(
        ladder, predict.fit, predict.predict, ceilings, ["family"], samples, differences, seed=study.seed
    )
    return prediction.tables_for(found)


def reported_predictions(
    study: StudyParams, results: pd.DataFrame, ceilings: dict
) -> dict[str, pd.DataFrame]:
    """`analysis.predict` on the published table: single runs, so the fit's residuals size the
    intervals and the measured sign is the truth."""
    predict = study.analysis.predict
    ladder = results[["corpus", "family", "recipe", "scale", "params", "train_flops", "accuracy"]]
    found = prediction.predict(
        ladder, predict.fit, predict.predict, ceilings, ["corpus", "family"], seed=study.seed
    )
    return prediction.tables_for(found)


def prediction_figure(tables: dict[str, pd.DataFrame]) -> dict[str, plt.Figure]:
    predictions = tables.get("predictions")
    if predictions is None or predictions["actual"].isna().all():
        return {}
    return {"predicted_vs_actual": plots.predicted_vs_actual(predictions, prediction.LEVEL)}


def curricula_with_intervals(
    results: pd.DataFrame, panels: dict[str, str], accuracy: pd.DataFrame, gains: pd.DataFrame
) -> pd.DataFrame:
    """Each curriculum's accuracy and its gain over the IFT student of its size (`results` are
    seed means), with the bootstrap's intervals (`accuracy`, `gains`)."""
    table = verdicts.curriculum_table(results, panels)
    return uncertainty.with_gain_intervals(table, gains, accuracy, panels)


def compute_tables(study: StudyParams, results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables of `04_pareto`, from the seed means of the results."""
    panels = study.family_panels()
    ceiling = study.analysis.teacher_accuracy
    fits = pd.concat(
        [verdicts.format_fits(results, panels, f, ceiling) for f in ("train_flops", "inference_flops")]
    )
    tables = {
        "fits": fits,
        "verdicts": verdicts.verdict_table(results, panels, fits),
        "lengths": answer_lengths.lengths_by_outcome(study),
        "truncation": answer_lengths.truncation_table(study),
    }
    tables["transfer"] = transfer.transfer_gaps(results, study.benchmark_variants())
    by_granularity = granularity.study_granularity(study, results)
    if by_granularity:
        table, sufficient = by_granularity
        tables["granularity"] = sufficient.merge(
            table.pivot_table(index=["family", "scale"], columns="granularity", values="accuracy")
            .add_prefix("accuracy_")
            .reset_index(),
            on=["family", "scale"],
        )
    return tables


def _gain_pairs(results: pd.DataFrame) -> pd.DataFrame:
    wide = pure(results).pivot_table(
        index=["benchmark", "family", "scale"], columns="recipe", values=["accuracy", "gen_tokens_mean"]
    )
    return (
        pd.DataFrame(
            {
                "gain": wide[("accuracy", "reasoning")] - wide[("accuracy", "ift")],
                "token_factor": wide[("gen_tokens_mean", "reasoning")] / wide[("gen_tokens_mean", "ift")],
            }
        )
        .dropna()
        .reset_index()
    )


def draw_figures(
    study: StudyParams, results: pd.DataFrame, tables: dict[str, pd.DataFrame]
) -> dict[str, plt.Figure]:
    """The figures of `04_pareto`; `results` are the seed means, with each accuracy's interval
    and frontier probabilities when the tables hold them."""
    plots.set_style()
    scales, panels, count = list(study.students.scales), study.family_panels(), study.analysis.flops
    if "accuracy" in tables:
        results = uncertainty.with_intervals(results, tables["accuracy"], tables["frontier_probability"])
    fits = tables["fits"]
    figures = {}
    for flops in ("train_flops", "inference_flops"):
        curves = {(f, r): verdicts.fit_of(fits, f, r, flops) for f in panels for r in FORMATS}
        curves = {key: fit for key, fit in curves.items() if fit is not None}
        figures[f"accuracy_vs_{flops}"] = plots.accuracy_vs_flops(
            results, panels, flops, scales, count, curves, tables.get("fit_bands")
        )
    figures["accuracy_vs_params"] = plots.accuracy_vs_params(
        results, [b.name for b in study.benchmarks], scales
    )
    figures["flops_exact_vs_paper"] = plots.flops_divergence(results, scales)
    figures["gain_vs_token_factor"] = plots.gain_vs_token_factor(_gain_pairs(results), scales)
    params = results.groupby("scale")["params"].first().to_dict()
    figures["answer_length_by_outcome"] = plots.answer_lengths(tables["lengths"], panels, params)
    students = (
        pure(in_distribution(results, panels))
        .groupby(["scale", "order"], as_index=False)
        .agg(params=("params", "first"), inference_flops=("inference_flops", "mean"))
    )
    figures["inference_flops_vs_size"] = plots.inference_flops_vs_size(students, count)
    if not tables["truncation"].empty:  # nothing to cut where every benchmark is a task of one's own
        figures["early_stopping"] = plots.early_stopping(tables["truncation"], results, panels, scales, count)
    if "paper_comparison" in tables:
        figures["ours_vs_paper"] = plots.ours_vs_paper(tables["paper_comparison"])
    figures.update(prediction_figure(tables))
    return figures


def save_figures(study: StudyParams, figures: dict[str, plt.Figure], folder: Path) -> None:
    for name, figure in figures.items():
        plots.save(figure, [folder / FIGURES], name)
        plt.close(figure)  # shown where the notebook asks for it, not all at once when drawn


def analyse(study: StudyParams) -> Analysis:
    """Collect the results, compute every table, draw the figures and write the summary (of the
    paper's published numbers, for a reported study)."""
    if study.reported:
        return analyse_reported(study)
    folder = units.analysis_dir(study)
    folder.mkdir(parents=True, exist_ok=True)
    results = collect_results(study)
    files.write_csv(folder / "results.csv", results)
    files.write_csv(units.results_csv(study), results)
    students = seed_means(results)
    tables = compute_tables(study, students)
    replicates = uncertainty.bootstrap_study(item_outcomes(study), seed=study.seed)
    tables.update(uncertainty_tables(study, students, tables["fits"], replicates))
    if study.analysis.compare_with_paper:
        variants = study.benchmark_variants()  # the paper averages its families' own benchmarks
        tested = students[[variants[b][1] == IN_DISTRIBUTION for b in students["benchmark"]]]
        tables["paper_comparison"] = reported.paper_comparison(
            replicates, tested, study.analysis.compare_with_paper
        )
    if study.analysis.predict:
        tables.update(prediction_tables(study, students, replicates, tables["differences"]))
    panels = study.family_panels()
    tables["verdicts"] = uncertainty.with_uncertainty(
        tables["verdicts"], tables["differences"], tables["frontier_probability"], panels
    )
    if study.curricula.recipes:
        tables["curricula"] = curricula_with_intervals(students, panels, tables["accuracy"], tables["gains"])
    for name, table in tables.items():
        files.write_csv(folder / "tables" / f"{name}.csv", table)
    figures = draw_figures(study, students, tables)
    save_figures(study, figures, folder)
    summary = write_summary(study, students, tables)
    units.mark_complete(folder, rows=len(results), figures=sorted(figures))
    return Analysis(results, tables, figures, summary, students, figure_headings(students, tables))


def figure_headings(students: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    return {
        "gain_vs_token_factor": headings.gain_with_tokens(_gain_pairs(students)),
        "answer_length_by_outcome": headings.failed_answers(tables["lengths"]),
        "inference_flops_vs_size": headings.inference_cost(students),
        "flops_exact_vs_paper": headings.formula_gap(students),
    }


def analyse_curricula(study: StudyParams) -> Analysis:
    """The curriculum figures and table, from the same results, with intervals from a bootstrap
    over seeds and items of the in-distribution benchmarks."""
    folder = units.curriculum_dir(study)
    folder.mkdir(parents=True, exist_ok=True)
    results = seed_means(collect_results(study))
    panels, scales = study.family_panels(), list(study.students.scales)
    outcomes = item_outcomes(study)
    in_distribution_items = outcomes[outcomes["benchmark"].isin(panels.values())]
    replicates = uncertainty.bootstrap_study(in_distribution_items, seed=study.seed)
    accuracy = uncertainty.accuracy_table(replicates)
    gains = uncertainty.gains_over_ift(replicates, panels)
    table = curricula_with_intervals(results, panels, accuracy, gains)
    curricula = table[table["scale"].isin(study.curricula.scales)]
    files.write_csv(folder / "curricula.csv", curricula)
    plots.set_style()
    figures = {
        "curriculum_gain": plots.curriculum_gain(curricula, scales),
        "curriculum_orders": plots.curriculum_orders(curricula),
        "curriculum_vs_train_flops": plots.curriculum_vs_flops(
            uncertainty.with_intervals(results, accuracy), panels, scales, study.analysis.flops
        ),
    }
    save_figures(study, figures, folder)
    units.mark_complete(folder, figures=sorted(figures))
    return Analysis(results, {"curricula": curricula}, figures)


def run(parameters_file: str) -> pd.DataFrame:
    return analyse(load_study(parameters_file)).results


def analyse_transfer(study: StudyParams) -> Analysis:
    """Transfer off the training distribution (06_transfer): per student and transfer set, the
    accuracy drop from in-distribution, whether reasoning's drop is smaller than IFT's, the figure."""
    folder = units.transfer_dir(study)
    folder.mkdir(parents=True, exist_ok=True)
    results = seed_means(collect_results(study))
    gaps = transfer.transfer_gaps(results, study.benchmark_variants())
    comparison = transfer.compare_gaps(gaps)
    tables = {"transfer": gaps, "comparison": comparison}
    plots.set_style()
    figures = {"transfer_gap": plots.transfer_gap(gaps, list(study.students.scales))}
    by_granularity = granularity.study_granularity(study, results)
    if by_granularity:
        table, sufficient = by_granularity
        tables.update(granularity=table, smallest_sufficient=sufficient)
        figures["granularity_vs_train_flops"] = plots.granularity_vs_flops(table, list(study.students.scales))
    for name, table in tables.items():
        files.write_csv(folder / f"{name}.csv", table)
    save_figures(study, figures, folder)
    units.mark_complete(folder, figures=sorted(figures))
    return Analysis(results, tables, figures)


def efficiency_tables(study: StudyParams, results: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict]:
    tables, agreement = {}, {}
    if study.selection:
        table = efficiency.with_frontiers(efficiency.selection_table(study, results))
        tables.update(
            selection=table,
            fewest_examples=efficiency.fewest_examples(table),
            strategy_gains=efficiency.strategy_gains(table),
        )
    if study.teacher_choice:
        tables["teachers"] = efficiency.teacher_table(study, results)
        agreement = efficiency.ranking_agreement(tables["teachers"])
    return tables, agreement


def analyse_efficiency(study: StudyParams) -> Analysis:
    """Data efficiency (07_data_efficiency): accuracy against training examples and FLOPs per
    selection strategy with the frontiers, and the teachers ranked by a smoke student's gain.
    A study without the paper's recipes has no other analysis: its results and summary come from here."""
    folder = units.efficiency_dir(study)
    folder.mkdir(parents=True, exist_ok=True)
    results = collect_results(study)
    files.write_csv(folder / "results.csv", results)
    tables, agreement = efficiency_tables(study, seed_means(results))
    for name, table in tables.items():
        files.write_csv(folder / f"{name}.csv", table)
    plots.set_style()
    figures = {}
    if "selection" in tables:
        figures["accuracy_vs_examples"] = plots.selection_vs_examples(tables["selection"])
        figures["selection_vs_train_flops"] = plots.selection_vs_flops(tables["selection"])
    if "teachers" in tables and not tables["teachers"].empty:
        figures["teacher_choice"] = plots.teacher_choice(tables["teachers"])
    save_figures(study, figures, folder)
    summary = efficiency.efficiency_markdown(study, tables, agreement)
    files.write_text(folder / "summary.md", summary)
    if not study.recipes:
        files.write_csv(units.results_csv(study), results)
        files.write_text(units.study_dir(study) / "summary.md", summary)
    units.mark_complete(folder, figures=sorted(figures))
    return Analysis(results, tables, figures, summary)


def readme_accuracy_block(study: StudyParams) -> tuple[str, str]:
    """The README block a study's committed accuracy table fills: its marker name and content."""
    if not study.analysis.figures_dir:
        raise ValueError(f"study {study.study!r} has no analysis.figures_dir, so no committed accuracy.csv")
    source = f"{study.analysis.figures_dir}/accuracy.csv"
    accuracy = pd.read_csv(paths.resolve(source))
    table = markdown.accuracy_markdown(
        accuracy, list(study.students.scales), [b.name for b in study.benchmarks]
    )
    return f"accuracy from {source}", table


def update_readme(study: StudyParams, readme: Path) -> bool:
    """Rewrite the README's accuracy table for `study` from its committed accuracy.csv; whether
    anything changed."""
    text = readme.read_text()
    updated = markdown.replace_block(text, *readme_accuracy_block(study))
    if updated != text:
        files.write_text(readme, updated)
    return updated != text


def reported_figures(corpus: str, analysed: dict, scales: list[str], ceilings: dict[str, float]) -> dict:
    """One corpus's figures: the Figure 2 layout on each cost axis it has, and the gain by size."""
    results, fits = analysed["results"], analysed["fits"]
    panels = {family: family for family in ceilings}
    count = {"train_flops": "estimated", "inference_flops": "power_law"}
    figures = {}
    for axis in reported.cost_axes(results):
        curves = {(f, r): verdicts.fit_of(fits, f, r, axis) for f in panels for r in FORMATS}
        curves = {key: fit for key, fit in curves.items() if fit is not None}
        figures[f"{corpus}-accuracy_vs_{axis}"] = plots.accuracy_vs_flops(
            results, panels, axis, scales, count[axis], curves, ceilings=ceilings
        )
    figures[f"{corpus}-gain_vs_size"] = plots.gain_vs_size(analysed["differences"])
    return figures


def analyse_reported(study: StudyParams) -> Analysis:
    """A reported study (04_pareto on the paper's published numbers): per corpus, the results
    table, fits, verdicts, frontier gaps, the Figure 2 layout, the gain against size, and for the
    general corpus Figure 14 from the power laws; one `summary.md` for all corpora."""
    folder = units.analysis_dir(study)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [reported.size_b(scale) for scale in study.students.scales]
    table = reported.read_accuracy_table(
        paths.PAPER_DATA_DIR / reported.TABLE_FILE, study.reported.corpora, sizes
    )
    ceilings = reported.teacher_ceilings()
    plots.set_style()
    corpora, tables, figures = {}, {}, {}
    for corpus in study.reported.corpora:
        analysed = corpora[corpus] = reported.analyse_corpus(study, corpus, table, ceilings)
        tables.update({f"{corpus}-{name}": analysed[name] for name in reported.TABLES})
        figures.update(reported_figures(corpus, analysed, list(study.students.scales), ceilings))
    if reported.CORPUS_WITH_POWER_LAWS in study.reported.corpora:
        laws = reported.published(reported.POWER_LAWS_FILE)
        figures[f"{reported.CORPUS_WITH_POWER_LAWS}-inference_flops_vs_size"] = plots.power_laws_vs_size(
            laws, sizes
        )
    for name, figure in figures.items():  # each corpus's figures look alike: say whose they are
        figure.suptitle(f"{name.split('-')[0]} corpus, as published (arXiv 2509.22193)", y=1.02)
    results = pd.concat([c["results"] for c in corpora.values()], ignore_index=True)
    predicted = reported_predictions(study, results, ceilings) if study.analysis.predict else {}
    tables.update(predicted)
    figures.update(prediction_figure(predicted))
    files.write_csv(folder / "results.csv", results)
    files.write_csv(units.results_csv(study), results)
    for name, frame in tables.items():
        files.write_csv(folder / "tables" / f"{name}.csv", frame)
    save_figures(study, figures, folder)
    summary = reported.summary_markdown(study, corpora, predicted)
    files.write_text(units.study_dir(study) / "summary.md", summary)
    units.mark_complete(folder, rows=len(results), figures=sorted(figures))
    return Analysis(results, tables, figures, summary, results)
