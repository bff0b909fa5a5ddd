"""Per-series parameter values and where each came from, as the status records, ``assets.json``
(``imageMetadata.parameters``) and the report show them. One rule for the local runner and for
the commands the pipeline's tasks run (`emflow adoc`, `emflow brt`): explicit option > samplesheet
row > acquisition metadata (`emflow.acquisition`) > default.

Public names
------------
FIELD_DEFAULTS, OPTION_NAMES         the row fields' built-in defaults and their options
value_source(field, value, row_fields, row_source)   "sheet.csv row 3", "--thickness" or "default"
given(value, source)                 an explicit candidate (`Sourced`) for the metadata's choice, or None
adoc_parameters(stack, values, source_of)            the .adoc's per-series values with their sources
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from typing import Any

from emflow.acquisition import Sourced, resolve_pixel_size

# Built-in defaults of the row fields: a value equal to one is reported as "default" (the pipeline
# cannot tell a parameter given on purpose from its configured default).
FIELD_DEFAULTS: dict[str, Any] = {"tilt_axis_deg": None, "pixel_size_nm": None, "thickness_px": 256, "bin_factor": 4,
                                  "recon": "auto"}
OPTION_NAMES = {"tilt_axis_deg": "--tilt-axis-deg", "pixel_size_nm": "--pixel-size-nm", "thickness_px": "--thickness",
                "bin_factor": "--bin", "recon": "--recon"}


def value_source(field: str, value: Any, row_fields: Collection[str], row_source: str) -> str:
    """Where a series' ``value`` of ``field`` came from: its row, a run-wide option, or the default."""
    if field in row_fields:
        return row_source
    if value is None or value == FIELD_DEFAULTS.get(field):
        return "default"
    return OPTION_NAMES.get(field, field)


def given(value: Any, source: str) -> Sourced | None:
    """``value`` as an explicit candidate that wins over the acquisition metadata (None when unset
    or merely the default, so that the metadata decides)."""
    return Sourced(float(value), source) if value is not None and source != "default" else None


def adoc_parameters(stack: str | os.PathLike[str], values: Mapping[str, Any],
                    source_of: Callable[[str], str]) -> dict[str, Any]:
    """``{name: {"value", "source"[, "conflicts"]}}`` of a rendered .adoc's per-series values.

    ``values`` holds ``pixel_size_nm`` (None: from the metadata), ``thickness_px`` and
    ``bin_factor``; ``source_of(field)`` says where each came from (`value_source`).
    """
    pixel = resolve_pixel_size(stack, explicit=given(values["pixel_size_nm"], source_of("pixel_size_nm")))
    return {
        "pixel_size_nm": pixel.to_json(),
        "thickness_px": {"value": values["thickness_px"], "source": source_of("thickness_px")},
        "bin_factor": {"value": values["bin_factor"], "source": source_of("bin_factor")},
    }
