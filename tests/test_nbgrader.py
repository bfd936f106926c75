"""A course can grade the book's exercises: the whole nbgrader cycle, as an instructor runs it.

One course (``solutions/nbgrader_config.py``, one assignment per chapter) is built from ``solutions/``;
the real ``nbgrader generate_assignment`` writes the release, and ``nbgrader autograde`` grades three
submissions per notebook in one call: the solution, the untouched release, and a submission with one
typical wrong answer in every exercise a checker or a test grades (its experiments hold results typed
in, which their tests cannot tell from a run). The scores must be full marks, zero, and exactly the
wrong exercises lost; the feedback of every wrong answer must name the mistake. The solved submission
is also how the tests run the notebooks of ``solutions/`` end to end (nbval does not run them again).
"""
import ast
import html
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from tlbook.assignments import _grading, exercise_notebooks, student_version

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = exercise_notebooks(SOLUTIONS)
ASSIGNMENTS = [path.parent.name for path in NOTEBOOKS]  # one assignment per chapter
STUDENTS = ("solved", "untouched", "wrong")

#: solution cell's grade id -> (the whole cell as a student with the usual mistake writes it, what the feedback must say)
WRONG = {
    "ex1-settings": ('settings = {"a": "fine-tuning", "b": "domain adaptation", "c": "zero-shot learning",\n'
                     '            "d": "self-taught learning", "e": "self-taught clustering"}', "scenario a, b: not the setting"),
    "ex2-pad": ("def my_pad(error):\n    return 2.0 * (1.0 - 2.0 * error)", "no better than chance"),
    "ex1-freeze": ("def freeze(module):\n    for p in module.parameters():\n        p.requires_grad_(False)\n    return module",
                   "keep frozen batch norm in eval mode"),
    "ex2-l2sp": ("def my_l2sp_fisher(model, start, fisher, alpha, beta, head):\n    reference = dict(start.named_parameters())\n"
                 "    pull = sum(((p - reference[n]) ** 2).sum() for n, p in model.named_parameters() if not n.startswith(head))\n"
                 "    decay = sum((p ** 2).sum() for n, p in model.named_parameters() if n.startswith(head))\n"
                 "    return alpha / 2 * pull + beta / 2 * decay", "the Fisher values are not applied"),
    "ex3-lora": ("class MyLoRALinear(nn.Module):\n    def __init__(self, base, rank, alpha):\n        super().__init__()\n"
                 "        self.base, self.scale = base, alpha / rank\n"
                 "        self.A = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features ** 0.5)\n"
                 "        self.B = nn.Parameter(torch.zeros(base.out_features, rank))\n\n"
                 "    def forward(self, x):\n        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T",
                 "the base layer is still trainable"),
    "ex1-mmd": ("def my_mmd(x, y):\n    return (x.mean(0) - y.mean(0)).norm()", "the norm is not squared"),
    "ex2-coral": ("def my_coral(x, y):\n    def covariance(a):\n        centred = a - a.mean(0)\n        return centred.T @ centred / len(a)\n"
                  "    d = x.shape[1]\n    return (covariance(x) - covariance(y)).pow(2).sum() / (4 * d * d)", "biased covariances"),
    "ex3-cmd": ("def my_cmd(x, y):\n    total = (x.mean(0) - y.mean(0)).norm()\n    for k in range(2, 6):\n"
                "        total = total + (x.pow(k).mean(0) - y.pow(k).mean(0)).norm()\n    return total", "raw moments"),
    "ex4-mkmmd": ("def my_mk_mmd(x, y):\n    pooled = torch.cat([x, y])\n    d2 = torch.cdist(pooled, pooled).pow(2)\n"
                  "    gamma = d2.median().detach()\n"
                  "    kernel = sum(torch.exp(-d2 / (2 ** (e / 2) * gamma)) for e in range(-16, 17)) / 33\n    n = len(x)\n"
                  "    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()",
                  "the median is taken over the whole distance matrix"),
    "ex1-reversal": ("def my_reverse(x, lam):\n    return x.detach() - (x - x.detach())", "negated but not multiplied by λ"),
    "ex2-confusion": ("def my_confusion(logits):\n    return -F.log_softmax(logits, dim=0).mean(1).mean()", "over the batch (dim=0)"),
    "ex3-soft-labels": ("def my_soft_labels(logits, labels, temperature):\n"
                        "    probabilities = F.softmax(logits, dim=1) / temperature\n"
                        "    return torch.stack([probabilities[labels == k].mean(0) for k in range(logits.shape[1])])",
                        "divided by τ after the softmax"),
    "ex1-difference": ("def my_difference_gram(hc, hp):\n    return ((hc @ hc.T) * (hp @ hp.T)).sum()",
                       "you summed the squared entries"),
    "ex2-si-mse": ("def my_si_mse(reconstruction, target):\n    d = (target - reconstruction).flatten(1)\n    k = d.shape[1]\n"
                   "    return (d.pow(2).sum(1) / k + d.sum(1).pow(2) / k**2).mean()", "the second term is added"),
    "ex1-map": ("def my_multilinear_map(f, g):\n    return (f[:, :, None] * g[:, None, :]).reshape(len(f), -1)",
                "the blocks are in the other order"),
    "ex2-randomized": ("def my_randomized_map(f, g, r_f, r_g):\n    return (f @ r_f) * (g @ r_g)", "the 1/√k is missing"),
    "ex2-average": ("torch.manual_seed(0)\nf, g = torch.randn(2, 50), torch.softmax(torch.randn(2, 10), 1)\n"
                    "exact = float(f[0] @ f[1])  # the features' inner product, not the maps'\naverage = exact",
                    "exact: the inner product of the two full maps"),
    "ex3-bbse": ("def my_bbse_weights(confusion, target_rates):\n    return torch.linalg.solve(confusion.double(), target_rates.double())",
                 "a negative solution is not clipped"),
    "ex4-estimate": ("share = lambda y: torch.bincount(y.cpu(), minlength=10).double() / len(y)\n"
                     "true_weights = share(source.y_train) / share(target.y_train)\nestimate = true_weights.clone()",
                     "p_t(y) / p_s(y)"),
    "ex1-hinge": ("def my_hinge(scores, labels, margin):\n    true = scores.gather(1, labels[:, None])\n"
                  "    rivals = scores.scatter(1, labels[:, None], float('-inf')).amax(1, keepdim=True)\n"
                  "    return (margin - true + rivals).mean()", "the hinge must not go negative"),
    "ex2-per-class": ("def my_per_class_accuracy(predictions, labels):\n    return (predictions == labels).float().mean().item()",
                      "that is the overall accuracy"),
}


