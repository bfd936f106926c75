"""Small modules: digit backbones, a toy MLP, the backbone + bottleneck + head classifier,
gradient reversal, a domain discriminator, PixelDA's GAN and DSN's encoders and decoder."""
from .batch_norm import batch_norm_layers, running_stats_frozen
from .classifier import Classifier, digit_classifier, toy_classifier
from .digit_cnn import DigitCNN
from .discriminator import DomainDiscriminator
from .dsn import CodeEncoder, SharedDecoder
from .gradient_reversal import GradientReversal, grad_reverse
from .mlp import MLP
from .pixel_gan import ImageDiscriminator, PixelGenerator
from .sequence import SequenceClassifier

__all__ = ["Classifier", "CodeEncoder", "DigitCNN", "DomainDiscriminator", "GradientReversal", "ImageDiscriminator", "MLP", "PixelGenerator", "SharedDecoder", "SequenceClassifier", "batch_norm_layers", "digit_classifier", "grad_reverse", "running_stats_frozen", "toy_classifier"]
