"""``emflow record``: run an emflow subcommand in-process and leave a step status record.

Used by the Nextflow modules: ``emflow record --series B --step tilt_movie --status-dir status --
tilt-movie B_ali.mrc --outdir .``. On an emflow error (bad input, failed step) the record says
``error`` with the one-line message and the command exits 0, so the task succeeds with its
optional outputs missing and the failure reaches the manifest. A usage error or an unexpected
exception still fails the task (after recording it).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from emflow.errors import EmflowError, EmflowInputError


def _existing_files(args: tuple[str, ...]) -> list[Path]:
    return [Path(a) for a in args if not a.startswith("-") and Path(a).is_file()]


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--series", required=True, help="Series BASENAME.")
@click.option("--step", required=True, help="Step name (check, adoc, brt, tilt_movie, rec_movie, pyramid ...).")
@click.option("--status-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for SERIES.STEP.status.json (created).")
@click.option("--input", "inputs", multiple=True, type=click.Path(path_type=Path),
              help="Input file to fingerprint (repeatable) [default: the command's arguments that are files].")
@click.option("--output", "outputs", multiple=True, type=click.Path(path_type=Path),
              help="Output file or folder to fingerprint after the command (repeatable).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def record(series: str, step: str, status_dir: Path, inputs: tuple[Path, ...], outputs: tuple[Path, ...],
           command: tuple[str, ...]) -> None:
    """Run `emflow COMMAND...` and write STATUS_DIR/SERIES.STEP.status.json.

    Example: emflow record --series B --step rec_movie --status-dir st -- rec-movie B_rec.mrc --outdir .
    """
    from emflow.cli import cli
    from emflow.names import check_basename
    from emflow.records import RECORD_EXTRA, write_record

    check_basename(series, "--series")
    if not step.replace("_", "").replace("-", "").isalnum():
        raise EmflowInputError("--step", f"{step!r} must be letters, digits, _ or -")
    used_inputs = list(inputs) or _existing_files(command)
    start = time.monotonic()

    RECORD_EXTRA.clear()

    def write(status: str, message: str = "") -> None:
        write_record(status_dir, series, step, status, message=message, seconds=time.monotonic() - start,
                     inputs=used_inputs, outputs=[p for p in outputs if p.exists()] if status == "done" else [],
                     extra=dict(RECORD_EXTRA) if status == "done" else None)

    try:
        code = cli.main(args=list(command), prog_name="emflow", standalone_mode=False)
    except EmflowError as exc:
        write("error", exc.one_line())
        return
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException:
        raise
    except Exception as exc:
        write("error", f"unexpected {type(exc).__name__}: {exc}")
        raise
    if isinstance(code, int) and code != 0:
        write("error", f"emflow {command[0]} exited with code {code}")
        return
    write("done")
