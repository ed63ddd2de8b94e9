"""Lessons: guided walks through a lecture, one playground configuration per step.

A lesson is a JSON file in ``lesson_data/`` (shipped in the wheel as package data), named
after its id: ``{"id", "title": {"en", "fr"}, "steps": [...]}``. Each step has a ``title``
and a ``text`` in English and French (what to look at and why, tied to a slide), a
``config`` (a ``/train`` body: the page applies it on entering the step), and optionally an
``instrument`` the page should open and a ``claim`` the step makes. Every file is validated
when it is first loaded (``TrainConfig.from_dict`` for every config), so a broken lesson
fails at start-up and in the tests, never in front of a class.

The API serves each ``config`` in its complete canonical form (every field of a ``/train``
body, defaults filled in): the page applies a step's config as a live edit on top of the
current one, and a complete config means nothing leaks from the previous step (the L2 of
one step does not linger into the next).

Instruments (``"instrument": {"kind": ...}``), hints for the page:
``initial_loss`` (measured initial loss next to ln K), ``curves`` (training and validation
curves), ``stats`` (layer statistics), ``uncertainty`` (MC-dropout prediction and its map),
``gradcheck`` (optional ``"points"``, 1..256, default 32) and ``race`` (``"optimizers"``: 2
to 6 optimiser specs, raced from the step's config).

Claims (``"claim": {"kind": ...}``): what the step shows, checked by ``tests/classroom/test_lessons.py``
on the step's own measurements so that a lesson can never silently stop teaching.

Measures, read from ``POST /train`` with the step's config:

- ``accuracy``: the validation accuracy after training.
- ``loss_gap``: validation loss minus training loss (data losses): how overconfident the
  model is on points it did not train on.
- ``weight_norm``: the Euclidean norm of all weight matrices (biases excluded).
- ``roughness``: the mean absolute change of the class probabilities between neighbouring
  cells of the decision grid (``CLAIM_GRID_RESOLUTION``): a jagged boundary scores high.
- ``activation_std``: the standard deviation of one hidden layer's outputs (``"layer"``,
  default -1, the last), from ``"stats": true``.
- ``dead_fraction``: the fraction of hidden units dead on the whole training batch (ReLU
  family; all hidden layers, weighted by units), from ``"stats": true``.

Kinds:

- ``<measure>_below`` / ``<measure>_above`` (``accuracy_below``, ``dead_fraction_above``,
  ...): ``"value": v`` compares with a number; ``"than_step": i`` (0-based) with the same
  measure of step i times ``"factor"`` (default 1); give one or both (both must hold).
- ``initial_loss_ok``: the measured initial loss is within 10 % of the expected one (ln K
  for cross-entropy, K - 1 for hinge); the step must not regularise.
- ``uncertainty_above``: ``"value": v``, optional ``"boundary_ratio": r``. ``POST /predict``
  of the trained model over the decision grid with ``mc_passes`` = the config's
  ``prediction.passes`` and ``dropout`` = its ``network.dropout``: the mean MC standard
  deviation (largest over classes) of the uncertain cells (mean probability of the
  predicted class < ``UNCERTAIN_BELOW``) exceeds v, and r times that of the confident cells
  (> ``CONFIDENT_ABOVE``); the same model without dropout has no spread at all.
- ``race_beats``: ``"optimizer": a, "over": b``, optional ``"factor": f`` (default 1). In
  ``POST /race`` with the step's race instrument (the same weights, the same steps), a's
  final training loss is below f times b's.
- ``gradcheck_passes``: ``POST /gradcheck`` with the step's config passes.
- ``all``: ``"of": [claims]``: every one holds.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig

LESSON_DIR = Path(__file__).resolve().parent / "lesson_data"
LANGUAGES = ("en", "fr")
INSTRUMENTS = ("initial_loss", "curves", "stats", "uncertainty", "gradcheck", "race")
MEASURES = {
    # measure -> what the /train request must ask for to read it
    "accuracy": "train",
    "loss_gap": "train",
    "weight_norm": "train",
    "roughness": "grid",
    "activation_std": "stats",
    "dead_fraction": "stats",
}
CLAIM_KINDS = (
    *(f"{m}_{side}" for m in MEASURES for side in ("below", "above")),
    "initial_loss_ok",
    "uncertainty_above",
    "race_beats",
    "gradcheck_passes",
    "all",
)
CLAIM_GRID_RESOLUTION = 40
DEFAULT_GRADCHECK_POINTS = 32
MAX_GRADCHECK_POINTS = 256
UNCERTAIN_BELOW = 0.8
CONFIDENT_ABOVE = 0.95
NO_SPREAD = 1e-9
_NOT_A_TRAIN_FIELD = ("speed",)  # TrainConfig accepts it (live), POST /train does not


class LessonError(ValueError):
    """A malformed lesson; the message starts with the path of the field."""


# --------------------------------------------------------------------------- loading


@functools.cache
def lessons() -> dict[str, dict[str, Any]]:
    """Every shipped lesson by id, loaded and validated once (the first call raises if a
    file is broken: the app calls it at start-up)."""
    return load_lessons(LESSON_DIR)


def load_lessons(directory: Path) -> dict[str, dict[str, Any]]:
    """The lessons of every ``*.json`` file in ``directory``, in file-name order."""
    return {
        lesson["id"]: lesson
        for lesson in (load_lesson(path) for path in sorted(directory.glob("*.json")))
    }


def load_lesson(path: Path) -> dict[str, Any]:
    """One lesson file, validated; its id must be the file's name."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LessonError(f"{path.name}: cannot read the lesson: {exc}") from None
    lesson = validate_lesson(doc)
    if lesson["id"] != path.stem:
        raise LessonError(f"{path.name}: id {lesson['id']!r} must be the file name")
    return lesson


