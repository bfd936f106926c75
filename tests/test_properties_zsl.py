"""Property-based tests of the zero-shot package's boundaries (``tlbook.zsl``): attribute matrices (one row
per class, one column per attribute, entries in [0, 1]), class ids (known, each once, never both seen and
unseen), splits, models, loaders and training. The harness is ``tests/properties.py``."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tlbook import zsl
from tlbook.zsl import dap, data, model

from properties import BREAKS, Sizes, Spec, domain, property_tests, sizes

# --- valid calls -------------------------------------------------------------------------------------------
# A generated problem has s.classes + 2 classes: the first s.classes are seen, the last two unseen; every
# class is described by s.d + 1 attributes; inputs are (N, s.d) features, so an nn.Linear is an encoder.


def _attributes(s: Sizes, classes: int | None = None) -> torch.Tensor:
    return s.rand(s.classes + 2 if classes is None else classes, s.d + 1)


def _problem_parts(s: Sizes) -> dict:
    """The arguments of a valid ZeroShotData."""
    C = s.classes + 2
    y_train, y_test_seen, y_test_unseen = s.labels(s.n), s.labels(s.m).flip(0), s.classes + s.labels(s.m) % 2
    return dict(name="generated", x_train=s.rand(s.n, s.d), y_train=y_train, x_test_seen=s.randn(s.m, s.d).sigmoid(),
                y_test_seen=y_test_seen, x_test_unseen=s.rand(s.m, s.d), y_test_unseen=y_test_unseen,
                attributes=_attributes(s), seen=torch.arange(s.classes), unseen=torch.arange(s.classes, C),
                class_names=tuple(f"class {c}" for c in range(C)),
                attribute_names=tuple(f"attribute {a}" for a in range(s.d + 1)), validation_unseen=(0,))


def _problem(s: Sizes) -> zsl.ZeroShotData:
    return zsl.ZeroShotData(**_problem_parts(s))


def _split_parts(s: Sizes) -> dict:
    """The arguments of a valid split_by_class: two images of every class, then s.n more of the seen ones."""
    C = s.classes + 2
    y = torch.cat([torch.arange(C), torch.arange(C), s.labels(s.n)])
    return dict(name="generated", x=s.rand(len(y), s.d), y=y, attributes=_attributes(s),
                seen=torch.arange(s.classes).flip(0), unseen=torch.arange(s.classes, C),
                class_names=[f"class {c}" for c in range(C)], attribute_names=[f"attribute {a}" for a in range(s.d + 1)],
                validation_unseen=(0,))


def _model(s: Sizes, kind: str | None = None) -> nn.Module:
    """An attribute embedding or DAP (by the seed) on an nn.Linear encoder of the features."""
    torch.manual_seed(s.seed)
    kind = kind or ("embedding", "dap")[s.seed % 2]
    encoder = nn.Linear(s.d, 3)
    return zsl.AttributeEmbedding(encoder, s.d + 1) if kind == "embedding" else zsl.DAP(encoder, s.d + 1)


def _combos(s: Sizes) -> list:
    classes, _, _ = zsl.shape_classes()
    return [classes[(s.seed + 17 * i) % len(classes)] for i in range(1 + s.seed % 3)]


# --- ways to break the zero-shot arguments -----------------------------------------------------------------

def _entry(value: float):
    def set_entry(v, call, s):
        v = v.clone()
        v[-1, 0] = value
        return v
    return set_entry


def _other_split(v, call, s):
    """One class of the other split added (in order): a class both seen and unseen."""
    other = call["unseen"] if v is call["seen"] else call["seen"]
    return torch.cat([v, other[:1]]).sort().values


def _class_of_other_split(v, call, s):
    """A label of the other split: an unseen class among the seen labels, or the reverse."""
    v = v.clone()
    v[0] = call["unseen"][0] if bool(torch.isin(v[0], call["seen"])) else call["seen"][0]
    return v


ATTRIBUTES = {
    "one more dimension": lambda v, call, s: v.unsqueeze(-1),
    "one dimension": lambda v, call, s: v.flatten(),
    "a Python list": lambda v, call, s: v.tolist(),
    "no rows": lambda v, call, s: v[:0],
    "no columns": lambda v, call, s: v[:, :0],
    "a complex dtype": lambda v, call, s: v.to(torch.complex64),
    "a NaN entry": _entry(math.nan),
    "an infinite entry": _entry(math.inf),
    "an entry above 1": _entry(1.5),
    "a negative entry": _entry(-0.5),
}
MODEL_ATTRIBUTES = {  # what a model's forward and loss check on the training path: shapes only
    "one more dimension": ATTRIBUTES["one more dimension"], "one dimension": ATTRIBUTES["one dimension"],
    "a Python list": ATTRIBUTES["a Python list"], "no rows": ATTRIBUTES["no rows"],
    "one column fewer": lambda v, call, s: v[:, :-1],
}
def _first(value: int):
    def set_first(v, call, s):
        v = v.clone()
        v[0] = value
        return v
    return set_first


LABELS = {**{k: v for k, v in BREAKS["labels"].items() if k not in ("a class out of range", "a negative class")},
          "a negative class": _first(-1)}
CLASS_IDS = {
    "one more dimension": lambda v, call, s: v.unsqueeze(-1),
    "a Python list": lambda v, call, s: v.tolist(),
    "float dtype": lambda v, call, s: v.float(),
    "int32 dtype": lambda v, call, s: v.int(),
    "empty": lambda v, call, s: v[:0],
    "a class twice": lambda v, call, s: torch.cat([v, v[:1]]),
    "a negative class": lambda v, call, s: torch.cat([v, torch.tensor([-1])]),
    "an unknown class": lambda v, call, s: torch.cat([v, torch.tensor([len(call["attributes"])])]),
    "a class of the other split": _other_split,
}
NAMES = {"one too few": lambda v, call, s: v[:-1], "a single string": lambda v, call, s: "names",
         "numbers": lambda v, call, s: list(range(len(v))), "None": lambda v, call, s: None}
INPUTS = {"a Python list": lambda v, call, s: v.tolist(), "empty": lambda v, call, s: v[:0],
          "one dimension": lambda v, call, s: v[:, 0], "integer dtype": lambda v, call, s: v.long()}

ZSL_BREAKS = {
    **BREAKS,
    "attributes": ATTRIBUTES,
    "class_attributes": {**ATTRIBUTES, "one row fewer": lambda v, call, s: v[:-1]},
    "model_attributes": MODEL_ATTRIBUTES,
    "scored_attributes": {**ATTRIBUTES, "one column fewer": lambda v, call, s: v[:, :-1]},
    "seen_attributes": {**ATTRIBUTES, "one class": lambda v, call, s: v[:1], "one column fewer": lambda v, call, s: v[:, :-1]},
    "split_labels": {**LABELS, "an unknown class": lambda v, call, s: torch.where(v == v[0], len(call["attributes"]), v),
                     "a class of the other split": _class_of_other_split},
    "global_labels": {**LABELS, "an unknown class": lambda v, call, s: torch.where(v == 0, len(call["attributes"]), v)},
    "split_classes": CLASS_IDS,
    "sorted_classes": {**CLASS_IDS, "out of order": lambda v, call, s: v.flip(0)},
    "inputs": INPUTS,
    "split_inputs": {**INPUTS, "another input shape": lambda v, call, s: v.unsqueeze(-1)},
    "names": NAMES,
    "name": {"None": lambda v, call, s: None, "a number": lambda v, call, s: 3},
    "validation": {"an unseen class": lambda v, call, s: (int(call["unseen"][0]),), "an unknown class": lambda v, call, s: (99,),
                   "a float": lambda v, call, s: (0.5,), "a class twice": lambda v, call, s: (0, 0),
                   "every seen class": lambda v, call, s: tuple(call["seen"].tolist()),
                   "a tensor": lambda v, call, s: torch.tensor(v)},
    "encoder": {"no out_features": lambda v, call, s: nn.Flatten(), "not a module": lambda v, call, s: lambda x: x,
                "a tensor": lambda v, call, s: torch.zeros(3)},
    "model": {"not a module": lambda v, call, s: lambda x, a: x @ a.T, "None": lambda v, call, s: None,
              "built for other attributes": lambda v, call, s: zsl.AttributeEmbedding(nn.Linear(s.d, 3), s.d + 2)},
    "zsl_model": {"not a module": lambda v, call, s: lambda x, a: x @ a.T, "no loss": lambda v, call, s: nn.Linear(s.d, 3),
                  "built for other attributes": lambda v, call, s: zsl.DAP(nn.Linear(s.d, 3), s.d + 2)},
    "problem": {"None": lambda v, call, s: None, "a Domain": lambda v, call, s: domain(s),
                "a dict": lambda v, call, s: vars(v)},
    "combos": {"one combination alone": lambda v, call, s: v[0],
               "an unknown colour": lambda v, call, s: [(v[0][0], "purple", *v[0][2:])],
               "three values": lambda v, call, s: [v[0][:3]], "a string": lambda v, call, s: "circle",
               "None": lambda v, call, s: None},
    "natural_seed": {**BREAKS["seed"], "negative": lambda v, call, s: -1},
    "batch": {**BREAKS["positive_int"], "one": lambda v, call, s: 1},
    "dataset": {"None": lambda v, call, s: None, "a number": lambda v, call, s: 3},
    "device": {"no such device": lambda v, call, s: "no-such-device", "a float": lambda v, call, s: 1.5,
               "a device this machine lacks": lambda v, call, s: "cuda:99"},
    "flag": {"a string": lambda v, call, s: "yes", "None": lambda v, call, s: None},
    "harmonic": {**BREAKS["progress"], "a string": lambda v, call, s: "1",
                 "not the harmonic mean of u and s": lambda v, call, s: 0.9},
}


def _generalised_result(s: Sizes) -> dict:
    u = 0.1 + 0.8 * s.seed / 2**16  # away from 0, where H is 0 whatever s is
    return dict(u=u, s=0.5, H=zsl.harmonic_mean(u, 0.5))


SPLIT_KINDS = {"name": "name", "attributes": "class_attributes", "class_names": "names", "attribute_names": "names",
               "validation_unseen": "validation"}

SPECS: dict[str, Spec] = {
    # data
    "zsl.data.ZeroShotData": Spec(
        zsl.ZeroShotData, _problem_parts,
        {**SPLIT_KINDS, "seen": "sorted_classes", "unseen": "sorted_classes",
         **{f"x_{split}": "split_inputs" for split in ("train", "test_seen", "test_unseen")},
         **{f"y_{split}": "split_labels" for split in ("train", "test_seen", "test_unseen")}},
        rows={**{f"y_{split}": f"x_{split}" for split in ("train", "test_seen", "test_unseen")},
              **{f"x_{split}": f"y_{split}" for split in ("train", "test_seen", "test_unseen")}}, examples=2),
    "zsl.data.split_by_class": Spec(
        zsl.split_by_class, _split_parts,
        {**SPLIT_KINDS, "seen": "split_classes", "unseen": "split_classes", "x": "inputs", "y": "global_labels"},
        rows={"y": "x", "x": "y"}, examples=2),
    "zsl.digits.digit_strokes": Spec(zsl.digit_strokes, lambda s: dict(image_size=2 + s.seed % 3),
                                     {"image_size": "positive_int"}, examples=1),
    "zsl.digits.stroke_map": Spec(zsl.stroke_map, lambda s: {}, {}, examples=1),
    "zsl.digits.semantic_attributes": Spec(zsl.semantic_attributes, lambda s: {}, {}, examples=1),
    "zsl.shapes.shape_classes": Spec(zsl.shape_classes, lambda s: {}, {}, examples=1),
    "zsl.shapes.render_shapes": Spec(zsl.render_shapes, lambda s: dict(combos=_combos(s), size=2 + s.d, seed=s.seed),
                                     {"combos": "combos", "size": "positive_int", "seed": "natural_seed"}, examples=2),
    "zsl.shapes.compositional_shapes": Spec(zsl.compositional_shapes, lambda s: dict(image_size=2),
                                            {"image_size": "positive_int"}, examples=1),
    "zsl.load_zero_shot": Spec(zsl.load_zero_shot, lambda s: dict(name="digits", device="cpu"),
                               {"name": "dataset", "device": "device"}, examples=1),
    # models
    "zsl.model.signatures": Spec(zsl.signatures, lambda s: dict(attributes=_attributes(s)), {"attributes": "attributes"},
                                 examples=3),
    "zsl.model.AttributeEmbedding": Spec(
        zsl.AttributeEmbedding,
        lambda s: dict(encoder=nn.Linear(s.d, 3), num_attributes=s.d + 1, class_encoder=model.CLASS_ENCODERS[s.seed % 3]),
        {"encoder": "encoder", "num_attributes": "positive_int", "class_encoder": "choice", "embed_dim": "positive_int",
         "margin": "nonnegative_float", "violators": "choice", "cosine_scale": "positive_float"}, examples=2),
    "zsl.model.AttributeEmbedding.forward": Spec(
        model.AttributeEmbedding.forward,
        lambda s: {"self": _model(s, "embedding"), "x": s.rand(s.n, s.d), "attributes": _attributes(s)},
        {"attributes": "model_attributes"}, examples=2),
    "zsl.model.AttributeEmbedding.loss": Spec(
        model.AttributeEmbedding.loss,
        lambda s: {"self": _model(s, "embedding"), "x": s.rand(s.n, s.d), "labels": s.labels(s.n),
                   "attributes": _attributes(s, s.classes)},
        {"attributes": "model_attributes", "labels": "labels"}, rows={"labels": "x"}, examples=2),
    "zsl.dap.DAP": Spec(zsl.DAP, lambda s: dict(encoder=nn.Linear(s.d, 3), num_attributes=s.d + 1),
                        {"encoder": "encoder", "num_attributes": "positive_int"}, examples=2),
    "zsl.dap.DAP.forward": Spec(dap.DAP.forward,
                                lambda s: {"self": _model(s, "dap"), "x": s.rand(s.n, s.d), "attributes": _attributes(s)},
                                {"attributes": "model_attributes"}, examples=2),
    "zsl.dap.DAP.loss": Spec(dap.DAP.loss,
                             lambda s: {"self": _model(s, "dap"), "x": s.rand(s.n, s.d), "labels": s.labels(s.n),
                                        "attributes": _attributes(s, s.classes)},
                             {"attributes": "model_attributes", "labels": "labels"}, rows={"labels": "x"}, examples=2),
    # evaluation
    "zsl.metrics.GeneralisedResult": Spec(zsl.GeneralisedResult, _generalised_result,
                                          {"u": "harmonic", "s": "harmonic", "H": "harmonic"}, examples=3),
    "zsl.metrics.class_scores": Spec(
        zsl.class_scores,
        lambda s: dict(model=_model(s), x=s.rand(s.n, s.d), attributes=_attributes(s),
                       candidates=torch.arange(1, s.classes + 2), batch_size=3),
        {"model": "model", "x": "features", "attributes": "scored_attributes", "candidates": "class_ids",
         "batch_size": "positive_int"}, examples=2),
    "zsl.metrics.unseen_accuracy": Spec(zsl.unseen_accuracy, lambda s: dict(model=_model(s), problem=_problem(s)),
                                        {"model": "model", "problem": "problem"}, examples=2),
    "zsl.metrics.generalised_scores": Spec(zsl.generalised_scores, lambda s: dict(model=_model(s), problem=_problem(s)),
                                           {"model": "model", "problem": "problem"}, examples=2),
    "zsl.eszsl.eszsl_accuracy": Spec(zsl.eszsl_accuracy, lambda s: dict(problem=_problem(s), gamma=0.5, lam=2.0),
                                     {"problem": "problem", "gamma": "positive_float", "lam": "positive_float"}, examples=2),
    # training
    "zsl.train.SeenClasses": Spec(zsl.SeenClasses,
                                  lambda s: dict(model=_model(s), seen_attributes=_attributes(s, s.classes)),
                                  {"model": "zsl_model", "seen_attributes": "seen_attributes"}, examples=2),
    "zsl.train.seen_class_domain": Spec(zsl.seen_class_domain, lambda s: dict(data=_problem(s)), {"data": "problem"},
                                        examples=2),
    "zsl.train.train_zero_shot": Spec(
        zsl.train_zero_shot,
        lambda s: dict(model=_model(s), data=_problem(s), steps=1, batch_size=4, progress_bar=False),
        {"model": "zsl_model", "data": "problem", "steps": "positive_int", "batch_size": "batch", "lr": "positive_float",
         "weight_decay": "nonnegative_float", "seed": "natural_seed", "progress_bar": "flag"}, examples=1),
}
test_a_valid_call_gives_a_finite_result, test_a_broken_argument_gets_an_error_that_names_it = property_tests(SPECS, ZSL_BREAKS)


# --- what a spec cannot say ----------------------------------------------------------------------------------

@settings(max_examples=8)
@given(sizes=sizes)
def test_split_by_class_holds_out_a_fifth_of_every_seen_class_and_every_unseen_image(sizes):
    parts = _split_parts(sizes)
    problem = zsl.split_by_class(**parts)
    y = parts["y"]
    for c in parts["seen"].tolist():
        count = int((y == c).sum())
        assert int((problem.y_test_seen == c).sum()) == max(1, round(data.TEST_FRACTION * count))
        assert int((problem.y_train == c).sum()) + int((problem.y_test_seen == c).sum()) == count
    assert torch.equal(problem.y_test_unseen, y[torch.isin(y, parts["unseen"])])
    assert problem.seen.tolist() == sorted(parts["seen"].tolist())


@settings(max_examples=2)
@given(sizes=sizes, where=st.sampled_from(["ZeroShotData", "split_by_class"]))
def test_a_class_both_seen_and_unseen_is_named(sizes, where):
    parts = _problem_parts(sizes) if where == "ZeroShotData" else _split_parts(sizes)
    shared = int(parts["unseen"][-1])
    parts["seen"] = torch.cat([parts["seen"], torch.tensor([shared])]).sort().values
    with pytest.raises(ValueError, match=rf"{where}: a class cannot be both seen and unseen, got class\(es\) \[{shared}\]"):
        (zsl.ZeroShotData if where == "ZeroShotData" else zsl.split_by_class)(**parts)


@settings(max_examples=2)
@given(sizes=sizes)
def test_an_unknown_class_and_a_class_short_of_images_are_named(sizes):
    parts = _split_parts(sizes)
    C = len(parts["attributes"])
    with pytest.raises(ValueError, match=rf"unseen must lie in \[0, {C}\), got class\(es\) \[{C + 3}\]"):
        zsl.split_by_class(**{**parts, "unseen": torch.tensor([C - 1, C + 3])})
    lonely = int(parts["seen"][0])  # one image of a seen class: nothing left to train on once one is held out
    keep = torch.ones(len(parts["y"]), dtype=torch.bool)
    keep[torch.nonzero(parts["y"] == lonely).flatten()[1:]] = False
    with pytest.raises(ValueError, match=rf"every seen class needs at least 2 images in y; class\(es\) \[{lonely}\] have \[1\]"):
        zsl.split_by_class(**{**parts, "x": parts["x"][keep], "y": parts["y"][keep]})
    absent = int(parts["unseen"][0])
    keep = parts["y"] != absent
    with pytest.raises(ValueError, match=rf"every unseen class needs at least 1 image in y; class\(es\) \[{absent}\] have \[0\]"):
        zsl.split_by_class(**{**parts, "x": parts["x"][keep], "y": parts["y"][keep]})


@settings(max_examples=2)
@given(sizes=sizes)
def test_the_seen_class_domain_labels_index_the_seen_attributes(sizes):
    problem = _problem(sizes)
    seen_domain = zsl.seen_class_domain(problem)
    seen_attributes = problem.attributes[problem.seen]
    assert torch.equal(seen_attributes[seen_domain.y_train], problem.attributes[problem.y_train])
    assert torch.equal(seen_attributes[seen_domain.y_test], problem.attributes[problem.y_test_seen])


@settings(max_examples=3)
@given(name=st.sampled_from(["awa2", "Digits", ""]))
def test_an_unknown_dataset_is_a_key_error_that_lists_the_known_ones(name):
    with pytest.raises(KeyError, match=rf"unknown zero-shot dataset {name!r}; known: \['digits', 'shapes'\]"):
        zsl.load_zero_shot(name)


@settings(max_examples=2)
@given(sizes=sizes)
def test_training_on_a_model_built_for_other_attributes_stops_before_the_first_step(sizes):
    steps = []
    problem = _problem(sizes)
    wrong = zsl.AttributeEmbedding(nn.Linear(sizes.d, 3), problem.num_attributes + 1)
    wrong.loss = lambda *args: steps.append(1)  # would run at the first step
    with pytest.raises(ValueError, match=rf"model was built for {problem.num_attributes + 1} attributes"):
        zsl.train_zero_shot(wrong, problem, steps=1, batch_size=4, progress_bar=False)
    assert not steps