#: assignment -> its experiment's results typed in, of the size the solution's runs give (the wrong submission's experiments
#: are right, so that its score shows exactly its wrong exercises lost, without paying for the runs twice)
TYPED_RESULTS = {
    "00_introduction": 'gap = {"synth->handwritten": (0.25, 0.94), "handwritten->handwritten-m": (0.62, 0.88)}',
    "01_finetuning": "accuracy = {0: [0.40, 0.42], 2: [0.70, 0.72], 4: [0.66, 0.69]}",
    "02_discrepancy": 'results = {"source only": [0.37, 0.26], "CORAL, weight 1": [0.45, 0.46], "CORAL, weight 100": [0.44, 0.47]}',
    "03_adversarial": ("accuracy = {0.1: [0.8, 0.8, 0.8], 1: [0.9, 0.7, 0.9], 5: [0.9, 0.9, 0.9]}\n"
                       "domain_accuracy = {0.1: [0.9, 0.9, 0.9], 1: [0.7, 0.7, 0.7], 5: [0.6, 0.6, 0.6]}"),
    "04_reconstruction": "final = {0.1: [(0.5, 0.10), (0.5, 0.18)], 0.0: [(0.5, 0.13), (0.5, 0.21)]}",
    "05_zero_shot": 'unseen = {"max": [0.6, 0.6], "sum": [0.6, 0.6]}',
}


def _solution_cells(notebook) -> list:
    return [c for c in notebook.cells if _grading(c).get("solution") and c.cell_type == "code"]


def _solved(cell) -> str:
    """A solution cell as a student who solved it submits it: the solution, without nbgrader's markers."""
    return re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", cell.source, flags=re.M).rstrip()


# ---------------------------------------------------------------------------------------------- static checks


