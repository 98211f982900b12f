"""``studykit demo``: the whole pipeline on the embedded default, stage by stage, resumable.

Fashion-MNIST through the shipped standard and robust CNNs -> feature stores -> regularization paths
-> dense and sparse decision layers (path plots, top-k tables) -> feature visualizations and LIME
images of the robust model's features -> the three study batches -> simulated annotators -> analysis
reports. Each stage is the same library code the other commands run (most stages invoke those very
commands), writes into ``--out``, and is skipped when its output is already complete, so a re-run
reuses what is done. ``--mturk-local`` also posts the batches through boto3 to a local server
speaking MTurk's protocol, has simulated workers submit there, fetches the results back and
analyses them: nothing is faked below boto3.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from studykit.formats.studies import STUDY_NAMES as STUDIES

from .analysis import analyze, simulate
from .common import user_errors
from .solve import path_command, select_command
from .tasks import build

MODELS = ("standard", "robust")
#: The model whose layers the studies show (the paper's studies use robust models: their features
#: can be visualized by plain gradient ascent).
STUDY_MODEL = "robust"

#: The demo's scale: the paper's defaults, shrunk so that the whole run takes minutes on 2 cores.
SAMPLING = {
    "simulatability": {"n_classes": 10, "tasks_per_class": 3, "n_features": 3},
    "spurious": {"n_pairs": 20},
    "misclassification": {"n_tasks": 60},
}


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("studykit-demo"),
              show_default=True, help="Folder for every artifact (re-running reuses finished stages).")
@click.option("--limit", type=int, default=5000, show_default=True,
              help="Images per split (train, val, test) taken from Fashion-MNIST.")
@click.option("--n-alphas", type=int, default=20, show_default=True, help="Points on each regularization path.")
@click.option("--mturk-local", is_flag=True,
              help="Also post the batches to a local MTurk-protocol server, submit simulated work there, "
                   "fetch it and analyse it.")
@click.pass_context
def demo(ctx: click.Context, out: Path, limit: int, n_alphas: int, mturk_local: bool) -> None:
    """Run the whole pipeline on the embedded default dataset (Fashion-MNIST, shipped CNNs)."""
    start = time.perf_counter()
    stages = [("feature stores", _features), ("regularization paths and layers", _paths),
              ("feature visualizations and LIME", _feature_images), ("study batches", _batches),
              ("simulated annotators and reports", _simulated)]
    if mturk_local:
        stages.append(("post, work and fetch through a local MTurk server", _mturk_local))
    for number, (title, stage) in enumerate(stages, 1):
        click.secho(f"[{number}/{len(stages)}] {title}", bold=True)
        stage(ctx, out, limit=limit, n_alphas=n_alphas)
    click.echo(_headline(out, mturk_local, time.perf_counter() - start))


def _done(path: Path, what: str) -> bool:
    if path.exists():
        click.echo(f"  {what}: done before, reused ({path})")
        return True
    return False


def _features(ctx, out: Path, *, limit: int, **_) -> None:
    from studykit.features.default import extract_default

    if all(_done(out / "features" / m / "meta.json", f"{m} store") for m in MODELS):
        return
    with user_errors():
        stores, notice = extract_default(out / "features", limit=limit)
    if notice:
        click.echo(f"  notice: {notice}", err=True)
    for name, store in stores.items():
        click.echo(f"  {name}: {store.directory} ({store.n_features} features)")


def _paths(ctx, out: Path, *, n_alphas: int, **_) -> None:
    for model in MODELS:
        path = out / "paths" / model
        if not _done(path / "path.npz", f"{model} path"):
            ctx.invoke(path_command, features_dir=out / "features" / model, out=path, n_alphas=n_alphas, eps=1e-2)
        if not _done(path / "layers" / "sparse.npz", f"{model} layers"):
            ctx.invoke(select_command, path_dir=path)


def _positive_features(out: Path, layers: tuple[str, ...]) -> list[int]:
    """The features that the robust model's ``layers`` give a positive weight for some class."""
    import numpy as np

    from studykit.solver.layers import DecisionLayer

    used = set()
    for layer in layers:
        weight = DecisionLayer.load(out / "paths" / STUDY_MODEL / "layers" / f"{layer}.npz").weight
        used.update(np.flatnonzero((weight > 0).any(axis=0)).tolist())
    return sorted(used)


def _feature_images(ctx, out: Path, **_) -> None:
    from studykit.features import FeatureStore
    from studykit.interpret.fv import PixelConfig
    from studykit.interpret.provider import FeatureImageProvider, write_feature_folder

    folder, lime_folder = out / "feature-images" / "fv", out / "feature-images" / "lime"
    if _done(folder / "DONE", "feature visualizations") and _done(lime_folder / "DONE", "LIME images"):
        return
    store = FeatureStore.open(out / "features" / STUDY_MODEL)
    features = _positive_features(out, ("dense", "sparse"))   # what the batches can show
    cache = out / "feature-images" / "cache"
    with user_errors():
        fv = FeatureImageProvider(store, "fv", cache_dir=cache, fv_config=PixelConfig(), batch_size=128,
                                  progress=True)
        write_feature_folder(fv, features, folder)
        sparse = _positive_features(out, ("sparse",))
        lime = FeatureImageProvider(store, "lime", cache_dir=cache, progress=True)
        write_feature_folder(lime, sparse, lime_folder)
    for target, n in ((folder, len(features)), (lime_folder, len(sparse))):
        (target / "DONE").write_text(f"{n} features\n")
    click.echo(f"  {len(features)} feature visualizations in {folder}; LIME images of the sparse layer's "
               f"{len(sparse)} features in {lime_folder}")


