"""What tlbook writes and reads can be trusted, and bad input gets a clear error instead of a number.

Each test is an example of a class of problem (files trusted blindly, resumes ignoring their settings,
NaN passing silently, wrong numbers from mismatched inputs, checkers tripped by students' mistakes);
the fix is one mechanism per class, named in the test's docstring."""
import dataclasses
import functools
import math
import os
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import tlbook
from tlbook import check, files
from tlbook.benchmark import read_cells, run_benchmark
from tlbook.benchmark import run as bench_run
from tlbook.benchmark.__main__ import main as benchmark_main
from tlbook.benchmark.run import Cell
from tlbook.data import load_domain
from tlbook.finetune import L2SP, add_lora, bitfit, weight_distance
from tlbook.finetune.pretrained import cached_model
from tlbook.losses import attribute_hinge, mk_mmd, mmd, scale_invariant_mse
from tlbook.methods import SourceOnly
from tlbook.nn import toy_classifier
from tlbook.train import NonFiniteLoss
from tlbook.zsl import eszsl_fit

from toy import quick_fit


@pytest.fixture(scope="module")
def moons():
    return load_domain("moons", cache=False), load_domain("moons-rotated", cache=False)


_fit = functools.partial(quick_fit, steps=10)


# ---------------------------------------------------------------- 1. files: tlbook.files (checksummed, weights_only)

def _domain_file(data_dir):
    load_domain("moons")
    (path,) = data_dir.glob("moons-*.pt")
    return path


def test_every_kind_of_file_loads_with_weights_only(data_dir, moons, tmp_path):
    """Domains, cached models, checkpoints and renderings: plain tensors and values, no pickled objects."""
    paths = [_domain_file(data_dir)]
    model = toy_classifier()
    cached_model(model, "test", "toy", torch.zeros(4, 2), train=lambda: None, steps=1)
    paths += list((data_dir / "models").glob("*.pt"))
    _fit(SourceOnly(toy_classifier()), *moons, checkpoint=tmp_path / "run.pt")
    paths.append(tmp_path / "run.pt")
    files.save(torch.zeros(2, 3, 4, 4), tmp_path / "step.pt", "rendering")
    paths.append(tmp_path / "step.pt")
    assert len(paths) == 4
    for path in paths:
        envelope = torch.load(path, weights_only=True)  # raises on anything but tensors and plain values
        assert set(envelope) == {"tlbook", "sha256", "content"}


def test_a_checkpoint_holds_numpy_and_python_generator_states_as_plain_values(moons, tmp_path):
    np.random.seed(3)
    _fit(SourceOnly(toy_classifier()), *moons, checkpoint=tmp_path / "run.pt")
    rng = torch.load(tmp_path / "run.pt", weights_only=True)["content"]["rng"]
    assert isinstance(rng["numpy"]["keys"], torch.Tensor) and isinstance(rng["python"]["internal"], list)


def test_flipped_bytes_in_a_cached_domain_are_noticed_and_the_domain_is_made_again(data_dir):
    path = _domain_file(data_dir)
    good = load_domain("moons").x_train.clone()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(255 - b for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=r"moons-.*\.pt .*generating the domain again"):
        again = load_domain("moons")
    assert torch.equal(again.x_train, good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_domain("moons")  # the regenerated file is sound


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage", "foreign"])
def test_an_unreadable_cached_domain_is_named_and_made_again(data_dir, damage):
    path = _domain_file(data_dir)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"this is not a torch file" * 10)
    else:
        torch.save({"x_train": torch.zeros(3)}, path)  # a torch file, but not one tlbook wrote
    with pytest.warns(UserWarning, match=path.name):
        domain = load_domain("moons")
    assert len(domain.x_train) > 0


def test_files_name_what_is_wrong(tmp_path):
    path = tmp_path / "thing.pt"
    files.save({"a": torch.arange(3)}, path, "model")
    with pytest.raises(files.CorruptFile, match="is not a tlbook checkpoint file"):
        files.load(path, "checkpoint")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(files.CorruptFile, match="thing.pt is unreadable"):
        files.load(path, "model")
    with pytest.raises(TypeError, match="plain values only"):
        files.save({"generator": np.random.default_rng(0)}, path, "model")


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root and Windows ignore a read-only folder")
def test_a_read_only_cache_folder_names_the_folder_and_tlbook_data(data_dir):
    data_dir.mkdir(parents=True)
    data_dir.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=r"TLBOOK_DATA"):
            load_domain("moons")
    finally:
        data_dir.chmod(0o700)


