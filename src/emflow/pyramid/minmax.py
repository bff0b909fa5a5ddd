"""Visual min/max for Neuroglancer (SPEC §6), as tomojs-pytools' ``mrc_visual_min_max --mad`` computes it.

Public names
------------
HistogramAccumulator(dtype, value_range=None)
                          ``.update(slab)`` slab by slab, ``.result() -> (centres, counts)``
float_edges(vmin, vmax)   the 1024-bin edges the reference uses for float data
visual_stats(centres, counts, mad) -> dict   median, mad, min, max, floor, limit (floats)
minmax_json(stats) -> dict                   the SPEC JSON (strings of integers, fixed key order)
minmax_bytes(d) -> bytes                     the file as the reference writes it (``json.dump``)
weighted_quantile(values, q, weights, values_sorted)

Histogram: one bin per integer value for integer data (edges at ``v ± 0.5`` over the dtype's
whole range); for float data 1024 equal bins between the data min and max, built with
``np.arange(min, max + step, step)`` exactly as the reference does (so its bin count and edges,
including float rounding, are the same). Min = floor(median - mad_scale * MAD),
Max = ceil(median + mad_scale * MAD), Floor/Limit = floor/ceil of the first/last non-empty centre.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from emflow.pyramid.reader import convert, converted_dtype

FLOAT_BINS = 1024
_PIECE = 1 << 20  # elements per bincount call: bounds the intp temporary to 8 MiB
_FINE_BITS = 20  # float without a known range: 2^20 buckets of float32 bit patterns
KEYS = ("neuroglancerPrecomputedMin", "neuroglancerPrecomputedMax", "neuroglancerPrecomputedFloor", "neuroglancerPrecomputedLimit")


def float_edges(vmin: float, vmax: float) -> np.ndarray:
    """Bin edges for float data: ``np.arange(min, max + step, step)``, step = (max - min) / 1024.

    A range narrower than ``eps * 1024`` is widened around ``vmin`` as the reference does.
    """
    imin, imax = float(vmin), float(vmax)
    eps = float(np.finfo(np.float64).eps)
    if imax - imin < eps * FLOAT_BINS:
        imax = imin + eps * FLOAT_BINS / 2
        imin = imin - eps * FLOAT_BINS / 2
    step = (imax - imin) / FLOAT_BINS
    return np.arange(imin, imax + step, step)


class HistogramAccumulator:
    """Histogram of a volume, fed slab by slab (any order).

    Parameters
    ----------
    dtype : the domain of the histogram: an integer dtype (one bin per value over its whole
        range) or float32 with ``value_range`` = (data min, data max) from a first pass (see
        `emflow.pyramid.make.value_range`): then the bins are exactly the reference's. Without
        ``value_range`` a float histogram is one pass, close to the reference but not
        bit-identical (values placed within 2^-12 relative). Slabs of a stored MRC dtype whose converted
        dtype is ``dtype`` (int8 for uint8, int16 for uint16, float16 for float32) are converted
        first (SPEC §6).
    value_range : (min, max) of the data, for float only.
    """

    def __init__(self, dtype: np.dtype | type, value_range: tuple[float, float] | None = None) -> None:
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            self.offset = int(info.min)
            self.edges = np.arange(info.min - 0.5, info.max + 1.5)
            self.counts = np.zeros(len(self.edges) - 1, dtype=np.int64)
        elif self.dtype.kind == "f" and value_range is None:
            self.edges = np.zeros(0)
            self.counts = np.zeros(1 << _FINE_BITS, dtype=np.int64)
            self.fine_range = (np.inf, -np.inf)
        elif self.dtype.kind == "f":
            self.edges = float_edges(*value_range)
            self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)
            self.on_last_edge = 0
        else:
            raise TypeError(f"cannot histogram {self.dtype}")

    def update(self, slab: np.ndarray) -> None:
        """Add a slab's values (any shape)."""
        if slab.dtype != self.dtype and converted_dtype(slab.dtype) == self.dtype:
            slab = convert(slab)
        flat = np.ravel(slab)
        if self.dtype.kind == "f" and not self.edges.size:
            self._update_fine(flat.astype(np.float32, copy=False))
            return
        for start in range(0, flat.size, _PIECE):
            piece = flat[start : start + _PIECE]
            if self.dtype.kind == "f":
                values = piece.astype(np.float64)
                index = np.searchsorted(self.edges, values, side="right")
                self.on_last_edge += int(np.count_nonzero(values == self.edges[-1]))
                self.counts += np.bincount(index, minlength=len(self.counts))
            else:
                self._count_integers(piece)

    def _count_integers(self, piece: np.ndarray) -> None:
        """One bin per value: ``np.add.at`` on the value - dtype min (about twice as fast as
        ``np.bincount``, which first copies to intp); 8-bit data two bytes at a time."""
        if self.dtype.itemsize <= 2:
            unsigned = piece.view(np.uint8 if self.dtype.itemsize == 1 else np.uint16)
            index = unsigned ^ unsigned.dtype.type(-self.offset) if self.offset else unsigned
        else:
            index = piece.astype(np.int64) - self.offset
        if index.dtype == np.uint8 and index.size % 2 == 0 and index.flags.c_contiguous:
            pairs = np.zeros(65536, dtype=np.int64)
            np.add.at(pairs, index.view(np.uint16), 1)
            pairs = pairs.reshape(256, 256)
            self.counts += pairs.sum(axis=0) + pairs.sum(axis=1)
        else:
            np.add.at(self.counts, index, 1)

    def merge(self, other: HistogramAccumulator) -> None:
        """Add the counts of another accumulator of the same dtype and range."""
        if other.dtype != self.dtype or not np.array_equal(other.edges, self.edges):
            raise ValueError("cannot merge histograms with different bins")
        self.counts += other.counts
        if hasattr(other, "on_last_edge"):
            self.on_last_edge += other.on_last_edge
        if hasattr(other, "fine_range"):
            self.fine_range = (min(self.fine_range[0], other.fine_range[0]), max(self.fine_range[1], other.fine_range[1]))

    def _update_fine(self, flat: np.ndarray) -> None:
        """Float without a known range: exact min/max plus counts of the top bits of an
        order-preserving integer key of each float32."""
        if flat.size:
            self.fine_range = (min(self.fine_range[0], float(flat.min())), max(self.fine_range[1], float(flat.max())))
        for start in range(0, flat.size, _PIECE):
            bits = flat[start : start + _PIECE].view(np.uint32)
            key = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))
            self.counts += np.bincount(key >> (32 - _FINE_BITS), minlength=len(self.counts))

    def _fine_result(self) -> tuple[np.ndarray, np.ndarray]:
        """Re-bin the fine buckets into the reference's bins over the exact (min, max): each
        bucket counts at its middle value (within 2^-12 relative of its members)."""
        used = np.flatnonzero(self.counts)
        middle = (used.astype(np.uint32) << (32 - _FINE_BITS)) | np.uint32(1 << (31 - _FINE_BITS))
        bits = np.where(middle >> 31, middle & np.uint32(0x7FFFFFFF), ~middle)
        vmin, vmax = self.fine_range
        values = np.clip(bits.view(np.float32).astype(np.float64), vmin, vmax)
        edges = float_edges(vmin, vmax)
        index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        counts = np.bincount(index, weights=self.counts[used], minlength=len(edges) - 1).astype(np.int64)
        return 0.5 * (edges[1:] + edges[:-1]), counts

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(centres, counts)`` over all bins (empty ones included), float64 and int64."""
        if self.dtype.kind == "f" and not self.edges.size:
            return self._fine_result()
        counts = self.counts
        if self.dtype.kind == "f":
            # searchsorted 'right' - 1 is the bin; np.histogram puts v == last edge in the last bin
            # and ignores values outside the edges.
            counts = counts[1:-1].copy()
            counts[-1] += self.on_last_edge
        centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        return centres, counts


def weighted_quantile(values: np.ndarray, quantiles: float | Sequence[float], weights: np.ndarray, values_sorted: bool) -> Any:
    """tomojs-pytools' ``weighted_quantile`` (not old_style): interpolate at (cumsum(w) - w/2) / Σw.

    For the MAD the values ``|m - median|`` have ties (bins at median ± d) and are ordered with
    numpy's default ``argsort`` as the reference does; the order of tied values moves the
    interpolation when 0.5 falls between two tie groups, and that order depends on the numpy
    version and CPU (numpy 1.26 and 2.x differ on about 1.5% of small random histograms; the
    default sort agrees with the reference more often than a stable sort or merged ties).
    """
    values = np.asarray(values)
    weights = np.asarray(weights)
    keep = weights != 0
    values, weights = values[keep], weights[keep]
    if not values_sorted:
        order = np.argsort(values)
        values, weights = values[order], weights[order]
    positions = np.cumsum(weights) - 0.5 * weights
    positions = positions / np.sum(weights)
    return np.interp(quantiles, positions, values)


def visual_stats(centres: np.ndarray, counts: np.ndarray, mad: float = 5.0) -> dict[str, float]:
    """Median, MAD and the visual range of a histogram.

    Returns
    -------
    dict with float ``median``, ``mad`` (unscaled), ``min`` = median - mad_scale·MAD,
    ``max`` = median + mad_scale·MAD, ``floor``/``limit`` = first/last non-empty bin centre.
    """
    if not np.any(counts):
        raise ValueError("empty histogram")
    median = weighted_quantile(centres, 0.5, counts, values_sorted=True)
    spread = weighted_quantile(np.abs(centres - median), 0.5, counts, values_sorted=False)
    floor_limit = weighted_quantile(centres, [0.0, 1.0], counts, values_sorted=True)
    return {
        "median": float(median),
        "mad": float(spread),
        "min": float(median - spread * mad),
        "max": float(median + spread * mad),
        "floor": float(floor_limit[0]),
        "limit": float(floor_limit[1]),
    }


def minmax_json(stats: dict[str, float]) -> dict[str, str]:
    """The SPEC §6 dict: Min, Max, Floor, Limit as strings of integers, in that order."""
    values = (math.floor(stats["min"]), math.ceil(stats["max"]), math.floor(stats["floor"]), math.ceil(stats["limit"]))
    return {key: str(v) for key, v in zip(KEYS, values)}


def minmax_bytes(d: dict[str, str]) -> bytes:
    """The JSON file as the reference writes it (``json.dump`` defaults, no newline)."""
    return json.dumps(d).encode("utf-8")
