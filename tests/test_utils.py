import pytest
import torch

import tlbook


def test_device_falls_back_to_cpu_and_honours_the_override(monkeypatch):
    monkeypatch.delenv("TLBOOK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    assert tlbook.device().type in {expected, "mps", "cpu"}
    monkeypatch.setenv("TLBOOK_DEVICE", "cpu")
    assert tlbook.device() == torch.device("cpu")
    assert tlbook.device("cpu") == torch.device("cpu")


def test_seed_everything_makes_torch_reproducible():
    tlbook.seed_everything(7)
    a = torch.rand(3)
    g = tlbook.seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=torch.Generator().manual_seed(7)))


def test_mean_std_uses_the_sample_standard_deviation():
    from tlbook.experiment import mean_std

    assert mean_std([0.5, 0.6, 0.7]) == "60.0 ± 10.0"
    assert mean_std([0.25]) == "25.0 ± 0.0"


def test_repeat_is_reproducible_per_seed():
    from tlbook.data import load_pair
    from tlbook.experiment import repeat
    from tlbook.methods import SourceOnly
    from tlbook.nn import toy_classifier

    source, target = load_pair("moons->moons-rotated")
    runs = [repeat(lambda: SourceOnly(toy_classifier()), source, target, seeds=(0, 1), steps=20, progress_bar=False) for _ in range(2)]
    assert (runs[0].accuracies() == runs[1].accuracies()).all()
    assert runs[0].accuracies("source test").shape == (2,) and runs[0].seconds > 0


def test_comparison_table_pairs_gains_by_seed():
    import numpy as np

    from tlbook.experiment import Runs, comparison_table
    from tlbook.train import History

    def runs(name, target, seeds=(0, 1)):
        histories = [History(evals={"target test": [t], "source test": [0.9]}) for t in target]
        return Runs(name, list(seeds), [None] * len(target), histories)

    base, better = runs("source only", [0.40, 0.50]), runs("CORAL", [0.45, 0.60])
    table = comparison_table([base, better], baseline=base)
    assert "| CORAL | 52.5 ± 10.6 | 90.0 ± 0.0 | 7.5 ± 3.5 |" in table
    assert np.allclose(better.accuracies() - base.accuracies(), [0.05, 0.10])
    import pytest

    with pytest.raises(ValueError, match=r"baseline did not run seeds \[3, 4\]"):
        comparison_table([runs("other", [0.5, 0.5], seeds=(3, 4))], baseline=base)
    one_seed = comparison_table([base, runs("short", [0.6], seeds=(1,))], baseline=base)
    assert "| short (1 seed) | 60.0 ± 0.0 | 90.0 ± 0.0 | 10.0 ± 0.0 |" in one_seed


def test_glue_hands_python_numbers_to_myst_nb(monkeypatch):
    import sys
    import types

    import numpy as np

    from tlbook.experiment import glue

    glued = {}
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: glued.update({name: (value, display)})
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    glue("gain", np.float64(10.4))
    glue("peak", np.int64(3))
    assert glued == {"gain": (10.4, False), "peak": (3, False)}
    assert type(glued["gain"][0]) is float and type(glued["peak"][0]) is int


def test_the_plot_helpers_draw_figures_no_wider_than_the_books_column():
    import matplotlib.pyplot as plt

    from tlbook import plot
    from tlbook.data import load_pair
    from tlbook.train import History

    source, target = load_pair("synth->handwritten")
    history = History(steps=[1, 2], terms={"loss": [1.0, 0.5]}, eval_steps=[2], evals={"target test": [0.5]})
    features = torch.randn(40, 5)
    figures = [plot.domain_grid([source, target], per_row=12), plot.image_rows({"a": source.x_test[:8], "b": target.x_test[:8]}),
               plot.training_curves(history), plot.feature_map((features[:20], torch.arange(20) % 3), (features[20:], torch.arange(20) % 3), "pca")]
    for figure in figures:
        assert figure.get_size_inches()[0] <= plot.BOOK_WIDTH
        plt.close(figure)
    plot.use_book_style()
    assert plt.rcParams["figure.figsize"][0] == plot.BOOK_WIDTH and plt.rcParams["figure.dpi"] == 100


