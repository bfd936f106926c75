"""The method registry (every method the benchmark knows runs a cell) and the stored studies."""
import math

import pytest
import torch

import tlbook.benchmark.studies as studies
from tlbook.benchmark import METHODS, STUDIES, Cell, paired_gains, read_cells, run_benchmark, run_cell, run_study, stored_cells, study_table, to_markdown, summarise
from tlbook.benchmark.__main__ import main
from tlbook.benchmark.measures import MEASURES
from tlbook.benchmark.registry import UnknownName
from tlbook.methods import DANN, SourceOnly
from tlbook.nn import toy_classifier

from toy import method_classes


@pytest.mark.parametrize("name", list(METHODS))
def test_every_registered_method_trains_one_benchmark_cell(name):
    cell = run_cell(name, "synth->handwritten", 0, steps=3, batch_size=8)
    assert cell.method == name and cell.steps == 3 and 0.0 <= cell.target_test <= 1.0 and 0.0 <= cell.pad <= 2.0


def test_the_adaptation_methods_of_chapters_3_and_4_are_registered():
    assert {"dann", "dsn", "pixelda", "sdt"} <= set(METHODS)
    assert METHODS["sdt"].sees != METHODS["dann"].sees  # SDT sees target labels: the table says so
    assert METHODS["dsn"].images_only and METHODS["pixelda"].images_only


def test_the_table_marks_the_semi_supervised_method():
    cells = [Cell(m, "p", s, 5, 0.5 + 0.1 * s, 0.9, 0.6, 1.0, 1.0, "cpu") for m in ("source-only", "sdt") for s in (0, 1)]
    table = to_markdown(summarise(cells), cells)
    assert "sdt (semi-supervised: 5 labelled target images per class)" in table


def test_an_image_only_method_on_a_toy_pair_fails_before_anything_trains(tmp_path):
    with pytest.raises(ValueError, match="dsn needs image domains"):
        run_benchmark(["source-only", "dsn"], ["moons->moons-rotated"], [0], tmp_path / "c.csv", steps=2)
    assert not (tmp_path / "c.csv").exists()


def test_the_stored_study_holds_every_configuration_and_seed_of_its_definition():
    seeds = {"adaptation-2000": range(5), "conditional-2000": range(5), "discrepancy-600": range(3),
             "blended-contrast": range(5), "self-training": range(4),
             "few-labels": range(3)}  # REFRESH's --seeds
    assert set(seeds) == set(STUDIES)
    for name, study in STUDIES.items():
        cells = stored_cells(name)
        assert {(c.method, c.seed) for c in cells} == {(k, s) for k in study.configs for s in seeds[name]}
        for cell in cells:
            assert (cell.pair, cell.steps, cell.batch_size) == (study.pair, study.steps_of(cell.method), study.configs[cell.method].batch_size)
            assert 0.0 <= cell.target_test <= cell.oracle_best_target <= 1.0 and math.isnan(cell.pad)


def test_paired_gains_pair_each_configuration_with_its_baseline_by_seed():
    cells = stored_cells("adaptation-2000")
    seeds, gains = paired_gains(cells, "adaptation-2000", "dann")
    by = {(c.method, c.seed): c.target_test for c in cells}
    assert seeds == [0, 1, 2, 3, 4]
    assert gains.tolist() == pytest.approx([by["dann", s] - by["source-only", s] for s in seeds])
    with pytest.raises(ValueError, match="is a baseline"):
        paired_gains(cells, "adaptation-2000", "source-only")
    with pytest.raises(ValueError, match=r"did not run seeds \[3\]"):
        paired_gains([c for c in cells if (c.method, c.seed) != ("source-only", 3)], "adaptation-2000", "dann")


@pytest.fixture
def tiny_study(monkeypatch):
    study = studies.Study("moons->moons-rotated", 4, {
        "plain": studies.Config(lambda source: SourceOnly(toy_classifier())),
        "dann": studies.Config(lambda source: DANN(toy_classifier(), hidden=(8,)), batch_size=16, baseline="plain"),
    })
    monkeypatch.setitem(studies.STUDIES, "tiny", study)
    return study


