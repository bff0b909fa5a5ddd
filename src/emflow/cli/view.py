"""``emflow view OUT [SERIES...]``: serve a run's output and open each series in Neuroglancer."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.argument("series", nargs=-1)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on (0: any free one).")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--no-browser", is_flag=True, help="Only print the URLs.")
@click.option("--public-url", default=None, metavar="URL",
              help="Do not serve: print each series' state (JSON) with its sources under URL/SERIES, "
                   "for OUT published at URL (web server or bucket with CORS).")
def view(out: Path, series: tuple[str, ...], port: int, bind: str, no_browser: bool, public_url: str | None) -> None:
    """Serve OUT read-only over HTTP with the bundled Neuroglancer client (no internet needed) and
    print one viewer URL per series (and an index page when there are several). Ctrl-C stops it.

    Each series opens with its volume (precomputed pyramid, or OME-Zarr when only that exists),
    its voxel size, the contrast of B_min_max.json / B_shader.json and a 4-panel layout.

    Example: emflow demo out && emflow view out
    """
    from emflow.view.server import ViewServer, find_series
    from emflow.view.state import fill_base_url, load_state

    if public_url is not None:
        names = find_series(out, series)
        states = {name: fill_base_url(load_state(out / name, name), f"{public_url.rstrip('/')}/{name}") for name in names}
        click.echo(json.dumps(states, indent=2))
        return
    server = ViewServer(out, series, bind=bind, port=port)
    click.echo(f"serving {out} read-only at {server.index_url} (Ctrl-C stops)", err=True)
    for name in server.series:
        click.echo(f"{name}: {server.viewer_url(name)}")
    if len(server.series) > 1:
        click.echo(f"index: {server.index_url}")
    if not no_browser:
        import webbrowser

        if not webbrowser.open(server.viewer_url(server.series[0]) if len(server.series) == 1 else server.index_url):
            click.echo("no web browser found here: open the URL above in one", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.close()
