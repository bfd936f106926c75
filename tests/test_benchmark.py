"""The benchmark: tables, resuming, name errors, the proxy A-distance, and mixed precision."""
import csv

import pytest
import torch

import tlbook.benchmark.run as bench_run
from tlbook.benchmark import Cell, gap_closed, read_cells, run_benchmark, seed_accuracies, summarise, to_markdown, write_tables
from tlbook.benchmark.__main__ import main
from tlbook.data import load_pair
from tlbook.losses import cmd, coral, mk_mmd, mmd
from tlbook.methods import DeepCORAL
from tlbook.metrics import proxy_a_distance
from tlbook.nn import toy_classifier
from tlbook.train import fit


def _cell(method, seed, acc, pair="p", seconds=6.0):
    return Cell(method, pair, seed, 300, acc, 0.9, acc + 0.01, 1.0, seconds, "cpu")


CELLS = [_cell("source-only", s, a) for s, a in enumerate([0.50, 0.52, 0.54])] + \
        [_cell("target-only", s, a) for s, a in enumerate([0.90, 0.90, 0.90])] + \
        [_cell("dan", s, a) for s, a in enumerate([0.60, 0.62, 0.64])]


def test_summary_gives_mean_std_and_the_share_of_the_gap_closed():
    rows = {r.method: r for r in summarise(CELLS)}
    assert rows["dan"].target_mean == pytest.approx(0.62)
    assert rows["dan"].target_std == pytest.approx(0.02)
    assert rows["dan"].gap_closed == pytest.approx((0.62 - 0.52) / (0.90 - 0.52))
    assert rows["source-only"].gap_closed == pytest.approx(0.0)
    assert rows["target-only"].gap_closed is None and rows["target-only"].oracle
    assert rows["dan"].seconds_per_step == pytest.approx(6.0 / 300)


def test_seed_accuracies_come_in_seed_order_whatever_the_cell_order():
    shuffled = [CELLS[8], CELLS[0], CELLS[6], CELLS[2], CELLS[7], CELLS[1]] + [_cell("dan", 0, 0.1, pair="other")]
    seeds, accuracy = seed_accuracies(shuffled, "p", "dan")
    assert seeds == [0, 1, 2] and accuracy.tolist() == pytest.approx([0.60, 0.62, 0.64])
    with pytest.raises(KeyError, match="no cells for method 'ddc' on pair 'p'"):
        seed_accuracies(CELLS, "p", "ddc")


def test_gap_closed_needs_a_gap():
    assert gap_closed(0.7, 0.5, 0.9) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="must beat"):
        gap_closed(0.7, 0.9, 0.5)


def test_markdown_labels_the_oracles_and_shows_the_oracle_column_only_when_asked():
    plain = to_markdown(summarise(CELLS), CELLS)
    assert "target-only (oracle: trains on target labels)" in plain
    assert "ORACLE" not in plain and "62.0 ± 2.0" in plain and "+26%" in plain
    assert "ORACLE selection" in to_markdown(summarise(CELLS), CELLS, oracle_column=True)


def test_write_tables_writes_csv_and_markdown(tmp_path):
    csv_path, md_path = write_tables(CELLS, tmp_path, oracle_column=True)
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["method"] for r in rows] == ["source-only", "target-only", "dan"]
    assert float(rows[2]["target_mean"]) == pytest.approx(0.62) and "oracle_best_target_mean" in rows[0]
    assert md_path.read_text().count("\n") == 5