def test_an_unwritable_cache_names_the_folder_and_tlbook_data(data_dir, monkeypatch):
    """The same error path without relying on file permissions (which root ignores)."""
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(torch, "save", refuse)
    with pytest.raises(PermissionError, match=r"not writable.*TLBOOK_DATA"):
        load_domain("moons")


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip"])
def test_a_damaged_checkpoint_names_the_file_and_what_to_do(moons, tmp_path, damage):
    path = tmp_path / "run.pt"
    _fit(SourceOnly(toy_classifier()), *moons, checkpoint=path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        i = data.index(b"PK\x03\x04", 100)  # a byte inside the stored tensors
        path.write_bytes(data[: i - 40] + bytes(255 - b for b in data[i - 40 : i - 8]) + data[i - 8 :])
    with pytest.raises(files.CorruptFile, match=r"run\.pt.*delete it to train from the start"):
        _fit(SourceOnly(toy_classifier()), *moons, checkpoint=path)


# ---------------------------------------------------------------- 2. resumes: the run's settings live in its checkpoint

@pytest.mark.parametrize("change", [dict(lr=0.01), dict(steps=20), dict(steps=5), dict(batch_size=16), dict(seed=1),
                                    dict(optimizer="adam")])
def test_a_checkpoint_is_never_resumed_with_other_settings(moons, tmp_path, change):
    _fit(SourceOnly(toy_classifier()), *moons, checkpoint=tmp_path / "run.pt")
    with pytest.raises(ValueError, match=rf"written by a run with {next(iter(change))}=.*delete the file"):
        _fit(SourceOnly(toy_classifier()), *moons, checkpoint=tmp_path / "run.pt", **change)


def test_a_checkpoint_of_another_method_is_refused(moons, tmp_path):
    from tlbook.methods import TargetOnly

    _fit(SourceOnly(toy_classifier()), *moons, checkpoint=tmp_path / "run.pt")
    with pytest.raises(ValueError, match="method='SourceOnly'"):
        _fit(TargetOnly(toy_classifier()), *moons, checkpoint=tmp_path / "run.pt")


# ---------------------------------------------------------------- 3. NaN: fit stops; losses reject impossible arguments

def test_fit_stops_at_a_non_finite_loss_naming_the_term_and_the_step(moons):
    class Exploding(SourceOnly):
        def loss(self, source, target, progress):
            total, terms = super().loss(source, target, progress)
            if progress >= 0.5:
                total = total * float("nan")
            return total, terms

    with pytest.raises(NonFiniteLoss, match=r"'loss' became nan at a step between 6 and 6"):
        _fit(Exploding(toy_classifier()), *moons, log_every=1)


def test_fit_stops_when_a_huge_learning_rate_blows_the_weights_up(moons):
    with pytest.raises(NonFiniteLoss, match="became"):
        _fit(SourceOnly(toy_classifier()), *moons, lr=1e30, steps=50, log_every=5)


@pytest.mark.parametrize("bad", [dict(lr=float("nan")), dict(lr=float("inf")), dict(lr=0.0), dict(lr=-0.1), dict(lr=True),
                                 dict(steps=2.5), dict(steps=0), dict(steps=True), dict(steps=-3), dict(batch_size=0),
                                 dict(eval_every=-1), dict(log_every=0.5)])
def test_fit_rejects_impossible_settings(moons, bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=rf"{name} must be a positive"):
        _fit(SourceOnly(toy_classifier()), *moons, **bad)


@pytest.mark.parametrize("bandwidth", [0.0, -1.0, float("nan"), float("inf"), torch.tensor(0.0)])
def test_a_bandwidth_must_be_positive_and_finite(bandwidth):
    x, y = torch.randn(8, 3), torch.randn(8, 3)
    with pytest.raises(ValueError, match="bandwidth must (be a positive, finite|be a finite number|lie in)"):
        mmd(x, y, kernel="gaussian", bandwidth=bandwidth)
    with pytest.raises(ValueError, match="bandwidth must (be a positive, finite|be a finite number|lie in)"):
        mk_mmd(x, y, bandwidth=bandwidth)


def test_the_zero_shot_hinge_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="scores needs at least 1 row"):
        attribute_hinge(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64))


# ---------------------------------------------------------------- 5. mismatched inputs are named

def test_l2sp_names_a_parameter_whose_shape_differs():
    reference, model = nn.Linear(4, 1), nn.Linear(4, 5)
    penalty = L2SP(reference, alpha=0.1)
    with pytest.raises(ValueError, match=r"parameter 'weight' has shape \(5, 4\).*\(1, 4\)"):
        penalty(model)
    with pytest.raises(ValueError, match=r"parameter 'weight' has shape \(5, 4\)"):
        weight_distance(model, reference)


