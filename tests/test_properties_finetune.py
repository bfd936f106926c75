"""Property-based tests of ``tlbook.finetune`` (``tests/properties.py`` is the harness): layers and freezing,
discriminative rates, L2-SP, LoRA and BitFit, fine-tuning on few labels, the cached source models and the
self-taught autoencoder.

The specs build tiny models (two ``Linear`` layers, a ``DigitCNN`` of two 2-channel convolutions on 8×8 images)
and train for one step. The hand-written tests below check what a valid call must give (the frozen layers are
the first k, L2-SP is α/2 times the squared weight distance, LoRA starts as the base model, ...) and that an
ImageNet model missing from torch's cache fails at once, offline, with the file it looked for. Every test runs
with ``TLBOOK_DATA`` and ``TORCH_HOME`` in a temporary folder, and torchvision's download function raising: none
touches the network or the real caches.
"""
from __future__ import annotations

import copy
import importlib
import math
import time
import urllib.error

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tlbook.finetune import discriminative, l2sp, layers, method, peft, self_taught
from tlbook.nn import DigitCNN

from properties import BREAKS, Sizes, Spec, domain, property_tests, sizes

pretrained = importlib.import_module("tlbook.finetune.pretrained")  # the package's `pretrained` is the function


@pytest.fixture(autouse=True, scope="module")
def _offline_caches(tmp_path_factory):
    """Private model caches, no download (a test that tried the network would fail here, not hang), one thread."""
    import torchvision.models._api as api

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network in the tests")

    folder, threads = tmp_path_factory.mktemp("caches"), torch.get_num_threads()
    torch.set_num_threads(1)  # as under xdist (conftest.py): tiny models run many times faster on one thread
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLBOOK_DATA", str(folder / "tlbook"))
        patch.setenv("TORCH_HOME", str(folder / "torch"))
        patch.setattr(api, "load_state_dict_from_url", offline)
        yield
    torch.set_num_threads(threads)


def mlp(s: Sizes, seed_offset: int = 0, batch_norm: bool = False) -> nn.Sequential:
    """Two linear layers, named "0" and "2" (or "0" and "3" after a batch norm)."""
    torch.default_generator.manual_seed(s.seed + seed_offset)  # torch.manual_seed would also queue CUDA's, slowly
    norm = [nn.BatchNorm1d(4)] if batch_norm else []
    return nn.Sequential(nn.Linear(s.d, 4), *norm, nn.ReLU(), nn.Linear(4, s.classes))


def encoder() -> DigitCNN:
    torch.default_generator.manual_seed(0)
    return DigitCNN(1, 8, widths=(2, 2))


def _lora_model(v, call, s):
    peft.add_lora(v, rank=1, keep=["2"])
    return v


_not_module = {"a tensor": lambda v, call, s: torch.zeros(2, 2), "None": lambda v, call, s: None,
               "a class, not an instance": lambda v, call, s: nn.Linear}
_layered = {**_not_module, "no weighted layers": lambda v, call, s: nn.Sequential(nn.ReLU())}
_names = {"a string": lambda v, call, s: "0", "an unknown name": lambda v, call, s: ["no-such-name"],
          "not a string": lambda v, call, s: [0], "None": lambda v, call, s: None}
_file_part = {"empty": lambda v, call, s: "", "a path": lambda v, call, s: "../x", "not a string": lambda v, call, s: 3}
_flag = {"a string": lambda v, call, s: "False", "None": lambda v, call, s: None, "an int": lambda v, call, s: 1}
_function = {"not callable": lambda v, call, s: 3, "None": lambda v, call, s: None}

