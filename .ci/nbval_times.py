"""Print each notebook's time under nbval from pytest's JUnit XML report; flag those over budget.

Usage: python .ci/nbval_times.py .ci-junit.xml [budget_seconds]
"""
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

report, budget = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 180.0
seconds: dict[str, float] = defaultdict(float)
for case in ET.parse(report).getroot().iter("testcase"):
    name = case.get("classname", "")
    if ".ipynb" in case.get("file", "") or name.endswith("ipynb"):
        notebook = case.get("file") or name.replace(".", "/").replace("/ipynb", ".ipynb")
        seconds[notebook] += float(case.get("time", 0.0))
unit = sum(float(c.get("time", 0.0)) for c in ET.parse(report).getroot().iter("testcase")) - sum(seconds.values())
print(f"{'seconds':>8}  notebook (nbval: two side by side, one thread per kernel)")
for notebook in sorted(seconds):
    flag = f"   <-- over the {budget:.0f} s budget" if seconds[notebook] > budget else ""
    print(f"{seconds[notebook]:8.1f}  {notebook}{flag}")
print(f"{sum(seconds.values()):8.1f}  in all, {len(seconds)} notebooks; unit tests {unit:.0f} s")
