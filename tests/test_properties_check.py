"""Property tests of the tools that must never leak or let a wrong answer through: the exercise checkers
(``tlbook.check``) and the student-version writer (``tlbook.assignments``).

- Each checker accepts the tlbook function its exercise re-implements; refuses, with ``CheckFailed``, a
  "student" who ignores any one of the arguments (a constant, a default or unrelated noise in its place,
  chosen by Hypothesis) and a student whose result has the wrong type, dtype or shape or carries no
  gradient; and refuses what is not a function with a ``TypeError`` that names it.
- The writer refuses any malformed marker (never guesses) and otherwise leaves no solution and no hidden
  test in the student version; it never writes into the folder it reads, nor over a notebook that holds
  solutions or a student's work.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import io
import re
import tempfile
from pathlib import Path

import nbformat
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tlbook import assignments, check, label_shift, losses
from tlbook.assignments import BEGIN, BEGIN_HIDDEN, CODE_STUB, END, END_HIDDEN, TEXT_STUB
from tlbook.check import CheckFailed
from tlbook.finetune import L2SP, LoRALinear
from tlbook.nn import grad_reverse

from properties import BREAKS, Spec, property_tests


def _l2sp_fisher(model: nn.Module, start: nn.Module, fisher: dict, alpha: float, beta: float, head: str) -> torch.Tensor:
    """L2-SP-Fisher written here (tlbook has no function for it): Fisher-weighted pull to the start, L2 on the head."""
    anchors = dict(start.named_parameters())
    pull = sum((fisher[n] * (p - anchors[n]) ** 2).sum() for n, p in model.named_parameters() if not n.startswith(head))
    decay = sum((p ** 2).sum() for n, p in model.named_parameters() if n.startswith(head))
    return 0.5 * (alpha * pull + beta * decay)


#: checker -> the tlbook function its exercise re-implements, called with the student's arguments
REFERENCES = {
    check.mmd: lambda x, y: losses.mmd(x, y, "linear"),
    check.mk_mmd: lambda x, y: losses.mk_mmd(x, y),
    check.coral: lambda x, y: losses.coral(x, y),
    check.cmd: lambda x, y: losses.cmd(x, y, k=5),
    check.confusion: lambda logits: losses.domain_confusion(logits),
    check.soft_labels: lambda logits, labels, temperature: losses.class_soft_labels(logits, labels, temperature),
    check.difference: lambda shared, private: losses.difference_loss(shared, private),
    check.scale_invariant_mse: lambda reconstruction, target: losses.scale_invariant_mse(reconstruction, target),
    check.zsl_hinge: lambda scores, labels, margin: losses.attribute_hinge(scores, labels, margin),
    check.multilinear_map: lambda f, g: losses.multilinear_map(f, g),
    check.randomized_multilinear_map: lambda f, g, r_f, r_g: losses.randomized_multilinear_map(f, g, r_f, r_g),
    check.bbse_weights: lambda confusion, target_rates: label_shift.bbse_weights(confusion, target_rates),
    check.gradient_reversal: lambda x, lam: grad_reverse(x, lam),
    check.l2sp: lambda model, start, alpha, beta, head: L2SP(start, alpha, beta, new=[head])(model),
    check.l2sp_fisher: _l2sp_fisher,
    check.lora_linear: lambda base, rank, alpha: LoRALinear(base, rank, alpha),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The checks run on tiny tensors: a second thread only spins, and on a busy machine slows them many times over."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _quietly(checker, student) -> str:
    """Run ``checker(student)``; what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        checker(student)
    return out.getvalue()


# --- (a) the reference passes, (d) what is not a function gets a TypeError that names it: as Specs ----------

NOT_A_FUNCTION = {
    "a number": lambda v, call, s: 3.0,
    "a string (its name)": lambda v, call, s: "my_function",
    "None (the cell defining it was not run)": lambda v, call, s: None,
    "its result, a tensor": lambda v, call, s: torch.zeros(()),
    "a list of functions": lambda v, call, s: [v],
}
LORA_NOT_A_CLASS = {**NOT_A_FUNCTION, "an instance, not the class": lambda v, call, s: v(nn.Linear(4, 3), 2, 1.0)}


