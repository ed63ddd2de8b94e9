"""The websocket fuzzer (bench/fuzz_ws.py) in its short form, plus the exact bad inputs it
found: every answer is an ``error`` or the documented close code, and the session still
trains afterwards. Long form: ``python bench/fuzz_ws.py`` (20,000 cases)."""

from __future__ import annotations

import json
import os

import pytest

from tests.support import ws_fuzz as fuzz
from tests.support.ws import owner, run, send, step_advances, until

pytestmark = pytest.mark.timeout(180)
CASES = int(
    os.environ.get("MLPG_FUZZ_WS_CASES", "20000" if os.environ.get("MLPG_FUZZ_LONG") else "400")
)


@pytest.fixture
def fast_server(server_factory):
    """A server whose rate limit does not get in the way of the fuzzer's pace."""
    return server_factory({"MLPG_MAX_MESSAGES_PER_SECOND": "100000"})


def test_fuzzed_messages_get_errors_and_the_session_still_trains(fast_server, capsys):
    out = run(fuzz.fuzz_messages(fast_server.ws_url, CASES, seed=1))
    with capsys.disabled():
        print(f"\nws fuzz: {out}")
    assert out["cases"] == CASES
    # Most mutants are wrong: each got an error (the rest are valid and were applied).
    assert out["errors"] >= CASES // 3
    assert {"invalid_json", "invalid_message", "invalid_value", "unknown_type"} <= set(out["codes"])
    assert "internal_error" not in out["codes"]
    assert out["steps_after"] > 0


def test_binary_and_oversized_frames_close_with_1003_and_1009(fast_server):
    assert run(fuzz.close_cases(fast_server.ws_url)) == 6


def test_flood_of_1000_messages_is_rate_limited_and_the_connection_kept(server_factory):
    server = server_factory()
    out = run(fuzz.flood(server.ws_url, messages=1000, seconds=1.0))
    assert out["rate_limited"] >= 1
    assert out["steps_after"] > 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"type": "step", "steps": NaN}', "steps"),
        ('{"type": "step", "steps": Infinity}', "steps"),
        ('{"type": "step", "steps": 1e400}', "steps"),
        ('{"type": "subscribe", "grid_resolution": -Infinity}', "grid_resolution"),
        ('{"type": "subscribe", "fps": NaN}', "fps"),
        ('{"type": "add_point", "point": [1' + "0" * 400 + ', 0], "label": 0}', "point"),
        ('{"type": "set_weight", "parameter": "dense0.W", "index": [0, 0], "value": NaN}', "value"),
        (
            '{"type": "configure", "config": {"optimizer": {"learning_rate": 1' + "0" * 400 + "}}}",
            "config.optimizer.learning_rate",
        ),
        ('{"type": "configure", "config": {"speed": Infinity}}', "config.speed"),
    ],
)
def test_non_finite_and_huge_numbers_are_invalid_value_errors(live_server, text, field):
    async def main():
        ws, _ = await owner(live_server.ws_url)
        async with ws:
            await ws.send(text)
            err = await until(ws, "error")
            assert err["code"] == "invalid_value", err
            assert err["field"] == field, err
            await send(ws, "get_model")
            assert (await until(ws, "model"))["model"]["format"] == "mlp-playground.model/1"

    run(main())


def test_deep_nesting_is_invalid_json_and_connection_stays(live_server):
    async def main():
        ws, _ = await owner(live_server.ws_url)
        async with ws:
            await ws.send("[" * 30000 + "]" * 30000)
            err = await until(ws, "error")
            assert err["code"] == "invalid_json"
            await ws.send(json.dumps({"type": "configure", "config": {"a": [[[[[[1]]]]]]}}))
            err = await until(ws, "error")
            assert err["code"] == "invalid_value" and err["request_type"] == "configure"
            assert await step_advances(ws) > 0

    run(main())
