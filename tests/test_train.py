import pytest
import torch
import torch.nn.functional as F

import tlbook
from tlbook.data import load_domain, load_pair
from tlbook.methods import Method, SourceOnly, TargetOnly
from tlbook.nn import digit_classifier, toy_classifier
from tlbook.schedules import dann_lambda, dann_lr

from interruption import Interrupted, stop_after
from toy import quick_fit


@pytest.fixture(scope="module")
def moons():
    return load_pair("moons->moons-rotated")


_fit = quick_fit


def _weights(method):
    return {k: v.clone() for k, v in method.state_dict().items()}


def test_source_only_learns_the_source(moons):
    tlbook.seed_everything(0)
    history = _fit(SourceOnly(toy_classifier()), *moons, steps=300)
    assert history.final("source test") > 0.95
    assert history.eval_steps[-1] == 300 and len(history.evals["target test"]) == len(history.eval_steps)
    assert history.steps[-1] == 300 and history.terms["loss"][-1] < history.terms["loss"][0]


def test_target_only_learns_the_target_and_is_an_oracle(moons):
    tlbook.seed_everything(0)
    history = _fit(TargetOnly(toy_classifier()), *moons, steps=300)
    assert history.final("target test") > 0.95 and TargetOnly.oracle and not SourceOnly.oracle


class _Spy(Method):
    """Records what fit hands to a method."""

    def __init__(self, classifier, uses_labels):
        super().__init__(classifier)
        self.uses_target_labels = uses_labels
        self.seen = []

    def loss(self, source, target, progress):
        self.seen.append((target[1], progress, self.classifier.layers.logits.weight.device))
        loss = F.cross_entropy(self.classifier(source[0]), source[1])
        return loss, {}


@pytest.mark.parametrize("uses_labels", [False, True])
def test_target_labels_reach_only_methods_that_declare_them(moons, uses_labels):
    spy = _Spy(toy_classifier(), uses_labels)
    _fit(spy, *moons, steps=4)
    assert all((labels is not None) == uses_labels for labels, _, _ in spy.seen)


def test_progress_runs_from_zero_by_step(moons):
    spy = _Spy(toy_classifier(), False)
    _fit(spy, *moons, steps=4)
    assert [p for _, p, _ in spy.seen] == [0.0, 0.25, 0.5, 0.75]


def test_lr_schedule_sets_each_steps_learning_rate(moons):
    rates = []
    _fit(SourceOnly(toy_classifier()), *moons, steps=5, lr_schedule=dann_lr,
         callback=lambda step, method, history: None,
         optimizer=lambda params: _RecordingSGD(params, rates))
    assert rates == pytest.approx([0.05 * dann_lr(s / 5) for s in range(5)])


class _RecordingSGD(torch.optim.SGD):
    def __init__(self, params, record):
        super().__init__(params, lr=0.05)
        self.record = record

    def step(self, closure=None):
        self.record.append(self.param_groups[0]["lr"])
        return super().step(closure)


def test_target_only_without_target_fails_clearly(moons):
    with pytest.raises(ValueError, match="labelled target"):
        _fit(TargetOnly(toy_classifier()), moons[0], None, steps=1)


def test_mismatched_image_sizes_are_rejected():
    small, large = load_domain("synth"), load_domain("handwritten", image_size=20)
    with pytest.raises(ValueError, match=r"\(3, 16, 16\) but target 'handwritten' has \(3, 20, 20\)"):
        _fit(SourceOnly(digit_classifier()), small, large, steps=1)


