"""Domain Separation Networks: shapes of the decodings, the warm-up, the losses it logs, and a
behavioural test on a small shift."""
import pytest
import torch

import tlbook
from tlbook.methods import DSN, SourceOnly
from tlbook.nn import CodeEncoder, SharedDecoder, digit_classifier

from shape_domains import shape_domain


SOURCE, TARGET = shape_domain("plain", "plain", 0, noise=0.0), shape_domain("colour cast", "tinted", 1)


def _classifier():
    return digit_classifier(image_size=8, widths=(8, 16), hidden=(32,), num_classes=4, bottleneck=32)


def test_encoder_and_decoder_shapes():
    assert CodeEncoder(3, 16, 20)(torch.rand(5, 3, 16, 16)).shape == (5, 20)
    out = SharedDecoder(20, 3, 16)(torch.rand(5, 20))
    assert out.shape == (5, 3, 16, 16) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="divisible by 4"):
        SharedDecoder(20, 3, 10)


def test_decode_gives_full_shared_and_private_reconstructions():
    dsn = DSN(_classifier(), (3, 8, 8))
    parts = dsn.decode(TARGET.x_test[:6], "target")
    assert set(parts) == {"full", "shared", "private"}
    assert all(p.shape == (6, 3, 8, 8) for p in parts.values())
    with pytest.raises(ValueError, match="'source' or 'target'"):
        dsn.decode(TARGET.x_test[:6], "other")


def test_dsn_needs_a_bottleneck_and_valid_settings():
    with pytest.raises(ValueError, match="bottleneck"):
        DSN(digit_classifier(image_size=8, num_classes=4), (3, 8, 8))
    with pytest.raises(TypeError, match="similarity"):
        DSN(_classifier(), (3, 8, 8), similarity="mmd")  # the old string switch: a function is expected
    with pytest.raises(ValueError, match="warmup"):
        DSN(_classifier(), (3, 8, 8), warmup=1.0)


def test_during_the_warm_up_only_the_task_loss_reaches_the_shared_encoder():
    tlbook.seed_everything(0)
    dsn = DSN(_classifier(), (3, 8, 8), warmup=0.5)
    batch = (SOURCE.x_train[:16], SOURCE.y_train[:16]), (TARGET.x_train[:16], None)
    total, terms = dsn.loss(*batch, progress=0.1)
    encoder = list(dsn.classifier.backbone.parameters())
    with_all = torch.autograd.grad(total, encoder, retain_graph=True)
    task_only = torch.autograd.grad(terms["classification"] * 0 + torch.nn.functional.cross_entropy(dsn.classifier(batch[0][0]), batch[0][1]), encoder)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(with_all, task_only))
    assert dsn.adversary.reversal.coefficient == 0.0
    total, terms = dsn.loss(*batch, progress=0.9)
    assert dsn.adversary.reversal.coefficient > 0 and {"reconstruction", "difference", "similarity", "domain accuracy"} <= set(terms)


def test_dsn_beats_source_only_on_a_small_shift():
    """With MMD as the similarity loss. (With DANN's reversal the game on this toy is too unstable
    at 300 steps for a test: it beats source-only on some seeds and ties on others.)"""
    for seed in (0, 1, 2):
        accuracies = []
        for make in (lambda: SourceOnly(_classifier()), lambda: DSN(_classifier(), (3, 8, 8), similarity=tlbook.losses.mk_mmd)):
            tlbook.seed_everything(seed)
            history = tlbook.fit(make(), SOURCE, TARGET, steps=300, batch_size=32, optimizer="adam", lr=3e-3,
                                 seed=seed, progress_bar=False, eval_every=300)
            accuracies.append(history.final("target test"))
        assert accuracies[1] > accuracies[0] + 0.1, f"seed {seed}: source-only, DSN = {accuracies}"


def test_the_reconstruction_loss_is_one_argument():
    import torch.nn.functional as F

    calls = []

    def plain_mse(rebuilt, images):
        calls.append(rebuilt.shape)
        return F.mse_loss(rebuilt, images)

    source, target = SOURCE, TARGET
    dsn = DSN(_classifier(), source.input_shape, reconstruction=plain_mse)
    xs, ys = source.x_train[:8], source.y_train[:8]
    _, terms = dsn.loss((xs, ys), (target.x_train[:8], None), 0.5)
    assert len(calls) == 2 and calls[0] == xs.shape and terms["reconstruction"] > 0
