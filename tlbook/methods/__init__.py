"""Methods: a classifier plus its training loss, all driven by ``tlbook.fit``."""
from .base import Batch, Method
from .baselines import SourceOnly, TargetOnly
from .discrepancy import CMD, DAN, DDC, DeepCORAL, Discrepancy

__all__ = ["Batch", "CMD", "DAN", "DDC", "DeepCORAL", "Discrepancy", "Method", "SourceOnly", "TargetOnly"]
