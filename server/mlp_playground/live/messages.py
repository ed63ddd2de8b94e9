"""Parsing and validating client messages (the table in docs/protocol.md).

Everything a client sends is checked here, on the event loop, before it reaches a session:
shapes, types and ranges that do not depend on the session's state. Checks that do (a label
below the number of classes, a config merged with the current one, a weight index inside
its matrix) happen in the session, between two steps. Either way a bad message becomes a
``ProtocolError`` that the connection turns into an ``error`` message; the session and the
connection stay as they were.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from mlp_playground.config import Settings

#: Messages a watcher may send: they read the session and change nothing.
READ_ONLY_TYPES = frozenset({"get_model"})

#: Every client message type, in the order of docs/protocol.md.
MESSAGE_TYPES = (
    "configure",
    "play",
    "pause",
    "step",
    "reset",
    "reseed",
    "regenerate",
    "add_point",
    "remove_point",
    "clear_points",
    "set_data",
    "set_weight",
    "subscribe",
    "get_model",
    "gradcheck",
    "load_model",
    "save",
    "load_run",
)

#: Coordinates beyond this are certainly a mistake (the generated data lives in [-6, 6]).
MAX_COORDINATE = 1e6
DEFAULT_REMOVE_RADIUS = 0.5
DEFAULT_GRADCHECK_POINTS = 32
#: A saved run's id as ``POST /runs`` makes them (12 characters; a little room for others).
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MIN_TRANSFORM_MESH, MAX_TRANSFORM_MESH, DEFAULT_TRANSFORM_MESH = 2, 51, 21


class ProtocolError(Exception):
    """A client message we refuse, with its protocol error code and the offending field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_message(self, request_type: str | None = None) -> dict[str, Any]:
        """The ``error`` message sent to the client."""
        return {
            "type": "error",
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "request_type": request_type,
        }


@dataclass
class ClientMessage:
    """A validated client message: its type and its checked arguments."""

    type: str
    args: dict[str, Any] = field(default_factory=dict)


#: A pseudo-command: the worker answers it with the session's ``data`` message (and the
#: ``reset`` event, then a frame) for a new watcher or owner, in order with the commands
#: queued before it.
DATA_REQUEST = ClientMessage("_data")


