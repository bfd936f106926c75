"""Batch-norm statistics per domain: running_stats_frozen, AdaBN, and DANN's domain_batch_norm option."""
import dataclasses

import pytest
import torch

import tlbook
from tlbook.data import load_domain
from tlbook.methods import DANN, AdaBN, SourceOnly
from tlbook.nn import MLP, Classifier, batch_norm_layers, digit_classifier, running_stats_frozen, toy_classifier


def _bn_net():
    return Classifier(MLP(2, (32,)), 2, bottleneck=16, hidden=(16,), batch_norm=True)


def _shifted(domain, scale, offset):
    """The same task, its inputs scaled and moved: a shift that batch-norm statistics can undo."""
    return dataclasses.replace(domain, name=f"{domain.name}-shifted", x_train=domain.x_train * scale + offset,
                               x_test=domain.x_test * scale + offset)


@pytest.fixture(scope="module")
def shifted_moons():
    return load_domain("moons", cache=False), _shifted(load_domain("moons", seed=1, cache=False), 2.0, 1.5)


def test_running_stats_frozen_normalises_with_the_batch_but_keeps_the_running_averages():
    layer = torch.nn.BatchNorm1d(3).train()
    x = torch.randn(16, 3) * 4 + 2
    before = (layer.running_mean.clone(), layer.running_var.clone(), layer.num_batches_tracked.clone())
    with running_stats_frozen(layer):
        out = layer(x)
    assert torch.allclose(out.mean(0), torch.zeros(3), atol=1e-5)  # the batch's own statistics were used
    after = (layer.running_mean, layer.running_var, layer.num_batches_tracked)
    assert all(torch.equal(b, a) for b, a in zip(before, after)) and layer.momentum == 0.1
    layer(x)
    assert not torch.equal(layer.running_mean, before[0]), "outside the block the averages move again"


def _first_batch_norm_inputs(method, source, target):
    """The inputs of the network's first batch-norm layer during one training step, and its running
    mean after the step (momentum 1: the running mean is the mean of the last pass that updated it)."""
    layer = batch_norm_layers(method.classifier)[0]
    layer.momentum = 1.0
    seen = []
    handle = layer.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach().clone()))
    tlbook.fit(method, source, target, steps=1, batch_size=32, progress_bar=False, eval_every=1)
    handle.remove()
    training_passes = [x for x in seen if len(x) in (32, 64)][:2]
    return training_passes, layer.running_mean.clone()


def test_dann_with_domain_batch_norm_keeps_target_statistics(shifted_moons):
    tlbook.seed_everything(0)
    passes, running = _first_batch_norm_inputs(DANN(_bn_net(), domain_batch_norm=True), *shifted_moons)
    source, target = passes
    assert len(source) == len(target) == 32, "source and target go through the network separately"
    assert torch.allclose(running, target.mean(0), atol=1e-5), "the running mean must follow the target pass"
    assert not torch.allclose(running, source.mean(0), atol=1e-2)


def test_dann_without_the_option_normalises_the_mixture(shifted_moons):
    tlbook.seed_everything(0)
    passes, running = _first_batch_norm_inputs(DANN(_bn_net()), *shifted_moons)
    assert len(passes[0]) == 64 and torch.allclose(running, passes[0].mean(0), atol=1e-5)


def test_adabn_moves_the_running_averages_with_the_target_only(shifted_moons):
    tlbook.seed_everything(0)
    passes, running = _first_batch_norm_inputs(AdaBN(_bn_net()), *shifted_moons)
    source, target = passes
    assert torch.allclose(running, target.mean(0), atol=1e-5)
    assert not torch.allclose(running, source.mean(0), atol=1e-2)


def test_adabn_beats_source_only_where_batch_statistics_undo_the_shift(shifted_moons):
    for seed in (0, 1):
        accuracies = []
        for method in (SourceOnly, AdaBN):
            tlbook.seed_everything(seed)
            history = tlbook.fit(method(_bn_net()), *shifted_moons, steps=300, batch_size=64, optimizer="adam",
                                 lr=1e-2, progress_bar=False, seed=seed)
            accuracies.append(history.final("target test"))
        assert accuracies[1] > accuracies[0] + 0.05, f"seed {seed}: source-only, AdaBN = {accuracies}"


@pytest.mark.parametrize("make", [lambda: AdaBN(toy_classifier()), lambda: DANN(toy_classifier(), domain_batch_norm=True)])
def test_the_batch_norm_options_need_a_network_with_batch_norm(make):
    with pytest.raises(ValueError, match="batch_norm=True"):
        make()


def test_dann_domain_batch_norm_on_digits_runs_a_step():
    from tlbook.data import load_pair

    source, target = load_pair("synth->handwritten")
    method = DANN(digit_classifier(widths=(4, 8), batch_norm=True), domain_batch_norm=True)
    history = tlbook.fit(method, source, target, steps=2, batch_size=8, progress_bar=False)
    assert set(history.terms) >= {"classification", "domain", "domain accuracy", "lambda"}
