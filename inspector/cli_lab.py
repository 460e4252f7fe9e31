"""``oauth-inspector lab``: the local lab that makes sample traffic (and, later, serves and drives it live)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def lab() -> None:
    """A local simulated Exchange and S2S client: samples, demo traffic, test fixtures."""


@lab.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def samples(folder: Path) -> None:
    """Write the sample captures (HAR, .mitm), their certificate, ACS metadata and expected findings to FOLDER.

    New keys are generated each time, so the files change; expected.json changes with them.
    """
    from inspector.lab.samples import write_samples

    for path in write_samples(folder):
        click.echo(str(path))
