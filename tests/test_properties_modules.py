"""Property-based tests of the modules' constructors (``tlbook.nn``), the evaluation helpers of ``tlbook.metrics``,
``selection.label_free_scores`` and CDAN's randomised map (``tests/properties.py`` is the harness).

A constructor's valid call must build the module, a broken size, width, class count, coefficient or probability
must be refused at once with an error that names it; ``test_a_valid_module_gives_outputs_of_the_promised_shape``
then runs every module built from generated sizes on a batch.
"""
from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from torch import nn

from tlbook import metrics, selection
from tlbook import nn as tn
from tlbook.losses.conditional import randomized_multilinear_map

from properties import BREAKS, Sizes, Spec, linear, property_tests, sizes

ACTIVATIONS = ("relu", "sigmoid", "tanh", None)


def _bn_net(s: Sizes) -> nn.Module:
    return nn.Sequential(nn.Linear(s.d, 3), nn.BatchNorm1d(3))


def _classifier(s: Sizes) -> tn.Classifier:
    """A small classifier of (N, d) inputs; its MLP refuses inputs of any other shape."""
    torch.manual_seed(s.seed)
    return tn.Classifier(tn.MLP(s.d, (5,)), s.classes, hidden=())


def _cnn_side(s: Sizes) -> int:
    return 4 + 2 * (s.seed % 5)  # 4 to 12: the smallest side two padded 5×5 convolutions and pools can take is 4


_not_module = {"a tensor": lambda v, call, s: torch.zeros(2, 2), "a class, not an instance": lambda v, call, s: nn.Linear}
_widths = {"empty": lambda v, call, s: (), "a zero": lambda v, call, s: (*v, 0),
           "a float": lambda v, call, s: (*v, 2.5), "a bool": lambda v, call, s: (True,), "one number": lambda v, call, s: 8}
_image_size = {"zero": lambda v, call, s: 0, "a float": lambda v, call, s: float(v),
               "a bool": lambda v, call, s: True}
_projection = {"one more dimension": lambda v, call, s: v.unsqueeze(-1), "a Python list": lambda v, call, s: v.tolist(),
               "integer dtype": lambda v, call, s: v.long(), "one row fewer": lambda v, call, s: v[:-1],
               "no columns": lambda v, call, s: v[:, :0], "one column more": lambda v, call, s: torch.cat([v, v[:, :1]], 1)}
MODULE_BREAKS = {
    **BREAKS,
    "size": {"zero": lambda v, call, s: 0, "a float": lambda v, call, s: 2.5, "a bool": lambda v, call, s: True,
             "a string": lambda v, call, s: "3"},  # a positive integer (negative: the same check as zero)
    "module": _not_module,
    "backbone": {**_not_module, "no out_features": lambda v, call, s: nn.Identity()},
    "feature_model": {**_not_module, "no features": lambda v, call, s: linear(s)},
    "callable": {"a tensor": lambda v, call, s: torch.zeros(2), "None": lambda v, call, s: None},
    "widths": _widths,
    "image_size": _image_size,
    "cnn_image_size": {**_image_size, "too small": lambda v, call, s: 3},
    "decoder_image_size": {**_image_size, "not a multiple of 4": lambda v, call, s: v + 2},
    "width_2": {"one": lambda v, call, s: 1, "zero": lambda v, call, s: 0, "a float": lambda v, call, s: 4.0,
                "a bool": lambda v, call, s: True},
    "nonnegative_int": {"negative": lambda v, call, s: -1, "a float": lambda v, call, s: 1.5, "a bool": lambda v, call, s: True},
    "flag": {"a string": lambda v, call, s: "no", "None": lambda v, call, s: None},
    "activation": {"unknown": lambda v, call, s: "softsign", "a class": lambda v, call, s: nn.ReLU},
    "dropout": {"one": lambda v, call, s: 1.0, "negative": lambda v, call, s: -0.1, "nan": lambda v, call, s: math.nan,
                "a string": lambda v, call, s: "0.1"},
    "tensor": {"a Python list": lambda v, call, s: v.tolist(), "a NumPy array": lambda v, call, s: v.numpy()},
    "projection": _projection,
    "bins": {"reversed": lambda v, call, s: [(0.5, 0.0)], "nan": lambda v, call, s: [(0.0, math.nan)],
             "not pairs": lambda v, call, s: [0.0, 0.5], "three ends": lambda v, call, s: [(0.0, 0.5, 1.0)],
             "one number": lambda v, call, s: 0.5},
    "layer": {"unknown": lambda v, call, s: "fc9", "an int": lambda v, call, s: 1},
    "validation": {"a tensor, not a pair": lambda v, call, s: v[0], "three items": lambda v, call, s: (*v, v[1]),
                   "labels one short": lambda v, call, s: (v[0], v[1][:-1]),
                   "labels (N, 1)": lambda v, call, s: (v[0], v[1].unsqueeze(1)),
                   "float labels": lambda v, call, s: (v[0], v[1].float()),
                   "a class out of range": lambda v, call, s: (v[0], torch.where(v[1] == 0, s.classes, v[1])),
                   "inputs the model cannot read": lambda v, call, s: (v[0].unsqueeze(-1), v[1])},
    "max_rows": {"one": lambda v, call, s: 1, "a float": lambda v, call, s: 2.5, "a bool": lambda v, call, s: True,
                 "a string": lambda v, call, s: "3"},
}