def _spec(checker) -> Spec:
    """The checker given the reference (it must pass), or something else than a function (a TypeError)."""
    argument = next(iter(inspect.signature(checker).parameters))  # student, or student_class
    kind = "lora class" if checker is check.lora_linear else "student function"
    return Spec(checker, lambda s, reference=REFERENCES[checker]: {argument: reference}, {argument: kind}, examples=1)


SPECS = {f"check.{checker.__name__}": _spec(checker) for checker in REFERENCES}


def test_the_reference_passes_and_says_so():
    for checker, reference in REFERENCES.items():
        assert _quietly(checker, reference).startswith(f"✓ {checker.__name__}"), checker.__name__


# --- (b) a student who ignores an argument fails --------------------------------------------------------------

@st.composite
def stand_ins(draw) -> dict:
    """What a student who ignores an argument uses in its place: a constant, a default, unrelated noise."""
    return {"noise": draw(st.booleans()), "number": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]) | st.floats(0.01, 5.0)),
            "count": draw(st.integers(0, 4)), "seed": draw(st.integers(0, 2**16)),
            "name": draw(st.sampled_from(["head", "body", "fc", "classifier", ""]))}


def _stand_in(value, c: dict):
    """A value of ``value``'s kind that does not depend on ``value`` (its shape and dtype aside)."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        if not c["noise"]:
            return torch.full_like(value, c["number"])
        return torch.rand(value.shape, generator=torch.Generator().manual_seed(c["seed"]), dtype=value.dtype).to(value.device)
    if isinstance(value, torch.Tensor):  # class indices: a cycle through the first classes (count 0: all of them)
        return torch.arange(len(value), device=value.device) % (c["count"] or int(value.max()) + 1)
    if isinstance(value, bool):
        raise AssertionError("no checker passes a bool")
    if isinstance(value, int):
        return max(c["count"], 1)
    if isinstance(value, float):
        return c["number"]
    if isinstance(value, str):
        return c["name"]
    if isinstance(value, dict):
        return {k: _stand_in(v, c) for k, v in value.items()}
    if isinstance(value, nn.Module):  # the same architecture, other weights
        other = copy.deepcopy(value)
        with torch.no_grad():
            g = torch.Generator().manual_seed(c["seed"])
            for p in other.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
        return other
    raise AssertionError(f"no stand-in for {type(value).__name__}")


def _ignoring(reference, argument: str, c: dict):
    index = list(inspect.signature(reference).parameters).index(argument)

    def student(*args):
        args = list(args)
        args[index] = _stand_in(args[index], c)
        return reference(*args)

    return student


IGNORED = [(checker, argument) for checker, reference in REFERENCES.items() for argument in inspect.signature(reference).parameters]


@pytest.mark.parametrize("checker,argument", IGNORED, ids=[f"{c.__name__}-{a}" for c, a in IGNORED])
@settings(max_examples=4)
@given(c=stand_ins())
def test_a_student_who_ignores_an_argument_fails(checker, argument, c):
    with pytest.raises(CheckFailed):
        _quietly(checker, _ignoring(REFERENCES[checker], argument, c))


# --- (c) a result of the wrong type, dtype or shape, or without gradient, fails -------------------------------

WRONG_RESULTS = {
    "the other float dtype": lambda r: r.double() if r.dtype != torch.float64 else r.float(),
    "a (1,) tensor for a scalar, a dimension more otherwise": lambda r: r.reshape(1) if r.ndim == 0 else r.unsqueeze(0),
    "a Python number or list": lambda r: r.tolist(),
    "a NumPy array": lambda r: r.detach().cpu().numpy(),
    "detached": lambda r: r.detach(),
    "a new tensor, cut from the inputs' graph": lambda r: r.detach().clone().requires_grad_(True),
}


def _returning(reference, wrong):
    if reference is REFERENCES[check.lora_linear]:  # the layer's forward returns it
        class Wrong(LoRALinear):
            def forward(self, x):
                return wrong(super().forward(x))

        return lambda base, rank, alpha: Wrong(base, rank, alpha)
    return lambda *args: wrong(reference(*args))


#: soft labels are targets: their reference detaches them, so a result without gradient is right there
NO_GRADIENT = {check.soft_labels}
RESULTS = [(checker, way) for checker in REFERENCES for way in WRONG_RESULTS
           if not (checker in NO_GRADIENT and way in ("detached", "a new tensor, cut from the inputs' graph"))]


def test_the_reference_of_a_checker_that_needs_no_gradient_gives_none():
    logits = torch.randn(6, 3, requires_grad=True)
    assert not REFERENCES[check.soft_labels](logits, torch.arange(6) % 3, 2.0).requires_grad


@pytest.mark.parametrize("checker,way", RESULTS, ids=[f"{c.__name__}-{w}".replace(" ", "_") for c, w in RESULTS])
def test_a_result_of_the_wrong_type_dtype_or_shape_or_without_gradient_fails(checker, way):
    with pytest.raises(CheckFailed):
        _quietly(checker, _returning(REFERENCES[checker], WRONG_RESULTS[way]))


# --- assignments: the student versions ------------------------------------------------------------------------

OPEN = {BEGIN: END, BEGIN_HIDDEN: END_HIDDEN}
MARKERS = (BEGIN, END, BEGIN_HIDDEN, END_HIDDEN)
GRADINGS = {"none": {}, "solution": {"solution": True}, "grade": {"grade": True, "points": 1},
            "both": {"solution": True, "grade": True, "points": 1}}


@st.composite
def cell_sources(draw, cell: int) -> list[str]:
    """A cell's lines: numbered text lines and markers (indented, or after code on their line), either in
    well-formed regions or in any order at all."""
    text = iter(f"text_{cell}_{i}" for i in range(100))
    marker = st.tuples(st.sampled_from(["", "    ", "x = 1  "]), st.sampled_from(MARKERS), st.sampled_from(["", "  # ok"]))
    regions = st.lists(st.one_of(st.just("text"), st.tuples(st.sampled_from([BEGIN, BEGIN_HIDDEN]), st.integers(0, 2))), max_size=4)
    if draw(st.integers(0, 3)):  # most often well-formed regions
        items = []
        for item in draw(regions):
            items += ["text"] if item == "text" else [item[0]] + ["text"] * item[1] + [OPEN[item[0]]]
    else:
        items = draw(st.lists(st.one_of(st.just("text"), st.sampled_from(MARKERS)), max_size=7))
    lines = []
    for item in items:
        if item == "text":
            lines.append(draw(st.sampled_from(["", "    "])) + next(text))
        else:
            prefix, _, suffix = draw(marker)
            lines.append(prefix + item + suffix)
    return lines


@st.composite
def notebooks(draw, cells: int = 4) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    for i in range(draw(st.integers(1, cells))):
        kind = draw(st.sampled_from(["code", "markdown"]))
        source = "\n".join(draw(cell_sources(i)))
        solution, hidden = BEGIN in source or END in source, BEGIN_HIDDEN in source or END_HIDDEN in source
        fitting = ["both"] if solution and hidden else ["solution"] if solution else ["grade"] if hidden else ["none", "grade"]
        grading = draw(st.sampled_from(fitting) | st.sampled_from(sorted(GRADINGS)))  # most often the one its markers need
        metadata = {"nbgrader": {**GRADINGS[grading], "grade_id": f"c{i}"}} if grading != "none" else {}
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        notebook.cells.append(make(source, metadata=metadata))
    return notebook


def _regions(cell) -> tuple[bool, list[str], list[str], int]:
    """The oracle, written apart from tlbook: whether the cell's markers are well formed, its text lines
    that must stay hidden, those that must stay, and its number of solution regions."""
    grading = cell.metadata.get("nbgrader", {})
    opened, hidden, shown, solutions, ok = None, [], [], 0, True
    for line in cell.source.split("\n"):
        found = [m for m in MARKERS if m in line]
        if len(found) > 1:
            ok = False
        elif found and found[0] in OPEN:
            ok, opened = ok and opened is None, found[0]
            solutions += found[0] == BEGIN
        elif found:
            ok, opened = ok and opened is not None and OPEN[opened] == found[0], None
        elif line.strip():
            (hidden if opened else shown).append(line.strip())
    ok = ok and opened is None
    if cell.cell_type == "markdown" and grading.get("solution"):
        return ok, hidden + shown, [], 0
    used = {m for m in MARKERS if m in cell.source}
    ok = ok and (grading.get("solution") or not used & {BEGIN, END}) and (grading.get("grade") or not used & {BEGIN_HIDDEN, END_HIDDEN})
    ok = ok and not (cell.cell_type == "code" and grading.get("solution") and not solutions)
    return bool(ok), hidden, shown, solutions


def _name(cell, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or str(index)


@settings(max_examples=80)
@given(notebook=notebooks())
def test_the_student_version_refuses_any_malformed_marker_and_otherwise_leaks_nothing(notebook):
    oracle = [_regions(cell) for cell in notebook.cells]
    malformed = [i for i, (ok, *_) in enumerate(oracle) if not ok]
    if malformed:
        with pytest.raises(ValueError) as error:
            assignments.student_version(notebook)
        first = malformed[0]
        assert re.search(rf"\bcell '?{_name(notebook.cells[first], first)}\b", str(error.value)), str(error.value)
        return
    student = assignments.student_version(notebook)
    assert len(student.cells) == len(notebook.cells)
    for cell, (_, hidden, shown, solutions) in zip(student.cells, oracle):
        lines = {line.strip() for line in cell.source.split("\n")}
        assert not any(m in cell.source for m in MARKERS) and not lines & set(hidden), "a solution or hidden test leaked"
        kept = [line.strip() for line in cell.source.split("\n") if line.strip() in shown]
        assert kept == shown, "a line outside the markers was lost"
        assert cell.source.count(CODE_STUB.split("\n")[1]) == solutions
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            assert cell.source == TEXT_STUB
    assert not assignments.holds_solutions(student)
    assert assignments.holds_solutions(notebook) == any(BEGIN in c.source or BEGIN_HIDDEN in c.source for c in notebook.cells)


@settings(max_examples=5)
@given(value=st.sampled_from([None, 3, "exercises.ipynb", [], {"cells": 3}]))
def test_what_is_not_a_notebook_gets_a_type_error_that_names_it(value):
    for function in (assignments.student_version, assignments.holds_solutions):
        with pytest.raises(TypeError, match=rf"{function.__name__}: notebook must be"):
            function(value)
    if not isinstance(value, str):
        for argument in ("out", "source"):
            with pytest.raises(TypeError, match=rf"write_student_versions: {argument} must be a folder"):
                assignments.write_student_versions(**{"out": "student", "source": "solutions", argument: value})


def _write(path: Path, notebook) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _exercise(notebook) -> nbformat.NotebookNode:
    """The notebook with one well-formed exercise more: it counts as an exercise notebook."""
    notebook = copy.deepcopy(notebook)
    notebook.cells.append(nbformat.v4.new_code_cell(f"def f():\n    {BEGIN}\n    return 42\n    {END}",
                                                    metadata={"nbgrader": {"solution": True, "grade_id": "last"}}))
    return notebook


@settings(max_examples=12)
@given(sources=st.lists(notebooks(cells=2), min_size=1, max_size=2), out=st.sampled_from(["student", ".", "a", "a/b"]),
       existing=st.sampled_from(["none", "a student version", "a student's work", "solutions", "another notebook"]))
def test_the_writer_never_writes_into_its_source_nor_over_solutions_or_a_students_work(sources, out, existing):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "solutions"
        notebooks = {source / ("a" if i else "b") / "exercises.ipynb": _exercise(nb) for i, nb in enumerate(sources)}
        for path, notebook in notebooks.items():
            _write(path, notebook)
        target_folder = root / out if out == "student" else source / out
        targets = {path: target_folder / path.relative_to(source) for path in notebooks}
        first, target = next(iter(notebooks.items())), next(iter(targets.values()))
        well_formed = all(all(_regions(c)[0] for c in nb.cells) for nb in notebooks.values())
        if existing != "none" and out == "student" and all(_regions(c)[0] for c in first[1].cells):
            earlier = assignments.student_version(first[1])
            if existing == "a student's work":
                earlier.cells[-1].source = "def f():\n    return 41  # my answer"
            _write(target, {"a student version": earlier, "a student's work": earlier, "solutions": first[1],
                            "another notebook": nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("mine")])}[existing])
        else:
            existing = "none"
        before = _snapshot(root)
        if out != "student":
            with pytest.raises(ValueError, match="the folder they are made from"):
                assignments.write_student_versions(target_folder, source)
        elif existing in ("a student's work", "solutions", "another notebook"):
            with pytest.raises(FileExistsError, match=re.escape(str(target))):
                assignments.write_student_versions(target_folder, source)
        elif not well_formed:
            with pytest.raises(ValueError, match=r"exercises\.ipynb.*cell"):
                assignments.write_student_versions(target_folder, source)
        else:
            written = assignments.write_student_versions(target_folder, source)
            assert sorted(written) == sorted(targets.values())
            for path, notebook in notebooks.items():
                assert nbformat.read(targets[path], as_version=4) == assignments.student_version(notebook)
            assert {p: v for p, v in _snapshot(root).items() if p.is_relative_to(source)} == \
                   {p: v for p, v in before.items() if p.is_relative_to(source)}, "the source was changed"
            return
        assert _snapshot(root) == before, "a refused call wrote something"


@settings(max_examples=10)
@given(layout=st.lists(st.tuples(st.sampled_from(["x", "x/y", ".ipynb_checkpoints", "x/_build", "z"]),
                                 st.sampled_from(["exercises", "notes"]), st.booleans()), max_size=5, unique_by=lambda t: t[:2]))
def test_exercise_notebooks_finds_every_notebook_with_a_solution_cell_and_nothing_else(layout):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        expected = []
        for where, name, exercise in layout:
            path = root / where / f"{name}.ipynb"
            notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("text")])
            _write(path, _exercise(notebook) if exercise else notebook)
            if exercise and ".ipynb_checkpoints" not in where and "_build" not in where:
                expected.append(path)
        assert assignments.exercise_notebooks(root) == sorted(expected)
        (root / "broken.ipynb").write_text("not json")
        with pytest.raises(ValueError, match="broken.ipynb is not a readable Jupyter notebook"):
            assignments.exercise_notebooks(root)
        for wrong, error in ((root / "missing", FileNotFoundError), (root / "broken.ipynb", NotADirectoryError), (3, TypeError)):
            with pytest.raises(error, match="exercise_notebooks: source"):
                assignments.exercise_notebooks(wrong)


PROPERTIES = {
    "assignments.student_version": test_the_student_version_refuses_any_malformed_marker_and_otherwise_leaks_nothing,
    "assignments.holds_solutions": test_the_student_version_refuses_any_malformed_marker_and_otherwise_leaks_nothing,
    "assignments.write_student_versions": test_the_writer_never_writes_into_its_source_nor_over_solutions_or_a_students_work,
    "assignments.exercise_notebooks": test_exercise_notebooks_finds_every_notebook_with_a_solution_cell_and_nothing_else,
}

test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(
    SPECS, breaks={**BREAKS, "student function": NOT_A_FUNCTION, "lora class": LORA_NOT_A_CLASS})
