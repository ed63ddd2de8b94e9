"""Issue 13's lessons: the API (GET /api/lessons, GET /api/lessons/{id}), the validation of
lesson files, and every step's claim checked on the step's own config through the REST
routes, so that a lesson can never silently stop teaching.

The claim vocabulary is documented in ``mlp_playground.classroom.lessons``; the measuring and the
checking live here, with the HTTP calls (``_outcome`` runs what ``_needs`` asks for).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.classroom import lessons as L
from mlp_playground.data.grid import grid_points
from mlp_playground.routes import lessons as lesson_routes
from mlp_playground.training.config.train_config import TrainConfig

LESSON = "multilayer-networks"


def _with_lessons(app: FastAPI) -> FastAPI:
    """The app, with the lessons router included if app.py does not include it yet."""
    if not any(getattr(r, "path", None) == "/api/lessons" for r in app.routes):
        app.include_router(lesson_routes.router)
        # The static mount at "/" must stay last, or it would answer /api/lessons first.
        static = [r for r in app.router.routes if getattr(r, "name", None) == "static"]
        for r in static:
            app.router.routes.remove(r)
            app.router.routes.append(r)
    return app


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    with TestClient(_with_lessons(create_app())) as c:
        yield c


@pytest.fixture(scope="module")
def lesson(api: TestClient) -> dict[str, Any]:
    r = api.get(f"/api/lessons/{LESSON}")
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------- the API


def test_list_names_every_lesson_with_its_step_count(api, lesson):
    r = api.get("/api/lessons")
    assert r.status_code == 200
    listed = {item["id"]: item for item in r.json()}
    assert listed[LESSON] == {"id": LESSON, "title": lesson["title"], "steps": len(lesson["steps"])}
    assert lesson["title"] == {
        "en": "Multilayer networks",
        "fr": "Réseaux de neurones multicouches",
    }


def test_unknown_lesson_is_a_404_that_says_so(api):
    r = api.get("/api/lessons/no-such-lesson")
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "no-such-lesson" in detail and LESSON in detail


def test_every_step_has_both_languages_a_config_and_known_hints(lesson):
    steps = lesson["steps"]
    assert len(steps) >= 8
    for i, step in enumerate(steps):
        assert set(step) <= {"title", "text", "config", "instrument", "claim"}, i
        for part in ("title", "text"):
            assert set(step[part]) == {"en", "fr"}, (i, part)
            assert all(step[part][lang].strip() for lang in ("en", "fr")), (i, part)
            assert step[part]["en"] != step[part]["fr"], (i, part)  # translated, not copied
        for lang in ("en", "fr"):
            sentences = len(re.findall(r"[.!?]\)?(?:\s|$)", step["text"][lang]))
            assert 2 <= sentences <= 4, (i, lang, sentences)
        assert "speed" not in step["config"]
        if "instrument" in step:
            assert step["instrument"]["kind"] in L.INSTRUMENTS
        assert step["claim"]["kind"] in L.CLAIM_KINDS, i  # every step of this lesson claims


def test_the_lesson_walks_through_the_lecture(lesson):
    """The required demonstrations are all there, in the lecture's order."""
    steps = lesson["steps"]

    def first(kind: str, **config: Any) -> int:
        """The first step whose claim has a ``kind`` part and whose config matches."""
        return next(
            i
            for i, s in enumerate(steps)
            if any(p["kind"] == kind for p in _parts(s["claim"]))
            and all(s["config"][k] == v for k, v in config.items())
        )

    order = [
        first("accuracy_below", network={**steps[0]["config"]["network"], "hidden_layers": []}),
        first("weight_norm_below"),  # L2 smooths the overfitted boundary
        first("initial_loss_ok", loss="hinge"),
        first("dead_fraction_above"),  # ReLU units dying at a high learning rate
        first("activation_std_below"),  # deep tanh, N(0, 0.01^2)
        first("activation_std_above"),  # Xavier
        first("initial_loss_ok", loss="cross_entropy"),  # ln K
        first("gradcheck_passes"),
        first("uncertainty_above"),  # dropout
        first("race_beats"),
    ]
    assert order == sorted(order)
    deep = steps[order[4]]["config"]["network"]
    assert deep["init"] == "gaussian" and len(deep["hidden_layers"]) >= 8
    assert set(deep["activation"]) == {"tanh"}
    assert steps[order[5]]["config"]["network"] == {**deep, "init": "xavier"}
    race = steps[order[-1]]
    assert {"sgd", "momentum", "adam"} <= {o["name"] for o in race["instrument"]["optimizers"]}
    assert race["config"]["dataset"]["name"] == "spiral"