SPECS: dict[str, Spec] = {
    # batch norm
    "nn.batch_norm.batch_norm_layers": Spec(tn.batch_norm_layers, lambda s: dict(module=_bn_net(s)), {"module": "module"}),
    "nn.batch_norm.running_stats_frozen": Spec(tn.running_stats_frozen, lambda s: dict(module=_bn_net(s)), {"module": "module"}),
    # classifiers
    "nn.classifier.Classifier": Spec(
        tn.Classifier, lambda s: dict(backbone=tn.MLP(s.d, (s.d + 1,)), num_classes=s.classes,
                                      bottleneck=s.d + 2 if s.seed % 5 else None,
                                      bottleneck_activation=ACTIVATIONS[s.seed % 4], hidden=(3,) * (s.seed % 3),
                                      batch_norm=s.seed % 2 == 0),
        {"backbone": "backbone", "num_classes": "classes", "bottleneck": "size", "bottleneck_activation": "activation",
         "hidden": "widths", "batch_norm": "flag"}, legal=("hidden:empty",)),
    "nn.classifier.adaptation_classifier": Spec(
        tn.adaptation_classifier, lambda s: dict(activation=ACTIVATIONS[s.seed % 4], num_classes=s.classes, image_size=_cnn_side(s)),
        {"activation": "activation", "num_classes": "classes", "image_size": "cnn_image_size"}),
    "nn.classifier.digit_classifier": Spec(
        tn.digit_classifier, lambda s: dict(in_channels=1 + s.d % 3, image_size=_cnn_side(s), num_classes=s.classes,
                                            batch_norm=s.seed % 2 == 1, widths=(2, 3), hidden=(4,)),
        {"in_channels": "size", "image_size": "cnn_image_size", "num_classes": "classes", "batch_norm": "flag",
         "widths": "widths"}),
    "nn.classifier.small_digit_classifier": Spec(
        tn.small_digit_classifier, lambda s: dict(num_classes=s.classes, image_size=_cnn_side(s), hidden=(4,)),
        {"num_classes": "classes"}),
    "nn.classifier.toy_classifier": Spec(tn.toy_classifier, lambda s: dict(num_classes=s.classes, hidden=(s.d, 3)),
                                         {"num_classes": "classes", "hidden": "widths"}),
    # backbones and heads
    "nn.digit_cnn.DigitCNN": Spec(
        tn.DigitCNN, lambda s: dict(in_channels=1 + s.d % 3, image_size=_cnn_side(s), widths=(2, 3), batch_norm=s.seed % 2 == 0),
        {"in_channels": "size", "image_size": "cnn_image_size", "widths": "widths", "batch_norm": "flag",
         "padding": "nonnegative_int"}),
    "nn.mlp.MLP": Spec(tn.MLP, lambda s: dict(in_features=s.d, hidden=(s.d + 1, 3)),
                       {"in_features": "size", "hidden": "widths"}),
    "nn.sequence.SequenceClassifier": Spec(tn.SequenceClassifier, lambda s: dict(in_features=s.d, num_classes=s.classes, hidden=4),
                                           {"in_features": "size", "num_classes": "classes", "hidden": "size"}),
    # adversarial parts
    "nn.discriminator.DomainDiscriminator": Spec(
        tn.DomainDiscriminator, lambda s: dict(in_features=s.d, hidden=(s.d + 1,) * (s.seed % 3), domains=1 + s.seed % 2),
        {"in_features": "size", "hidden": "widths", "domains": "size"}, legal=("hidden:empty",)),
    "nn.domain_adversarial.DomainAdversarialLoss": Spec(tn.DomainAdversarialLoss,
                                                        lambda s: dict(discriminator=tn.DomainDiscriminator(s.d)),
                                                        {"discriminator": "module"}),
    "nn.gradient_reversal.GradientReversal": Spec(tn.GradientReversal, lambda s: dict(coefficient=3 * s.seed / 2**16),
                                                  {"coefficient": "nonnegative_float"}),
    "nn.gradient_reversal.grad_reverse": Spec(tn.grad_reverse, lambda s: dict(x=s.randn(s.n, s.d), coefficient=3 * s.seed / 2**16),
                                              {"x": "tensor", "coefficient": "nonnegative_float"}),
    "nn.multilinear.MultilinearMap": Spec(
        tn.MultilinearMap, lambda s: dict(features=s.d, classes=s.classes, randomized_dim=s.d + 3 if s.seed % 2 else None),
        {"features": "size", "classes": "size", "randomized_dim": "size"}),
    "losses.conditional.randomized_multilinear_map": Spec(
        randomized_multilinear_map,
        lambda s: dict(features=s.rand(s.n, s.d), probabilities=s.probabilities(s.n), feature_projection=s.randn(s.d, 1 + s.seed % 5),
                       class_projection=s.randn(s.classes, 1 + s.seed % 5)),
        {"features": "features", "probabilities": "features", "feature_projection": "projection",
         "class_projection": "projection"}, rows={"probabilities": "features"}),
    # DSN and PixelDA
    "nn.dsn.CodeEncoder": Spec(tn.CodeEncoder, lambda s: dict(in_channels=1 + s.d % 3, image_size=_cnn_side(s), code_dim=s.d, widths=(2, 3)),
                               {"in_channels": "size", "image_size": "cnn_image_size", "code_dim": "size",
                                "widths": "widths"}),
    "nn.dsn.SharedDecoder": Spec(tn.SharedDecoder, lambda s: dict(code_dim=s.d, out_channels=1 + s.d % 3, image_size=4 * (1 + s.d % 3), width=4),
                                 {"code_dim": "size", "out_channels": "size", "image_size": "decoder_image_size",
                                  "width": "width_2"}),
    "nn.pixel_gan.PixelGenerator": Spec(
        tn.PixelGenerator, lambda s: dict(in_channels=1 + s.d % 3, out_channels=1 + s.seed % 3, image_size=s.d + 2, noise_dim=s.d,
                                          width=4, blocks=s.seed % 3),
        {"in_channels": "size", "out_channels": "size", "image_size": "image_size", "noise_dim": "size",
         "width": "size", "blocks": "nonnegative_int"}),
    "nn.pixel_gan.ImageDiscriminator": Spec(
        tn.ImageDiscriminator, lambda s: dict(in_channels=1 + s.d % 3, image_size=s.d + 1, widths=(2, 3), input_noise=s.seed / 2**16,
                                              dropout=0.9 * s.seed / 2**16),
        {"in_channels": "size", "image_size": "image_size", "widths": "widths", "input_noise": "nonnegative_float",
         "dropout": "dropout"}),
    # metrics
    "metrics.eval_mode": Spec(metrics.eval_mode, lambda s: dict(model=linear(s)), {"model": "module"}),
    "metrics.extract": Spec(metrics.extract, lambda s: dict(fn=(model := _classifier(s)), model=model, x=s.rand(s.n, s.d), batch_size=3),
                            {"fn": "callable", "model": "module", "x": "features", "batch_size": "size"}),
    "metrics.feature_sample": Spec(
        metrics.feature_sample, lambda s: dict(model=_classifier(s), x=s.rand(s.n, s.d), y=s.labels(s.n), n=s.n // 2 + 1,
                                               layer=(None, "backbone", "logits")[s.seed % 3]),
        {"model": "feature_model", "x": "features", "y": "labels", "n": "size", "layer": "layer"}, rows={"y": "x"}),
    "metrics.accuracy_by_bins": Spec(
        metrics.accuracy_by_bins, lambda s: dict(model=linear(s), x=s.rand(s.n, s.d), y=s.labels(s.n),
                                                 value=torch.linspace(0, 0.99, s.n), bins=[(0.0, 0.5), (0.5, math.inf)]),
        {"model": "module", "x": "features", "y": "labels", "value": "values", "bins": "bins"},
        rows={"y": "x", "value": "x"}, legal=("bins:empty",)),
    # selection
    "selection.label_free_scores": Spec(
        selection.label_free_scores,
        lambda s: dict(model=_classifier(s), source_validation=(s.rand(s.n, s.d), s.labels(s.n)), source_x=s.rand(s.n, s.d),
                       target_x=s.rand(s.m, s.d) + 0.3, seed=s.seed, max_rows=s.m),
        {"model": "module", "source_validation": "validation", "source_x": "features", "target_x": "features", "seed": "seed",
         "max_rows": "max_rows"}),
}
for _spec in SPECS.values():  # a broken argument is refused before any size matters: three generated calls each;
    # the modules built from more sizes run on a batch in test_a_valid_module_gives_outputs_of_the_promised_shape
    _spec.examples = 3

