"""The ``emflow`` command group: one file per command, registered here.

Every command turns `EmflowError` into one line on stderr (exit 2 for bad input, 1 for a
step that ran and failed) with no traceback unless ``--debug``; library warnings are folded
into that line or logged, never dumped.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

import click

from emflow import __version__
from emflow.errors import EmflowError

# name -> "module:attribute"; modules are imported lazily so a broken optional dependency of
# one step (e.g. ASTRA) never stops `emflow info` from working.
COMMANDS: dict[str, str] = {
    "adoc": "emflow.cli.adoc:adoc",
    "adoc-check": "emflow.cli.adoc:adoc_check",
    "brt": "emflow.cli.brt:brt",
    "demo": "emflow.cli.run:demo",
    "encode-movie": "emflow.cli.movies:encode_movie",
    "info": "emflow.cli.info:info",
    "manifest": "emflow.cli.manifest:manifest",
    "minmax": "emflow.cli.pyramid:minmax",
    "mrc2nifti": "emflow.cli.pyramid:mrc2nifti",
    "pyramid": "emflow.cli.pyramid:pyramid",
    "rec-movie": "emflow.cli.movies:rec_movie",
    "rec-volumes": "emflow.cli.movies:rec_volumes",
    "record": "emflow.cli.record:record",
    "render-frames": "emflow.cli.movies:render_frames",
    "run": "emflow.cli.run:run",
    "samplesheet": "emflow.cli.samplesheet:samplesheet",
    "section-stats": "emflow.cli.movies:section_stats",
    "spatialomics": "emflow.cli.spatialomics:spatialomics",
    "spatialomics-file": "emflow.cli.spatialomics:spatialomics_file",
    "spatialomics-manifest": "emflow.cli.spatialomics:spatialomics_manifest",
    "tilt-movie": "emflow.cli.movies:tilt_movie",
    "validate-assets": "emflow.cli.manifest:validate_assets",
    "validate-params": "emflow.cli.validate_params:validate_params",
    "view": "emflow.cli.view:view",
    "zarr": "emflow.cli.zarr:zarr",
}


class LazyGroup(click.Group):
    """A Click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="emflow")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """emflow: electron-tomography processing (IMOD batchruntomo, movies, Neuroglancer pyramids).

    Progress goes to stderr; machine output (--json) to stdout. Exit 0: all done; 1: the command
    ran but some input failed; 2: usage or parameter error, or a bad single input.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(message)s" if not debug else "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``emflow`` console script and of every ``bin/`` command."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        with warnings.catch_warnings():
            if not debug:
                # mrcfile and friends warn about odd headers; emflow reports problems itself.
                warnings.simplefilter("ignore", RuntimeWarning)
            code = cli.main(args=argv, prog_name="emflow", standalone_mode=False)
    except EmflowError as exc:
        if debug:
            raise
        for line in exc.lines():
            click.echo(f"emflow: {line}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("emflow: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("emflow: interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0


def run_main() -> None:
    """Console-script wrapper: exit with `main`'s code."""
    sys.exit(main())