def test_every_config_is_accepted_by_train(api, lesson):
    for i, step in enumerate(lesson["steps"]):
        r = api.post("/train", json={**step["config"], "steps": 1})
        assert r.status_code == 200, (i, r.text)


def test_configs_are_complete_so_a_live_walk_leaks_nothing(lesson):
    """The page applies each step as a live edit on top of the previous one: the result is
    the step's config exactly, whatever came before (L2 does not linger, and so on)."""
    config = TrainConfig.from_dict({})
    for step in [*lesson["steps"], *reversed(lesson["steps"])]:
        config = config.merged(step["config"])
        got = config.to_dict()
        got.pop("speed")
        assert got == step["config"]


# --------------------------------------------------------------------------- validation


def _raw_lesson() -> dict[str, Any]:
    return json.loads((L.LESSON_DIR / f"{LESSON}.json").read_text(encoding="utf-8"))


def _broken(edit) -> str:
    doc = _raw_lesson()
    edit(doc)
    with pytest.raises(L.LessonError) as info:
        L.validate_lesson(doc)
    return str(info.value)


def test_the_shipped_file_is_what_the_api_serves(lesson):
    assert L.validate_lesson(_raw_lesson()) == lesson
    assert L.load_lessons(L.LESSON_DIR)[LESSON] == lesson


def test_a_bad_config_fails_at_load_naming_the_field():
    def edit(doc):
        doc["steps"][3]["config"]["optimizer"]["learning_rate"] = -1

    msg = _broken(edit)
    assert msg.startswith(f"{LESSON}.steps[3].config.optimizer.learning_rate:")


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d["steps"][0]["text"].pop("fr"), "steps[0].text.fr: missing"),
        (lambda d: d["steps"][1]["title"].update(en=" "), "steps[1].title.en: empty"),
        (lambda d: d["steps"][0]["config"].update(speed=10), "steps[0].config.speed"),
        (lambda d: d["steps"][0]["config"].update(stats=True), "steps[0].config.stats"),
        (lambda d: d["steps"][0].update(claim={"kind": "magic"}), "steps[0].claim.kind"),
        (
            lambda d: d["steps"][0].update(claim={"kind": "accuracy_below", "than_step": 0}),
            "steps[0].claim.than_step",
        ),
        (
            lambda d: d["steps"][0].update(claim={"kind": "accuracy_below"}),
            "steps[0].claim: give value",
        ),
        (
            lambda d: d["steps"][0].update(claim={"kind": "activation_std_below", "value": 1}),
            "needs a hidden layer",
        ),
        (
            lambda d: d["steps"][3].update(claim={"kind": "initial_loss_ok"}),
            "without regularisation",
        ),
        (
            lambda d: d["steps"][5].update(claim={"kind": "uncertainty_above", "value": 0.1}),
            "needs network.dropout > 0",
        ),
        (
            lambda d: d["steps"][12]["claim"]["of"][0].update(over="nesterov"),
            "steps[12].claim.of[0].over",
        ),
        (
            lambda d: d["steps"][12]["instrument"]["optimizers"][0].update(learning_rate=0),
            "steps[12].instrument.optimizers[0].optimizer.learning_rate",
        ),
        (lambda d: d["steps"][2].update(instrument={"kind": "x"}), "steps[2].instrument.kind"),
        (lambda d: d.update(steps=[]), "steps: no steps"),
    ],
)
def test_a_broken_lesson_names_what_is_wrong(edit, where):
    assert where in _broken(edit)


def test_a_lesson_file_must_be_named_after_its_id(tmp_path: Path):
    (tmp_path / "other-name.json").write_text(json.dumps(_raw_lesson()), encoding="utf-8")
    with pytest.raises(L.LessonError, match="must be the file name"):
        L.load_lessons(tmp_path)
    (tmp_path / "other-name.json").write_text("{", encoding="utf-8")
    with pytest.raises(L.LessonError, match="cannot read"):
        L.load_lessons(tmp_path)