def test_a_study_resumes_and_reproduces_its_cells(tiny_study, tmp_path, monkeypatch):
    path = tmp_path / "tiny.csv"
    first = run_study("tiny", [0, 1], path, progress_bar=False)
    assert [(c.method, c.seed, c.batch_size) for c in first] == [("plain", 0, 64), ("plain", 1, 64), ("dann", 0, 16), ("dann", 1, 16)]
    key = lambda cells: [(c.method, c.seed, c.target_test, c.seconds) for c in cells]  # noqa: E731 (pad is nan: nan != nan)
    make_cell = studies.make_cell
    monkeypatch.setattr(studies, "make_cell", lambda *a, **k: pytest.fail("trained a stored cell"))
    assert key(run_study("tiny", [0, 1], path, progress_bar=False)) == key(first)
    monkeypatch.setattr(studies, "make_cell", make_cell)
    again = run_study("tiny", [1], tmp_path / "again.csv", ["dann"], progress_bar=False)
    assert again[0].target_test == first[3].target_test  # same seed, same thread count: the same run
    tiny_study.configs["dann"] = studies.Config(tiny_study.configs["dann"].make, batch_size=8, baseline="plain")
    (rebatched,) = run_study("tiny", [0], path, ["dann"], progress_bar=False)  # another batch size: trained anew
    assert rebatched.batch_size == 8 and len(read_cells(path)) == 5
    assert "| dann |" in study_table(first, "tiny") and "over plain" in study_table(first, "tiny")


@pytest.mark.parametrize("bad, message", [(dict(name="nope"), "unknown study"), (dict(configs=["dsn"]), "unknown configuration"),
                                          (dict(seeds=[0, 0]), r"seeds \[0\] are given more than once"), (dict(seeds=[]), "no seeds")])
def test_a_study_refuses_requests_it_would_misreport(tiny_study, tmp_path, bad, message):
    request = dict(name="tiny", seeds=[0], results=tmp_path / "c.csv", configs=None)
    with pytest.raises((KeyError, ValueError), match=message):
        run_study(**{**request, **bad}, progress_bar=False)


def test_the_command_trains_a_study(tiny_study, tmp_path, capsys):
    assert main(["--study", "tiny", "--seeds", "0", "--out", str(tmp_path)]) == 0
    assert len(read_cells(tmp_path / "tiny.csv")) == 2 and "over plain" in capsys.readouterr().out
    from tlbook.benchmark.provenance import code_digest, read_provenance

    record = read_provenance(tmp_path / "tiny.csv")  # the provenance is written with the file
    assert record["code_digest"] == code_digest() and record["command"].endswith(f"--seeds 0 --out {tmp_path}")
    assert main(["--study", "tiny", "--methods", "nope", "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("name, config", [  # the few-label configurations pre-train their source model first (slow)
    pytest.param(n, c, marks=[pytest.mark.slow] if study.configs[c].labelled_per_class else [])
    for n, study in STUDIES.items() for c in study.configs])
def test_every_configuration_of_the_stored_studies_trains_a_step(name, config):
    from tlbook.data import load_pair
    from tlbook.train import fit

    study = STUDIES[name]
    source, target = load_pair(study.pair)
    method = study.configs[config].build(source, target, seed=0)
    history = fit(method, source, target, steps=2, batch_size=8, optimizer="adam", lr=1e-3, progress_bar=False, eval_sets={})
    assert history.steps and all(math.isfinite(v[-1]) for v in history.terms.values())
    baseline = study.configs[config].baseline
    assert baseline is None or study.configs[baseline].baseline is None  # a baseline is never itself adapted


def test_every_method_class_is_built_by_the_benchmark_or_a_study_or_says_why_not():
    from tlbook.benchmark import OUTSIDE_THE_BENCHMARK
    from tlbook.benchmark.registry import make_method
    from tlbook.data import load_pair

    source, target = load_pair("synth->handwritten")
    built = {type(make_method(name, source, target, steps=1)) for name in METHODS}
    built |= {type(config.make(source)) for study in STUDIES.values() for config in study.configs.values()
              if config.labelled_per_class is None}  # the few-label ones are SDT, which the benchmark builds
    missing = sorted(c.__name__ for c in method_classes() if c not in built and c.__name__ not in OUTSIDE_THE_BENCHMARK)
    assert not missing, (f"Method classes neither the benchmark (tlbook/benchmark/registry.py) nor a study builds: {missing}; "
                         "register them, or say in OUTSIDE_THE_BENCHMARK why they are not benchmarked")
    assert set(OUTSIDE_THE_BENCHMARK) <= {c.__name__ for c in method_classes()}, "OUTSIDE_THE_BENCHMARK names a class that is gone"


