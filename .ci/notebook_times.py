"""Print each notebook's execution time from a Jupyter Book execution cache; flag those over budget.

Usage: python .ci/notebook_times.py _build/.jupyter_cache [budget_seconds] [--save book/_ext/execution_seconds.json]

``--save`` writes the times (whole seconds, by notebook path without suffix) to the file the build reads to
start the longest notebooks first (book/_ext/parallel_execution.py); CI only prints them.
"""
import json
import sys
from pathlib import Path

from jupyter_cache import get_cache

arguments = sys.argv[1:]
save = None
if "--save" in arguments:
    at = arguments.index("--save")
    save = Path(arguments[at + 1])
    del arguments[at:at + 2]
base, budget = Path(arguments[0]), float(arguments[1]) if len(arguments) > 1 else 180.0
caches = [base] if (base / "global.db").exists() else sorted(p for p in base.glob("*") if (p / "global.db").exists())
records = [r for cache in caches for r in get_cache(cache).list_cache_records()]
if not records:
    sys.exit(f"no executed notebooks recorded under {base}")
total, times = 0.0, {}
print(f"{'seconds':>8}  notebook")
for record in sorted(records, key=lambda r: r.uri):
    seconds = record.data.get("execution_seconds") or 0.0
    total += seconds
    name = Path(record.uri).relative_to(Path.cwd()) if Path(record.uri).is_absolute() else Path(record.uri)
    times[name.with_suffix("").as_posix()] = max(1, round(seconds))  # the build reads positive times
    flag = f"   <-- over the {budget:.0f} s budget" if seconds > budget else ""
    print(f"{seconds:8.1f}  {name}{flag}")
print(f"{total:8.1f}  in all, {len(records)} notebooks executed")
if save is not None:
    save.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
    print(f"wrote {save}")