def decode(text: str) -> dict[str, Any]:
    """JSON text -> the message object (``invalid_json`` / ``invalid_message`` otherwise)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("invalid_message", "a message must be a JSON object with a 'type'")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "a message needs a string 'type'", "type")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown message type {kind!r}; valid types are {', '.join(MESSAGE_TYPES)}",
            "type",
        )
    return obj


def parse_message(text: str, settings: Settings) -> ClientMessage:
    """Decode and validate one text message."""
    obj = decode(text)
    kind = obj["type"]
    parser = _PARSERS.get(kind)
    args = parser(obj, settings) if parser else {}
    return ClientMessage(kind, args)


# --- field helpers -------------------------------------------------------------------------


def _int(obj: dict, name: str, lo: int, hi: int, default: int | None = None) -> int:
    value = obj.get(name, default)
    if value is None:
        raise ProtocolError("invalid_message", f"{name} is required", name)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        # NaN/Infinity literals parse as floats; int() of them raises instead of comparing.
        or (isinstance(value, float) and not math.isfinite(value))
        or value != int(value)
    ):
        raise ProtocolError("invalid_value", f"{name} must be an integer, got {value!r}", name)
    value = int(value)
    if not lo <= value <= hi:
        raise ProtocolError(
            "invalid_value", f"{name} must be between {lo} and {hi}, got {value}", name
        )
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError("invalid_value", f"{name} must be a number, got {value!r}", name)
    try:
        value = float(value)
    except OverflowError:  # an integer literal with hundreds of digits
        value = math.inf
    if not math.isfinite(value):
        raise ProtocolError("invalid_value", f"{name} must be finite", name)
    return value


def _bool(obj: dict, name: str) -> bool:
    value = obj[name]
    if not isinstance(value, bool):
        raise ProtocolError("invalid_value", f"{name} must be true or false", name)
    return value


def _point(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError("invalid_value", f"{name} must be [x1, x2]", name)
    x1, x2 = (_number(v, name) for v in value)
    if abs(x1) > MAX_COORDINATE or abs(x2) > MAX_COORDINATE:
        raise ProtocolError(
            "invalid_value", f"{name} coordinates must be within ±{MAX_COORDINATE:g}", name
        )
    return x1, x2


def _label(value: Any, name: str, settings: Settings) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError("invalid_value", f"{name} must be an integer class", name)
    if not 0 <= value < settings.max_classes:
        raise ProtocolError(
            "invalid_value", f"{name} must be between 0 and {settings.max_classes - 1}", name
        )
    return value


# --- one parser per message type -----------------------------------------------------------


def _configure(obj: dict, settings: Settings) -> dict:
    config = obj.get("config")
    if not isinstance(config, dict):
        raise ProtocolError("invalid_message", "configure needs a 'config' object", "config")
    return {"config": config}


def _step(obj: dict, settings: Settings) -> dict:
    return {"steps": _int(obj, "steps", 1, settings.max_step_message, default=1)}


def _add_point(obj: dict, settings: Settings) -> dict:
    if "point" not in obj or "label" not in obj:
        raise ProtocolError("invalid_message", "add_point needs 'point' and 'label'", "point")
    return {
        "point": _point(obj["point"], "point"),
        "label": _label(obj["label"], "label", settings),
    }


def _remove_point(obj: dict, settings: Settings) -> dict:
    if "point" not in obj:
        raise ProtocolError("invalid_message", "remove_point needs 'point'", "point")
    radius = _number(obj.get("radius", DEFAULT_REMOVE_RADIUS), "radius")
    if radius <= 0:
        raise ProtocolError("invalid_value", "radius must be > 0", "radius")
    return {"point": _point(obj["point"], "point"), "radius": radius}


def _set_data(obj: dict, settings: Settings) -> dict:
    points, labels = obj.get("points"), obj.get("labels")
    if not isinstance(points, list) or not isinstance(labels, list):
        raise ProtocolError(
            "invalid_message", "set_data needs 'points' and 'labels' lists", "points"
        )
    if not 1 <= len(points) <= settings.max_live_points:
        raise ProtocolError(
            "invalid_value",
            f"points must hold 1 to {settings.max_live_points} points, got {len(points)}",
            "points",
        )
    if len(labels) != len(points):
        raise ProtocolError(
            "invalid_value",
            f"labels has {len(labels)} entries for {len(points)} points",
            "labels",
        )
    parsed_points = [_point(p, f"points[{i}]") for i, p in enumerate(points)]
    parsed_labels = [_label(v, f"labels[{i}]", settings) for i, v in enumerate(labels)]
    args: dict[str, Any] = {"points": parsed_points, "labels": parsed_labels}
    if "classes" in obj:
        args["classes"] = _int(obj, "classes", 2, settings.max_classes)
    return args


def _set_weight(obj: dict, settings: Settings) -> dict:
    parameter = obj.get("parameter")
    if not isinstance(parameter, str):
        raise ProtocolError("invalid_message", "set_weight needs a 'parameter' name", "parameter")
    index = obj.get("index", [])
    if not isinstance(index, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in index
    ):
        raise ProtocolError("invalid_value", "index must be a list of integers", "index")
    if "value" not in obj:
        raise ProtocolError("invalid_message", "set_weight needs a 'value'", "value")
    return {"parameter": parameter, "index": tuple(index), "value": _number(obj["value"], "value")}


def _subscribe(obj: dict, settings: Settings) -> dict:
    args: dict[str, Any] = {}
    if "grid_resolution" in obj:
        args["grid_resolution"] = _int(
            obj, "grid_resolution", settings.min_grid_resolution, settings.max_live_grid_resolution
        )
    for name in ("fps", "neuron_fps"):
        if name not in obj or (name == "neuron_fps" and obj[name] is None):
            continue
        rate = _number(obj[name], name)
        if not 1 <= rate <= settings.max_fps:
            raise ProtocolError(
                "invalid_value",
                f"{name} must be between 1 and {settings.max_fps}, got {rate:g}",
                name,
            )
        args[name] = rate
    if obj.get("neuron_fps", 0) is None:
        args["neuron_fps"] = None  # unit grids with every frame again
    if "neurons" in obj:
        args["neurons"] = _bool(obj, "neurons")
    if "neuron_resolution" in obj:
        args["neuron_resolution"] = _int(
            obj,
            "neuron_resolution",
            settings.min_neuron_resolution,
            settings.max_neuron_resolution,
        )
    if "stats" in obj:
        args["stats"] = _bool(obj, "stats")
    if "uncertainty" in obj:
        args["uncertainty"] = _bool(obj, "uncertainty")
    if "transform" in obj:
        args["transform"] = _transform(obj["transform"], settings)
    return args


def _transform(value: Any, settings: Settings) -> dict[str, Any] | None:
    """``{"layer": i, "units": [a, b], "mesh": n}`` or null; the session checks that the
    layer and units exist in its network."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError(
            "invalid_value", 'transform must be {"layer": i, "units": [a, b]} or null', "transform"
        )
    unknown = set(value) - {"layer", "units", "mesh"}
    if unknown:
        raise ProtocolError(
            "invalid_value",
            f"unknown transform field {sorted(unknown)[0]!r}; fields are layer, units, mesh",
            "transform",
        )
    try:
        layer = _int(value, "layer", 0, settings.max_hidden_layers - 1)
        units = value.get("units")
        if not isinstance(units, list) or len(units) != 2:
            raise ProtocolError("invalid_value", "units must be a pair [a, b]", "units")
        pair = [_int({"units": u}, "units", 0, settings.max_units - 1) for u in units]
        mesh = _int(value, "mesh", MIN_TRANSFORM_MESH, MAX_TRANSFORM_MESH, DEFAULT_TRANSFORM_MESH)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, f"transform.{exc.field}") from None
    return {"layer": layer, "units": pair, "mesh": mesh}