def test_markdown_table_is_the_one_table_writer():
    from tlbook.experiment import markdown_table

    assert markdown_table(["a", "b"], [[1, "x|y"], ["2", 3.5]]) == "| a | b |\n|---|---|\n| 1 | x\\|y |\n| 2 | 3.5 |"
    with pytest.raises(ValueError, match="a row has 1 cells and the header 2"):
        markdown_table(["a", "b"], [[1]])


def test_accuracy_refuses_labels_that_would_broadcast():
    """Labels shaped (N, 1) compared with (N,) predictions broadcast to N x N: accuracy was 299.9 for a model
    whose accuracy is 0.92. Now the shape (and the dtype) is checked first."""
    import torch
    from torch import nn

    from tlbook.metrics import accuracy

    torch.manual_seed(0)
    model, x = nn.Linear(4, 3), torch.randn(600, 4)
    y = model(x).argmax(1)
    assert accuracy(model, x, y) == 1.0
    with pytest.raises(ValueError, match=r"y must be class indices of shape \(N,\) .* got shape \(600, 1\)"):
        accuracy(model, x, y[:, None])
    with pytest.raises(TypeError, match="integer dtype, got torch.float32"):
        accuracy(model, x, y.float())
    with pytest.raises(ValueError, match="x needs at least 1 row, got 0"):
        accuracy(model, x[:0], y[:0])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 3\), got class\(es\) \[3\]"):
        accuracy(model, x, torch.where(y == 0, 3, y))  # a class the model cannot predict: was a number


def test_feature_sample_reads_the_named_layer_and_layer_maps_measure_it(monkeypatch):
    import matplotlib.pyplot as plt

    from tlbook import plot
    from tlbook.data import load_pair
    from tlbook.methods import SourceOnly
    from tlbook.metrics import feature_sample, proxy_a_distance
    from tlbook.nn import MLP, Classifier, adaptation_classifier

    source, target = load_pair("synth->handwritten")
    tlbook.seed_everything(0)
    model = SourceOnly(adaptation_classifier())
    features, labels = feature_sample(model, source.x_test, source.y_test, n=50, layer="fc2")
    expected = model.classifier.activations(source.x_test[:50])["fc2"]
    assert torch.allclose(features, expected.detach()) and torch.equal(labels, source.y_test[:50])
    assert feature_sample(model, source.x_test, source.y_test, n=50)[0].shape[1] == 64  # the bottleneck, by default
    with pytest.raises(ValueError, match=r"unknown layer 'fc9'.*'fc2'"):
        feature_sample(model, source.x_test, source.y_test, layer="fc9")
    normed = SourceOnly(Classifier(MLP(768, (32,)), 10, bottleneck=16, hidden=(), batch_norm=True)).train()
    before = {k: v.clone() for k, v in normed.state_dict().items()}
    feature_sample(normed, source.x_test.flatten(1), source.y_test, n=8, layer="bottleneck")  # a trained model is in train mode
    assert normed.training and all(torch.equal(v, before[k]) for k, v in normed.state_dict().items()), "the model was changed"
    monkeypatch.setattr(plt, "show", lambda: None)
    distances = plot.layer_maps({"untrained": model}, source, target, "logits", role="the class scores", method="pca")
    fs, ft = (feature_sample(model, d.x_test, d.y_test, layer="logits")[0] for d in (source, target))
    assert distances == {"untrained": proxy_a_distance(fs, ft)}
    assert plt.gcf()._suptitle.get_text() == f"logits, the class scores: untrained (proxy A-distance {distances['untrained']:.2f})"
    plt.close("all")


def test_runs_joined_seed_by_seed_keep_their_order_and_refuse_a_seed_twice():
    import pytest

    from tlbook.experiment import Runs
    from tlbook.train import History

    part = lambda seed, accuracy: Runs("part", [seed], [f"model {seed}"], [History(evals={"target test": [accuracy]})])  # noqa: E731
    joined = Runs.joined("all", [part(2, 0.3), part(0, 0.5)])
    assert (joined.name, joined.seeds, joined.methods) == ("all", [2, 0], ["model 2", "model 0"])
    assert joined.accuracies().tolist() == [0.3, 0.5]
    for parts in ([], [part(1, 0.2), part(1, 0.4)]):
        with pytest.raises(ValueError, match="no seed twice"):
            Runs.joined("bad", parts)
