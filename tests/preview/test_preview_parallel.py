"""The preview on several worker processes: same bytes as one, only the parent runs CUDA (issue 21)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from emflow.errors import EmflowInputError
from emflow.preview import run as preview_run
from emflow.preview.fbp import SliceFbp
from emflow.preview.parallel import PreviewWorkers, chunks, release, shared, shared_array
from emflow.preview.run import run_preview_files
from emflow.runner.local import spread_cpus
from emflow.runner.steps import RunOptions
from preview_phantom import blob_phantom, project, shifted_noisy

pytestmark = pytest.mark.forks  # run first (tests/conftest.py): the workers fork

ANGLES = np.arange(-60.0, 61.0, 3.0)
OUTPUTS = ("ali", "full_rec", "rec", "tlt", "xf")


@pytest.fixture(autouse=True)
def no_foreign_threads() -> None:
    """The workers fork only when no other thread is alive; a thread left by an earlier test in
    this process would silently make every test here run in one process, so say so instead."""
    others = [t.name for t in threading.enumerate()
              if t is not threading.current_thread() and t.name != "QueueFeederThread"]
    assert not others, f"threads left alive by an earlier test (the preview would not fork): {others}"


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 41-tilt series of a blob phantom, 40 rows x 56 columns, shifted by up to 5 px."""
    from emflow.mrc import write_volume

    rng = np.random.default_rng(21)
    shifts = rng.uniform(-5, 5, (len(ANGLES), 2))
    shifts[np.argmin(np.abs(ANGLES))] = 0.0
    stack = shifted_noisy(project(blob_phantom((40, 24, 56), rng), ANGLES), shifts, 0.05, rng)
    path = tmp_path_factory.mktemp("series") / "ts.mrc"
    write_volume(path, stack, (10.0, 10.0, 10.0), space_group=0)
    path.with_suffix(".rawtlt").write_text("".join(f"{a:.2f}\n" for a in ANGLES))
    return path


def _bytes(paths: dict[str, Path]) -> dict[str, bytes]:
    return {kind: paths[kind].read_bytes() for kind in OUTPUTS}


@pytest.mark.parametrize("tilt_axis_deg", [0.0, 84.0])  # 84: the aligned stack is a second, transposed array
def test_one_and_three_workers_write_identical_files(series, tmp_path, tilt_axis_deg):
    kwargs = dict(bin_factor=1, thickness_px=24, pixel_size_nm=1.0, tilt_axis_deg=tilt_axis_deg)
    one = run_preview_files(series, tmp_path / "one", "ts", cpus=1, **kwargs)
    three = run_preview_files(series, tmp_path / "three", "ts", cpus=3, **kwargs)
    # small slabs: many slab boundaries in both runs, at other rows than the workers' tasks
    small_slabs = run_preview_files(series, tmp_path / "slabs", "ts", cpus=3, slab_bytes=7 * 24 * 56 * 4, **kwargs)
    assert "3 processes" in (tmp_path / "three" / "brt_run.log").read_text()
    reference = _bytes(one)
    assert _bytes(three) == reference
    assert _bytes(small_slabs) == reference
    shifts = np.loadtxt(one["xf"])[:, 4:]
    assert np.abs(shifts).max() > 1.0  # a real alignment was compared, not zeros


def test_cuda_fbp_runs_in_the_parent_only(series, tmp_path, monkeypatch):
    """A fake GPU: SliceFbp(use_cuda=True) is recorded (and run on the CPU). With 3 workers the one
    CUDA FBP is made in this process; the workers make CPU ones only (projection matching)."""
    record = tmp_path / "fbps.txt"

    class RecordingFbp(SliceFbp):
        def __init__(self, angles_deg, n_det, thickness, *, use_cuda=False, filter_type="ram-lak"):
            with open(record, "a") as fh:  # workers are forked: a file collects every process's calls
                fh.write(f"{os.getpid()} {int(use_cuda)}\n")
            super().__init__(angles_deg, n_det, thickness, use_cuda=False, filter_type=filter_type)

    monkeypatch.setattr(preview_run, "cuda_available", lambda: True)
    monkeypatch.setattr(preview_run, "SliceFbp", RecordingFbp)
    monkeypatch.setattr("emflow.preview.parallel.SliceFbp", RecordingFbp)
    kwargs = dict(bin_factor=1, thickness_px=24, pixel_size_nm=1.0)
    gpu = run_preview_files(series, tmp_path / "gpu", "ts", gpus=1, cpus=3, **kwargs)
    calls = [tuple(map(int, line.split())) for line in record.read_text().splitlines()]
    cuda_pids = [pid for pid, cuda in calls if cuda]
    assert cuda_pids == [os.getpid()]
    workers = {pid for pid, cuda in calls if pid != os.getpid()}
    assert 1 <= len(workers) <= 3
    assert "CUDA FBP" in (tmp_path / "gpu" / "brt_run.log").read_text()
    monkeypatch.undo()
    cpu = run_preview_files(series, tmp_path / "cpu", "ts", cpus=1, **kwargs)
    assert _bytes(gpu) == _bytes(cpu)  # the fake CUDA FBP is the CPU one: same slices, same bytes


