"""tlbook: the compact PyTorch package of the book *Transfer Learning, Executable*.

Three levels, each usable alone:

- ``tlbook.losses``: functions on tensors (added chapter by chapter);
- ``tlbook.nn``: small modules (digit backbones, the classifier with named layers);
- ``tlbook.methods`` + ``tlbook.fit``: each method is a module that knows its loss;
  one loop trains them all.

Around them: ``tlbook.data`` (domains built offline), ``tlbook.schedules``,
``tlbook.metrics``, ``tlbook.plot``, ``tlbook.finetune`` (fine-tuning), ``tlbook.zsl`` (zero-shot learning),
``tlbook.label_shift`` (estimating the target's class proportions without its labels), ``tlbook.selection``
(scoring models without target labels),
``tlbook.check`` (checkers for students' own implementations), ``tlbook.assignments`` (student versions
of the exercise notebooks), ``tlbook.files`` (the checksummed files tlbook writes and reads back), and
``device()`` / ``seed_everything()``.
"""
from . import check, data, experiment, files, finetune, label_shift, losses, methods, metrics, nn, plot, schedules, selection, zsl
from ._utils import device, seed_everything
from .train import History, fit

__version__ = "0.1.0"

__all__ = ["History", "check", "data", "experiment", "device", "files", "finetune", "fit", "label_shift", "methods", "metrics", "nn", "plot", "schedules", "seed_everything", "selection", "zsl", "__version__"]
