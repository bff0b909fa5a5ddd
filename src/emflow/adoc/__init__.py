"""batchruntomo directive files (SPEC §2): render, validate, read back as BRT does.

Public API
----------
AdocParams                         the parameters `emflow adoc` renders (units in the names)
validate_params(params)            refuse bad values before anything is written
write_adoc(stack, outdir, params)  ``OUTDIR/BASENAME.adoc`` from a shipped (or user's) Jinja2 template
render_directives(stack, outdir, params) -> dict[str, str]
parse_adoc(path) -> dict[str, str] strict BRT-style reader (bad line / duplicate key -> EmflowInputError)
check_user_adoc(path, stack=None)  a user's ``BASENAME.adoc``: parsed strictly, name checked
read_brt_settings(path) -> BrtSettings(name, stackext, bin_factor, thickness_px, pixel_size_nm, ...)
"""

from emflow.adoc.params import TEMPLATE_NAMES, AdocParams, validate_params
from emflow.adoc.parse import BrtSettings, parse_adoc, read_brt_settings, rewrite_dataset_dir
from emflow.adoc.render import render_directives, write_adoc
from emflow.adoc.user import check_user_adoc, user_adoc_beside

__all__ = [
    "TEMPLATE_NAMES",
    "AdocParams",
    "BrtSettings",
    "check_user_adoc",
    "parse_adoc",
    "read_brt_settings",
    "render_directives",
    "rewrite_dataset_dir",
    "user_adoc_beside",
    "validate_params",
    "write_adoc",
]