def _spec_text(out: Path, study: str) -> str:
    lines = [f'study = "{study}"', "seed = 0", "", "[inputs]",
             f'store = "{(out / "features" / STUDY_MODEL).resolve()}"',
             f'path = "{(out / "paths" / STUDY_MODEL).resolve()}"']
    if study != "spurious":
        lines.append(f'feature_images = "{(out / "feature-images" / "fv").resolve()}"')
    lines += ["", "[sampling]"] + [f"{k} = {v}" for k, v in SAMPLING[study].items()]
    return "\n".join(lines) + "\n"


def _batches(ctx, out: Path, **_) -> None:
    for study in STUDIES:
        batch = out / "batches" / study
        if _done(batch / "manifest.json", f"{study} batch"):
            continue
        spec = out / "specs" / f"{study}.toml"
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(_spec_text(out, study))
        ctx.invoke(build, spec_file=spec, out=batch)


def _simulated(ctx, out: Path, **_) -> None:
    for study in STUDIES:
        batch, results = out / "batches" / study, out / "batches" / study / "results" / "simulated.csv"
        if not _done(results, f"{study} simulated results"):
            ctx.invoke(simulate, batch=batch, out=results)
        report = out / "reports" / study
        if not _done(report / "report.md", f"{study} report"):
            ctx.invoke(analyze, results=results, batch=batch, out=report, salt="studykit-demo")


def _mturk_local(ctx, out: Path, **_) -> None:
    import shutil

    from studykit.mturk.fake_server import FakeMTurkServer

    from .mturk import fetch, host, post

    dummy = {"AWS_ACCESS_KEY_ID": "studykit-local", "AWS_SECRET_ACCESS_KEY": "studykit-local",
             "AWS_SESSION_TOKEN": "studykit-local"}
    saved = {k: os.environ.get(k) for k in dummy}
    os.environ.update(dummy)       # the local server checks no signature; real credentials stay unused
    try:
        with FakeMTurkServer() as server:
            for study in STUDIES:
                # A copy of the batch: hosting rewrites its pages' image URLs. No browser shows these
                # pages, so the images are "hosted" at a reserved, never-resolving HTTPS name.
                batch = out / "mturk-local" / study
                shutil.rmtree(batch, ignore_errors=True)
                shutil.copytree(out / "batches" / study, batch, ignore=shutil.ignore_patterns("results"))
                ctx.invoke(host, batch_dir=batch, base_url=f"https://assets.studykit-demo.invalid/{study}")
                results = batch / "results" / "mturk-local.csv"
                ctx.invoke(post, batch_dir=batch, endpoint_url=server.endpoint_url, yes=True)
                submitted = submit_simulated_work(server, batch)
                click.echo(f"  {study}: {submitted} simulated assignments submitted to the local server")
                ctx.invoke(fetch, batch_dir=batch, endpoint_url=server.endpoint_url, yes=True, out=results)
                ctx.invoke(analyze, results=results, batch=batch, out=out / "reports-mturk-local" / study,
                           salt="studykit-demo", overwrite=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value


def submit_simulated_work(server, batch: Path) -> int:
    """Simulated workers (the analysis' annotator model, seed 0) submit every assignment of the HITs
    that ``batch`` has on the local MTurk server ``server``; returns the number submitted."""
    from studykit.analysis.simulate import AnnotatorModel, simulated_rows
    from studykit.formats.batch import read_batch
    from studykit.mturk.ledger import Ledger

    with Ledger(batch, server.endpoint_url) as ledger:
        hit_of = {record.task_id: record.hit_id for record in ledger.hits() if record.hit_id}
    parsed = read_batch(batch)
    rows = simulated_rows(parsed, AnnotatorModel.for_study(parsed.schema), seed=0)
    for row in rows:
        answers = {k.removeprefix("Answer."): str(v).split("|") if "|" in str(v) else str(v)
                   for k, v in row.items() if k.startswith("Answer.") and v not in (None, "")}
        server.fake.submit_assignment(hit_of[row["Input.task_id"]], answers, worker_id=row["WorkerId"],
                                      work_seconds=float(row["WorkTimeInSeconds"]))
    return len(rows)


def _headline(out: Path, mturk_local: bool, seconds: float) -> str:
    from .demo_summary import summary

    return summary(out, STUDY_MODEL, MODELS, STUDIES, mturk_local, seconds)
