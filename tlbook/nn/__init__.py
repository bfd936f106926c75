"""Small modules: digit backbones, a toy MLP, the backbone + bottleneck + head classifier,
gradient reversal, a domain discriminator and the adversarial loss built from both, CDAN's multilinear map, PixelDA's GAN and DSN's encoders and decoder."""
from .batch_norm import batch_norm_layers, running_stats_frozen
from .classifier import Classifier, adaptation_classifier, digit_classifier, small_digit_classifier, toy_classifier
from .digit_cnn import DigitCNN
from .discriminator import DomainDiscriminator
from .domain_adversarial import DomainAdversarialLoss
from .dsn import CodeEncoder, SharedDecoder
from .gradient_reversal import GradientReversal, grad_reverse
from .mlp import MLP
from .multilinear import MultilinearMap
from .pixel_gan import ImageDiscriminator, PixelGenerator
from .sequence import SequenceClassifier

__all__ = ["Classifier", "adaptation_classifier", "CodeEncoder", "DigitCNN", "DomainAdversarialLoss", "DomainDiscriminator", "GradientReversal", "ImageDiscriminator", "MLP", "MultilinearMap", "PixelGenerator", "SharedDecoder", "SequenceClassifier", "batch_norm_layers", "digit_classifier", "grad_reverse", "running_stats_frozen", "small_digit_classifier", "toy_classifier"]
