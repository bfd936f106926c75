"""PixelDA: the networks' shapes and ranges, the snapshots, and a behavioural test on a pixel-level shift."""
import pytest
import torch

import tlbook
from tlbook.methods import PixelDA, SourceOnly
from tlbook.nn import Classifier, DigitCNN, ImageDiscriminator, PixelGenerator

from shape_domains import shape_domain


SOURCE, TARGET = shape_domain("bright", "plain", 0), shape_domain("dark on tint", "inverted", 1)


def _classifier():
    return Classifier(DigitCNN(3, 8, widths=(8, 16), padding=2), 4, hidden=(32,))


def _small_pixelda():
    return PixelDA(_classifier(), (3, 8, 8), content_weight=1.0,
                   generator=PixelGenerator(3, 3, 8, noise_dim=4, width=16, blocks=1),
                   discriminator=ImageDiscriminator(3, 8, widths=(16, 32)))


def test_generator_output_has_the_targets_shape_and_range():
    g = PixelGenerator(3, 3, 16, noise_dim=5)
    out = g(torch.rand(6, 3, 16, 16))
    assert out.shape == (6, 3, 16, 16)
    assert out.min() >= 0 and out.max() <= 1
    z = g.sample_noise(6, torch.Generator().manual_seed(0))
    assert z.shape == (6, 5) and z.min() >= -1 and z.max() <= 1
    with pytest.raises(ValueError, match=r"\(N, 3, 16, 16\)"):
        g(torch.rand(6, 1, 16, 16))
    assert ImageDiscriminator(3, 16)(torch.rand(6, 3, 16, 16)).shape == (6,)


def test_content_mask_and_snapshots_with_fixed_noise():
    tlbook.seed_everything(0)
    method = _small_pixelda()
    x = SOURCE.x_test[:4]
    assert set(method.content_mask(x).unique().tolist()) <= {0.0, 1.0}
    callback = method.snapshot_callback(x, every=5)
    history = tlbook.fit(method, SOURCE, TARGET, steps=10, batch_size=16, optimizer="adam", lr=1e-3,
                         progress_bar=False, callback=callback)
    assert [step for step, _ in method.snapshots] == [5, 10]
    assert method.snapshots[0][1].shape == x.shape
    assert {"D", "D accuracy", "G adversarial", "content", "task"} <= set(history.terms)
    again = method.snapshot_callback(x, every=1)  # the same seed gives the same noise: same rendering
    again(1, method, history)
    again(2, method, history)
    assert torch.equal(method.snapshots[-1][1], method.snapshots[-2][1])


def test_pixelda_beats_source_only_on_a_pixel_level_shift():
    results = []
    for seed in (0, 1):
        accuracies = []
        for make in (lambda: SourceOnly(_classifier()), _small_pixelda):
            tlbook.seed_everything(seed)
            history = tlbook.fit(make(), SOURCE, TARGET, steps=250, batch_size=32, optimizer="adam", lr=3e-3,
                                 seed=seed, progress_bar=False, eval_every=250)
            accuracies.append(history.final("target test"))
        results.append(accuracies)
        assert accuracies[1] > accuracies[0] + 0.1, f"seed {seed}: source-only, PixelDA = {accuracies}"