test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(SPECS, MODULE_BREAKS)


# --- what the modules built from valid sizes do ----------------------------------------------------------------

@settings(max_examples=6)
@given(s=sizes)
def test_a_valid_module_gives_outputs_of_the_promised_shape(s):
    n, side = s.n, _cnn_side(s)
    images = s.rand(n, 2, side, side)
    cnn = tn.DigitCNN(2, side, widths=(2, 3))
    assert cnn(images).shape == (n, cnn.out_features)
    net = tn.digit_classifier(2, side, s.classes, widths=(2, 3), hidden=(4,), bottleneck=s.d)
    assert net(images).shape == (n, s.classes) and net.features(images).shape == (n, s.d)
    assert tn.toy_classifier(s.classes, hidden=(s.d,))(s.rand(n, 2)).shape == (n, s.classes)
    assert tn.MLP(s.d, (3, s.d + 1))(s.rand(n, s.d)).shape == (n, s.d + 1)
    assert tn.SequenceClassifier(s.d, s.classes, 4)(s.rand(n, 3, s.d)).shape == (n, s.classes)
    assert tn.CodeEncoder(2, side, s.d, widths=(2, 3))(images).shape == (n, s.d)
    decoded = tn.SharedDecoder(s.d, 2, 4 * (1 + s.d % 3), width=4)(s.rand(n, s.d))
    assert decoded.shape == (n, 2, 4 * (1 + s.d % 3), 4 * (1 + s.d % 3)) and 0 <= decoded.min() and decoded.max() <= 1
    generated = tn.PixelGenerator(2, 1, side, s.d, width=4, blocks=1)(images)
    assert generated.shape == (n, 1, side, side) and 0 <= generated.min() and generated.max() <= 1
    assert tn.ImageDiscriminator(2, side, (2, 3)).eval()(images).shape == (n,)
    domains = 1 + s.seed % 2
    assert tn.DomainDiscriminator(s.d, (3,), domains)(s.rand(n, s.d)).shape == ((n,) if domains == 1 else (n, 2))
    mapped = tn.MultilinearMap(s.d, s.classes, s.d + 3 if s.seed % 2 else None)
    assert mapped(s.rand(n, s.d), s.probabilities(n)).shape == (n, mapped.out_features)
    loss, accuracy = tn.DomainAdversarialLoss(tn.DomainDiscriminator(s.d))(s.rand(n, s.d), s.rand(s.m, s.d), 0.5)
    assert math.isfinite(loss.item()) and 0 <= accuracy.item() <= 1


