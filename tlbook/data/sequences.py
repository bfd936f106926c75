"""Spoken-word-like sequences: a shift at the *input* of a sequence model.

Each of the ``NUM_WORDS`` words is the same ``PHONEMES`` sounds in its own order; a sound is a
vector of ``features`` filter-bank-like energies. An utterance stretches every sound
over a random number of frames (speaking rate), adds noise, and is padded with
silence to ``frames`` frames. A **speaker** is a fixed map of the features: a shift of the energy to other filters
(as formants move), per-filter gains and an offset, as a different voice
or microphone changes low-level input statistics while the words stay the same.
"""
from __future__ import annotations

import torch

from .. import _checks

__all__ = ["spoken_words", "speaker_transform"]

NUM_WORDS, PHONEMES, FEATURES, FRAMES = 6, 4, 8, 24
SHIFT, GAIN = 0.3, 0.8
_WORDS_SEED = 2024  # the vocabulary is the same for every speaker and seed


def _vocabulary() -> torch.Tensor:
    """``(words, phonemes, features)``: every word's sounds, drawn once."""
    g = torch.Generator().manual_seed(_WORDS_SEED)
    sounds = torch.randn(PHONEMES, FEATURES, generator=g)
    # Every word uses the same sounds in a different order: only the order tells them apart.
    orders = {tuple(torch.randperm(PHONEMES, generator=g).tolist()) for _ in range(200)}
    orders = sorted(orders)[:: max(1, len(orders) // NUM_WORDS)][:NUM_WORDS]
    return sounds[torch.tensor(orders)]


def speaker_transform(speaker: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(matrix, offset)`` of speaker ``speaker`` (0, 1, 2, ...); speaker 0 is the identity."""
    speaker = _checks.integer(speaker, "speaker", "speaker_transform", minimum=0)
    if speaker == 0:
        return torch.eye(FEATURES), torch.zeros(FEATURES)
    g = torch.Generator().manual_seed(1000 + speaker)
    # Formants move: part of each filter's energy lands in the next filter up ...
    eye = torch.eye(FEATURES)
    shift = (1 - SHIFT) * eye + SHIFT * torch.roll(eye, shifts=1, dims=0)
    # ... and every filter has its own gain and offset (another voice, another microphone).
    gains = torch.exp(GAIN * torch.randn(FEATURES, generator=g))
    return gains[:, None] * shift, GAIN * torch.randn(FEATURES, generator=g)


def spoken_words(n: int, speaker: int, seed: int, noise: float = 0.6) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` utterances ``(n, FRAMES, FEATURES)`` of random words by ``speaker``, and the word labels."""
    n = _checks.integer(n, "n", "spoken_words")
    _checks.integer(speaker, "speaker", "spoken_words", minimum=0)
    noise = _checks.number(noise, "noise", "spoken_words", low=0)
    g = torch.Generator().manual_seed(_checks.integer(seed, "seed", "spoken_words", minimum=None))
    words = _vocabulary()
    labels = torch.randint(NUM_WORDS, (n,), generator=g)
    x = torch.zeros(n, FRAMES, FEATURES)
    for i, word in enumerate(labels.tolist()):
        durations = torch.randint(2, 6, (PHONEMES,), generator=g)  # 2–5 frames per sound
        start = int(torch.randint(0, FRAMES - int(durations.sum()) + 1, (1,), generator=g))
        frames = torch.repeat_interleave(words[word], durations, dim=0)
        x[i, start : start + len(frames)] = frames
    x = x + noise * torch.randn(x.shape, generator=g)
    matrix, offset = speaker_transform(speaker)
    return x @ matrix.T + offset, labels