def test_every_exercise_graded_automatically_has_a_wrong_answer_or_is_an_experiment():
    """The cycle below gives every checked exercise a wrong answer; experiments are the only exception."""
    ids = {_grading(c)["grade_id"] for path in NOTEBOOKS for c in _solution_cells(nbformat.read(path, as_version=4))}
    experiments = {i for i in ids if i.endswith("-experiment")}
    assert ids - experiments == set(WRONG), f"exercises without a wrong answer: {sorted(ids - experiments - set(WRONG))}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_assertion_a_student_can_read_says_what_was_expected(path):
    """nbgrader's feedback shows the test cells, hidden tests included: every assertion carries a message in
    words, and no hidden test spells out an answer (compares with a written-out dict, set, list or tuple)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if not _grading(cell).get("grade") or cell.cell_type != "code":
            continue
        grade_id = _grading(cell)["grade_id"]
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assert):
                assert node.msg is not None, f"{grade_id}: `{ast.unparse(node)}` says nothing when it fails"
        for region in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S):
            spelt_out = [ast.unparse(node) for node in ast.walk(ast.parse(textwrap.dedent(region)))
                         if isinstance(node, ast.Compare) and any(isinstance(side, (ast.Dict, ast.Set, ast.List, ast.Tuple))
                                                                  for side in [node.left, *node.comparators])]
            assert not spelt_out, f"{grade_id}: a hidden test spells out the answer: {spelt_out}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_each_solution_cell_is_followed_by_its_test(path):
    """The grade ids pair each exercise with its test (``<id>`` and ``<id>-test``), which the cycle relies on."""
    notebook = nbformat.read(path, as_version=4)
    ids = [_grading(c)["grade_id"] for c in notebook.cells if _grading(c)]
    for grade_id in (_grading(c)["grade_id"] for c in _solution_cells(notebook)):
        assert f"{grade_id}-test" in ids[ids.index(grade_id):], f"{grade_id} has no test cell {grade_id}-test after it"


# ---------------------------------------------------------------------------------------------- the cycle


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _submit(course: Path, assignment: str, student: str, notebook) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / "exercises.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A graded course: release, three submissions per notebook, autograde, feedback for the wrong answers."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(SOLUTIONS / "nbgrader_config.py", course)
    for path, assignment in zip(NOTEBOOKS, ASSIGNMENTS):
        (course / "source" / assignment).mkdir(parents=True)
        shutil.copy(path, course / "source" / assignment / "exercises.ipynb")
    _nbgrader(course, "generate_assignment", "*", "--force")
    for path, assignment in zip(NOTEBOOKS, ASSIGNMENTS):
        release = nbformat.read(course / "release" / assignment / "exercises.ipynb", as_version=4)
        source = {_grading(c).get("grade_id"): c for c in nbformat.read(path, as_version=4).cells}
        submissions = {student: nbformat.from_dict(release) for student in STUDENTS}
        for student in ("solved", "wrong"):
            for cell in submissions[student].cells:
                grade_id = _grading(cell).get("grade_id")
                if _grading(cell).get("solution"):
                    cell.source = source[grade_id].source if cell.cell_type == "markdown" else _solved(source[grade_id])
                    if student == "wrong" and grade_id in WRONG:
                        cell.source = WRONG[grade_id][0]
                    elif student == "wrong" and grade_id.endswith("-experiment"):
                        cell.source = TYPED_RESULTS[assignment]
        for student, notebook in submissions.items():
            _submit(course, assignment, student, notebook)
    _nbgrader(course, "autograde", "*", "--force")  # every submission of the course in one call
    _nbgrader(course, "generate_feedback", "*", "--student", "wrong", "--force")
    return course


def _grades(course: Path, assignment: str, student: str) -> dict[str, tuple[float, float, bool]]:
    """Automatically graded test cells: grade id -> (score, max score, flagged for manual grading)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook("exercises", assignment, student)
        return {g.name: (g.score, g.max_score, g.needs_manual_grade) for g in notebook.grades if g.cell_type == "code"}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_release_is_the_student_version_tlbook_writes(course, assignment):
    release = nbformat.read(course / "release" / assignment / "exercises.ipynb", as_version=4)
    ours = student_version(nbformat.read(SOLUTIONS / assignment / "exercises.ipynb", as_version=4))
    assert len(release.cells) == len(ours.cells)
    for index, (theirs, mine) in enumerate(zip(release.cells, ours.cells)):
        where = f"{assignment}, cell {index}"
        assert (mine.cell_type, mine.source) == (theirs.cell_type, theirs.source), where
        assert _grading(mine) == _grading(theirs), f"{where}: nbgrader metadata (checksum included)"
        for key in ("editable", "deletable"):
            assert mine.metadata.get(key) == theirs.metadata.get(key), f"{where}: {key}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_gives_full_marks_zero_and_exactly_the_wrong_exercises_lost(course, assignment):
    solved, untouched, wrong = (_grades(course, assignment, student) for student in STUDENTS)
    assert solved and set(solved) == set(untouched) == set(wrong)
    for test_id, (score, most, flagged) in solved.items():
        assert score == most > 0 and not flagged, f"the solution lost points on {test_id}: {score}/{most}"
    graded = nbformat.read(course / "autograded" / "solved" / assignment / "exercises.ipynb", as_version=4)
    errors = [f"{o.ename}: {o.evalue}" for c in graded.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"the solutions notebook does not run cleanly: {errors}"  # what nbval checked of it before
    for test_id, (score, most, _) in untouched.items():
        assert score == 0, f"the untouched release scored {score}/{most} on {test_id}"
    for test_id, (score, most, _) in wrong.items():
        expected = 0 if test_id.removesuffix("-test") in WRONG else most
        assert score == expected, f"{test_id}: the wrong submission scored {score}/{most}, expected {expected}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_feedback_names_each_mistake_briefly(course, assignment):
    page = (course / "feedback" / "wrong" / assignment / "exercises.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    release = nbformat.read(course / "release" / assignment / "exercises.ipynb", as_version=4)
    for grade_id in (_grading(c)["grade_id"] for c in _solution_cells(release) if _grading(c)["grade_id"] in WRONG):
        assert WRONG[grade_id][1] in text, f"{assignment}: the feedback on {grade_id} does not say {WRONG[grade_id][1]!r}"
    assert "_harness.py" not in text and "site-packages" not in text, "the feedback shows tlbook's own traceback frames"
