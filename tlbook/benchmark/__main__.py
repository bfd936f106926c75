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
import sys
from pathlib import Path

from .. import distributed
from .._utils import device as best_device
from ..data import PAIRS
from .profile import profile_methods
from .provenance import command_line, write_provenance
from .registry import METHODS
from .run import read_cells, run_benchmark
from .studies import STUDIES, run_study, study_table
from .table import write_tables
from .verify import TOLERANCE, verify_stored


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tlbook.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=None,
                        help=f"known: {', '.join(METHODS)} (default: all); with --study, its configurations (default: all)")
    parser.add_argument("--pairs", nargs="+", default=["synth->handwritten", "handwritten->handwritten-m"],
                        help=f"known: {', '.join(PAIRS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: each pair's recipe)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--out", default="benchmark-results", help="folder for cells.csv, summary.csv, summary.md")
    parser.add_argument("--oracle", action="store_true",
                        help="add a column with the best target-test accuracy during training (selection by target labels: an oracle)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best available)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 mixed precision")
    parser.add_argument("--profile", action="store_true", help="only time each method (steps/s, peak memory)")
    parser.add_argument("--study", default=None, help=f"train a stored study instead (known: {', '.join(STUDIES)}); "
                        "its pair and steps are fixed, its cells go to OUT/<study>.csv")
    parser.add_argument("--verify-stored", type=int, default=None, metavar="N",
                        help="re-train N cheap cells of the stored results (one of a study) with the current code and "
                        f"fail if a target-test accuracy differs by more than {TOLERANCE:g} points")
    parser.add_argument("--verify-seed", type=int, default=None, help="the sample's seed (default: today's date)")
    parser.add_argument("--restamp", action="store_true", help="with --verify-stored: if every sampled cell agrees, "
                        "record the current code's digest in the sampled files' provenance")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.verify_stored is not None:
        return verify_stored(args.verify_stored, args.verify_seed, stamp=args.restamp)
    device = best_device(args.device)
    argv = sys.argv[1:] if argv is None else list(argv)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        print(f"error: --out {args.out} is a file; it names the folder for cells.csv, summary.csv and summary.md",
              file=sys.stderr)
        return 2
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
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    if distributed.rank() != 0:  # under torchrun, one process writes the tables
        return 0
    write_provenance(path, command_line(argv, path), resumed)
    csv_path, md_path = write_tables(cells, args.out, oracle_column=args.oracle)
    print(md_path.read_text())
    print(f"written: {csv_path}, {md_path}, {args.out}/cells.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