def _gradcheck(obj: dict, settings: Settings) -> dict:
    return {
        "points": _int(
            obj, "points", 1, settings.max_gradcheck_points, default=DEFAULT_GRADCHECK_POINTS
        )
    }


def _load_model(obj: dict, settings: Settings) -> dict:
    model = obj.get("model")
    if not isinstance(model, dict):
        raise ProtocolError(
            "invalid_message", "load_model needs a 'model' object (a model document)", "model"
        )
    return {"model": model}


def _save(obj: dict, settings: Settings) -> dict:
    """``title`` is optional; its length and characters are checked with the run itself."""
    title = obj.get("title")
    if title is not None and not isinstance(title, str):
        raise ProtocolError("invalid_value", "title must be a string or null", "title")
    return {"title": title}


def _load_run(obj: dict, settings: Settings) -> dict:
    run_id = obj.get("id")
    if not isinstance(run_id, str):
        raise ProtocolError("invalid_message", "load_run needs the run's 'id'", "id")
    if not RUN_ID.match(run_id):
        raise ProtocolError("not_found", f"no saved run with id {run_id[:40]!r}", "id")
    return {"id": run_id}


_PARSERS = {
    "configure": _configure,
    "step": _step,
    "add_point": _add_point,
    "remove_point": _remove_point,
    "set_data": _set_data,
    "set_weight": _set_weight,
    "subscribe": _subscribe,
    "gradcheck": _gradcheck,
    "load_model": _load_model,
    "save": _save,
    "load_run": _load_run,
}
