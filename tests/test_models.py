import pytest
import torch

from tlbook.nn import Classifier, DigitCNN, digit_classifier, toy_classifier


def test_digit_cnn_gives_the_papers_768_features():
    assert DigitCNN(3, 16).out_features == 768
    paper = DigitCNN(1, 28, padding=0)  # the DANN paper's 28×28 MNIST setting
    assert paper.out_features == 768
    assert paper(torch.rand(2, 1, 28, 28)).shape == (2, 768)


def test_digit_cnn_rejects_wrong_image_shape():
    with pytest.raises(ValueError, match=r"\(N, 3, 16, 16\)"):
        DigitCNN(3, 16)(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="too small"):
        DigitCNN(3, 2, padding=0)


def test_classifier_layers_and_activations():
    model = digit_classifier(bottleneck=64, bottleneck_activation="sigmoid")
    x = torch.rand(5, 3, 16, 16)
    acts = model.activations(x)
    assert list(acts) == model.layer_names == ["backbone", "bottleneck", "fc1", "fc2", "logits"]
    assert acts["bottleneck"].shape == (5, 64) and 0 <= acts["bottleneck"].min()
    assert acts["bottleneck"].max() <= 1
    assert torch.equal(acts["logits"], model(x)) and torch.equal(acts["bottleneck"], model.features(x))
    assert model.feature_dim == 64


def test_batch_norm_variant_has_batch_norm_everywhere():
    model = digit_classifier(batch_norm=True)
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"BatchNorm2d", "BatchNorm1d"} <= kinds
    assert "BatchNorm2d" not in {type(m).__name__ for m in digit_classifier().modules()}


def test_features_without_bottleneck_are_the_backbone():
    model = toy_classifier()
    x = torch.rand(4, 2)
    assert torch.equal(model.features(x), model.backbone(x)) and model(x).shape == (4, 2)


def test_bad_classifier_arguments():
    with pytest.raises(ValueError, match="out_features"):
        Classifier(torch.nn.Identity(), 2)
    with pytest.raises(ValueError, match="unknown activation"):
        digit_classifier(bottleneck=8, bottleneck_activation="softsign")
    with pytest.raises(ValueError, match="at least 2"):
        toy_classifier(num_classes=1)


@pytest.mark.parametrize("bottleneck", [None, 8])
def test_the_head_on_the_features_is_the_classifier(bottleneck):
    from tlbook.nn import MLP

    net = Classifier(MLP(2, (32,)), 3, bottleneck=bottleneck, hidden=(5,))
    x = torch.randn(7, 2)
    assert torch.equal(net.head(net.features(x)), net(x))
    assert net.width("backbone") == 32 and net.width("logits") == 3 and net.width("fc1") == 5
    assert net.width("bottleneck" if bottleneck else "backbone") == net.feature_dim
    with pytest.raises(ValueError, match="no layer named 'fc9'"):
        net.width("fc9")
    with pytest.raises(ValueError, match=r"head expects features of shape \(N, "):
        net.head(torch.randn(7, net.feature_dim + 1))
