"""Methods: a classifier plus its training loss, all driven by ``tlbook.fit``."""
from .adversarial import CDAN, DANN
from .base import Batch, Method
from .baselines import AdaBN, SourceOnly, TargetOnly
from .dsn import DSN
from .mcc import MCC
from .discrepancy import CMD, DAN, DDC, DeepCORAL, Discrepancy
from .pixelda import PixelDA
from .sdt import SDT, source_soft_labels

__all__ = [
    "AdaBN", "Batch", "CDAN", "CMD", "DAN", "DANN", "DDC", "DeepCORAL", "Discrepancy", "DSN", "MCC", "Method", "PixelDA", "SDT", "SourceOnly", "TargetOnly",
    "source_soft_labels",
]