def test_l2sp_names_a_parameter_the_model_lacks():
    penalty = L2SP(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)), alpha=0.1)
    with pytest.raises(ValueError, match="lacks"):
        penalty(nn.Sequential(nn.Linear(4, 3)))


def test_l2sp_keeps_its_reference_in_the_state_dict():
    """So a checkpoint carries it: a resumed fine-tuning run is pulled towards the same weights."""
    model = nn.Linear(4, 2)
    state = L2SP(model, alpha=0.1).state_dict()
    assert torch.equal(state["anchor_0"], model.weight) and torch.equal(state["anchor_1"], model.bias)


@pytest.mark.parametrize("rank", [2.5, 0, -1, True, "4"])
def test_add_lora_rejects_a_rank_that_is_not_a_positive_integer(rank):
    with pytest.raises(ValueError, match="rank must be a positive integer"):
        add_lora(nn.Sequential(nn.Linear(4, 3)), rank=rank)


@pytest.mark.parametrize("freeze", [add_lora, bitfit])
def test_add_lora_and_bitfit_name_an_unknown_module_alike(freeze):
    model = nn.Sequential()
    model.add_module("body", nn.Linear(4, 3))
    model.add_module("head", nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"no module named \['haed'\].*'head'"):
        freeze(model, keep=["haed"])
    with pytest.raises(TypeError, match=r"keep=\['head'\]"):
        freeze(model, keep="head")


@pytest.fixture(scope="module")
def zsl_digits():
    from tlbook.zsl import load_zero_shot

    return load_zero_shot("digits")


@pytest.mark.parametrize("entry, message", [(float("nan"), "NaN or infinite"), (2.0, r"in \[0, 1\]"), (-0.5, r"in \[0, 1\]")])
def test_with_attributes_rejects_nan_and_out_of_range_entries(zsl_digits, entry, message):
    attributes = zsl_digits.attributes.clone()
    attributes[3, 1] = entry
    with pytest.raises(ValueError, match=message):
        zsl_digits.with_attributes(attributes, zsl_digits.attribute_names)


def test_with_attributes_wants_one_name_per_column(zsl_digits):
    with pytest.raises(ValueError, match="attribute names, one per column"):
        zsl_digits.with_attributes(zsl_digits.attributes, zsl_digits.attribute_names[:-1])


def test_eszsl_fit_on_empty_inputs_says_so():
    with pytest.raises(ValueError, match="at least one example"):
        eszsl_fit(torch.zeros(0, 5), torch.zeros(0, dtype=torch.int64), torch.rand(3, 4))


@pytest.mark.parametrize("seed", [None, -1, 1.5, "0"])
def test_load_domain_wants_a_non_negative_integer_seed(seed):
    with pytest.raises((TypeError, ValueError), match="seed must be an integer"):
        load_domain("synth", seed=seed, cache=False)


@pytest.mark.parametrize("size, message", [(0, "between 8 and 64"), (7.5, "integer number of pixels"), (-16, "between 8 and 64")])
def test_load_domain_rejects_an_image_size_it_would_ignore(size, message):
    with pytest.raises((TypeError, ValueError), match=message):
        load_domain("synth", image_size=size, cache=False)


def test_scale_invariant_mse_names_a_mask_of_the_wrong_shape():
    images = torch.rand(4, 3, 8, 8)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 3, 7, 7\) does not broadcast"):
        scale_invariant_mse(images, images.flip(0), mask=torch.ones(4, 3, 7, 7))
    scale_invariant_mse(images, images.flip(0), mask=torch.ones(4, 1, 8, 8))  # broadcasting over channels is fine


# ---------------------------------------------------------------- 2 (benchmark). the resume key is the whole recipe

def _fake(calls):
    def run_cell(method, pair, seed, steps, batch_size, *args):
        calls.append((method, seed, steps))
        return Cell(method, pair, seed, steps, 0.5, 0.9, 0.6, 1.0, 1.0, "cpu", batch_size)
    return run_cell


def test_the_benchmark_does_not_report_cells_of_other_steps(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench_run, "run_cell", _fake(calls))
    args = (["source-only"], ["moons->moons-rotated"], [0], tmp_path / "cells.csv")
    run_benchmark(*args, steps=5, progress_bar=False)
    (cell,) = run_benchmark(*args, steps=7, progress_bar=False)
    assert cell.steps == 7 and calls == [("source-only", 0, 5), ("source-only", 0, 7)]
    run_benchmark(*args, steps=7, progress_bar=False)
    assert len(calls) == 2  # a true resume still trains nothing


@pytest.mark.parametrize("bad, message", [(dict(seeds=[0, 0]), r"seeds \[0\] are given more than once"),
                                          (dict(steps=0), "steps must be a positive integer"),
                                          (dict(batch_size=-2), "batch_size must be a positive integer"),
                                          (dict(methods=["ddc", "ddc"]), "methods are given more than once")])
