"""Small modules: digit backbones, a toy MLP, the backbone + bottleneck + head classifier,
gradient reversal and a domain discriminator."""
from .classifier import Classifier, digit_classifier, toy_classifier
from .digit_cnn import DigitCNN
from .discriminator import DomainDiscriminator
from .gradient_reversal import GradientReversal, grad_reverse
from .mlp import MLP
from .pixel_gan import ImageDiscriminator, PixelGenerator
from .sequence import SequenceClassifier

__all__ = ["Classifier", "DigitCNN", "DomainDiscriminator", "GradientReversal", "ImageDiscriminator", "MLP", "PixelGenerator", "SequenceClassifier", "digit_classifier", "grad_reverse", "toy_classifier"]
