"""Worker processes for the preview: tasks over shared stacks, results back in task order.

The binned and aligned stacks live in anonymous shared memory (``MAP_SHARED``) allocated before
the workers are forked, so a worker reads and writes them in place: no stack is pickled or
copied per worker. Tasks are plain module-level functions that find those arrays with
`shared`; with one CPU the same functions run in this process, so every result is computed by
the same code on the same values whatever the number of workers (outputs are byte-identical
for any ``cpus``).

Only the parent process ever runs CUDA: workers are given CPU work alone (see ``run.py``), so
``cpus`` worker processes never open the GPU together.

Public names
------------
shared_array(shape, dtype)        zero-filled array in anonymous shared memory; release(array)
PreviewWorkers(cpus, arrays)      ``map``/``imap`` of tasks; context manager; ``close()``
shared(array_or_name)             an array, or the one registered under that name
cached_fbp(angles, n_det, thickness, filter_type)   this process's CPU SliceFbp for a geometry
chunks(n, parts, min_size)        ``(start, stop)`` ranges, about ``parts`` of them
"""

from __future__ import annotations

import math
import mmap
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np

from emflow.preview.fbp import SliceFbp

_ARRAYS: dict[str, np.ndarray] = {}  # the running PreviewWorkers' stacks; forked workers inherit it
_FBP: dict[tuple, SliceFbp] = {}  # this process's ASTRA FBP objects, one per geometry


def shared_array(shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """A zero-filled array in anonymous shared memory: written in one process, seen by forked ones."""
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    buffer = mmap.mmap(-1, max(1, count * dtype.itemsize))
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


def release(array: np.ndarray) -> None:
    """Give the memory of a `shared_array` back now, in every process (its contents become zeros)."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None) if not isinstance(base, memoryview) else base.obj
    if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_REMOVE"):
        base.madvise(mmap.MADV_REMOVE)


def shared(array: np.ndarray | str) -> np.ndarray:
    """``array`` itself, or the array registered under that name with a running `PreviewWorkers`
    (tasks take names so that a stack is never pickled)."""
    return _ARRAYS[array] if isinstance(array, str) else array


def cached_fbp(angles_deg: np.ndarray, n_det: int, thickness: int, filter_type: str = "ram-lak") -> SliceFbp:
    """A CPU `SliceFbp` for this geometry, created once per process (ASTRA objects are reused)."""
    key = (np.asarray(angles_deg, dtype=np.float64).tobytes(), int(n_det), int(thickness), filter_type)
    if key not in _FBP:
        _FBP[key] = SliceFbp(angles_deg, n_det, thickness, use_cuda=False, filter_type=filter_type)
    return _FBP[key]


def _close_fbps() -> None:
    while _FBP:
        _FBP.popitem()[1].close()


def chunks(n: int, parts: int, min_size: int = 1) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges covering ``0 .. n-1``: about ``parts`` of them, each
    at least ``min_size`` long (the last may be shorter)."""
    size = max(int(min_size), math.ceil(n / max(1, parts)), 1)
    return [(i, min(n, i + size)) for i in range(0, n, size)]


def _fork_is_safe() -> bool:
    """No thread but this one, or only multiprocessing queue feeders (``emflow run``'s series
    workers report through a queue): a feeder holds only its own queue's locks, which the
    forked workers never use."""
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    return all(t.name == "QueueFeederThread" for t in others)


class PreviewWorkers:
    """``cpus`` forked worker processes sharing ``arrays`` (by name, see `shared`), or this
    process alone when ``cpus`` is 1 or other threads are alive (forking would be unsafe).

    The arrays must be registered here, before the first task forks the workers.
    """

    def __init__(self, cpus: int, arrays: dict[str, np.ndarray] | None = None) -> None:
        self._names = tuple(arrays or ())
        if set(self._names) & set(_ARRAYS):
            raise RuntimeError(f"shared arrays {sorted(set(self._names) & set(_ARRAYS))} are already in use")
        _ARRAYS.update(arrays or {})
        self.requested = max(1, int(cpus))
        # fork is what shares the stacks; with other threads alive it is unsafe: one process then
        self.cpus = self.requested if _fork_is_safe() else 1
        self._pool: ProcessPoolExecutor | None = None
        if self.cpus > 1:
            self._pool = ProcessPoolExecutor(self.cpus, mp_context=multiprocessing.get_context("fork"))

    def split(self, n: int, min_size: int = 1) -> list[tuple[int, int]]:
        """Ranges over ``n`` items for tasks: 4 per worker (one range when running alone)."""
        return chunks(n, 4 * self.cpus if self.cpus > 1 else 1, min_size)

    def map(self, func: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``[func(*args) for args in args_list]``, every task submitted at once (for small
        results: no worker waits for this process to hand it the next task)."""
        if self._pool is None:
            return [func(*args) for args in args_list]
        futures = [self._pool.submit(func, *args) for args in args_list]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()

    def imap(self, func: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> Iterator[Any]:
        """Results of ``func(*args)`` in task order; tasks start now, at most ``2 * cpus`` in flight
        (memory holds a few results, however many tasks), so the caller may do other work first."""
        if self._pool is None:
            return (func(*args) for args in args_list)
        pool = self._pool
        todo = iter(args_list)
        pending: deque[Future[Any]] = deque()

        def submit() -> None:
            args = next(todo, None)
            if args is not None:
                pending.append(pool.submit(func, *args))

        for _ in range(2 * self.cpus):
            submit()

        def results() -> Iterator[Any]:
            try:
                while pending:
                    result = pending.popleft().result()
                    submit()
                    yield result
            finally:
                for future in pending:
                    future.cancel()

        return results()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        for name in self._names:
            _ARRAYS.pop(name, None)
        self._names = ()
        _close_fbps()

    def __enter__(self) -> PreviewWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
