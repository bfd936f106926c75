"""Methods: a classifier plus its training loss, all driven by ``tlbook.fit``."""
from .base import Batch, Method
from .baselines import SourceOnly, TargetOnly

__all__ = ["Batch", "Method", "SourceOnly", "TargetOnly"]