@settings(max_examples=5)
@given(s=sizes)
def test_grad_reverse_is_the_identity_forward_and_minus_coefficient_backward(s):
    x, coefficient = s.randn(s.n, s.d).requires_grad_(), 3 * s.seed / 2**16
    out = tn.grad_reverse(x, coefficient)
    assert torch.equal(out, x)
    upstream = s.rand(s.n, s.d)
    out.backward(upstream)
    assert torch.equal(x.grad, -coefficient * upstream)


@settings(max_examples=10)
@given(s=sizes)
def test_the_adversarial_loss_refuses_a_coefficient_or_features_it_cannot_use(s):
    adversary = tn.DomainAdversarialLoss(tn.DomainDiscriminator(s.d))
    source, target = s.rand(s.n, s.d), s.rand(s.m, s.d)
    for coefficient in (math.nan, math.inf, -0.5, "1"):
        try:
            adversary(source, target, coefficient)
        except (TypeError, ValueError) as error:
            assert "coefficient" in str(error)
        else:
            raise AssertionError(f"coefficient {coefficient!r} was accepted")
    for name, broken in (("target", torch.cat([target, target[:, :1]], 1)), ("source", source.long()), ("target", target.tolist())):
        try:
            adversary(source, broken, 1.0) if name == "target" else adversary(broken, target, 1.0)
        except (TypeError, ValueError) as error:
            assert name in str(error)
        else:
            raise AssertionError(f"a broken {name} was accepted")


@settings(max_examples=10)
@given(s=sizes)
def test_the_context_managers_restore_what_they_change(s):
    net = _bn_net(s).train()
    net(s.randn(s.n, s.d))  # running statistics away from their start
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with tn.running_stats_frozen(net):
        out = net(s.randn(s.n, s.d) + 3)
        assert torch.isfinite(out).all() and net.training
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items()), "the running statistics moved"
    assert net[1].momentum == 0.1
    with metrics.eval_mode(net) as same:
        assert same is net and not net.training and not torch.is_grad_enabled()
    assert net.training and torch.is_grad_enabled()
