"""Stored results tied to the code that made them: the code digest, the stale check, the sample re-training."""
import json
import shutil
from pathlib import Path

import pytest

import tlbook
import tlbook.benchmark.verify as verify
from tlbook.benchmark import Cell, read_cells
from tlbook.benchmark.provenance import (MIXED, REFRESH, code_digest, cpu_kind, provenance_path, read_provenance, stale_results,
                                         stored_files, training_files, write_provenance)

PACKAGE = Path(tlbook.__file__).parent


@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of the tlbook package whose stored results are recorded as made by the copy's code."""
    root = tmp_path / "tlbook"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    for csv in stored_files(root):
        provenance_path(csv).write_text(json.dumps({"code_digest": code_digest(root), "command": REFRESH[csv.name]}))
    return root


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# changed\n")


def test_the_digest_covers_training_code_and_not_presentation(package):
    files = training_files(package)
    assert {"methods/adversarial.py", "train.py", "data/synthetic_digits.py", "benchmark/run.py", "nn/classifier.py"} <= set(files)
    assert not {"claims.py", "plot.py", "experiment.py", "benchmark/table.py", "zsl/model.py"} & set(files)
    before = code_digest(package)
    _edit(package / "claims.py")
    _edit(package / "benchmark" / "table.py")
    assert code_digest(package) == before
    _edit(package / "train.py")
    assert code_digest(package) != before


def test_stale_results_name_the_file_and_its_refresh_command(package):
    assert stale_results(package) == []  # the unchanged code made them
    _edit(package / "methods" / "adversarial.py")  # a method's code changes
    messages = stale_results(package)
    assert len(messages) == len(stored_files(package)) == len(REFRESH) == 7
    for message, csv in zip(messages, stored_files(package)):
        assert f"tlbook/benchmark/results/{csv.name}" in message and REFRESH[csv.name] in message


def test_a_file_without_provenance_is_stale(package):
    provenance_path(package / "benchmark" / "results" / "cells.csv").unlink()
    (message,) = stale_results(package)
    assert "cells.csv have no provenance" in message and REFRESH["cells.csv"] in message


def test_the_shipped_files_have_provenance():
    for csv in stored_files():
        record = read_provenance(csv)
        assert record is not None and {"command", "tlbook", "torch", "date", "code_digest"} <= set(record)


def test_writing_records_the_code_and_a_resumed_file_of_other_code_is_mixed(tmp_path):
    csv = tmp_path / "cells.csv"
    record = json.loads(write_provenance(csv, "the command").read_text())
    assert record["code_digest"] == code_digest() and record["torch"] and record["command"] == "the command"
    assert record["cpu"] == cpu_kind() and record["cpu"].split()[0]  # the machine and the kernels' instruction set
    assert read_provenance(csv)["code_digest"] == code_digest()
    assert write_provenance(csv, "again", resumed=True) and read_provenance(csv)["code_digest"] == code_digest()  # same code
    provenance_path(csv).write_text(json.dumps({"code_digest": "other"}))
    write_provenance(csv, "again", resumed=True)
    assert read_provenance(csv)["code_digest"] == MIXED


def _cell(method, target, pair="handwritten->handwritten-m", seed=0):
    return Cell(method, pair, seed, 300, target, 0.9, target, 1.0, 5.0, "cpu")


def test_compare_fails_beyond_the_tolerance_and_prints_both_values():
    ok, line = verify.compare("cells.csv", _cell("dann", 0.450), _cell("dann", 0.450 + (verify.TOLERANCE + 0.5) / 100))
    assert not ok and "FAIL" in line and "stored 45.00 %" in line and "dann" in line and "seed 0" in line
    ok, line = verify.compare("cells.csv", _cell("dann", 0.450), _cell("dann", 0.450 - (verify.TOLERANCE - 0.5) / 100))
    assert ok and line.startswith("ok")


def test_a_sample_is_cheap_and_has_a_study_cell_and_distinct_methods():
    keys = lambda sample: [(file, c.method, c.pair, c.seed) for file, c in sample]  # noqa: E731
    chosen = verify.sample_cells(8, seed=7)
    assert keys(chosen) == keys(verify.sample_cells(8, seed=7)) and len(chosen) == 8
    files = [file for file, _ in chosen]
    assert files.count("cells.csv") == 2 and sorted(files[-6:]) == ["adaptation-2000.csv", "blended-contrast.csv",
                                                                     "conditional-2000.csv", "discrepancy-600.csv",
                                                                     "few-labels.csv", "self-training.csv"]
    assert len({c.method for _, c in chosen[:2]}) == 2 and all(c.seconds <= verify.BENCHMARK_CHEAP_S for _, c in chosen[:2])
    methods = {c.method for c in read_cells(PACKAGE / "benchmark" / "results" / "cells.csv")}
    every = {c.method for _, c in verify.sample_cells(len(methods) + 6, seed=1)[:len(methods)]}
    assert every == methods  # six more cells than there are methods: a cell of each, and each study's


