"""Ordered slab fan-out over a process pool, with a bounded number of slabs in flight.

slab_ranges(n, slab_size, max_bytes_per_slab, bytes_per_section) -> [(z0, z1), ...]
ordered_map(func, args_list, workers) -> iterator of results in task order
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from emflow.errors import EmflowError, EmflowInputError, EmflowStepError

# A task's result (frames or int16 sections) is kept under this size, so that the memory in
# use is a few slabs whatever --slab-size is (the result does not depend on the split).
MAX_TASK_BYTES = 32 * 1024 * 1024


def slab_ranges(n: int, slab_size: int, bytes_per_section: int = 0, start: int = 0) -> list[tuple[int, int]]:
    """Consecutive ``(z0, z1)`` ranges covering ``start .. start+n-1``.

    Each holds at most ``slab_size`` sections and, when ``bytes_per_section`` is given, at most
    `MAX_TASK_BYTES` of results (at least one section).
    """
    if slab_size < 1:
        raise ValueError("slab_size must be >= 1")
    step = slab_size
    if bytes_per_section > 0:
        step = max(1, min(slab_size, MAX_TASK_BYTES // bytes_per_section))
    return [(z, min(z + step, start + n)) for z in range(start, start + n, step)]


class _Failed:
    """An emflow error raised in a worker, carried back as plain data (they do not pickle)."""

    def __init__(self, exc: EmflowError) -> None:
        self.step = isinstance(exc, EmflowStepError)
        self.subject = getattr(exc, "subject", "")
        self.problem = getattr(exc, "problem", str(exc))

    def raise_again(self) -> None:
        cls = EmflowStepError if self.step else EmflowInputError
        raise cls(self.subject, self.problem)


def _call(func: Callable[..., Any], *args: Any) -> Any:
    try:
        return func(*args)
    except EmflowError as exc:
        return _Failed(exc)


def ordered_map(func: Callable[..., Any], args_list: Sequence[tuple[Any, ...]], workers: int = 1) -> Iterator[Any]:
    """Yield ``func(*args)`` for each task, in order; ``workers > 1`` runs them in spawned processes.

    At most ``2 * workers`` tasks are in flight, so memory stays bounded by a few results.
    """
    if workers <= 1 or len(args_list) <= 1:
        for args in args_list:
            yield func(*args)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[Any]] = deque()
        tasks = iter(args_list)
        for args in tasks:
            pending.append(pool.submit(_call, func, *args))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.popleft().result()
            if isinstance(result, _Failed):
                for future in pending:
                    future.cancel()
                result.raise_again()
            nxt = next(tasks, None)
            if nxt is not None:
                pending.append(pool.submit(_call, func, *nxt))
            yield result