FINETUNE_BREAKS = {
    **BREAKS,
    "module": _not_module,
    "layered_module": _layered,
    "reference": {**_layered,
                  "other shapes": lambda v, call, s: nn.Sequential(nn.Linear(s.d + 1, 4), nn.ReLU(), nn.Linear(4, s.classes))},
    "other_model": {**_layered,
                    "other shapes": lambda v, call, s: nn.Sequential(nn.Linear(s.d + 1, 4), nn.ReLU(), nn.Linear(4, s.classes)),
                    "a batch norm the other lacks": lambda v, call, s: mlp(s, batch_norm=True)},
    "lora_model": {**_not_module,
                   "nothing to adapt": lambda v, call, s: nn.Sequential(nn.Embedding(3, 2), nn.ReLU(), nn.Embedding(3, 2)),
                   "a grouped convolution": lambda v, call, s: nn.Sequential(nn.Conv2d(2, 2, 1, groups=2), nn.ReLU(), nn.Linear(2, 2)),
                   "adapted already": _lora_model},
    "modules": {"a tensor": lambda v, call, s: torch.zeros(2), "a string": lambda v, call, s: "0",
                "a list holding a tensor": lambda v, call, s: [*v, torch.zeros(1)], "None": lambda v, call, s: None},
    "layers": {"negative": lambda v, call, s: -1, "more than the model has": lambda v, call, s: 3,
               "a float": lambda v, call, s: 1.5, "a bool": lambda v, call, s: True, "a string": lambda v, call, s: "0",
               "an unknown name": lambda v, call, s: ["no-such-layer"], "a name that is not a string": lambda v, call, s: [0]},
    "names": _names,
    "flag": _flag,
    "function": _function,
    "factory": {**_function, "returns no module": lambda v, call, s: (lambda: 3)},
    "regularizer": {"not callable": lambda v, call, s: 0.1, "a string": lambda v, call, s: "l2sp"},
    "param_groups": {
        "empty": lambda v, call, s: [], "not a list": lambda v, call, s: 0.1, "a list of numbers": lambda v, call, s: [0.1],
        "another model's": lambda v, call, s: discriminative.discriminative_param_groups(mlp(s), 0.1),
        "a nan lr": lambda v, call, s: [{**g, "lr": math.nan} for g in v],
        "a negative lr": lambda v, call, s: [{**g, "lr": -1.0} for g in v]},
    "decay": {"zero": lambda v, call, s: 0.0, "negative": lambda v, call, s: -0.5, "above 1": lambda v, call, s: 1.5,
              "nan": lambda v, call, s: math.nan, "inf": lambda v, call, s: math.inf, "a string": lambda v, call, s: "0.5"},
    "lora_rank": {**BREAKS["positive_int"], "larger than the layer": lambda v, call, s: 1000},
    "lora_base": {"another layer type": lambda v, call, s: nn.Conv2d(2, 2, 1) if isinstance(v, nn.Linear) else nn.Linear(2, 2),
                  "a tensor": lambda v, call, s: torch.zeros(2, 2), "a layer without weights": lambda v, call, s: nn.ReLU(),
                  "a grouped convolution": lambda v, call, s: nn.Conv2d(2, 2, 1, groups=2)},
    "domain": {"not a domain": lambda v, call, s: (v.x_train, v.y_train), "None": lambda v, call, s: None},
    "per_class": {**BREAKS["positive_int"], "more than a class has": lambda v, call, s: 10**6},
    "noise": {"negative": lambda v, call, s: -0.1, "one": lambda v, call, s: 1.0, "above 1": lambda v, call, s: 2.0,
              "nan": lambda v, call, s: math.nan, "inf": lambda v, call, s: math.inf, "a string": lambda v, call, s: "0.3"},
    "encoder": {**_not_module, "not a DigitCNN": lambda v, call, s: nn.Linear(3, 3),
                "one convolution": lambda v, call, s: DigitCNN(1, 8, widths=(2,)),
                "a size it cannot rebuild": lambda v, call, s: DigitCNN(1, 10, widths=(2, 2))},
    "encoder_images": {**BREAKS["images"], "another image size": lambda v, call, s: v[..., :-1, :-1],
                       "other channels": lambda v, call, s: torch.cat([v, v], 1)},
    "file_part": _file_part,
    "data": {"a Python list": lambda v, call, s: v.tolist(), "empty": lambda v, call, s: v[:0],
             "a number": lambda v, call, s: 3.0},
    "setting": {"a list": lambda v, call, s: [1], "a path": lambda v, call, s: "../x", "None": lambda v, call, s: None},
    "resnet": {"unknown": lambda v, call, s: "resnet9", "not a ResNet": lambda v, call, s: "vgg11",
               "not a string": lambda v, call, s: 18},
    "weights": {"unknown": lambda v, call, s: "IMAGENET9K_V9", "not a string": lambda v, call, s: 1},
}

_TRAINING = {"steps": "positive_int", "batch_size": "positive_int", "lr": "positive_float", "seed": "seed",
             "progress_bar": "flag"}


def _groups(s: Sizes) -> dict:
    model = mlp(s)
    return dict(classifier=model, regularizer=l2sp.L2SP(model, 0.1), param_groups=discriminative.discriminative_param_groups(model, 0.1))


def _lora_rank(s: Sizes, largest: int) -> int:
    return 1 + s.seed % largest


