"""tlbook.finetune: freezing, transfer, L2-SP against NumPy, LoRA, BitFit, and the chapter's data."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from tlbook.data import Domain, load_domain, load_pair
from tlbook.data.sequences import FEATURES, FRAMES, NUM_WORDS, spoken_words
from tlbook.finetune import (L2SP, ConvAutoencoder, LoRAConv2d, LoRALinear, add_lora, bitfit, count_parameters,
                             discriminative_param_groups, few_labels, fine_tune, freeze_layers, frozen_layer_names,
                             layer_names, pretrain_autoencoder, pretrained, torchvision_classifier, transfer_layers,
                             unfreeze, weight_distance)
from tlbook.nn import DigitCNN, SequenceClassifier, digit_classifier

HEAD = "layers.logits"


def _net(batch_norm=True, seed=0, num_classes=4):
    torch.manual_seed(seed)
    return digit_classifier(num_classes=num_classes, widths=(4, 6), batch_norm=batch_norm)


def _toy_domain(n=40, num_classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 16, 16, generator=g)
    y = torch.arange(n) % num_classes
    return Domain("toy", "digits", x, y, x[:8], y[:8], num_classes)


# --- layers and freezing ---

def test_layers_are_the_weighted_modules_in_forward_order_with_their_batch_norm():
    model = _net()
    names = layer_names(model)
    assert names == ["backbone.layers.0", "backbone.layers.4", "layers.fc1.0", "layers.fc2.0", HEAD]
    assert layer_names(SequenceClassifier(8, 6)) == ["front", "rnn", "head"]


def test_freezing_keeps_weights_and_batch_norm_statistics_bit_identical_while_the_rest_trains():
    model = _net()
    frozen = freeze_layers(model, 2)
    assert frozen_layer_names(model) == frozen
    before = copy.deepcopy(model.state_dict())
    fine_tune(model, _toy_domain(), steps=5, lr=1e-2)
    after = model.state_dict()
    backbone = [k for k in before if k.startswith("backbone.")]
    assert any("running_mean" in k for k in backbone) and any("num_batches_tracked" in k for k in backbone)
    for key in backbone:  # conv weights, BN affine parameters, running statistics, batch counter
        assert torch.equal(before[key], after[key]), key
    assert not torch.equal(before["layers.fc1.0.weight"], after["layers.fc1.0.weight"])
    assert not torch.equal(before["layers.fc1.1.running_mean"], after["layers.fc1.1.running_mean"])


def test_a_frozen_batch_norm_stays_in_eval_mode_through_model_train_until_unfrozen():
    model = _net()
    freeze_layers(model, ["backbone.layers.0"])
    bn = model.backbone.layers[1]
    model.train()
    assert not bn.training and model.backbone.layers[5].training
    unfreeze([model.backbone.layers[0], bn])
    model.train()
    assert bn.training and all(p.requires_grad for p in bn.parameters())


def test_freeze_layers_rejects_unknown_names_and_out_of_range_counts():
    model = _net()
    with pytest.raises(ValueError, match="no layer named"):
        freeze_layers(model, ["conv9"])
    with pytest.raises(ValueError, match="5 layers"):
        freeze_layers(model, 6)


def test_transfer_copies_only_the_first_n_layers_and_leaves_the_source_untouched():
    source, fresh = _net(seed=1), _net(seed=2)
    model = transfer_layers(source, fresh, 2)
    s, f, m = source.state_dict(), fresh.state_dict(), model.state_dict()
    for key in m:
        expected = s if key.startswith("backbone.") else f
        assert torch.equal(m[key], expected[key]), key
    with torch.no_grad():
        model.backbone.layers[0].weight.add_(1.0)
    assert torch.equal(source.state_dict()["backbone.layers.0.weight"], s["backbone.layers.0.weight"])


def test_transfer_says_which_layer_differs_in_shape():
    with pytest.raises(ValueError, match="differs in shape"):
        transfer_layers(_net(num_classes=4), _net(num_classes=7), 5)


def test_discriminative_rates_decay_towards_the_first_layer_and_skip_frozen_ones():
    model = _net()
    groups = discriminative_param_groups(model, lr=1.0, decay=0.5)
    assert [g["lr"] for g in groups] == [0.0625, 0.125, 0.25, 0.5, 1.0]
    freeze_layers(model, 1)
    assert len(discriminative_param_groups(model, lr=1.0)) == 4


# --- L2-SP ---

def _np_l2sp(params, anchors, new, alpha, beta):
    pull = sum(np.sum((params[n] - anchors[n]) ** 2) for n in params if n not in new)
    head = sum(np.sum(params[n] ** 2) for n in new)
    return alpha / 2 * pull + beta / 2 * head


def test_l2sp_is_zero_at_the_reference_for_the_transferred_weights():
    model = _net(batch_norm=False).double()
    assert L2SP(model, alpha=0.3)(model).item() == 0.0


@pytest.mark.parametrize("alpha,beta", [(0.1, 0.0), (1.0, 0.01), (0.0, 2.0)])
def test_l2sp_matches_numpy_away_from_the_reference(alpha, beta):
    model = _net(batch_norm=False).double()
    anchors = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    penalty = L2SP(model, alpha, beta, new=[HEAD])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    params = {n: p.detach().numpy() for n, p in model.named_parameters()}
    new = {n for n in params if n.startswith(HEAD)}
    expected = _np_l2sp(params, anchors, new, alpha, beta)
    assert penalty(model).item() == pytest.approx(expected, rel=1e-12)


def test_plain_l2_pulls_towards_zero():
    model = _net(batch_norm=False).double()
    expected = 0.5 * 0.2 * sum(float((p.detach() ** 2).sum()) for p in model.parameters())
    assert L2SP(model, 0.2, reference="zero")(model).item() == pytest.approx(expected, rel=1e-12)


def test_training_the_model_does_not_move_the_l2sp_reference():
    model = _net(batch_norm=False)
    penalty = L2SP(model, alpha=1.0, new=[HEAD])
    stored = {n: a.clone() for n, a in penalty.anchors.items()}
    fine_tune(model, _toy_domain(), steps=3, lr=1e-2, regularizer=penalty)
    assert all(torch.equal(stored[n], penalty.anchors[n]) for n in stored)
    assert penalty(model).item() > 0


def test_l2sp_rejects_unknown_head_names_and_negative_strengths():
    model = _net()
    with pytest.raises(ValueError, match="no trainable parameter"):
        L2SP(model, 0.1, new=["layers.head"])
    with pytest.raises(ValueError, match="alpha must lie in"):
        L2SP(model, -1.0)


def test_weight_distance_is_the_euclidean_norm_of_the_change():
    a, b = _net(seed=0), _net(seed=0)
    with torch.no_grad():
        b.layers.logits.bias.add_(torch.tensor([3.0, 4.0, 0.0, 0.0]))
    assert weight_distance(a, b) == pytest.approx(5.0)
    assert weight_distance(a, b, prefixes=["backbone"]) == 0.0


# --- parameter-efficient tuning ---

@pytest.mark.parametrize("rank", [1, 3])
def test_lora_linear_with_b_zero_is_exactly_the_base_layer_and_counts_r_times_in_plus_out(rank):
    torch.manual_seed(0)
    base = nn.Linear(20, 7)
    lora = LoRALinear(base, rank=rank)
    x = torch.randn(5, 20)
    assert torch.equal(lora(x), base(x))
    assert count_parameters(lora) == rank * (20 + 7)
    assert not any(p.requires_grad for p in base.parameters())


def test_lora_conv_with_b_zero_is_exactly_the_base_layer_and_counts_its_factors():
    torch.manual_seed(0)
    base = nn.Conv2d(3, 8, 5, padding=2)
    lora = LoRAConv2d(base, rank=2)
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(lora(x), base(x))
    assert count_parameters(lora) == 2 * 3 * 5 * 5 + 8 * 2


def test_lora_learns_a_low_rank_update_that_moves_the_output():
    torch.manual_seed(0)
    lora = LoRALinear(nn.Linear(6, 4), rank=2, alpha=4)
    with torch.no_grad():
        lora.B.normal_()
    update = lora.scale * lora.B @ lora.A
    x = torch.randn(3, 6)
    torch.testing.assert_close(lora(x), lora.base(x) + x @ update.T)
    assert torch.linalg.matrix_rank(update) == 2


def test_add_lora_wraps_every_layer_but_the_kept_head_and_trains_only_adapters():
    model = _net(batch_norm=False)
    trainable = add_lora(model, rank=2, keep=[HEAD])
    assert isinstance(model.layers.logits, nn.Linear)
    assert isinstance(model.backbone.layers[0], LoRAConv2d) and isinstance(model.layers.fc1[0], LoRALinear)
    expected = 2 * (3 * 25 + 4) + 2 * (4 * 25 + 6) + 2 * (96 + 100) + 2 * (100 + 100) + (100 * 4 + 4)
    assert trainable == expected == count_parameters(model)
    assert layer_names(model) == ["backbone.layers.0", "backbone.layers.3", "layers.fc1.0", "layers.fc2.0", HEAD]


def test_lora_rejects_a_rank_larger_than_the_layer():
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(3, 2), rank=3)


def test_bitfit_trains_only_biases_and_the_kept_head():
    model = _net()
    before = copy.deepcopy(model.state_dict())
    bitfit(model, keep=[HEAD])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if n.endswith("bias") or n.startswith(HEAD)}
    fine_tune(model, _toy_domain(), steps=5, lr=1e-2)
    after = model.state_dict()
    for key in before:
        changed = not torch.equal(before[key], after[key])
        should_change = key.endswith("bias") or key.startswith(HEAD)
        assert changed == should_change, key


def test_a_model_with_everything_frozen_cannot_be_fine_tuned():
    model = _net()
    freeze_layers(model, 5)
    with pytest.raises(ValueError, match="nothing to fine-tune"):
        fine_tune(model, _toy_domain(), steps=1)


# --- data and pre-trained models ---

def test_few_labels_keeps_k_per_class_and_the_full_test_split():
    source, target = load_pair("words->words-new-speaker")
    small = few_labels(target, 3, seed=1)
    assert torch.equal(torch.bincount(small.y_train), torch.full((NUM_WORDS,), 3))
    assert torch.equal(small.x_test, target.x_test)
    assert source.x_train.shape[1:] == (FRAMES, FEATURES)


def test_with_classes_relabels_and_rejects_bad_classes():
    synth = load_domain("synth")
    upper = synth.with_classes(range(5, 10))
    assert upper.num_classes == 5 and set(upper.y_train.tolist()) == set(range(5))
    assert len(upper.x_train) == int((synth.y_train >= 5).sum())
    with pytest.raises(ValueError, match="distinct classes"):
        synth.with_classes([3, 3])
    with pytest.raises(ValueError, match="distinct classes"):
        synth.with_classes([9, 10])


def test_a_new_speaker_keeps_the_words_but_changes_the_input_features():
    x0, y0 = spoken_words(50, speaker=0, seed=3)
    x1, y1 = spoken_words(50, speaker=1, seed=3)
    assert torch.equal(y0, y1)
    assert not torch.allclose(x0, x1)


def test_pretrained_models_are_cached_and_reloaded_identically(data_dir):
    domain = _toy_domain()
    make = lambda: _net(batch_norm=False)  # noqa: E731
    first = pretrained(domain, make, tag="test", steps=3, progress_bar=False)
    assert len(list((data_dir / "models").glob("*.pt"))) == 1
    second = pretrained(domain, make, tag="test", steps=3, progress_bar=False)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_the_cache_trains_anew_when_the_data_or_a_setting_changes(data_dir):
    make = lambda: _net(batch_norm=False)  # noqa: E731
    pretrained(_toy_domain(seed=0), make, tag="test", steps=2, progress_bar=False)
    pretrained(_toy_domain(seed=1), make, tag="test", steps=2, progress_bar=False)  # other images, same name
    pretrained(_toy_domain(seed=0), make, tag="test", steps=2, lr=1e-2, progress_bar=False)
    pretrain_autoencoder(_toy_domain(seed=0).x_train, DigitCNN(widths=(4, 6)), tag="test", steps=2, progress_bar=False)
    pretrain_autoencoder(_toy_domain(seed=1).x_train, DigitCNN(widths=(4, 6)), tag="test", steps=2, progress_bar=False)
    assert len(list((data_dir / "models").glob("classifier-*.pt"))) == 3
    assert len(list((data_dir / "models").glob("autoencoder-*.pt"))) == 2


def test_the_autoencoder_reconstructs_image_shaped_outputs_and_is_cached(data_dir):
    images = _toy_domain().x_train
    model = pretrain_autoencoder(images, DigitCNN(widths=(4, 6)), tag="test", steps=3, progress_bar=False)
    out = model(images[:2])
    assert out.shape == images[:2].shape and out.min() >= 0 and out.max() <= 1
    assert len(list((data_dir / "models").glob("autoencoder-*.pt"))) == 1
    with pytest.raises(TypeError, match="DigitCNN"):
        ConvAutoencoder(nn.Linear(3, 3))


def test_torchvision_weights_fail_fast_and_clearly_offline(monkeypatch):
    import torchvision

    def offline(weights):
        raise OSError("no network")

    monkeypatch.setattr(torchvision.models, "resnet18", offline)
    with pytest.raises(RuntimeError, match="needs a network"):
        torchvision_classifier(10)
    with pytest.raises(RuntimeError, match="needs a network"):  # the one-argument swap in pretrained()
        pretrained(_toy_domain(), _net, tag="unused", torchvision="resnet18")


def test_the_torchvision_swap_gives_a_resnet_with_a_new_head(monkeypatch):
    import torchvision

    monkeypatch.setattr(torchvision.models, "resnet18", lambda weights: torchvision.models.resnet.resnet18(weights=None))
    model = pretrained(_toy_domain(num_classes=4), _net, tag="unused", torchvision="resnet18")
    assert model.fc.out_features == 4 and not model.training
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 4)


# --- behaviour ---

def test_fine_tuning_a_pretrained_network_beats_scratch_with_few_labels():
    """The chapter's claim on its smallest scale: a source model for digits 0–4 transfers to 5–9."""
    synth = load_domain("synth")
    source, target = synth.with_classes(range(5)), synth.with_classes(range(5, 10))
    make = lambda: digit_classifier(num_classes=5, widths=(8, 16))  # noqa: E731
    source_model = pretrained(source, make, tag="test-8-16", steps=300, cache=False, progress_bar=False)
    small = few_labels(target, 3, seed=0)
    torch.manual_seed(0)
    scratch = fine_tune(make(), small, steps=60, seed=0).final("target test")
    transferred = fine_tune(transfer_layers(source_model, make(), 4), small, steps=60, seed=0).final("target test")
    assert transferred > scratch + 0.05, (transferred, scratch)


def test_a_whole_frozen_model_saves_and_loads_with_its_batch_norm_still_frozen(tmp_path):
    model = digit_classifier(batch_norm=True)
    freeze_layers(model, 1)
    torch.save(model, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False)
    loaded.train()
    bn = loaded.backbone.layers[1]
    assert isinstance(bn, torch.nn.BatchNorm2d) and not bn.training and loaded.backbone.layers[5].training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    unfreeze([bn])
    loaded.train()
    assert type(bn) is torch.nn.BatchNorm2d and bn.training


def test_the_model_cache_is_keyed_on_the_training_code(data_dir, monkeypatch):
    import importlib

    module = importlib.import_module("tlbook.finetune.pretrained")  # the package's `pretrained` is the function
    data = _toy_domain().x_train
    before = module.model_path("classifier", "test", data, steps=2)
    monkeypatch.setattr(module, "model_code_digest", lambda: "f" * 64)  # a network or the loop changed
    after = module.model_path("classifier", "test", data, steps=2)
    assert before != after and after.name.endswith("-codeffffffffffff.pt")
