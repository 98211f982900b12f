"""``studykit analyze``, ``studykit simulate`` and ``studykit plan``: thin commands over :mod:`studykit.analysis`.

Only click is imported at module level; the analysis (pandas, scipy, matplotlib) is imported inside
the commands, so ``studykit --help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from studykit.formats.studies import STUDY_NAMES as STUDIES

from .common import overwrite_option, user_errors

log = logging.getLogger(__name__)


def _pairs(values: tuple[str, ...], option: str, convert=str) -> dict:
    """``("dense=0.4", "sparse=0.6")`` -> ``{"dense": 0.4, "sparse": 0.6}``; a malformed item is a usage error."""
    pairs = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        try:
            pairs[name.strip()] = convert(value.strip())
        except ValueError:
            raise click.BadParameter(f"{item!r}: {value!r} is not a number", param_hint=option) from None
    return pairs


def _integers(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint=option) from None


def _annotator_model(study: str, accuracy: tuple[str, ...], blank_rate: float, spammer_share: float,
                     confidence_probs: str | None, workers: int):
    """The simulated annotators of the options: the study's default accuracies updated by ``--accuracy``."""
    from studykit.analysis.simulate import DEFAULT_ACCURACY, AnnotatorModel

    changes = {}
    if confidence_probs:
        try:
            changes["confidence"] = tuple(float(v) for v in confidence_probs.split(","))
        except ValueError:
            raise click.BadParameter(f"expected 4 comma-separated probabilities, got {confidence_probs!r}",
                                     param_hint="--confidence-probs") from None
    return AnnotatorModel({**DEFAULT_ACCURACY[study], **_pairs(accuracy, "--accuracy", float)},
                          blank_rate=blank_rate, spammer_share=spammer_share, n_workers=workers, **changes)