def test_an_interrupted_benchmark_resumes_from_the_finished_cells(tmp_path, monkeypatch):
    calls = []

    def fake_cell(method, pair, seed, steps, batch_size, *args):
        if len(calls) == 3 and not hasattr(fake_cell, "interrupted"):
            fake_cell.interrupted = True
            raise KeyboardInterrupt
        calls.append((method, pair, seed))
        return Cell(method, pair, seed, steps, 0.5 + 0.1 * seed, 0.9, 0.6, 1.0, 6.0, "cpu", batch_size)

    monkeypatch.setattr(bench_run, "run_cell", fake_cell)
    args = (["source-only", "ddc"], ["synth->handwritten"], [0, 1, 2], tmp_path / "cells.csv")
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(*args, progress_bar=False)
    assert len(read_cells(tmp_path / "cells.csv")) == 3
    cells = run_benchmark(*args, progress_bar=False)
    assert len(calls) == 6 and len(set(calls)) == 6  # the three stored cells were not run again
    assert [(c.method, c.seed) for c in cells] == [(m, s) for m in ("source-only", "ddc") for s in (0, 1, 2)]
    assert read_cells(tmp_path / "cells.csv") == cells


def test_unknown_method_and_pair_names_list_the_known_ones(tmp_path, capsys):
    with pytest.raises(KeyError, match="known methods: source-only"):
        run_benchmark(["dann-typo"], ["synth->handwritten"], [0], tmp_path / "c.csv")
    with pytest.raises(KeyError, match="known pairs: synth->handwritten"):
        run_benchmark(["ddc"], ["mnist->typo"], [0], tmp_path / "c.csv")
    assert main(["--methods", "nope", "--out", str(tmp_path)]) == 2
    assert "known methods" in capsys.readouterr().err


def test_one_real_cell_runs_end_to_end(tmp_path):
    cells = run_benchmark(["source-only"], ["moons->moons-rotated"], [0], tmp_path / "c.csv", steps=20, progress_bar=False)
    (cell,) = cells
    assert 0.0 <= cell.target_test <= 1.0 and 0.0 <= cell.pad <= 2.0 and cell.steps == 20
    assert cell.oracle_best_target >= cell.target_test
    steps, accuracy = cell.curve()  # ten evaluations, the last one the cell's own number, read back from the file
    assert steps == list(range(2, 21, 2)) and accuracy[-1] == pytest.approx(cell.target_test, abs=5e-5)
    assert read_cells(tmp_path / "c.csv") == cells


def test_a_results_file_written_before_the_curve_column_reads_with_no_curve(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("method,pair,seed,steps,target_test,source_test,oracle_best_target,pad,seconds,device,batch_size\n"
                    "dan,p,0,300,0.6,0.9,0.61,1.0,6.0,cpu,64\n")
    (cell,) = read_cells(path)
    assert cell.target_curve == "" and cell.curve() == ([], [])


# --- proxy A-distance ---

def test_proxy_a_distance_is_near_zero_for_one_distribution_and_near_two_for_separated_ones():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 10, generator=g), torch.randn(600, 10, generator=g)
    assert proxy_a_distance(a, b) < 0.3
    assert proxy_a_distance(a, b + 4.0) > 1.9
    assert 0.3 < proxy_a_distance(a, b + 0.25) < 1.9  # in between for a small shift


def test_proxy_a_distance_rejects_bad_input():
    with pytest.raises(ValueError, match="source and target must have one width"):
        proxy_a_distance(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="source needs at least 4 row"):
        proxy_a_distance(torch.zeros(3, 3), torch.zeros(10, 3))


# --- mixed precision ---

@pytest.mark.parametrize("loss", [mmd, mk_mmd, coral, cmd])
def test_discrepancy_losses_compute_in_float32_under_autocast(loss):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, 16, generator=g), torch.rand(32, 16, generator=g) * 0.8
    reference = loss(x, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = loss(x, y)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, reference)
    low = loss(x.bfloat16(), y.bfloat16())  # low-precision inputs are promoted too
    assert low.dtype == torch.float32


def test_fit_with_amp_trains_under_bfloat16_autocast():
    source, target = load_pair("moons->moons-rotated")
    method = DeepCORAL(toy_classifier(hidden=(16, 16)))
    dtypes = []
    method.classifier.layers.logits.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    history = fit(method, source, target, steps=5, amp=True, progress_bar=False, eval_every=5)
    assert torch.bfloat16 in dtypes and history.terms["discrepancy"][-1] >= 0