def test_workers_share_arrays_and_keep_task_order():
    data = shared_array((6, 2, 3), np.float32)
    data[:] = np.arange(36, dtype=np.float32).reshape(6, 2, 3)
    with PreviewWorkers(2, {"test.data": data}) as workers:
        assert workers.cpus == 2
        sums = workers.map(_section_sum_and_double, [("test.data", z) for z in range(6)])
        assert sums == [float(data[z].sum() / 2) for z in range(6)]  # results in task order
    np.testing.assert_array_equal(data, 2 * np.arange(36, dtype=np.float32).reshape(6, 2, 3))  # written in place


def _section_sum_and_double(name: str, z: int) -> float:
    stack = shared(name)
    stack[z] *= 2
    return float(stack[z].sum() / 2)


def test_release_gives_shared_memory_back():
    def resident_mib() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    stack = shared_array((64, 512, 512), np.float32)  # 64 MiB
    stack[:] = 1.0
    before = resident_mib()
    release(stack)
    assert before - resident_mib() > 48
    assert not stack.any()


def test_other_threads_alive_means_one_process():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with PreviewWorkers(4) as workers:
            assert (workers.requested, workers.cpus) == (4, 1)
    finally:
        stop.set()
        thread.join()


def test_a_queue_feeder_thread_still_allows_workers():
    """emflow run's series workers report through a multiprocessing queue (a feeder thread)."""
    import multiprocessing

    events = multiprocessing.get_context("fork").Queue()
    events.put("started")  # starts the queue's feeder thread
    try:
        assert any(t.name == "QueueFeederThread" for t in threading.enumerate())
        with PreviewWorkers(2) as workers:
            assert workers.cpus == 2
            assert workers.map(_double, [(1,), (2,)]) == [2, 4]
    finally:
        assert events.get(timeout=10) == "started"
        events.close()
        events.join_thread()


def _double(x: int) -> int:
    return 2 * x


def test_chunks_cover_every_item_once():
    assert chunks(10, 3) == [(0, 4), (4, 8), (8, 10)]
    assert chunks(10, 8, min_size=3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert chunks(2, 5) == [(0, 1), (1, 2)]


def test_a_bad_section_read_by_a_worker_is_an_input_error(make_mrc, tmp_path):
    data = np.ones((9, 16, 16), np.float32)
    data[6, 3, 3] = np.nan
    path = make_mrc("nan.mrc", data, tilt_angles_deg=np.linspace(-40, 40, 9))
    with pytest.raises(EmflowInputError, match="section 6 contains NaN"):
        run_preview_files(path, tmp_path / "w", "nan", bin_factor=1, thickness_px=8, pixel_size_nm=1.0, cpus=2)


def test_bad_cpus_is_an_input_error(series, tmp_path):
    with pytest.raises(EmflowInputError, match="cpus"):
        run_preview_files(series, tmp_path, "ts", bin_factor=1, thickness_px=24, pixel_size_nm=1.0, cpus=0)


def test_run_gives_idle_series_slots_cpus_to_the_series_that_run():
    options = RunOptions(workers=2, cpus_per_series=1)
    assert spread_cpus(options, 1).cpus_per_series == 2  # one series, --workers 2, 2 cores
    assert spread_cpus(options, 5).cpus_per_series == 1
    assert spread_cpus(RunOptions(workers=4, cpus_per_series=2), 3).cpus_per_series == 2  # 8 // 3