def test_verification_fails_when_a_retrained_cell_moved(package, monkeypatch, capsys):
    monkeypatch.setattr(verify, "retrain", lambda file, cell, root=None: _cell(cell.method, cell.target_test + 0.10, cell.pair, cell.seed))
    assert verify.verify_stored(2, seed=3, root=package) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "--verify-seed 3" in out and "differ from the current code's" in out
    assert "CPU, this machine is " + cpu_kind() in out  # the copy's provenance records no CPU: said before its numbers
    monkeypatch.setattr(verify, "retrain", lambda file, cell, root=None: cell)
    assert verify.verify_stored(2, seed=3, root=package) == 0


def test_restamp_after_an_agreeing_sample_makes_the_sampled_files_current(package, monkeypatch):
    _edit(package / "train.py")  # a change of training code that (here) moves no number
    assert len(stale_results(package)) == 7
    monkeypatch.setattr(verify, "retrain", lambda file, cell, root=None: _cell(cell.method, cell.target_test + 0.10, cell.pair, cell.seed))
    assert verify.verify_stored(7, seed=1, stamp=True, root=package) == 1
    assert len(stale_results(package)) == 7  # a failing sample stamps nothing
    monkeypatch.setattr(verify, "retrain", lambda file, cell, root=None: cell)
    assert verify.verify_stored(7, seed=1, stamp=True, root=package) == 0
    assert stale_results(package) == []  # the sample covers cells.csv and each study
    record = read_provenance(package / "benchmark" / "results" / "cells.csv")
    assert record["code_digest"] == code_digest(package) and "re-stamped" in record["verified"]
    assert "1 sampled cell" in record["verified"] and "stored " in record["verified"]  # the comparisons themselves


def test_a_resumed_run_keeps_the_command_that_remakes_the_whole_file(tmp_path):
    csv = tmp_path / "cells.csv"
    csv.write_text("")
    write_provenance(csv, "rm -f cells.csv && python -m tlbook.benchmark --out x --oracle")
    write_provenance(csv, "rm -f cells.csv && python -m tlbook.benchmark --methods dann --out x", resumed=True)
    assert read_provenance(csv)["command"].endswith("--oracle")  # not the partial run's, which would delete the rest


def test_restamp_never_clears_a_mixed_file(package, monkeypatch):
    cells = package / "benchmark" / "results" / "cells.csv"
    record = read_provenance(cells)
    provenance_path(cells).write_text(json.dumps({**record, "code_digest": MIXED}))
    monkeypatch.setattr(verify, "retrain", lambda file, cell, root=None: cell)
    assert verify.verify_stored(6, seed=1, stamp=True, root=package) == 0
    assert read_provenance(cells)["code_digest"] == MIXED


def test_compare_fails_when_the_same_network_gives_other_scores():
    scored = lambda entropy: Cell("cmd", "synth->handwritten", 0, 600, 0.45, 0.9, 0.45, float("nan"), 5.0, "cpu", 64,  # noqa: E731
                                  "60:0.4500", f"entropy={entropy};SND=4.5")
    assert verify.compare("discrepancy-600.csv", scored(-0.2), scored(-0.2))[0]
    ok, line = verify.compare("discrepancy-600.csv", scored(-0.2), scored(-0.3))
    assert not ok and "entropy -0.2 -> -0.3" in line
    other_run = Cell("cmd", "synth->handwritten", 0, 600, 0.46, 0.9, 0.46, float("nan"), 5.0, "cpu", 64, "60:0.4600", "entropy=-0.3;SND=4.5")
    assert verify.compare("discrepancy-600.csv", scored(-0.2), other_run)[0]  # another network: its scores are its own


def test_stored_measurements_are_compared_when_the_training_came_out_the_same():
    import dataclasses

    stored = dataclasses.replace(_cell("dan", 0.45), scores="dark stroke=0.5")
    ok, line = verify.compare("cells.csv", stored, dataclasses.replace(stored, scores="dark stroke=0.25"))
    assert not ok and "measurements moved: dark stroke 0.5 -> 0.25" in line
    ok, line = verify.compare("cells.csv", stored, dataclasses.replace(stored, scores="dark stroke=0.5;bright stroke=1"))
    assert not ok and "bright stroke (not stored) -> 1" in line
    ok, line = verify.compare("cells.csv", stored, dataclasses.replace(stored, target_test=0.46, scores=""))
    assert ok and "measurements not compared (the training came out otherwise)" in line
