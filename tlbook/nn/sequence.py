"""A small recurrent classifier for sequences of feature vectors (e.g. speech frames)."""
from __future__ import annotations

import torch
from torch import nn

from .. import _checks

__all__ = ["SequenceClassifier"]


class SequenceClassifier(nn.Module):
    """``front`` (a per-frame linear layer + tanh) → ``rnn`` (a GRU) → ``head`` (class scores
    from the last hidden state). The front end sees the raw frames, like the first layers
    of a speech recogniser; the GRU and the head model the word."""

    def __init__(self, in_features: int, num_classes: int, hidden: int = 32):
        super().__init__()
        _checks.integer(in_features, "in_features", "SequenceClassifier")
        _checks.integer(num_classes, "num_classes", "SequenceClassifier", minimum=2)
        _checks.integer(hidden, "hidden", "SequenceClassifier")
        self.front = nn.Linear(in_features, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)
        self.in_features, self.num_classes = in_features, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[2] != self.in_features:
            raise ValueError(f"SequenceClassifier expects (N, frames, {self.in_features}), got {tuple(x.shape)}")
        _, last = self.rnn(torch.tanh(self.front(x)))
        return self.head(last[-1])
