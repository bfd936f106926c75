"""``python -m tlbook.benchmark``: train methods on pairs over seeds and write the tables.

Examples::

    python -m tlbook.benchmark --methods source-only target-only dan --pairs synth->handwritten --seeds 0 1 2
    python -m tlbook.benchmark --profile --pairs synth->handwritten      # steps/s and peak memory
    python -m tlbook.benchmark --study adaptation-2000 --seeds 0 1 2 3 4  # a chapter's stored grid
    python -m tlbook.benchmark --verify-stored 4      # re-train 4 stored cells, fail if the current code differs
    torchrun --nproc-per-node 4 -m tlbook.benchmark --pairs mnist->usps   # cells shared by 4 processes (GPUs)
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from .. import _checks, distributed
from .._utils import device as best_device
from ..data import PAIRS
from .profile import profile_methods
from .provenance import command_line, write_provenance
from .registry import METHODS, check_names
from .run import read_cells, run_benchmark
from .studies import STUDIES, run_study, study_table
from .table import write_tables
from .verify import TOLERANCE, verify_stored


PROG = "python -m tlbook.benchmark"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2: the mistake, no usage block (--help has it)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _integer(minimum: int):
    """An argparse type: an integer of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer of at least {minimum}, got {text!r}")
        return value

    parse.__name__ = "a non-negative integer" if minimum == 0 else "a positive integer"
    return parse


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=None,
                        help=f"known: {', '.join(METHODS)} (default: all); with --study, its configurations (default: all)")
    parser.add_argument("--pairs", nargs="+", default=["synth->handwritten", "handwritten->handwritten-m"],
                        help=f"known: {', '.join(PAIRS)}")
    parser.add_argument("--seeds", nargs="+", type=_integer(0), default=[0, 1, 2])
    parser.add_argument("--steps", type=_integer(1), default=None, help="training steps (default: each pair's recipe)")
    parser.add_argument("--batch-size", type=_integer(1), default=None)
    parser.add_argument("--out", default="benchmark-results", help="folder for cells.csv, summary.csv, summary.md")
    parser.add_argument("--oracle", action="store_true",
                        help="add a column with the best target-test accuracy during training (selection by target labels: an oracle)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best available)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 mixed precision")
    parser.add_argument("--profile", action="store_true", help="only time each method (steps/s, peak memory)")
    parser.add_argument("--study", default=None, help=f"train a stored study instead (known: {', '.join(STUDIES)}); "
                        "its pair and steps are fixed, its cells go to OUT/<study>.csv")
    parser.add_argument("--verify-stored", type=_integer(1), default=None, metavar="N",
                        help="re-train N cheap cells of the stored results (one of a study) with the current code and "
                        f"fail if a target-test accuracy differs by more than {TOLERANCE:g} points")
    parser.add_argument("--verify-seed", type=_integer(0), default=None, help="the sample's seed (default: today's date)")
    parser.add_argument("--restamp", action="store_true", help="with --verify-stored: if every sampled cell agrees, "
                        "record the current code's digest in the sampled files' provenance")
    return parser.parse_args(argv)


def _refuse(message: str) -> int:
    """A mistake in the arguments: one line, exit status 2 (as argparse's own), nothing trained."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _check(args: argparse.Namespace) -> torch.device:
    """Every argument argparse cannot check alone, before anything loads or trains; returns the device."""
    if args.study is not None:
        check_names([args.study], STUDIES, "study", "argument --study")
        if args.methods is not None:
            check_names(args.methods, STUDIES[args.study].configs, "configuration", "argument --methods")
    else:
        check_names(args.methods or list(METHODS), METHODS, "method", "argument --methods")
        check_names(args.pairs, PAIRS, "pair", "argument --pairs")
    repeated = sorted({s for s in args.seeds if args.seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"argument --seeds: seeds {repeated} are given more than once: each seed is one run")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"argument --out: {args.out} is a file; it names the folder for cells.csv, summary.csv and summary.md")
    if args.device is not None:
        return _checks.device(args.device, "device", "argument --device")
    if os.environ.get("TLBOOK_DEVICE"):
        return _checks.device(os.environ["TLBOOK_DEVICE"], "TLBOOK_DEVICE", "the environment")
    return best_device()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        if args.verify_stored is not None:
            return verify_stored(args.verify_stored, args.verify_seed, stamp=args.restamp)
        device = _check(args)
    except (ValueError, TypeError) as error:
        return _refuse(str(error))
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if args.study is not None:
            path = Path(args.out) / f"{args.study}.csv"
            resumed = bool(read_cells(path))
            cells = run_study(args.study, args.seeds, path, args.methods, device=device)
            if distributed.rank() != 0:  # under torchrun, one process reports
                return 0
            write_provenance(path, command_line(argv, path), resumed)
            print(study_table(cells, args.study, list(dict.fromkeys(c.method for c in cells))))
            print(f"written: {args.out}/{args.study}.csv")
            return 0
        args.methods = args.methods or list(METHODS)
        if args.profile:
            for pair in args.pairs:
                for row in profile_methods(args.methods, pair, steps=args.steps or 300, device=device, amp=args.amp):
                    peak = "n/a (not CUDA)" if row["peak_mib"] != row["peak_mib"] else f"{row['peak_mib']:.1f} MiB"
                    print(f"{row['pair']:>28}  {row['method']:<12} {row['steps_per_s']:8.1f} steps/s   "
                          f"peak memory {peak}   ({row['device']}, amp={row['amp']})")
            return 0
        path = Path(args.out) / "cells.csv"
        resumed = bool(read_cells(path))
        cells = run_benchmark(args.methods, args.pairs, args.seeds, path, steps=args.steps,
                              batch_size=args.batch_size, device=device, amp=args.amp)
    except (KeyError, ValueError, OSError) as error:
        return _refuse(str(error.args[0] if error.args else error))
    if distributed.rank() != 0:  # under torchrun, one process writes the tables
        return 0
    write_provenance(path, command_line(argv, path), resumed)
    csv_path, md_path = write_tables(cells, args.out, oracle_column=args.oracle)
    print(md_path.read_text())
    print(f"written: {csv_path}, {md_path}, {args.out}/cells.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
