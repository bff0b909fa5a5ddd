"""``emflow view``: look at a run's tomograms in a local Neuroglancer (offline), one URL per series.

Public names
------------
ViewServer              emflow.view.server: OUT read-only over HTTP + the bundled Neuroglancer client
find_series             emflow.view.server: the series of OUT with a pyramid or OME-Zarr
series_state, write_state, load_state, fill_base_url, BASE_URL
                        emflow.view.state: the per-series Neuroglancer state (``B_neuroglancer.json``)

The state module has no dependency beyond the standard library (the pyramid step writes the
state file); the server needs the ``neuroglancer`` package only for its client files, found
without importing it.
"""

from emflow.view.state import BASE_URL, fill_base_url, load_state, series_state, write_state

__all__ = ["BASE_URL", "fill_base_url", "load_state", "series_state", "write_state"]
