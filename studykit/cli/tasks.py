"""``studykit tasks build|show`` and ``studykit preview``: thin commands over :mod:`studykit.tasks` and
:mod:`studykit.preview`.

Only click is imported at module level; the task builder (numpy, torch through the solver) and the
preview server are imported inside the commands, so ``studykit --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

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
def build(spec_file: Path, out: Path, feature_images: Path | None, seed: int | None) -> None:
    """Sample the study of SPEC.toml and write its batch folder (pages, assets, answer key, manifest)."""
    import dataclasses

    from studykit.tasks import build_batch, describe_batch, load_spec

    with user_errors():
        spec = load_spec(spec_file)
        if seed is not None:
            spec = dataclasses.replace(spec, seed=seed)
        if feature_images is not None:
            spec = dataclasses.replace(spec, inputs=dataclasses.replace(spec.inputs,
                                                                        feature_images=str(feature_images)))
        build_batch(spec, out)
        click.echo(describe_batch(out))


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
def preview(batch_dir: Path, port: int) -> None:
    """Serve BATCH's HITs on 127.0.0.1 as MTurk shows them; submissions go to BATCH/preview_results.csv."""
    from studykit.preview import PreviewServer

    with user_errors():
        try:
            server = PreviewServer(batch_dir, port=port)
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