# --------------------------------------------------------------------------- claims


def _parts(claim: Mapping) -> list[Mapping]:
    if claim["kind"] == "all":
        return [leaf for c in claim["of"] for leaf in _parts(c)]
    return [claim]


def _measure_of(claim: Mapping) -> str:
    return str(claim["kind"]).rsplit("_", 1)[0]


_SPECIAL_NEEDS = {
    "initial_loss_ok": set(),
    "uncertainty_above": {"grid", "mc"},
    "race_beats": {"race"},
    "gradcheck_passes": {"gradcheck"},
}


def _needs(steps: Sequence[Mapping]) -> list[set[str]]:
    """Per step, what to measure: its claim's needs, plus what other steps' claims read
    from it through ``than_step``."""
    needs: list[set[str]] = [set() for _ in steps]
    for i, step in enumerate(steps):
        for part in _parts(step["claim"]):
            kind = part["kind"]
            if kind in _SPECIAL_NEEDS:
                needs[i] |= _SPECIAL_NEEDS[kind]
                continue
            need = L.MEASURES[_measure_of(part)]
            needs[i].add(need)
            if "than_step" in part:
                needs[part["than_step"]].add(need)
    return needs


def _post(api: TestClient, path: str, body: Mapping) -> dict[str, Any]:
    r = api.post(path, json=body)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def _outcome(api: TestClient, step: Mapping, needs: set[str]) -> dict[str, Any]:
    """The step's measurements: /train with its config (plus stats and the decision grid
    when needed), and /race, /gradcheck, /predict (MC) as its claim asks."""
    config = copy.deepcopy(step["config"])
    body = dict(config)
    if "stats" in needs:
        body["stats"] = True
    if "grid" in needs:
        body["grid"] = {"resolution": L.CLAIM_GRID_RESOLUTION}
    out = {"train": _post(api, "/train", body)}
    inst = step.get("instrument", {})
    if "race" in needs:
        out["race"] = _post(api, "/race", {**config, "optimizers": inst["optimizers"]})
    if "gradcheck" in needs:
        points = inst.get("points", L.DEFAULT_GRADCHECK_POINTS)
        out["gradcheck"] = _post(api, "/gradcheck", {**config, "points": points})
    if "mc" in needs:
        grid = out["train"]["grid"]
        cells = grid_points(tuple(grid["domain"]), grid["resolution"]).tolist()
        mc = {
            "model": out["train"]["model"],
            "points": cells,
            "mc_passes": config["prediction"]["passes"],
        }
        out["mc"] = _post(api, "/predict", {**mc, "dropout": config["network"]["dropout"]})
        out["plain_mc"] = _post(api, "/predict", mc)  # the same model, no dropout
    return out


def _measure(name: str, outcome: Mapping, claim: Mapping) -> float:
    train = outcome["train"]
    metrics = train["metrics"]
    if name == "accuracy":
        return float(metrics["validation_accuracy"])
    if name == "loss_gap":
        return float(metrics["validation_loss"] - metrics["train_loss"])
    if name == "weight_norm":
        return math.sqrt(
            sum(float(np.sum(np.square(la["weights"]))) for la in train["model"]["layers"])
        )
    if name == "roughness":
        r = train["grid"]["resolution"]
        p = np.asarray(train["grid"]["probabilities"]).reshape(r, r, -1)
        return float((np.abs(np.diff(p, axis=0)).mean() + np.abs(np.diff(p, axis=1)).mean()) / 2)
    stats = train["layer_stats"]
    if name == "activation_std":
        return float(stats[claim.get("layer", -1)]["std"])
    assert name == "dead_fraction"
    return sum(s["dead"] * s["units"] for s in stats) / sum(s["units"] for s in stats)


