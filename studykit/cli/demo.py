"""``studykit demo``: a thin wrapper over :func:`studykit.demo.run` (the whole pipeline on the
embedded default, stage by stage, resumable)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import device_option, is_quiet, user_errors


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("studykit-demo"),
              show_default=True, help="Folder for every artifact (re-running reuses finished stages).")
@click.option("--limit", type=int, default=5000, show_default=True,
              help="Images per split (train, val, test) taken from Fashion-MNIST.")
@click.option("--n-alphas", type=int, default=20, show_default=True, help="Points on each regularization path.")
@click.option("--mturk-local", is_flag=True,
              help="Also post the batches to a local MTurk-protocol server, submit simulated work there, "
                   "fetch it and analyse it.")
@device_option
def demo(out: Path, limit: int, n_alphas: int, mturk_local: bool, device: str) -> None:
    """Run the whole pipeline on the embedded default dataset (Fashion-MNIST, shipped CNNs)."""
    from studykit.demo import run

    quiet = is_quiet()
    with user_errors():
        done = run(out, limit=limit, n_alphas=n_alphas, mturk_local=mturk_local, device=device,
                   progress=not quiet, echo=_echo(quiet))
    click.echo(done.summary())


def _echo(quiet: bool):
    """Stage titles in bold, other lines as they are; only the stage titles under -q."""
    def echo(line: str) -> None:
        if line.startswith("["):
            click.secho(line, bold=True)
        elif not quiet:
            click.echo(line)
    return echo