def _model_options(command):
    """Options of the simulated annotators, shared by ``simulate`` and ``plan``."""
    options = [
        click.option("--accuracy", multiple=True, metavar="CONDITION=P",
                     help="Honest annotators' accuracy per condition (dense/sparse; fp/fl/fr), repeatable "
                          "[default: the study's DEFAULT_ACCURACY]."),
        click.option("--blank-rate", type=float, default=0.05, show_default=True,
                     help="Probability of leaving a task blank."),
        click.option("--spammer-share", type=float, default=0.1, show_default=True,
                     help="Share of workers answering at random."),
        click.option("--confidence-probs", default=None, metavar="P0,P1,P2,P3",
                     help="Probabilities of confidence 0-3 [default: 0.1,0.2,0.4,0.3]."),
        click.option("--workers", type=int, default=50, show_default=True, help="Size of the worker pool."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


# ---------------------------------------------------------------------------------------------
@click.command("analyze")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Batch folder: the study, the Answer.* mapping and answer_key.csv.")
@click.option("--study", type=click.Choice(STUDIES), default=None, help="[default: the batch's study]")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
@click.option("--answer", "answer_fields", multiple=True, metavar="FIELD=NAME",
              help="Map an Answer.* column to a study answer (repeatable; replaces the batch's mapping).")
@click.option("--answer-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Answer-key CSV [default: the batch's answer_key.csv].")
@click.option("--question", "questions", multiple=True, metavar="Answer.NAME",
              help="Analyse any batch: an answer column, or a glob of items ('Answer.coherence*'); repeatable. "
                   "Writes votes.csv and report.md without a study.")
@click.option("--confidence", "confidence_column", default=None, metavar="Answer.NAME",
              help="With --question: a numeric confidence column; the vote weighs each answer 1 + confidence.")
@click.option("--min-annotators", type=int, default=None,
              help="Keep tasks with at least this many annotators [default: 2, or 3 for spurious].")
@click.option("--blank-threshold", type=float, default=0.8, show_default=True,
              help="Drop workers who left more than this share of their tasks blank.")
@click.option("--keep-rejected", is_flag=True, help="Keep rejected assignments.")
@click.option("--interval", type=click.Choice(["wilson", "bootstrap"]), default="wilson", show_default=True)
@click.option("--coverage", type=float, default=0.95, show_default=True, help="Coverage of the intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the vote's tie break and the bootstrap.")
@click.option("--salt", envvar="STUDYKIT_SALT", default=None,
              help="Secret salt of the worker pseudonyms [env STUDYKIT_SALT; default: random per run].")
@click.option("--layer", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sparse decision layer .npz, for confusion vs shared features (G.3; with --confusion).")
@click.option("--confusion", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Confusion matrix .npy or .csv (G.3; with --layer).")
@overwrite_option("the files of a report folder that is not empty")
def analyze(results: Path, batch: Path | None, study: str | None, out: Path, answer_fields: tuple[str, ...],
            answer_key: Path | None, questions: tuple[str, ...], confidence_column: str | None,
            min_annotators: int | None, blank_threshold: float, keep_rejected: bool, interval: str, coverage: float,
            seed: int, salt: str | None, layer: Path | None, confusion: Path | None, overwrite: bool) -> None:
    """Analyse the MTurk batch-results CSV RESULTS into a report folder (tables, figures, report.md).

    With --question, any batch (no study needed): QC, the vote per task and question (votes.csv),
    label distributions, agreement, and accuracy against --answer-key.
    """
    import secrets

    from studykit.analysis import EstimateSettings, QCConfig, analyze as run_analysis, read_batch, write_analysis

    with user_errors():
        if salt is None:
            salt = secrets.token_hex(16)
            log.info("no --salt given: worker pseudonyms are random for this run")
        qc_changes = {"blank_worker_threshold": blank_threshold, "drop_rejected": not keep_rejected}
        if min_annotators is not None:
            qc_changes["min_annotators"] = min_annotators
        if questions or confidence_column:
            _analyze_any(results, questions, confidence_column, answer_key, batch, out, qc_changes, seed, salt,
                         overwrite, conflicting=[n for n, v in (("--study", study), ("--answer", answer_fields),
                                                                 ("--layer", layer), ("--confusion", confusion)) if v])
            return
        batch_folder = read_batch(batch) if batch is not None else None   # read once, here
        name = study if study is not None else batch_folder.schema.name if batch_folder is not None else None
        qc = QCConfig.for_study(name, **qc_changes) if name is not None else None
        settings = EstimateSettings(interval=interval, confidence=coverage, seed=seed)
        answers = _pairs(answer_fields, "--answer") or None
        analysis = run_analysis(results, study=study, batch=batch_folder, answers=answers, answer_key=answer_key,
                                qc=qc, settings=settings, salt=salt, layer=layer, confusion=confusion)
        files = write_analysis(analysis, out, overwrite=overwrite)
    _summary(results, out, files, analysis.qc)


def _summary(results: Path, out: Path, files: list, qc) -> None:
    """Print what was kept; exit non-zero (one line) when quality control kept nothing."""
    summary = qc.summary.set_index("rule")
    kept, loaded = int(summary.loc["kept", "rows"]), int(summary.loc["loaded", "rows"])
    if kept == 0:
        raise click.ClickException(f"{results}: no usable rows: all {loaded} were excluded (the reasons, line by "
                                   f"line, are in {out / 'qc_exclusions.csv'})")
    click.echo(f"{out}: {len(files)} files; kept {kept} of {loaded} rows ({int(summary.loc['kept', 'tasks'])} "
               f"tasks); see {out / 'report.md'}")


def _analyze_any(results: Path, questions: tuple[str, ...], confidence: str | None, answer_key: Path | None,
                 batch: Path | None, out: Path, qc_changes: dict, seed: int, salt: str, overwrite: bool,
                 conflicting: list[str]) -> None:
    """``analyze --question ...``: the generic analysis of :mod:`studykit.analysis.generic`."""
    from studykit.analysis import QCConfig
    from studykit.analysis.generic import analyze_results, write_results_analysis
    from studykit.analysis.pipeline import ledger_hit_ids

    if conflicting:
        raise click.UsageError(f"--question analyses any batch without a study: drop {', '.join(conflicting)}")
    if not questions:
        raise click.UsageError("--confidence needs at least one --question")
    qc = QCConfig(**{"min_annotators": 2, **qc_changes})
    hit_ids = ledger_hit_ids(batch) if batch is not None else None
    analysis = analyze_results(results, questions, salt=salt, confidence=confidence, answer_key=answer_key, qc=qc,
                               seed=seed, hit_ids=hit_ids)
    files = write_results_analysis(analysis, out, overwrite=overwrite)
    _summary(results, out, files, analysis.qc)


# ---------------------------------------------------------------------------------------------
@click.command("simulate")
@click.argument("batch", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Batch-results CSV to write.")
@_model_options
@click.option("--seed", type=int, default=0, show_default=True)
@overwrite_option("--out when it exists")
def simulate(batch: Path, out: Path, accuracy: tuple[str, ...], blank_rate: float, spammer_share: float,
             confidence_probs: str | None, workers: int, seed: int, overwrite: bool) -> None:
    """Simulate annotators answering every HIT of BATCH; write the MTurk batch-results CSV layout."""
    from studykit.analysis import read_batch, write_simulated_results

    with user_errors():
        study = read_batch(batch).schema.name
        model = _annotator_model(study, accuracy, blank_rate, spammer_share, confidence_probs, workers)
        n = write_simulated_results(batch, out, model, seed=seed, overwrite=overwrite)
    click.echo(f"{out}: {n} simulated assignments ({study}; accuracy "
               + ", ".join(f"{k} {v:g}" for k, v in model.accuracy.items()) + ")")


# ---------------------------------------------------------------------------------------------
@click.command("plan")
@click.option("--study", type=click.Choice(STUDIES), required=True)
@click.option("--tasks", default="250,500,1000", show_default=True, help="Tasks per condition to consider.")
@click.option("--assignments", default="3,5,7", show_default=True, help="Assignments per task to consider.")
@click.option("--reward", type=float, default=None, help="US dollars per assignment [default: the paper's].")
@_model_options
@click.option("--simulated-tasks", type=int, default=2000, show_default=True,
              help="Tasks per condition simulated for each number of assignments.")
@click.option("--coverage", type=float, default=0.95, show_default=True, help="Coverage of the intervals.")
@click.option("--significance", type=float, default=0.05, show_default=True, help="Level of the test.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the unrounded table to this CSV.")
@overwrite_option("--out when it exists")
def plan(study: str, tasks: str, assignments: str, reward: float | None, accuracy: tuple[str, ...],
         blank_rate: float, spammer_share: float, confidence_probs: str | None, workers: int, simulated_tasks: int,
         coverage: float, significance: float, seed: int, out: Path | None, overwrite: bool) -> None:
    """Cost, interval width and power of a study design as tasks and assignments vary."""
    from studykit.analysis import markdown_table
    from studykit.analysis.plan import PAPER_REWARD, PlanConfig, format_plan, plan_study

    with user_errors():
        model = _annotator_model(study, accuracy, blank_rate, spammer_share, confidence_probs, workers)
        config = PlanConfig(study, tasks=_integers(tasks, "--tasks"), assignments=_integers(assignments, "--assignments"),
                            reward=PAPER_REWARD[study] if reward is None else reward, confidence=coverage,
                            significance=significance, n_simulated=simulated_tasks, seed=seed)
        if out is not None and out.exists() and not overwrite:
            raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
        table = plan_study(config, model)
        if out is not None:
            table.to_csv(out, index=False)
    click.echo(f"{study}: reward ${config.reward:.2f} per assignment, MTurk fee 20% (40% from 10 assignments); "
               f"accuracy " + ", ".join(f"{k} {v:g}" for k, v in model.accuracy.items()) + "\n")
    click.echo(markdown_table(format_plan(table)))
