"""Print each notebook's execution time from a Jupyter Book execution cache; flag those over budget.

Usage: python .ci/notebook_times.py _build/.jupyter_cache [budget_seconds]
"""
import sys
from pathlib import Path

from jupyter_cache import get_cache

base, budget = Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 180.0
caches = [base] if (base / "global.db").exists() else sorted(p for p in base.glob("*") if (p / "global.db").exists())
records = [r for cache in caches for r in get_cache(cache).list_cache_records()]
if not records:
    sys.exit(f"no executed notebooks recorded under {base}")
total = 0.0
print(f"{'seconds':>8}  notebook")
for record in sorted(records, key=lambda r: r.uri):
    seconds = record.data.get("execution_seconds") or 0.0
    total += seconds
    flag = f"   <-- over the {budget:.0f} s budget" if seconds > budget else ""
    print(f"{seconds:8.1f}  {Path(record.uri).relative_to(Path.cwd()) if Path(record.uri).is_absolute() else record.uri}{flag}")
print(f"{total:8.1f}  in all, {len(records)} notebooks executed")