SPECS: dict[str, Spec] = {
    # layers and freezing
    "named_layers": Spec(layers.named_layers, lambda s: dict(model=mlp(s)), {"model": "layered_module"}),
    "layer_names": Spec(layers.layer_names, lambda s: dict(model=mlp(s)), {"model": "layered_module"}),
    "frozen_layer_names": Spec(layers.frozen_layer_names, lambda s: dict(model=mlp(s)), {"model": "layered_module"}),
    "freeze": Spec(layers.freeze, lambda s: dict(modules=list(mlp(s))[: 1 + s.seed % 3]), {"modules": "modules"}),
    "unfreeze": Spec(layers.unfreeze, lambda s: dict(modules=list(mlp(s))[: 1 + s.seed % 3]), {"modules": "modules"}),
    "freeze_layers": Spec(layers.freeze_layers, lambda s: dict(model=mlp(s), layers=s.seed % 3),
                          {"model": "layered_module", "layers": "layers"}),
    "count_parameters": Spec(layers.count_parameters, lambda s: dict(model=mlp(s)), {"model": "module", "trainable": "flag"}),
    "transfer_layers": Spec(layers.transfer_layers, lambda s: dict(pretrained=mlp(s), fresh=mlp(s, 1), layers=1 + s.seed % 2),
                            {"pretrained": "other_model", "fresh": "other_model", "layers": "layers"}),
    "discriminative_param_groups": Spec(discriminative.discriminative_param_groups, lambda s: dict(model=mlp(s), lr=0.1),
                                        {"model": "layered_module", "lr": "positive_float", "decay": "decay"}),
    # how far from the start
    "L2SP": Spec(l2sp.L2SP, lambda s: dict(model=mlp(s), alpha=0.1, beta=0.01, new=["2"]),
                 {"model": "module", "alpha": "nonnegative_float", "beta": "nonnegative_float", "new": "names",
                  "reference": "choice"}),
    "weight_distance": Spec(l2sp.weight_distance, lambda s: dict(model=mlp(s), reference=mlp(s, 1), prefixes=["0"]),
                            {"model": "module", "reference": "reference", "prefixes": "names"}, legal=("prefixes:None",)),
    # parameter-efficient
    "LoRALinear": Spec(peft.LoRALinear, lambda s: dict(base=nn.Linear(s.d, s.classes), rank=_lora_rank(s, min(s.d, s.classes)), alpha=2.0),
                       {"base": "lora_base", "rank": "lora_rank", "alpha": "positive_float"}),
    "LoRAConv2d": Spec(peft.LoRAConv2d, lambda s: dict(base=nn.Conv2d(s.d, s.classes, 3), rank=_lora_rank(s, s.classes), alpha=2.0),
                       {"base": "lora_base", "rank": "lora_rank", "alpha": "positive_float"}),
    "add_lora": Spec(peft.add_lora, lambda s: dict(model=mlp(s), rank=1 + s.seed % 6, keep=["2"]),
                     {"model": "lora_model", "rank": "positive_int", "alpha": "positive_float", "keep": "names"}),
    "bitfit": Spec(peft.bitfit, lambda s: dict(model=mlp(s), keep=["2"]), {"model": "module", "keep": "names"}),
    # fine-tuning on few labels
    "FineTune": Spec(method.FineTune, _groups, {"classifier": "module", "regularizer": "regularizer", "param_groups": "param_groups"}),
    "few_labels": Spec(method.few_labels, lambda s: dict(domain=domain(s), per_class=1 + s.seed % 4),
                       {"domain": "domain", "per_class": "per_class", "seed": "seed"}),
    "fine_tune": Spec(method.fine_tune, lambda s: dict(model=mlp(s), labelled=domain(s), steps=1, batch_size=4),
                      {"model": "module", "labelled": "domain", **_TRAINING}, examples=2),
    # source models
    "model_path": Spec(pretrained.model_path, lambda s: dict(kind="classifier", tag="t", data=s.rand(s.n, s.d), steps=2),
                       {"kind": "file_part", "tag": "file_part", "data": "data", "steps": "setting"}),
    "cached_model": Spec(pretrained.cached_model, lambda s: dict(model=mlp(s), kind="classifier", tag=f"mlp-{s.d}-{s.classes}",
                                                                 data=s.rand(s.n, s.d), train=lambda: None, steps=2),
                         {"model": "layered_module", "kind": "file_part", "tag": "file_part", "data": "data",
                          "train": "function", "cache": "flag", "steps": "setting"}),
    "pretrained": Spec(pretrained.pretrained, lambda s: dict(source=domain(s), make_model=lambda: mlp(s), tag="t", steps=1,
                                                             batch_size=4, cache=False, progress_bar=False),
                       {"source": "domain", "make_model": "factory", "tag": "file_part", **_TRAINING, "cache": "flag",
                        "torchvision": "resnet"}, examples=2),
    "torchvision_classifier": Spec(pretrained.torchvision_classifier, lambda s: dict(num_classes=s.classes, weights=None),
                                   {"num_classes": "classes", "arch": "resnet", "weights": "weights",
                                    "timeout_s": "positive_float"}, examples=1),
    "torchvision_backbone": Spec(pretrained.torchvision_backbone, lambda s: dict(arch="resnet18", weights=None),
                                 {"arch": "resnet", "weights": "weights", "timeout_s": "positive_float"}, examples=1),
    # self-taught
    "ConvAutoencoder": Spec(self_taught.ConvAutoencoder, lambda s: dict(encoder=encoder()), {"encoder": "encoder"}),
    "Denoising": Spec(self_taught.Denoising, lambda s: dict(autoencoder=self_taught.ConvAutoencoder(encoder()), noise=(s.seed % 10) / 10),
                      {"autoencoder": "module", "noise": "noise", "seed": "seed"}),
    "pretrain_autoencoder": Spec(self_taught.pretrain_autoencoder,
                                 lambda s: dict(images=s.rand(s.n, 1, 8, 8), encoder=encoder(), tag="t", steps=1, batch_size=4,
                                                cache=False, progress_bar=False),
                                 {"images": "encoder_images", "encoder": "encoder", "tag": "file_part", **_TRAINING,
                                  "noise": "noise", "cache": "flag"}, examples=2),
}

