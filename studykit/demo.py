"""The whole pipeline on the embedded default, stage by stage, resumable: :func:`run`.

Fashion-MNIST through the shipped standard and robust CNNs -> feature stores -> regularization paths
-> dense and sparse decision layers (path plots, top-k tables) -> feature visualizations and LIME
images of the robust model's features -> the three study batches -> simulated annotators -> analysis
reports. Each stage calls the library functions the commands call, writes into ``out``, and is
skipped when its output is already complete, so a re-run reuses what is done. ``mturk_local`` also
posts the batches through boto3 to a local server speaking MTurk's protocol, has simulated workers
submit there, fetches the results back and analyses them: nothing is faked below boto3.

``studykit demo`` is a thin wrapper: it passes ``click.echo`` as ``echo`` and prints
:meth:`DemoRun.summary`.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from studykit.formats.studies import STUDY_NAMES

logger = logging.getLogger(__name__)

STUDIES = STUDY_NAMES
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
#: Smallest alpha of the demo's paths as a fraction of alpha_max (the CLI's default is 1e-3).
PATH_EPS = 1e-2
#: Salt of the worker pseudonyms in the demo's reports (fixed, so that re-runs agree).
SALT = "studykit-demo"


@dataclass(frozen=True)
class DemoRun:
    """What :func:`run` did: where everything is, whether the local MTurk stage ran, how long it took."""

    out: Path
    mturk_local: bool
    seconds: float

    def summary(self) -> str:
        """The headline numbers, read back from the files the run wrote, and where things are."""
        from .demo_summary import summary

        return summary(self.out, STUDY_MODEL, MODELS, STUDIES, self.mturk_local, self.seconds)


def run(out="studykit-demo", *, limit: int = 5000, n_alphas: int = 20, mturk_local: bool = False,
        device="auto", progress: bool = True, echo: Callable[[str], None] | None = None) -> DemoRun:
    """Run every stage of the demo into ``out``, reusing the stages a previous run finished.

    Parameters
    ----------
    out : path
        Folder for every artifact.
    limit : int
        Images per split (train, val, test) taken from Fashion-MNIST.
    n_alphas : int
        Points on each regularization path.
    mturk_local : bool
        Also post the batches to a local MTurk-protocol server, submit simulated work there, fetch it
        and analyse it.
    device : ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or a torch.device
    progress : bool
        Progress bars (log lines when stderr is not a terminal).
    echo : callable, optional
        Receives one line of text per event (stage started, output reused or written); default: the
        module's logger at INFO level.
    """
    from studykit._device import resolve_device

    stage_run = _Stages(Path(out), limit, n_alphas, resolve_device(device), progress, echo or logger.info)
    start = time.perf_counter()
    stages = [("feature stores", stage_run.features), ("regularization paths and layers", stage_run.paths),
              ("feature visualizations and LIME", stage_run.feature_images), ("study batches", stage_run.batches),
              ("simulated annotators and reports", stage_run.simulated)]
    if mturk_local:
        stages.append(("post, work and fetch through a local MTurk server", stage_run.mturk_local))
    for number, (title, stage) in enumerate(stages, 1):
        stage_run.echo(f"[{number}/{len(stages)}] {title}")
        stage()
    return DemoRun(Path(out), mturk_local, time.perf_counter() - start)


@dataclass
class _Stages:
    out: Path
    limit: int
    n_alphas: int
    device: object
    progress: bool
    echo: Callable[[str], None]

    def done(self, path: Path, what: str) -> bool:
        if path.exists():
            self.echo(f"  {what}: done before, reused ({path})")
            return True
        return False

    # ------------------------------------------------------------------ stages
    def features(self) -> None:
        from studykit.features.default import extract_default

        if all(self.done(self.out / "features" / m / "meta.json", f"{m} store") for m in MODELS):
            return
        stores, notice = extract_default(self.out / "features", limit=self.limit, device=self.device,
                                         progress=self.progress)
        if notice:
            self.echo(f"  notice: {notice}")
        for name, store in stores.items():
            self.echo(f"  {name}: {store.directory} ({store.n_features} features)")

    def paths(self) -> None:
        for model in MODELS:
            path = self.out / "paths" / model
            if not self.done(path / "path.npz", f"{model} path"):
                result = fit_store_path(self.out / "features" / model, path, n_alphas=self.n_alphas,
                                        device=self.device, progress=self.progress)
                self.echo(f"  {model} path: {path} ({len(result)} alphas)")
            if not self.done(path / "layers" / "sparse.npz", f"{model} layers"):
                sparse, dense = select_layers(path, self.out / "features" / model)
                self.echo(f"  {model} layers: {path / 'layers'} (sparse: {sparse.features_per_class.mean():.1f} "
                          f"features per class; dense: {dense.features_per_class.mean():.1f})")

    def feature_images(self) -> None:
        from studykit.features import FeatureStore
        from studykit.interpret.fv import PixelConfig
        from studykit.interpret.provider import FeatureImageProvider, write_feature_folder

        folder, lime_folder = self.out / "feature-images" / "fv", self.out / "feature-images" / "lime"
        if self.done(folder / "DONE", "feature visualizations") and self.done(lime_folder / "DONE", "LIME images"):
            return
        store = FeatureStore.open(self.out / "features" / STUDY_MODEL)
        features = positive_features(self.out, ("dense", "sparse"))   # what the batches can show
        cache = self.out / "feature-images" / "cache"
        fv = FeatureImageProvider(store, "fv", cache_dir=cache, fv_config=PixelConfig(), batch_size=128,
                                  device=self.device, progress=self.progress)
        write_feature_folder(fv, features, folder)
        sparse = positive_features(self.out, ("sparse",))
        lime = FeatureImageProvider(store, "lime", cache_dir=cache, device=self.device, progress=self.progress)
        write_feature_folder(lime, sparse, lime_folder)
        for target, n in ((folder, len(features)), (lime_folder, len(sparse))):
            (target / "DONE").write_text(f"{n} features\n")
        self.echo(f"  {len(features)} feature visualizations in {folder}; LIME images of the sparse layer's "
                  f"{len(sparse)} features in {lime_folder}")

    def batches(self) -> None:
        from studykit.tasks import build_batch
        from studykit.tasks.spec import TaskSpec

        for study in STUDIES:
            batch = self.out / "batches" / study
            if self.done(batch / "manifest.json", f"{study} batch"):
                continue
            data = spec_data(self.out, study)
            spec = write_spec(data, self.out / "specs" / f"{study}.toml")
            build_batch(TaskSpec.from_dict(data), batch)
            self.echo(f"  {study} batch: {batch} (spec: {spec})")

    def simulated(self) -> None:
        from studykit.analysis import write_simulated_results
        from studykit.analysis.simulate import AnnotatorModel

        for study in STUDIES:
            batch, results = self.out / "batches" / study, self.out / "batches" / study / "results" / "simulated.csv"
            if not self.done(results, f"{study} simulated results"):
                n = write_simulated_results(batch, results, AnnotatorModel.for_study(study), seed=0)
                self.echo(f"  {study}: {n} simulated assignments in {results}")
            report = self.out / "reports" / study
            if not self.done(report / "report.md", f"{study} report"):
                self.echo(f"  {study} report: {analyse(results, batch, report)}")

    def mturk_local(self) -> None:
        from studykit.mturk.local import FakeMTurkServer

        dummy = {"AWS_ACCESS_KEY_ID": "studykit-local", "AWS_SECRET_ACCESS_KEY": "studykit-local",
                 "AWS_SESSION_TOKEN": "studykit-local"}
        saved = {k: os.environ.get(k) for k in dummy}
        os.environ.update(dummy)       # the local server checks no signature; real credentials stay unused
        try:
            with FakeMTurkServer() as server:
                for study in STUDIES:
                    self._through_local_mturk(server, study)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key)
                else:
                    os.environ[key] = value

    def _through_local_mturk(self, server, study: str) -> None:
        from studykit.mturk.batch import load_batch
        from studykit.mturk.client import Environment, make_client
        from studykit.mturk.fetch import fetch_results
        from studykit.mturk.hosting import AssetHosting, host_assets
        from studykit.mturk.ledger import Ledger
        from studykit.mturk.post import post_batch, prepare_post
        from studykit.mturk.qualifications import Qualifications

        # A copy of the batch: hosting rewrites its pages' image URLs. No browser shows these pages,
        # so the images are "hosted" at a reserved, never-resolving HTTPS name.
        batch_dir = self.out / "mturk-local" / study
        shutil.rmtree(batch_dir, ignore_errors=True)
        shutil.copytree(self.out / "batches" / study, batch_dir, ignore=shutil.ignore_patterns("results"))
        host_assets(load_batch(batch_dir), AssetHosting(base_url=f"https://assets.studykit-demo.invalid/{study}"))
        batch = load_batch(batch_dir)
        environment = Environment.from_options(endpoint_url=server.endpoint_url)
        client = make_client(environment)
        with Ledger(batch_dir, environment.ledger_key) as ledger:
            plan = prepare_post(client, batch, ledger, environment, Qualifications())
            posted = post_batch(client, batch, ledger, plan, progress=self.progress)
        submitted = submit_simulated_work(server, batch_dir)
        results = batch_dir / "results" / "mturk-local.csv"
        with Ledger(batch_dir, environment.ledger_key) as ledger:
            fetched = fetch_results(client, batch, ledger, results, progress=self.progress)
        self.echo(f"  {study}: {posted.created} HITs posted, {submitted} simulated assignments submitted to the "
                  f"local server, {fetched.n_assignments} fetched")
        analyse(results, batch_dir, self.out / "reports-mturk-local" / study, overwrite=True)


# ---------------------------------------------------------------------------------------------
def fit_store_path(store_dir, out: Path, *, n_alphas: int, device=None, progress: bool = False):
    """Fit the demo's regularization path on the feature store ``store_dir`` and save it in ``out``
    as ``studykit solve path`` does (the store's val split for validation, its test split for test
    metrics; the store recorded in ``config.json``); returns the :class:`~studykit.solver.PathResult`."""
    from studykit.features import FeatureStore
    from studykit.solver import PathConfig, fit_store

    result = fit_store(FeatureStore.open(store_dir), PathConfig(n_alphas=n_alphas, eps=PATH_EPS), device=device,
                       checkpoint_dir=out / "checkpoint", progress=progress)
    result.save(out)
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    return result


def select_layers(path_dir: Path, store_dir, *, within: float = 0.05, k: int = 10):
    """The paper's sparse layer (D.1.1: the sparsest point within ``within`` of the best validation
    accuracy) and the model's own dense layer, saved in ``path_dir/layers``, with the path analyses
    in ``path_dir/analysis``, as ``studykit solve select`` does by default; returns ``(sparse, dense)``."""
    import dataclasses

    from studykit.features import FeatureStore
    from studykit.solver import PathResult
    from studykit.solver.analyses import write_report

    result, store = PathResult.load(path_dir), FeatureStore.open(store_dir)
    model_layer = store.dense_layer()
    if model_layer is None:
        raise ValueError(f"{store.directory} has no dense_layer.npz (the model's own final layer)")
    sparse = result.select(None, within=within, by="val_accuracy", name="sparse")
    dense = dataclasses.replace(model_layer, name="dense")
    sparse.save(path_dir / "layers" / "sparse.npz")
    dense.save(path_dir / "layers" / "dense.npz")
    X_test, y_test = store.split("test") if store.has("test") else (None, None)
    write_report(result, path_dir / "analysis", sparse=sparse, dense=dense, X_test=X_test, y_test=y_test, k=k,
                 scale=result.scale)
    return sparse, dense


def positive_features(out: Path, layers: tuple[str, ...]) -> list[int]:
    """The features that the study model's ``layers`` give a positive weight for some class."""
    import numpy as np

    from studykit.solver.layers import DecisionLayer

    used = set()
    for layer in layers:
        weight = DecisionLayer.load(out / "paths" / STUDY_MODEL / "layers" / f"{layer}.npz").weight
        used.update(np.flatnonzero((weight > 0).any(axis=0)).tolist())
    return sorted(used)


def spec_data(out: Path, study: str) -> dict:
    """The spec of the demo's ``study`` batch as :meth:`TaskSpec.from_dict <studykit.tasks.spec.TaskSpec.from_dict>`
    takes it: absolute input paths, the demo's :data:`SAMPLING`, the paper's defaults for the rest."""
    inputs = {"store": str((out / "features" / STUDY_MODEL).resolve()),
              "path": str((out / "paths" / STUDY_MODEL).resolve())}
    if study != "spurious":
        inputs["feature_images"] = str((out / "feature-images" / "fv").resolve())
    return {"study": study, "seed": 0, "inputs": inputs, "sampling": dict(SAMPLING[study])}


def write_spec(data: dict, path: Path) -> Path:
    """Write spec ``data`` (:func:`spec_data`) as a TOML spec file for ``studykit tasks build``."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def analyse(results: Path, batch: Path, report: Path, *, overwrite: bool = False) -> Path:
    """The default analysis of ``results`` (the batch's study, the paper's QC, Wilson intervals) into
    ``report``; returns the path of ``report.md``."""
    from studykit.analysis import analyze, write_analysis

    write_analysis(analyze(results, batch=batch, salt=SALT), report, overwrite=overwrite)
    return report / "report.md"


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