def test_bad_fit_arguments(moons):
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        _fit(SourceOnly(toy_classifier()), *moons, steps=0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        _fit(SourceOnly(toy_classifier()), *moons, optimizer="lbfgs")
    with pytest.raises(KeyError, match="recorded: source test, target test"):
        _fit(SourceOnly(toy_classifier()), *moons, steps=2).final("target val")


def _new_run(seed=0):
    tlbook.seed_everything(seed)
    # Dropout makes the run depend on the global RNG too, which resuming must restore.
    classifier = digit_classifier(batch_norm=True, widths=(8, 8), hidden=(16,))
    classifier.layers.fc1.append(torch.nn.Dropout(0.3))
    return SourceOnly(classifier)


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    source, target = load_pair("synth->handwritten")
    options = dict(steps=20, lr=0.01, lr_schedule=dann_lr, eval_every=5, log_every=3)

    straight = _new_run()
    history = _fit(straight, source, target, **options)

    interrupted = _new_run()
    with pytest.raises(Interrupted):
        _fit(interrupted, source, target, checkpoint=tmp_path / "run.pt", checkpoint_every=5, callback=stop_after(13), **options)
    resumed = _new_run(seed=123)  # fresh weights and RNG: everything must come from the checkpoint
    resumed_history = _fit(resumed, source, target, checkpoint=tmp_path / "run.pt", **options)

    for name, value in _weights(straight).items():
        assert torch.equal(value, _weights(resumed)[name]), name
    assert resumed_history.steps == history.steps and resumed_history.terms == history.terms
    assert resumed_history.evals == history.evals


def test_checkpoint_of_a_finished_run_trains_no_further(tmp_path, moons):
    first = SourceOnly(toy_classifier())
    _fit(first, *moons, steps=10, checkpoint=tmp_path / "done.pt")
    again = SourceOnly(toy_classifier())
    history = _fit(again, *moons, steps=10, checkpoint=tmp_path / "done.pt")
    assert all(torch.equal(v, _weights(again)[k]) for k, v in _weights(first).items())
    assert history.steps[-1] == 10


def test_dann_lambda_is_available_to_methods():
    assert 0.0 == dann_lambda(0.0) < dann_lambda(0.1) < dann_lambda(1.0) < 1.0


def test_fit_is_the_only_training_loop_in_tlbook():
    """Only a method's ``training_step`` (called by ``fit``) runs a backward pass; the one other place is
    the exercise checker, which compares a student's gradient with the package's (no training)."""
    import ast
    from pathlib import Path

    import tlbook

    allowed = {("check/losses.py", "mk_mmd")}
    package = Path(tlbook.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for call in ast.walk(function):
                if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "backward":
                    found.append((path.relative_to(package).as_posix(), function.name))
    outside = sorted({f for f in found if f[1] != "training_step" and f not in allowed})
    assert outside == [], f"backward passes outside fit's training_step: {outside}; train on tlbook.fit instead"
    assert any(f[1] == "training_step" for f in found), "the scan found no training_step: it cannot fail"


def test_unlabelled_images_train_on_fit_without_labels_and_resume_to_the_same_weights(tmp_path):
    from tlbook.data import Domain
    from tlbook.finetune.self_taught import ConvAutoencoder, Denoising
    from tlbook.nn import DigitCNN

    images = torch.rand(40, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    seen = []

    class Recording(Denoising):
        def loss(self, source, target, progress):
            seen.append(source[1])
            return super().loss(source, target, progress)

    def run(steps_first=None):
        torch.manual_seed(0)
        method = Recording(ConvAutoencoder(DigitCNN(3, 16, widths=(4, 4))), noise=0.3, seed=3)
        options = dict(batch_size=8, optimizer="adam", lr=1e-3, eval_sets={}, progress_bar=False,
                       checkpoint=tmp_path / f"ae{steps_first}.pt", checkpoint_every=3)
        domain = Domain.unlabelled("images", images)
        if steps_first:
            class Stop(Exception):
                pass

            def stop(step, *_):
                if step == steps_first:
                    raise Stop
            with pytest.raises(Stop):
                tlbook.fit(method, domain, steps=8, callback=stop, **options)
            torch.manual_seed(123)  # a resumed run must not depend on the global generator
            method = Recording(ConvAutoencoder(DigitCNN(3, 16, widths=(4, 4))), noise=0.3, seed=3)
        history = tlbook.fit(method, domain, steps=8, **options)
        return method, history

    whole, history = run()
    resumed, _ = run(steps_first=3)
    assert all(labels is None for labels in seen), "an unlabelled method must not receive labels"
    assert history.terms["reconstruction"][-1] > 0
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
