"""Training past one process: ``fit`` and the benchmark under ``torchrun`` with two CPU processes (gloo)."""
import csv
import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tlbook
from tlbook.benchmark import read_cells, run_benchmark
from tlbook.benchmark.run import Cell, append_cell
from tlbook.methods import SourceOnly
from tlbook.nn import toy_classifier

HERE = Path(__file__).parent


def torchrun(*args: str, data: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node 2 ARGS``, one thread per process, a private data cache."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TLBOOK_DATA": str(data), "TLBOOK_DEVICE": "cpu"}
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    done = subprocess.run(command, env=env, cwd=HERE, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"torchrun failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def fit_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed-fit")
    torchrun(str(HERE / "distributed_fit.py"), str(out), data=out / "data")
    return out, json.loads((out / "report.json").read_text())


@pytest.mark.parametrize("method", ["DANN", "PixelDA"])
@pytest.mark.slow
def test_two_processes_train_one_model(fit_report, method):
    report = fit_report[1][method]
    assert report["largest difference between the ranks' weights"] == 0.0, "the ranks' weights drifted apart"
    assert report["the ranks logged the same"]
    # the second rank drew batches of its own: the result is not what one process makes with rank 0's batches
    assert report["largest difference from a one-process run"] > 1e-4


@pytest.mark.parametrize("method", ["DANN", "PixelDA"])
@pytest.mark.slow
def test_the_reduced_accuracy_is_a_one_process_evaluation_of_the_same_weights(fit_report, method):
    report = fit_report[1][method]
    assert report["reduced target accuracy"] == report["one process evaluating the same weights"]
    assert report["reduced source accuracy"] == report["one process, source"]


@pytest.mark.parametrize("method", ["DANN", "PixelDA"])
@pytest.mark.slow
def test_a_resumed_two_process_run_equals_an_uninterrupted_one(fit_report, method):
    report = fit_report[1][method]
    assert report["largest difference resumed vs uninterrupted"] == 0.0
    assert report["resumed history equals"]
    assert not [name for name in report["files in the output folder"] if name.endswith(".tmp")], "a partial write was left"


@pytest.mark.slow
def test_a_two_process_checkpoint_is_not_resumed_by_one_process(fit_report):
    from distributed_fit import FACTORIES, OPTIONS, SOURCE, TARGET  # noqa: E402 (rank-free imports only)

    with pytest.raises(ValueError, match="world_size=2.*world_size=1"):
        tlbook.fit(FACTORIES["DANN"](), SOURCE, TARGET, checkpoint=fit_report[0] / "DANN.pt", checkpoint_every=2,
                   **OPTIONS)


def test_distributed_true_outside_torchrun_says_how_to_launch(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    source = tlbook.data.load_pair("moons->moons-rotated")[0]
    with pytest.raises(ValueError, match="torchrun --nproc-per-node"):
        tlbook.fit(SourceOnly(toy_classifier()), source, steps=2, distributed=True, progress_bar=False)


# SDT trains a source-only start inside its cell: that inner fit must not wait for the other process
ARGS = ["--methods", "source-only", "dann", "sdt", "--pairs", "moons->moons-rotated", "--seeds", "0", "1", "--steps", "30"]


def _without_timing(cells):
    return sorted((dataclasses.replace(c, seconds=0.0) for c in cells), key=lambda c: (c.method, c.seed))


@pytest.mark.slow
def test_the_benchmark_shares_its_cells_between_two_processes(tmp_path, monkeypatch):
    done = torchrun("-m", "tlbook.benchmark", *ARGS, "--out", str(tmp_path / "two"), data=tmp_path / "data")
    cells = read_cells(tmp_path / "two" / "cells.csv")
    assert sorted((c.method, c.seed) for c in cells) == [(m, s) for m in ("dann", "sdt", "source-only") for s in (0, 1)]
    assert done.stdout.count("written:") == 1, "one process writes the tables"
    assert (tmp_path / "two" / "summary.md").exists()

    monkeypatch.setenv("TLBOOK_DATA", str(tmp_path / "data-alone"))  # its own: trained again, not read from the store
    alone = run_benchmark(["source-only", "dann", "sdt"], ["moons->moons-rotated"], [0, 1], tmp_path / "one.csv",
                          steps=30, progress_bar=False)
    assert _without_timing(cells) == _without_timing(alone), "a cell trained by another process differs"


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")  # fork: no second import of torch


def _append_one(path: str) -> None:
    append_cell(Path(path), Cell("waited", "p", 0, 10, 0.5, 0.5, 0.5, float("nan"), 1.0, "cpu", 8))


def test_a_process_appends_only_once_the_file_is_free(tmp_path):
    from tlbook.benchmark.run import results_lock

    path = tmp_path / "cells.csv"
    with results_lock(path):  # another writer holds the file
        writer = _context().Process(target=_append_one, args=(str(path),))
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive() and not path.exists(), "the writer did not wait for the lock"
    writer.join(timeout=60)
    assert writer.exitcode == 0 and [c.method for c in read_cells(path)] == ["waited"]


def _append_many(folder: str, worker: int, start) -> None:
    torch.set_num_threads(1)
    for round_ in range(ROUNDS):
        start.wait()  # all at once on a new file: the first lines race for the header
        for i in range(5):
            append_cell(Path(folder) / f"{round_}.csv", Cell(f"m{worker}", "p", i, 10, 0.5, 0.5, 0.5, float("nan"), 1.0, "cpu", 8))


ROUNDS = 20


def test_processes_appending_to_one_results_file_lose_no_line(tmp_path):
    context = _context()
    start = context.Barrier(4)
    workers = [context.Process(target=_append_many, args=(str(tmp_path), w, start)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    for round_ in range(ROUNDS):
        path = tmp_path / f"{round_}.csv"
        rows = list(csv.reader(path.read_text().splitlines()))
        assert rows[0] == [f.name for f in dataclasses.fields(Cell)] and rows.count(rows[0]) == 1, f"{path}: two headers"
        assert sorted((c.method, c.seed) for c in read_cells(path)) == sorted((f"m{w}", i) for w in range(4) for i in range(5))
