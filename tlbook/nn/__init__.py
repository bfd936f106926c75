"""Small modules: digit backbones, a toy MLP, and the backbone + bottleneck + head classifier."""
from .classifier import Classifier, digit_classifier, toy_classifier
from .digit_cnn import DigitCNN
from .mlp import MLP

__all__ = ["Classifier", "DigitCNN", "MLP", "digit_classifier", "toy_classifier"]
