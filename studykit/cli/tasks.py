"""``studykit tasks build|show`` and ``studykit preview``: thin commands over :mod:`studykit.tasks` and
:mod:`studykit.preview`.

Only click is imported at module level; the task builder (numpy, torch through the solver) and the
preview server are imported inside the commands, so ``studykit --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from studykit.formats.studies import STUDY_NAMES as STUDIES

from .common import user_errors


@click.group()
def tasks() -> None:
    """Build HIT batches for the three studies and inspect them."""


@tasks.command("build")
@click.argument("spec_file", metavar="SPEC.toml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Batch folder to write (must not exist, or be empty).")
@click.option("--feature-images", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of feature_<i>.png images [default: the spec's inputs.feature_images].")
@click.option("--seed", type=int, default=None, help="Replace the spec's seed.")
@click.option("--strict", is_flag=True,
              help="Fail (and write nothing) when fewer tasks are built than the spec asks [default: a warning].")
def build(spec_file: Path, out: Path, feature_images: Path | None, seed: int | None, strict: bool) -> None:
    """Sample the study of SPEC.toml and write its batch folder (pages, assets, answer key, manifest)."""
    import dataclasses

    from studykit.formats.batch import read_manifest
    from studykit.tasks import build_batch, describe_batch, load_spec

    with user_errors():
        spec = load_spec(spec_file)
        if seed is not None:
            spec = dataclasses.replace(spec, seed=seed)
        if feature_images is not None:
            spec = dataclasses.replace(spec, inputs=dataclasses.replace(spec.inputs,
                                                                        feature_images=str(feature_images)))
        build_batch(spec, out, spec_dir=spec_file.parent, strict=strict)
        click.echo(describe_batch(out))
        counts = read_manifest(out).get("counts", {})
        asked, built = counts.get("requested", {}).get("tasks", 0), counts.get("built", {}).get("tasks", 0)
        if built < asked:
            click.echo(f"Warning: only {built} of {asked} tasks built ({'; '.join(counts.get('notes', []))}); "
                       "--strict makes this an error", err=True)
        for warning in counts.get("warnings", []):
            click.echo(f"Warning: {warning}", err=True)


@tasks.command("init")
@click.argument("study", type=click.Choice(STUDIES))
def init(study: str) -> None:
    """Print a commented starter spec for STUDY with the paper's defaults (save it, then edit [inputs])."""
    from studykit.tasks.starter import starter_spec

    click.echo(starter_spec(study), nl=False)


@tasks.command("show")
@click.argument("batch_dir", metavar="BATCH", type=click.Path(file_okay=False, exists=True, path_type=Path))
def show(batch_dir: Path) -> None:
    """Counts (requested, built, and why fewer) and the cost of posting BATCH."""
    from studykit.mturk.batch import load_batch
    from studykit.mturk.cost import estimate_cost
    from studykit.tasks import describe_batch

    with user_errors():
        click.echo(describe_batch(batch_dir))
        batch = load_batch(batch_dir)
        click.echo(estimate_cost(batch.hit, len(batch.tasks)).describe())


@click.command("preview")
@click.argument("batch_dir", metavar="BATCH", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--allow-resubmit", is_flag=True,
              help="Record more than one submission of a HIT by the same worker [default: the first only, as MTurk].")
def preview(batch_dir: Path, port: int, allow_resubmit: bool) -> None:
    """Serve BATCH's HITs on 127.0.0.1 as MTurk shows them; submissions go to BATCH/preview_results.csv."""
    from studykit.preview import PreviewServer

    with user_errors():
        try:
            server = PreviewServer(batch_dir, port=port, allow_resubmit=allow_resubmit)
        except FileNotFoundError:
            raise
        except OSError as exc:                  # the port is taken or not ours to use
            raise click.ClickException(f"cannot serve on 127.0.0.1:{port} ({exc.strerror})") from None
    click.echo(f"previewing {batch_dir} at {server.url}  (answers: {server.results_path}; Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
