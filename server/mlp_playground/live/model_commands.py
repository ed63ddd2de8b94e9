"""Commands on the network itself: edit a weight, export or load a model document, and
check backprop's gradients. Worker thread, between two steps (see ``commands``)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from mlp_playground.live.connection import Connection
from mlp_playground.live.messages import ProtocolError
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.predictor import Predictor, check_model_shape

if TYPE_CHECKING:
    from mlp_playground.live.session import LiveSession

GRADCHECK_MAX_PER_PARAMETER = 10  # entries checked per tensor (docs/instruments.md)


def _set_weight(
    session: LiveSession, conn: Connection | None, parameter: str, index: tuple, value: float
) -> None:
    params = session.trainer.model.params
    if parameter not in params:
        raise ProtocolError(
            "invalid_value",
            f"unknown parameter {parameter!r}; parameters are {', '.join(params)}",
            "parameter",
        )
    array = params[parameter]
    if len(index) != array.ndim or any(
        not 0 <= i < n for i, n in zip(index, array.shape, strict=False)
    ):
        raise ProtocolError(
            "invalid_value", f"index must be within shape {list(array.shape)}", "index"
        )
    array[index] = value
    session.frames.dirty = True


def _get_model(session: LiveSession, conn: Connection | None) -> None:
    session.send(conn, {"type": "model", "model": session.trainer.model_document()})


def _load_model(
    session: LiveSession, conn: Connection | None, model: dict, done: Future | None = None
) -> None:
    """Replace the network by a model document: its shape, activations, features,
    normalisation, loss and weights (a re-initialisation from the document instead of
    the seed: step 0, fresh optimiser). The document is checked in full first, so a
    refused one leaves the session as it was. ``done`` (REST) gets the new config or
    the error instead of the connections."""
    if done is not None and not done.set_running_or_notify_cancel():
        return  # the REST caller gave up (and was told so): do not load behind its back
    try:
        load_document(session, model)
    except Exception as exc:
        if done is None:
            raise
        done.set_exception(exc)
        if not isinstance(exc, ConfigError):
            raise  # a bug: logged by apply_queued as well
        return
    if done is not None:
        done.set_result(session.state.config_dict())


def load_document(session: LiveSession, doc: dict) -> None:
    """Check ``doc`` against the session's limits and data, then re-initialise from it
    (ConfigError on field ``model``, the session unchanged)."""
    state = session.state
    trainer = state.trainer
    try:
        loaded = Predictor.from_document(doc)
    except ConfigError as exc:
        raise ConfigError("model", exc.message) from None
    check_model_shape("model", loaded.model, session.limits)
    n_out = 1 if trainer.data.regression else trainer.data.classes
    if loaded.model.n_outputs != n_out:
        what = "target" if trainer.data.regression else f"{n_out} classes"
        raise ConfigError(
            "model",
            f"the model has {loaded.model.n_outputs} outputs but the session's data has "
            f"{what}: change the classes first",
        )
    changed = {"network"}
    if loaded.loss and loaded.loss != state.config.loss:
        try:
            changed |= session.reconfigure({"loss": loaded.loss})
        except ConfigError as exc:
            raise ConfigError("model", f"the model's loss: {exc.message}") from None
    trainer.reset(initial_model=doc)
    state.config = trainer.config
    session.pacer.stop()
    session.frames.dirty = True
    session.pacer.rate_window.clear()
    session.broadcast_config(changed)
    # The reset event (with the initial-loss check) follows from apply_queued.


def _gradcheck(session: LiveSession, conn: Connection | None, points: int) -> None:
    """Backprop against centred differences on the first ``points`` training points,
    between two steps (sampled: at most 10 entries a tensor, under a second)."""
    reply = session.trainer.gradient_check(points, GRADCHECK_MAX_PER_PARAMETER)
    session.send(conn, {"type": "gradcheck", **reply, "step": session.trainer.step})


def _offer_model(session: LiveSession, conn: Connection | None) -> None:
    """Another process waits for this session's model document (``cluster.models``):
    offer one now, even if the model did not change since the last one or is paused."""
    if session.model_offer is not None:
        session.model_offer(session, True)


#: Merged into ``commands.COMMANDS`` (handlers take the session, the sender, the args).
COMMANDS: dict[str, Callable[..., None]] = {
    "set_weight": _set_weight,
    "_offer_model": _offer_model,
    "get_model": _get_model,
    "load_model": _load_model,
    "gradcheck": _gradcheck,
}
