"""The book's benchmark: every method on every pair over seeds, as tables (``python -m tlbook.benchmark``).

- ``run_benchmark(methods, pairs, seeds, results_csv)``: resumable; one CSV row per finished cell;
- ``summarise`` / ``write_tables``: mean ± std, share of the source-only → target-only gap closed,
  proxy A-distance, time per step; an oracle column (selection by target labels) only on request;
- ``stored_cells()``: the benchmark the book reports, shipped with the package;
- ``recipe_runs(name, pair, seeds)``: a recipe's runs with weights and histories, trained once and stored in
  ``$TLBOOK_DATA/runs`` for every page that shows them;
- ``run_study`` / ``stored_cells(study)``: the chapters' heavier grids (``STUDIES``), made and stored the same way,
  with what each measures on its models (``MEASURES``, read back by ``seed_scores``);
- ``profile_methods``: steps per second and peak memory on the current device (the GPU check).
"""
from .measures import MEASURES
from .profile import profile_methods
from .registry import METHODS, OUTSIDE_THE_BENCHMARK, Entry, make_method, network
from .run import RECIPES, Cell, read_cells, recipe, run_benchmark, run_cell, stored_cells, make_cell
from .stored_runs import recipe_runs
from .studies import STUDIES, Study, paired_gains, run_study, study_table
from .table import Row, gap_closed, seed_accuracies, seed_scores, summarise, to_markdown, write_tables

__all__ = ["Cell", "Entry", "MEASURES", "METHODS", "OUTSIDE_THE_BENCHMARK", "RECIPES", "Row", "STUDIES", "Study", "gap_closed", "make_method", "network",
           "paired_gains", "profile_methods", "read_cells", "recipe", "recipe_runs", "run_benchmark", "run_cell", "run_study", "seed_accuracies", "seed_scores",
           "stored_cells", "study_table", "summarise", "to_markdown", "make_cell", "write_tables"]