def lesson_list() -> list[dict[str, Any]]:
    """``GET /api/lessons``: ``[{"id", "title", "steps": n}]``."""
    return [
        {"id": key, "title": dict(lesson["title"]), "steps": len(lesson["steps"])}
        for key, lesson in lessons().items()
    ]


def get_lesson(lesson_id: str) -> dict[str, Any] | None:
    """``GET /api/lessons/{id}``: a deep copy (callers may edit it), or None."""
    lesson = lessons().get(lesson_id)
    return copy.deepcopy(lesson) if lesson is not None else None


# --------------------------------------------------------------------------- validation


def validate_lesson(doc: object) -> dict[str, Any]:
    """A lesson document checked field by field; configs come back in canonical form."""
    doc = _mapping("lesson", doc, "must be an object")
    _keys("lesson", doc, ("id", "title", "steps"), required=("id", "title", "steps"))
    lesson_id = doc["id"]
    ok_id = isinstance(lesson_id, str) and lesson_id and lesson_id.replace("-", "").isalnum()
    _expect(bool(ok_id), "id", "must be a non-empty slug (letters, digits, hyphens)")
    steps = doc["steps"]
    _expect(isinstance(steps, list) and len(steps) > 0, f"{lesson_id}.steps", "no steps")
    out = [_validate_step(f"{lesson_id}.steps[{i}]", s, i, len(steps)) for i, s in enumerate(steps)]
    return {"id": lesson_id, "title": _text(f"{lesson_id}.title", doc["title"]), "steps": out}


def _validate_step(path: str, step: object, index: int, n_steps: int) -> dict[str, Any]:
    step = _mapping(path, step, "must be an object")
    fields = ("title", "text", "config", "instrument", "claim")
    _keys(path, step, fields, required=("title", "text", "config"))
    out: dict[str, Any] = {
        "title": _text(f"{path}.title", step["title"]),
        "text": _text(f"{path}.text", step["text"]),
        "config": _canonical(f"{path}.config", step["config"]),
    }
    raw = step["config"]
    if step.get("instrument") is not None:
        out["instrument"] = _validate_instrument(f"{path}.instrument", step["instrument"], raw)
    if step.get("claim") is not None:
        claim = step["claim"]
        _validate_claim(f"{path}.claim", claim, index, n_steps, out)
        out["claim"] = copy.deepcopy(claim)
    return out


def _text(path: str, v: object) -> dict[str, str]:
    v = _mapping(path, v, "must be an object with en and fr")
    _keys(path, v, LANGUAGES, required=LANGUAGES)
    for lang in LANGUAGES:
        _expect(isinstance(v[lang], str) and v[lang].strip() != "", f"{path}.{lang}", "empty")
    return {lang: v[lang] for lang in LANGUAGES}


def _canonical(path: str, raw: object) -> dict[str, Any]:
    """The complete ``/train`` body ``raw`` stands for (``TrainConfig.from_dict``)."""
    raw = _mapping(path, raw, "must be a /train body (an object)")
    for key in _NOT_A_TRAIN_FIELD:
        _expect(key not in raw, f"{path}.{key}", "not a /train field")
    try:
        config = TrainConfig.from_dict(raw)
    except ConfigError as exc:
        raise LessonError(f"{path}.{exc.field}: {exc.message}") from None
    out = config.to_dict()
    for key in _NOT_A_TRAIN_FIELD:
        out.pop(key, None)
    return out