@pytest.mark.parametrize("name", list(METHODS))
def test_every_registered_method_keeps_the_loss_contract(name):
    """One contract: ``loss(source, target, progress)`` gives a finite scalar and detached named terms,
    also for the methods that alternate their updates in ``training_step`` (PixelDA, SDT)."""
    import torch

    from tlbook.benchmark.registry import make_method
    from tlbook.data import load_pair

    source, target = load_pair("synth->handwritten")
    method = make_method(name, source, target, steps=1)
    labels = target.y_train[:8] if method.uses_target_labels else None
    total, terms = method.loss((source.x_train[:8], source.y_train[:8]), (target.x_train[:8], labels), 0.5)
    assert total.ndim == 0 and torch.isfinite(total) and total.requires_grad
    assert terms and all(t.ndim == 0 and not t.requires_grad for t in terms.values())


def test_a_configuration_stored_in_a_study_and_the_benchmark_has_one_number():
    """Chapter 2's study holds the benchmark's recipes too (``ddc`` on synth->handwritten at 600 steps): the two
    files must agree to the digit, or the book prints two numbers for one configuration."""
    from tlbook.benchmark import stored_cells

    benchmark = {(c.method, c.pair, c.steps, c.batch_size, c.seed): c for c in stored_cells()}
    shared = []
    for name in STUDIES:
        for cell in stored_cells(name):
            twin = benchmark.get((cell.method, cell.pair, cell.steps, cell.batch_size, cell.seed))
            if twin is not None:
                shared.append(cell.method)
                assert (cell.target_test, cell.source_test, cell.target_curve) == (twin.target_test, twin.source_test,
                                                                                   twin.target_curve), (name, cell)
    assert sorted(set(shared)) == ["cmd", "dan", "ddc", "deep-coral", "source-only"] and len(shared) == 18  # 15 + self-training's start


def test_a_configuration_stored_in_two_studies_has_one_number():
    """``conditional-2000`` trains ``adaptation-2000``'s source-only baseline again (its CDAN gains pair runs of one
    code), ``self-training`` chapter 2's Deep CORAL (its start): the files must agree to the digit, or two pages
    print two numbers for one configuration."""
    from tlbook.benchmark import stored_cells

    seen, shared = {}, []
    for name in STUDIES:
        for cell in stored_cells(name):
            key = (cell.method, cell.pair, cell.steps, cell.batch_size, cell.seed)
            if key in seen:
                shared.append((seen[key][0], name, cell.method))
                assert (cell.target_test, cell.source_test, cell.target_curve) == (seen[key][1].target_test, seen[key][1].source_test,
                                                                                   seen[key][1].target_curve), (name, cell)
            seen.setdefault(key, (name, cell))
    assert sorted(set(shared)) == [("adaptation-2000", "conditional-2000", "source-only"),
                                   ("discrepancy-600", "self-training", "deep-coral")] and len(shared) == 5 + 3


def test_a_study_stores_what_it_measures_for_every_cell():
    from tlbook.benchmark import stored_cells
    from tlbook.data import CONTRAST_BINS
    from tlbook.selection import SCORES

    names = {"label-free scores": SCORES, "accuracy by contrast": tuple(CONTRAST_BINS)}
    assert set(names) == set(MEASURES)
    for name, study in STUDIES.items():
        measured = {tuple(c.stored_scores()) for c in stored_cells(name)}
        assert measured == {sum((tuple(names[m]) for m in study.measures), ())}, name


def test_accuracy_by_contrast_weighted_by_the_bins_counts_is_the_target_test_accuracy():
    """The stored bins partition the target test digits: their accuracies, weighted by how many digits each bin
    holds, give back each cell's target-test accuracy (the same network, measured twice)."""
    from tlbook.benchmark import seed_scores
    from tlbook.data import CONTRAST_BINS, load_pair, stroke_contrast

    study = STUDIES["blended-contrast"]
    source, target = load_pair(study.pair)
    contrast = stroke_contrast(source.x_test, target.x_test)
    counts = torch.tensor([((contrast >= lo) & (contrast < hi)).sum().item() for lo, hi in CONTRAST_BINS.values()])
    assert counts.sum() == len(target.y_test)  # every digit in one bin
    cells = stored_cells("blended-contrast")
    for config in study.configs:
        seeds, by_bin = seed_scores(cells, study.pair, config, list(CONTRAST_BINS))
        accuracy = {c.seed: c.target_test for c in cells if c.method == config}
        for seed, row in zip(seeds, by_bin):
            assert float((torch.tensor(row) * counts).sum() / counts.sum()) == pytest.approx(accuracy[seed], abs=1e-5), (config, seed)


