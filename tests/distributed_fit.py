"""Run by ``test_distributed.py`` under ``torchrun --nproc-per-node 2`` (gloo, CPU): ``fit`` unchanged.

For each method: an uninterrupted two-process run; the same run interrupted after a checkpoint and
resumed; and, on rank 0 alone, a one-process run with the same seeds. Rank 0 writes what it saw to
``OUT/report.json``; the test reads it.
"""
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import tlbook
from tlbook.methods import DANN, PixelDA
from tlbook.metrics import accuracy
from tlbook.nn import digit_classifier
from interruption import Interrupted, stop_after  # the script's folder (tests/) is on sys.path
from shape_domains import shape_domain

SOURCE, TARGET = shape_domain("plain", "plain", 0), shape_domain("dark on tint", "inverted", 1)
OPTIONS = dict(steps=6, batch_size=16, optimizer="adam", lr=1e-3, eval_every=3, log_every=1, progress_bar=False, seed=0)


def network():
    return digit_classifier(image_size=8, widths=(4, 8), hidden=(16,), num_classes=4, bottleneck=16, batch_norm=True)


FACTORIES = {  # batch-norm buffers and a gradient reversal; three optimisers and a per-rank noise draw
    "DANN": lambda: DANN(network(), domain_batch_norm=True),
    "PixelDA": lambda: PixelDA(network(), (3, 8, 8)),
}


def flat(method):
    return torch.cat([v.detach().double().reshape(-1) for v in method.state_dict().values()])


def gathered(value):
    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def main(out: Path) -> None:
    report = {}
    rank = int(os.environ["RANK"])
    for name, make in FACTORIES.items():
        tlbook.seed_everything(100 + rank)  # other initial weights on each rank: fit must start all from rank 0's
        straight = make()
        history = tlbook.fit(straight, SOURCE, TARGET, **OPTIONS)
        weights = gathered(flat(straight))
        histories = gathered((history.terms, history.evals))

        checkpoint = out / f"{name}.pt"
        tlbook.seed_everything(100 + rank)
        try:
            tlbook.fit(make(), SOURCE, TARGET, checkpoint=checkpoint, checkpoint_every=2, callback=stop_after(4), **OPTIONS)
        except Interrupted:
            pass
        tlbook.seed_everything(7 + rank)  # yet other weights and generators: all must come from the checkpoint
        resumed = make()
        resumed_history = tlbook.fit(resumed, SOURCE, TARGET, checkpoint=checkpoint, checkpoint_every=2, **OPTIONS)

        if rank == 0:
            tlbook.seed_everything(100)
            alone = make()
            tlbook.fit(alone, SOURCE, TARGET, distributed=False, **OPTIONS)
            report[name] = {
                "largest difference between the ranks' weights": float((weights[0] - weights[1]).abs().max()),
                "the ranks logged the same": histories[0] == histories[1],
                "reduced target accuracy": history.final("target test"),
                "one process evaluating the same weights": accuracy(straight, TARGET.x_test, TARGET.y_test),
                "reduced source accuracy": history.final("source test"),
                "one process, source": accuracy(straight, SOURCE.x_test, SOURCE.y_test),
                "largest difference from a one-process run": float((flat(alone) - weights[0]).abs().max()),
                "largest difference resumed vs uninterrupted": float((flat(resumed) - weights[0]).abs().max()),
                "resumed history equals": (resumed_history.terms, resumed_history.evals) == (history.terms, history.evals),
                "files in the output folder": sorted(p.name for p in out.iterdir()),
            }
        dist.barrier()

    if rank == 0:
        (out / "report.json").write_text(json.dumps(report, indent=1))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
