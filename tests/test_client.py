"""mlp_playground.client against a real server: blocking and awaitable calls, errors."""

from __future__ import annotations

import asyncio
import math

import pytest

from mlp_playground.client import Client, PlaygroundError

BODY = {
    "dataset": {"name": "circle", "n_points": 200, "seed": 1},
    "network": {"hidden_layers": [8], "activation": "tanh"},
    "optimizer": {"name": "adam", "learning_rate": 0.03},
    "epochs": 30,
}


def test_train_then_predict_classifies_the_circle(live_server):
    pg = Client(live_server.url)
    result = pg.train(BODY)
    assert result["metrics"]["validation_accuracy"] >= 0.95
    assert math.isclose(result["metrics"]["expected_initial_loss"], math.log(2))
    # The disc's centre is class 0, a point far out on the ring class 1.
    labels = pg.predict(result["model"], [[0.0, 0.0], [4.0, 0.0]])["labels"]
    assert labels == [0, 1]


def test_keyword_fields_merge_into_the_body(live_server):
    result = Client(live_server.url).train(BODY, steps=7)
    assert result["metrics"]["steps"] == 7


def test_gradcheck_and_race(live_server):
    pg = Client(live_server.url)
    assert pg.gradcheck(BODY, points=8)["passed"] is True
    race = pg.race([{"name": "sgd", "learning_rate": 0.1}, {"name": "adam"}], BODY, epochs=3)
    assert [r["optimizer"]["name"] for r in race["runs"]] == ["sgd", "adam"]


def test_awaitable_calls_give_the_same_answers(live_server):
    pg = Client(live_server.url)

    async def both():
        return await asyncio.gather(pg.atrain(BODY, steps=20), pg.atrain(BODY, steps=20))

    a, b = asyncio.run(both())
    assert a["model"] == b["model"]  # same seed, same weights: deterministic
    assert a["model"] == pg.train(BODY, steps=20)["model"]


def test_a_refused_body_raises_with_the_field(live_server):
    with pytest.raises(PlaygroundError) as err:
        Client(live_server.url).train(BODY, batch_size=0)
    assert err.value.status == 422
    assert any(d["field"] == "batch_size" for d in err.value.detail)
    assert "batch_size" in str(err.value)


def test_save_get_and_delete_a_run(live_server):
    pg = Client(live_server.url)
    result = pg.train(BODY, steps=50)
    data = {"points": [[0.0, 0.0], [3.0, 0.5], [-0.2, 0.1], [0.1, -3.2]], "labels": [0, 1, 0, 1]}
    config = BODY  # the run's own points replace its generated dataset
    saved = pg.save_run(config, data, model=result["model"], title="circle, 8 tanh units")
    assert saved["url"] == f"/r/{saved['id']}" and saved["delete_token"]
    run = pg.get_run(saved["id"])
    assert run["title"] == "circle, 8 tanh units" and run["model"] == result["model"]
    assert run["data"]["points"] == data["points"] and run["data"]["labels"] == data["labels"]
    with pytest.raises(PlaygroundError) as wrong:
        pg.delete_run(saved["id"], "not-the-token")
    assert wrong.value.status == 403
    pg.delete_run(saved["id"], saved["delete_token"])
    with pytest.raises(PlaygroundError) as gone:
        pg.get_run(saved["id"])
    assert gone.value.status == 404