def test_the_benchmark_refuses_requests_it_would_misreport(tmp_path, monkeypatch, bad, message):
    calls = []
    monkeypatch.setattr(bench_run, "run_cell", _fake(calls))
    request = dict(methods=["source-only", "ddc"], pairs=["moons->moons-rotated"], seeds=[0, 1],
                   results=tmp_path / "cells.csv", **{"progress_bar": False})
    with pytest.raises(ValueError, match=message):
        run_benchmark(**{**request, **bad})
    assert calls == []


def test_benchmark_out_naming_a_file_fails_before_training(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(bench_run, "run_cell", _fake(calls))
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    assert benchmark_main(["--methods", "source-only", "--pairs", "moons->moons-rotated", "--out", str(existing)]) == 2
    assert "is a file" in capsys.readouterr().err and calls == [] and existing.read_text() == "mine"


def test_a_cut_last_line_of_the_results_is_dropped_with_a_warning_and_trained_again(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench_run, "run_cell", _fake(calls))
    path = tmp_path / "cells.csv"
    run_benchmark(["source-only"], ["moons->moons-rotated"], [0, 1], path, progress_bar=False)
    text = path.read_text()
    path.write_text(text[: len(text) - 15])  # an append interrupted mid-line
    with pytest.warns(UserWarning, match="last line was cut short"):
        assert [c.seed for c in read_cells(path)] == [0]
    with pytest.warns(UserWarning, match="last line was cut short"):
        cells = run_benchmark(["source-only"], ["moons->moons-rotated"], [0, 1], path, progress_bar=False)
    assert [c.seed for c in cells] == [0, 1] and calls[-1] == ("source-only", 1, 600)
    assert [c.seed for c in read_cells(path)] == [0, 1]  # the log is whole again


# ---------------------------------------------------------------- 6. tlbook.check survives students' mistakes

def test_a_student_function_that_raises_is_shown_with_the_input_and_its_line():
    def my_mmd(x, y):
        return (x.mean(0) - y.mean(1)).pow(2).sum()  # wrong axis: fails on unequal batch sizes

    with pytest.raises(check.CheckFailed, match=r"(?s)your code raised RuntimeError.*in my_mmd, line \d+: .*y.mean\(1\).*on input: x"):
        check.mmd(my_mmd)


def test_a_numpy_result_is_named_as_such():
    with pytest.raises(check.CheckFailed, match="got a numpy.ndarray.*NumPy array"):
        check.coral(lambda x, y: np.zeros(()))
    with pytest.raises(check.CheckFailed, match="got a float.*without .item"):
        check.mmd(lambda x, y: float((x.mean(0) - y.mean(0)).pow(2).sum()))


def test_a_result_without_a_gradient_fails():
    def detached(x, y):
        return (x.mean(0) - y.mean(0)).pow(2).sum().detach()

    with pytest.raises(check.CheckFailed, match="carries no gradient"):
        check.mmd(detached)


def test_a_student_who_mutates_the_inputs_cannot_change_the_expected_value():
    def in_place(x, y):
        x -= x.mean(0)  # centring in place: the caller's features change
        y -= y.mean(0)
        cs, ct = x.T @ x / (len(x) - 1), y.T @ y / (len(y) - 1)
        return (cs - ct).pow(2).sum() / (4 * x.shape[1] ** 2)

    with pytest.raises(check.CheckFailed, match="value is right, but your function changed its input in place"):
        check.coral(in_place)


def test_a_lora_layer_whose_forward_fails_gets_a_readable_message():
    class WrongLoRA(nn.Module):
        def __init__(self, base, rank, alpha):
            super().__init__()
            self.base = base.requires_grad_(False)
            self.A = nn.Parameter(torch.randn(rank, base.in_features))
            self.B = nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        def forward(self, x):
            return self.base(x) + self.scale * x @ self.A @ self.B  # transposes missing

    with pytest.raises(check.CheckFailed, match=r"(?s)lora_linear: your code raised RuntimeError.*in forward.*on input: a batch"):
        check.lora_linear(WrongLoRA)


def test_gradient_reversal_returning_numpy_is_named():
    with pytest.raises(check.CheckFailed, match="gradient_reversal: expected a torch.Tensor.*NumPy"):
        check.gradient_reversal(lambda x, lam: x.detach().numpy())


def test_a_right_answer_still_passes(capsys):
    check.mmd(lambda x, y: (x.mean(0) - y.mean(0)).pow(2).sum())
    assert "✓ mmd" in capsys.readouterr().out
