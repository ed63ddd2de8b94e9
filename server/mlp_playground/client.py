"""A small client for scripts and notebooks: ``train``, ``predict``, ``gradcheck``, ``race``,
``save_run``, with or without ``await``.

    from mlp_playground.client import Client
    pg = Client("http://127.0.0.1:8000")
    result = pg.train({"dataset": {"name": "spiral", "classes": 3}, "epochs": 60})
    pg.predict(result["model"], [[0.0, 0.0]])["labels"]

    result = await pg.atrain(...)          # the same calls, awaitable, in a notebook

It uses only the standard library (``urllib``), so it works right after ``pip install
mlp-playground`` with no test extras; the awaitable forms run the same request in a worker
thread (``asyncio.to_thread``), which keeps a notebook's event loop free.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

Body = dict[str, Any]


class PlaygroundError(Exception):
    """The server refused a request: ``status`` and its ``detail`` (422s name the field)."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status, self.detail = status, detail
        if isinstance(detail, list):
            text = "; ".join(f"{d.get('field', '?')}: {d.get('msg', '')}" for d in detail)
        else:
            text = str(detail)
        super().__init__(f"HTTP {status}: {text}")


class Client:
    """One server's REST API. Bodies are the documented JSON (README, ``/docs``)."""

    def __init__(self, url: str = "http://127.0.0.1:8000", timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    # ------------------------------------------------------------------ blocking calls

    def request(
        self, method: str, path: str, body: Body | None = None, headers: dict | None = None
    ) -> Any:
        """One JSON request; raises ``PlaygroundError`` on any non-2xx answer."""
        data = None if body is None else json.dumps(body).encode()
        sent = {"content-type": "application/json"} if data is not None else {}
        req = urllib.request.Request(
            self.url + path, data, {**sent, **(headers or {})}, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw).get("detail", raw.decode(errors="replace"))
            except (ValueError, AttributeError):
                detail = raw.decode(errors="replace")
            raise PlaygroundError(exc.code, detail) from None
        return json.loads(raw) if raw else None

    def train(self, body: Body | None = None, **fields: Any) -> Body:
        """``POST /train``: the model document, history and metrics. Keyword arguments
        are merged into ``body`` (``pg.train(epochs=30)`` trains the defaults)."""
        return self.request("POST", "/train", {**(body or {}), **fields})

    def predict(self, model: Body | str, points: list[list[float]], **fields: Any) -> Body:
        """``POST /predict`` with a model document, or a saved run's id (a ``str``)."""
        source = {"run": model} if isinstance(model, str) else {"model": model}
        return self.request("POST", "/predict", {**source, "points": points, **fields})

    def gradcheck(self, body: Body | None = None, **fields: Any) -> Body:
        """``POST /gradcheck``: backprop against centred differences."""
        return self.request("POST", "/gradcheck", {**(body or {}), **fields})

    def race(self, optimizers: list[Body], body: Body | None = None, **fields: Any) -> Body:
        """``POST /race``: the same initial weights trained by each optimiser."""
        return self.request("POST", "/race", {**(body or {}), **fields, "optimizers": optimizers})

    def save_run(
        self,
        config: Body,
        data: Body,
        model: Body | None = None,
        history: Body | None = None,
        title: str | None = None,
    ) -> Body:
        """``POST /runs``: store a snapshot; returns ``id``, ``url`` and ``delete_token``.

        ``config`` is a ``/train`` body and ``data`` its points (``{"points", "labels"}``);
        pass a ``train`` result's ``model`` and ``history`` to share the trained network.
        """
        body: Body = {"config": config, "data": data}
        body.update(
            {
                k: v
                for k, v in (("model", model), ("history", history), ("title", title))
                if v is not None
            }
        )
        return self.request("POST", "/runs", body)

    def get_run(self, run_id: str) -> Body:
        """``GET /runs/{id}``: a saved run."""
        return self.request("GET", f"/runs/{run_id}")

    def delete_run(self, run_id: str, delete_token: str) -> None:
        """``DELETE /runs/{id}`` with the token ``save_run`` returned."""
        self.request("DELETE", f"/runs/{run_id}", headers={"X-Delete-Token": delete_token})

    def options(self) -> Body:
        """``GET /api/options``: every choice, the defaults and the limits."""
        return self.request("GET", "/api/options")

    # ------------------------------------------------------------------ awaitable calls

    async def atrain(self, body: Body | None = None, **fields: Any) -> Body:
        return await asyncio.to_thread(self.train, body, **fields)

    async def apredict(self, model: Body | str, points: list[list[float]], **fields: Any) -> Body:
        return await asyncio.to_thread(self.predict, model, points, **fields)

    async def agradcheck(self, body: Body | None = None, **fields: Any) -> Body:
        return await asyncio.to_thread(self.gradcheck, body, **fields)

    async def arace(self, optimizers: list[Body], body: Body | None = None, **fields: Any) -> Body:
        return await asyncio.to_thread(self.race, optimizers, body, **fields)

    async def asave_run(self, config: Body, data: Body, **fields: Any) -> Body:
        return await asyncio.to_thread(self.save_run, config, data, **fields)