def test_accuracy_by_contrast_needs_a_photo_blended_pair():
    from tlbook.data import load_pair

    source, target = load_pair("synth->handwritten")
    with pytest.raises(ValueError, match="photo-blended pair"):
        MEASURES["accuracy by contrast"](SourceOnly(studies._plain(source)), source, target, 0)
    with pytest.raises(UnknownName, match="did not measure"):
        from tlbook.benchmark import seed_scores
        seed_scores(stored_cells("adaptation-2000"), "synth->handwritten", "dann", ["dark stroke"])


def test_a_continued_configuration_starts_from_its_starts_trained_network(monkeypatch):
    """``Config.start``: the continuation's first weights are the start's last ones, the start trained as the study
    trains and stores it (its own steps, the same seed); a configuration and its baseline train as many steps."""
    import tlbook.benchmark.run as run
    from tlbook.data import load_pair

    study = studies.Study("moons->moons-rotated", 3, {
        "start": studies.Config(lambda source: SourceOnly(toy_classifier()), steps=6),
        "more": studies.Config(lambda source: SourceOnly(toy_classifier()), start="start"),
    })
    monkeypatch.setitem(studies.STUDIES, "continued", study)
    beginnings = []  # each training's weights as it begins
    real_fit = run.fit

    def fit(method, *args, **kwargs):
        beginnings.append({name: value.clone() for name, value in method.classifier.state_dict().items()})
        return real_fit(method, *args, **kwargs)

    monkeypatch.setattr(run, "fit", fit)
    started, _ = run.train_seeded(lambda s, t: study.configs["start"].make(s), *load_pair(study.pair), 2, 6, 64)
    beginnings.clear()
    more = studies.study_cell("continued", "more", seed=2)
    assert more.steps == 3 and len(beginnings) == 2  # the start, trained again inside the cell; then the continuation
    ended = started.classifier.state_dict()
    assert all(torch.equal(beginnings[1][name], ended[name]) for name in ended)  # it begins where the start ended
    assert not all(torch.equal(beginnings[0][name], ended[name]) for name in ended)  # the start itself began fresh
    assert studies.study_cell("continued", "start", seed=2).steps == 6
    with pytest.raises(ValueError, match="starts from 'nowhere'"):
        studies.Study("moons->moons-rotated", 3, {"a": studies.Config(SourceOnly, start="nowhere")})
    with pytest.raises(ValueError, match="starts from 'b'"):  # one level: a start trains from fresh weights
        studies.Study("moons->moons-rotated", 3, {"a": studies.Config(SourceOnly, start="b"),
                                                  "b": studies.Config(SourceOnly, start="c"), "c": studies.Config(SourceOnly)})
    with pytest.raises(ValueError, match="trains 6 steps and its baseline"):
        studies.Study("moons->moons-rotated", 3, {"a": studies.Config(SourceOnly),
                                                  "b": studies.Config(SourceOnly, steps=6, baseline="a")})
    with pytest.raises(ValueError, match="must continue the same start"):
        studies.Study("moons->moons-rotated", 3, {"s": studies.Config(SourceOnly, steps=6), "a": studies.Config(SourceOnly),
                                                  "b": studies.Config(SourceOnly, start="s", baseline="a")})


def test_a_configuration_with_labelled_target_images_gets_k_per_class_drawn_by_the_seed(monkeypatch):
    """``Config.labelled_per_class``: the method is built as ``make(source, labelled, seed)``, with ``k`` labelled
    target training examples per class (images and labels) drawn with the run's seed (``labelled_subset``)."""
    from tlbook.data import labelled_subset, load_pair

    given = []

    def make(source, labelled, seed):
        given.append((labelled, seed))
        return SourceOnly(toy_classifier())

    study = studies.Study("moons->moons-rotated", 3, {"few": studies.Config(make, labelled_per_class=4)})
    monkeypatch.setitem(studies.STUDIES, "few", study)
    cell = studies.study_cell("few", "few", seed=5)
    (labelled, seed), = given
    _, target = load_pair(study.pair)
    expected = labelled_subset(target, 4, 5)
    assert seed == 5 and cell.steps == 3 and torch.bincount(labelled[1]).tolist() == [4, 4]
    assert all(torch.equal(mine, drawn) for mine, drawn in zip(labelled, expected))
    with pytest.raises(ValueError, match="cannot also continue"):
        studies.Config(make, labelled_per_class=4, start="few")
    with pytest.raises((TypeError, ValueError), match="labelled_per_class"):
        studies.Config(make, labelled_per_class=0)
