"""Small modules: digit backbones, a toy MLP, and the backbone + bottleneck + head classifier."""
from .classifier import Classifier, digit_classifier, toy_classifier
from .digit_cnn import DigitCNN
from .mlp import MLP
from .sequence import SequenceClassifier

__all__ = ["Classifier", "DigitCNN", "MLP", "SequenceClassifier", "digit_classifier", "toy_classifier"]