test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(SPECS, FINETUNE_BREAKS)


# --- what a valid call gives ---------------------------------------------------------------------------------

@settings(max_examples=10)
@given(s=sizes, k=st.integers(0, 2))
def test_freezing_k_layers_freezes_exactly_the_first_k_and_transfer_copies_exactly_them(s, k):
    model = mlp(s)
    assert layers.freeze_layers(model, k) == layers.frozen_layer_names(model) == ["0", "2"][:k]
    trainable = sum(p.numel() for name, p in model.named_parameters() if name.split(".")[0] not in ["0", "2"][:k])
    assert layers.count_parameters(model) == trainable and layers.count_parameters(model, trainable=False) == 4 * (s.d + 1) + 5 * s.classes
    source, fresh = mlp(s, 1), mlp(s, 2)
    before = copy.deepcopy(source.state_dict())
    copied = layers.transfer_layers(source, fresh, k).state_dict()
    for key, value in copied.items():
        expected = source if key.split(".")[0] in ["0", "2"][:k] else fresh
        assert torch.equal(value, expected.state_dict()[key]), key
    assert all(torch.equal(before[key], value) for key, value in source.state_dict().items())


@settings(max_examples=10)
@given(s=sizes, lr=st.floats(1e-4, 1.0), decay=st.floats(0.01, 1.0))
def test_discriminative_rates_are_lr_times_decay_to_the_distance_from_the_last_layer(s, lr, decay):
    groups = discriminative.discriminative_param_groups(mlp(s), lr, decay)
    assert [g["name"] for g in groups] == ["0", "2"] and [g["lr"] for g in groups] == [lr * decay, lr]


@settings(max_examples=10)
@given(s=sizes, alpha=st.floats(0.0, 10.0), step=st.floats(-1.0, 1.0))
def test_l2sp_is_alpha_over_two_times_the_squared_weight_distance(s, alpha, step):
    model = mlp(s).double()
    start = copy.deepcopy(model)
    penalty = l2sp.L2SP(model, alpha)
    assert penalty(model).item() == 0.0 and l2sp.weight_distance(model, start) == 0.0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(step)
    distance = l2sp.weight_distance(model, start)
    assert distance == pytest.approx(abs(step) * math.sqrt(4 * (s.d + 1) + 5 * s.classes), rel=1e-9)
    assert penalty(model).item() == pytest.approx(alpha / 2 * distance**2, rel=1e-9, abs=1e-12)


