"""Every method resumes bit-identically from a checkpoint, and a checkpoint is never resumed with other settings."""
import dataclasses

import pytest
import torch

import tlbook
import tlbook.finetune
import tlbook.methods
from tlbook.data import labelled_subset, load_pair
from tlbook.finetune import L2SP, FineTune
from tlbook.finetune import ConvAutoencoder, Denoising
from tlbook.methods import (CDAN, CMD, MCC, DAN, DANN, DDC, DSN, SDT, AdaBN, DeepCORAL, Discrepancy, Method, PixelDA, SourceOnly,
                            TargetOnly)
from tlbook.losses import coral
from tlbook.nn import DigitCNN, digit_classifier
from tlbook.zsl import AttributeEmbedding, SeenClasses

from interruption import Interrupted, stop_after
from toy import method_classes


def _network():
    return digit_classifier(widths=(4, 8), bottleneck=16)


def _sdt(source, target):
    soft = torch.full((10, 10), 0.1)
    return SDT(_network(), labelled_subset(target, 2), soft, batch_size=8)


def _denoising(source, target):  # learns from the source images alone; its noise generator is checkpointed
    return Denoising(ConvAutoencoder(DigitCNN(3, 16, widths=(4, 4))), noise=0.3, seed=1)


def _seen_classes(source, target):  # a zero-shot model, the ten digits as seen classes with random attributes
    attributes = torch.rand(10, 5, generator=torch.Generator().manual_seed(0)).round()
    return SeenClasses(AttributeEmbedding(DigitCNN(3, 16, widths=(4, 4)), 5), attributes)


def _fine_tune(source, target):
    model = _network()
    return FineTune(model, regularizer=L2SP(model, alpha=0.01))


#: one small instance of every method tlbook has; the coverage test below keeps this list complete
FACTORIES = {
    SourceOnly: lambda s, t: SourceOnly(_network()),
    TargetOnly: lambda s, t: TargetOnly(_network()),
    Discrepancy: lambda s, t: Discrepancy(_network(), coral, weight=1.0, layers=["bottleneck"]),
    DDC: lambda s, t: DDC(_network()),
    DAN: lambda s, t: DAN(_network()),
    DeepCORAL: lambda s, t: DeepCORAL(_network()),
    CMD: lambda s, t: CMD(_network()),
    CDAN: lambda s, t: CDAN(_network(), entropy=True, randomize_above=0, randomized_dim=32),  # the random map's buffers
    MCC: lambda s, t: MCC(_network()),
    DANN: lambda s, t: DANN(digit_classifier(widths=(4, 8), bottleneck=16, batch_norm=True), domain_batch_norm=True),
    AdaBN: lambda s, t: AdaBN(digit_classifier(widths=(4, 8), bottleneck=16, batch_norm=True)),
    SDT: _sdt,
    PixelDA: lambda s, t: PixelDA(_network(), (3, 16, 16)),
    DSN: lambda s, t: DSN(_network(), (3, 16, 16)),
    FineTune: _fine_tune,
    Denoising: _denoising,
    SeenClasses: _seen_classes,
}


def test_the_resume_test_covers_every_method():
    missing = method_classes() - set(FACTORIES)
    assert not missing, f"add these methods to FACTORIES: {sorted(c.__name__ for c in missing)}"


def _small(domain):
    return dataclasses.replace(domain, x_train=domain.x_train[:200], y_train=domain.y_train[:200],
                               x_test=domain.x_test[:100], y_test=domain.y_test[:100])


@pytest.fixture(scope="module")
def pair():
    source, target = load_pair("synth->handwritten")
    return _small(source), _small(target)


OPTIONS = dict(steps=6, batch_size=8, optimizer="adam", lr=1e-3, eval_every=3, log_every=1, progress_bar=False,
               checkpoint_every=2, seed=0)


@pytest.mark.parametrize("cls", list(FACTORIES), ids=lambda c: c.__name__)
def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(cls, pair, tmp_path):
    source, target = pair
    tlbook.seed_everything(0)
    straight = FACTORIES[cls](source, target)
    straight_history = tlbook.fit(straight, source, target, **OPTIONS)

    tlbook.seed_everything(0)
    interrupted = FACTORIES[cls](source, target)
    with pytest.raises(Interrupted):
        tlbook.fit(interrupted, source, target, checkpoint=tmp_path / "run.pt", callback=stop_after(3), **OPTIONS)
    tlbook.seed_everything(99)  # other weights and generators: everything must come from the checkpoint
    resumed = FACTORIES[cls](source, target)
    history = tlbook.fit(resumed, source, target, checkpoint=tmp_path / "run.pt", **OPTIONS)

    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), f"{cls.__name__}: {name} differs after the resume"
    assert history.terms == straight_history.terms and history.evals == straight_history.evals