def _validate_instrument(path: str, inst: object, raw: Mapping) -> dict[str, Any]:
    inst = _mapping(path, inst, "must be an object")
    kind = inst.get("kind")
    _expect(kind in INSTRUMENTS, f"{path}.kind", f"must be one of {', '.join(INSTRUMENTS)}")
    extra = {"race": ("optimizers",), "gradcheck": ("points",)}.get(str(kind), ())
    _keys(path, inst, ("kind", *extra), required=("kind", *(extra if kind == "race" else ())))
    if kind == "race":
        specs = inst["optimizers"]
        ok = isinstance(specs, list) and 2 <= len(specs) <= 6
        _expect(ok, f"{path}.optimizers", "give 2 to 6 optimisers")
        for i, spec in enumerate(specs):
            _canonical(f"{path}.optimizers[{i}]", {**raw, "optimizer": spec})
    if kind == "gradcheck" and "points" in inst:
        p = inst["points"]
        ok = isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= MAX_GRADCHECK_POINTS
        _expect(ok, f"{path}.points", f"must be an integer in 1..{MAX_GRADCHECK_POINTS}")
    return copy.deepcopy(dict(inst))


def _validate_claim(path: str, claim: object, index: int, n: int, step: Mapping) -> None:
    """Known kind, known parameters of the right types, references to other steps."""
    claim = _mapping(path, claim, "must be an object")
    kind = claim.get("kind")
    _expect(kind in CLAIM_KINDS, f"{path}.kind", f"must be one of {', '.join(CLAIM_KINDS)}")
    config, inst = step["config"], step.get("instrument") or {}
    if kind == "all":
        _keys(path, claim, ("kind", "of"), required=("kind", "of"))
        parts = claim["of"]
        _expect(isinstance(parts, list) and len(parts) > 0, f"{path}.of", "a non-empty list")
        for i, part in enumerate(parts):
            _validate_claim(f"{path}.of[{i}]", part, index, n, step)
    elif kind == "initial_loss_ok":
        _keys(path, claim, ("kind",))
        reg = config["regularization"]
        plain = reg["kind"] == "none" or reg["strength"] == 0
        _expect(plain, path, "the initial loss is compared with ln K only without regularisation")
    elif kind == "gradcheck_passes":
        _keys(path, claim, ("kind",))
    elif kind == "uncertainty_above":
        _keys(path, claim, ("kind", "value", "boundary_ratio"), required=("kind", "value"))
        _number(f"{path}.value", claim["value"])
        if "boundary_ratio" in claim:
            _number(f"{path}.boundary_ratio", claim["boundary_ratio"], positive=True)
        _expect(config["network"]["dropout"] > 0, path, "needs network.dropout > 0")
    elif kind == "race_beats":
        _keys(path, claim, ("kind", "optimizer", "over", "factor"), ("kind", "optimizer", "over"))
        names = [spec.get("name") for spec in inst.get("optimizers", [])]
        for key in ("optimizer", "over"):
            ok = inst.get("kind") == "race" and claim[key] in names
            _expect(ok, f"{path}.{key}", "must name an optimiser of the step's race instrument")
        if "factor" in claim:
            _number(f"{path}.factor", claim["factor"], positive=True)
    else:
        _validate_measure_claim(path, claim, index, n, config)


def _validate_measure_claim(path: str, claim: Mapping, index: int, n: int, config: Mapping) -> None:
    measure = _measure_of(claim)
    depth = len(config["network"]["hidden_layers"])
    if MEASURES[measure] == "stats":
        _expect(depth > 0, path, f"{measure} needs a hidden layer")
    allowed = (
        "kind",
        "value",
        "than_step",
        "factor",
        *(("layer",) if measure == "activation_std" else ()),
    )
    _keys(path, claim, allowed)
    _expect("value" in claim or "than_step" in claim, path, "give value, than_step or both")
    if "value" in claim:
        _number(f"{path}.value", claim["value"])
    if "than_step" in claim:
        ref = claim["than_step"]
        ok = isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < n and ref != index
        _expect(ok, f"{path}.than_step", f"must be another step's index, 0..{n - 1}")
    if "factor" in claim:
        _expect("than_step" in claim, f"{path}.factor", "only with than_step")
        _number(f"{path}.factor", claim["factor"], positive=True)
    if "layer" in claim:
        layer = claim["layer"]
        ok = isinstance(layer, int) and not isinstance(layer, bool) and -depth <= layer < depth
        _expect(ok, f"{path}.layer", f"must be a hidden layer's index, -{depth}..{depth - 1}")


def _measure_of(claim: Mapping) -> str:
    return str(claim["kind"]).rsplit("_", 1)[0]


def _number(path: str, v: object, positive: bool = False) -> None:
    number = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ok = number and (not positive or (isinstance(v, (int, float)) and v > 0))
    _expect(ok, path, "must be a positive number" if positive else "must be a number")


def _keys(path: str, d: Mapping, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
    for key in d:
        _expect(key in allowed, f"{path}.{key}", f"unknown field; valid: {', '.join(allowed)}")
    for key in required:
        _expect(key in d, f"{path}.{key}", "missing")


def _mapping(path: str, v: object, message: str = "must be an object") -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise LessonError(f"{path}: {message}")
    return v


def _expect(ok: bool, path: str, message: str) -> None:
    if not ok:
        raise LessonError(f"{path}: {message}")
