#!/usr/bin/env bash
# The GPU path, checked in one go whenever a GPU is lent (about 3 minutes on one H100):
# steps per second and peak memory of every method on both digit pairs, in full and in mixed
# precision, then one benchmark cell on the GPU next to its stored CPU value, and one cell on MNIST ->
# USPS when those data are present (or can be downloaded; skipped with the reason otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script checks the GPU path"
print(torch.cuda.get_device_name(0), "| bf16:", torch.cuda.is_bf16_supported(), "| torch", torch.__version__)
PY
for amp in "" "--amp"; do
  python -m tlbook.benchmark --profile --device cuda --steps 300 $amp \
    --pairs "synth->handwritten" "handwritten->handwritten-m"
done
python - <<'PY'
from tlbook.benchmark import run_cell, stored_cells
stored = {(c.method, c.pair, c.seed): c for c in stored_cells()}
for method in ("source-only", "deep-coral"):
    cell = run_cell(method, "synth->handwritten", 0, device="cuda")
    cpu = stored[method, "synth->handwritten", 0]
    print(f"{method}: GPU {100 * cell.target_test:.1f}% in {cell.seconds:.1f} s | stored CPU {100 * cpu.target_test:.1f}% in {cpu.seconds:.1f} s")
PY
python - <<'PY'
# One cell on a standard benchmark pair when its data are here (or can be downloaded), skipped otherwise.
from tlbook.benchmark import run_cell
from tlbook.data import DatasetUnavailable
try:
    cell = run_cell("dann", "mnist->usps", 0, steps=1000, device="cuda")
    print(f"dann on mnist->usps, 1,000 steps: {100 * cell.target_test:.1f}% in {cell.seconds:.1f} s on the GPU")
except DatasetUnavailable as missing:
    print(f"skipped the real-data cell: {missing}")
PY