@settings(max_examples=5)
@given(s=sizes)
def test_l2sp_and_the_distance_name_a_parameter_whose_shape_differs(s):
    reference, other = mlp(s), nn.Sequential(nn.Linear(s.d + 1, 4), nn.ReLU(), nn.Linear(4, s.classes))
    with pytest.raises(ValueError, match=rf"parameter '0.weight' has shape \(4, {s.d + 1}\)"):
        l2sp.L2SP(reference, 0.1)(other)
    with pytest.raises(ValueError, match=rf"parameter '0.weight' has shape \(4, {s.d + 1}\)"):
        l2sp.weight_distance(other, reference)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        l2sp.L2SP(reference, 0.1)(reference.state_dict())


@settings(max_examples=5)
@given(s=sizes, rank=st.integers(1, 8), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_lora_starts_as_the_base_model_and_trains_only_its_factors(s, rank, dtype):
    model = mlp(s).to(dtype)
    x = s.rand(3, s.d).to(dtype)
    before = model(x)
    trainable = peft.add_lora(model, rank=rank)
    r0, r1 = min(rank, s.d, 4), min(rank, 4, s.classes)
    assert trainable == r0 * (s.d + 4) + r1 * (4 + s.classes) == layers.count_parameters(model)
    assert torch.equal(model(x), before)  # B = 0 at the start, in float64 too
    conv = nn.Conv2d(s.d, s.classes, 3).to(dtype)
    images = s.rand(2, s.d, 5, 5).to(dtype)
    assert torch.equal(peft.LoRAConv2d(conv, 1)(images), conv(images))


@settings(max_examples=10)
@given(s=sizes, per_class=st.integers(1, 4))
def test_few_labels_keeps_exactly_per_class_examples_of_every_class(s, per_class):
    small = method.few_labels(domain(s), per_class, seed=s.seed)
    assert torch.equal(torch.bincount(small.y_train, minlength=s.classes), torch.full((s.classes,), per_class))


@settings(max_examples=5)
@given(s=sizes)
def test_few_labels_names_the_class_that_has_too_few_examples(s):
    target = domain(s)
    counts = torch.bincount(target.y_train, minlength=s.classes)
    smallest = int(counts.argmin())
    with pytest.raises(ValueError, match=rf"class {smallest} .* has only {int(counts[smallest])} training examples"):
        method.few_labels(target, int(counts[smallest]) + 1)


@settings(max_examples=3)
@given(s=sizes)
def test_groups_built_from_the_model_before_transfer_layers_copied_it_are_refused(s):
    """transfer_layers returns a copy: rates built from ``fresh`` would train ``fresh``, not the model."""
    fresh = mlp(s)
    groups = discriminative.discriminative_param_groups(fresh, 0.1)
    model = layers.transfer_layers(mlp(s, 1), fresh, 1)
    with pytest.raises(ValueError, match="not the classifier's"):
        method.fine_tune(model, domain(s), steps=1, batch_size=4, param_groups=groups)


@settings(max_examples=2)
@given(s=sizes)
def test_a_cached_model_is_reloaded_identically_without_training(s):
    first = pretrained.pretrained(domain(s), lambda: mlp(s), tag="t", steps=1, batch_size=4, progress_bar=False)
    again = pretrained.pretrained(domain(s), lambda: mlp(s, 1), tag="t", steps=1, batch_size=4, progress_bar=False)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))


@settings(max_examples=1)
@given(timeout_s=st.floats(0.1, 60.0))
def test_imagenet_weights_missing_from_the_cache_fail_at_once_offline_naming_the_file(timeout_s):
    """No network here (the autouse fixture makes torchvision's download raise): the error comes at once,
    says it needs a network and names the file to copy into torch's cache, for both entry points."""
    for build in (lambda: pretrained.torchvision_classifier(3, arch="resnet18", timeout_s=timeout_s),
                  lambda: pretrained.torchvision_backbone("resnet18", timeout_s=timeout_s)):
        start = time.perf_counter()
        with pytest.raises(RuntimeError, match=r"(?s)could not download the resnet18 weights .*not in torch's cache "
                                               r"\(.*checkpoints.resnet18-\w+\.pth\).* needs a network"):
            build()
        assert time.perf_counter() - start < 5


@settings(max_examples=2)
@given(s=sizes)
def test_a_cached_model_of_another_network_under_the_same_tag_is_refused_naming_the_tag(s):
    data = s.rand(s.n, s.d)
    pretrained.cached_model(mlp(s), "classifier", "same-tag", data, lambda: None)
    with pytest.raises(ValueError, match=r"cached_model: the cached .* holds another network .* tag 'same-tag'"):
        pretrained.cached_model(nn.Sequential(nn.Linear(s.d, 5)), "classifier", "same-tag", data, lambda: None)