def _check(claim: Mapping, index: int, outcome) -> list[str]:
    """Why the claim of step ``index`` does not hold (empty: it holds); ``outcome(i)`` is
    step i's measurements."""
    kind, here = claim["kind"], outcome(index)
    if kind == "all":
        return [f for c in claim["of"] for f in _check(c, index, outcome)]
    if kind == "initial_loss_ok":
        m = here["train"]["metrics"]
        ok = m["initial_loss_ok"] and m["expected_initial_loss"] is not None
        return (
            []
            if ok
            else [f"initial loss {m['initial_loss']}, expected {m['expected_initial_loss']}"]
        )
    if kind == "gradcheck_passes":
        g = here["gradcheck"]
        return [] if g["passed"] else [f"gradient check: worst error {g['worst_relative_error']}"]
    if kind == "race_beats":
        loss = {}
        for run in here["race"]["runs"]:
            loss.setdefault(run["optimizer"]["name"], run["metrics"]["train_loss"])
        a, b = loss[claim["optimizer"]], loss[claim["over"]]
        ok = a < claim.get("factor", 1.0) * b
        return [] if ok else [f"race: {claim['optimizer']} {a:.4g} vs {claim['over']} {b:.4g}"]
    if kind == "uncertainty_above":
        return _check_uncertainty(claim, here["mc"], here["plain_mc"])
    name, above = _measure_of(claim), kind.endswith("_above")
    v = _measure(name, here, claim)
    bounds = [claim["value"]] if "value" in claim else []
    if "than_step" in claim:
        bounds.append(claim.get("factor", 1.0) * _measure(name, outcome(claim["than_step"]), claim))
    return [f"{name} {v:.4g} vs {b:.4g}" for b in bounds if not (v > b if above else v < b)]


def _check_uncertainty(claim: Mapping, mc: Mapping, plain: Mapping) -> list[str]:
    spread = np.asarray(mc["std"]).max(axis=1)
    confidence = np.asarray(mc["probabilities"]).max(axis=1)
    uncertain, confident = confidence < L.UNCERTAIN_BELOW, confidence > L.CONFIDENT_ABOVE
    if not (uncertain.any() and confident.any()):
        return [f"{uncertain.sum()} uncertain and {confident.sum()} confident cells"]
    near, far = spread[uncertain].mean(), spread[confident].mean()
    failures = []
    if not near > claim["value"]:
        failures.append(f"MC spread near the boundary {near:.4g} <= {claim['value']}")
    if not near > claim.get("boundary_ratio", 0) * far:
        failures.append(f"MC spread near the boundary {near:.4g}, far from it {far:.4g}")
    if not np.max(plain["std"]) < L.NO_SPREAD:
        failures.append(f"without dropout the passes spread by {np.max(plain['std'])}")
    return failures


@pytest.fixture(scope="module")
def outcome(api, lesson):
    """Step i's measurements, computed once (claims read other steps' through than_step)."""
    steps = lesson["steps"]
    needs = _needs(steps)
    cache: dict[int, dict[str, Any]] = {}

    def get(i: int) -> dict[str, Any]:
        if i not in cache:
            cache[i] = _outcome(api, steps[i], needs[i])
        return cache[i]

    return get


@pytest.mark.parametrize("index", range(len(L.lessons()[LESSON]["steps"])))
def test_the_step_shows_what_it_claims(lesson, outcome, index):
    step = lesson["steps"][index]
    failures = _check(step["claim"], index, outcome)
    assert not failures, f"step {index} ({step['title']['en']}): {failures}"


def test_the_plain_model_is_deterministic_and_the_dropout_one_is_not(lesson, outcome):
    """The uncertainty step's map is the dropout's doing: without it the map is blank."""
    index = next(
        i for i, s in enumerate(lesson["steps"]) if s["claim"]["kind"] == "uncertainty_above"
    )
    got = outcome(index)
    assert np.max(got["plain_mc"]["std"]) < L.NO_SPREAD < np.max(got["mc"]["std"])


def test_hinge_starts_at_k_minus_1_and_cross_entropy_at_ln_k(lesson, outcome):
    steps = lesson["steps"]
    by_loss = {
        s["config"]["loss"]: outcome(i)["train"]["metrics"]
        for i, s in enumerate(steps)
        if s.get("instrument", {}).get("kind") == "initial_loss"
    }
    k = 8
    assert by_loss["hinge"]["initial_loss"] == pytest.approx(k - 1, rel=0.02)
    assert by_loss["cross_entropy"]["initial_loss"] == pytest.approx(math.log(k), rel=0.02)
