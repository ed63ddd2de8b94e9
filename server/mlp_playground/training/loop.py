"""The trainer's loop part: steps, stop conditions, evaluation and history.

``TrainerLoop`` owns the counters (``step``, ``epoch``), the divergence flag and the
history, and walks the epochs of a ``TrainerData``. The model, the optimiser, the config and
the RNG belong to the trainer (which replaces them on a reset or an edit) and are passed to
the call that uses them.

The per-step path is deliberately bare: an epoch's shuffled copy of the training set is
gathered once per epoch (``TrainerData.start_epoch``), a mini-batch is two slices (views),
and a step is one ``loss_and_grads`` plus one ``optimizer.step``. Divergence is detected
from the loss (a float test, free) and, once per ``run_steps`` call, from the weights; the
weights at the start of the call are the rollback point, so no per-step copy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import Optimizer
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.data import TrainerData
from mlp_playground.training.state import Metrics, StepResult, accuracy, finite_or_none

HISTORY_CAP = 20_000
"""Most history entries kept (oldest dropped): bounds a live session that runs for hours."""


class TrainerLoop:
    """Counters, divergence, history, and the steps that move them."""

    def __init__(self, feed: TrainerData, record_history: bool = True) -> None:
        self.feed = feed
        #: Whether each epoch's end appends a history entry (live sessions keep their own).
        self.record_history = record_history
        self.restart()

    def restart(self) -> None:
        """Step 0 of epoch 0, no history (a reset)."""
        self.step = 0
        self.epoch = 0
        self.diverged = False
        self.history: list[dict] = []

    def run_steps(
        self,
        k: int,
        config: TrainConfig,
        model: MLP,
        optimizer: Optimizer,
        rng: np.random.Generator,
    ) -> StepResult:
        """Run up to ``k`` optimiser updates; stop early on divergence or a stop condition.

        On divergence (a non-finite loss, or non-finite weights at the end of the call) the
        weights go back to where this call started, the optimiser state is cleared, and
        ``diverged`` is set. The loop binds everything it touches to locals: it is the
        training hot path (docs/design.md, "The engine"), kept whole so that a step costs
        no extra Python call.
        """
        self.diverged = False
        feed = self.feed
        if k <= 0 or len(feed.y_train) == 0:
            return StepResult(0, False)
        cfg = config
        params, grads = model.params, model.grads
        loss_and_grads = model.loss_and_grads
        update = optimizer.step
        loss, reg = cfg.loss, cfg.regularization["kind"]
        strength = cfg.regularization["strength"]
        batch_size, shuffle = cfg.batch_size, cfg.shuffle
        isfinite = math.isfinite
        scheduled = cfg.schedule["kind"] != "constant"
        rate_at = cfg.learning_rate_at
        set_hparams = optimizer.set
        set_hparams(learning_rate=rate_at(self.step))
        stopped = None
        snapshot = params.flat.copy()  # one contiguous buffer holds every parameter
        start = (self.step, self.epoch)
        # The epoch being walked, not the training set: points added mid-epoch join the next
        # epoch, and counting them here ran the position past the end (an empty batch).
        X_epoch, y_epoch = feed.X_epoch, feed.y_epoch
        n = len(y_epoch)
        done = 0
        diverged = False
        while done < k:
            pos = feed.pos
            if pos == 0:
                feed.start_epoch(shuffle, rng)
                X_epoch, y_epoch = feed.X_epoch, feed.y_epoch
                n = len(y_epoch)
            end = pos + batch_size
            result = loss_and_grads(X_epoch[pos:end], y_epoch[pos:end], loss, reg, strength, True)
            if not isfinite(result.total_loss):
                diverged = True
                break
            if scheduled:
                set_hparams(learning_rate=rate_at(self.step))
            update(params, grads)
            done += 1
            self.step += 1
            if end < n:
                feed.pos = end
            else:
                stopped = self._end_epoch(cfg, model)
                if stopped is not None:
                    break
        if diverged or not isfinite(float(params.flat.sum())):
            self._roll_back(model, optimizer, snapshot, start[0], start[1])
            return StepResult(0, True)
        if scheduled:
            set_hparams(learning_rate=rate_at(self.step))  # the reported current rate
        return StepResult(done, False, stopped)

    def _end_epoch(self, config: TrainConfig, model: MLP) -> str | None:
        """Close the epoch just walked: history entry, then the stop condition met, if any."""
        self.feed.pos = 0
        self.epoch += 1
        m = self._record(config, model) if self.record_history else None
        return self._stop_condition(config, model, m) if config.stops else None

    def _roll_back(
        self, model: MLP, optimizer: Optimizer, snapshot: np.ndarray, step: int, epoch: int
    ) -> None:
        """Undo a diverged ``run_steps`` call: weights, counters and history as they were.

        The interrupted epoch's order is gone, so the next step starts a fresh epoch.
        """
        model.params.flat[...] = snapshot
        optimizer.reset()
        self.step, self.epoch, self.feed.pos = step, epoch, 0
        self.history = [h for h in self.history if h["step"] <= step]
        self.diverged = True

    def _stop_condition(
        self, config: TrainConfig, model: MLP, m: Metrics | None = None
    ) -> str | None:
        """The first ``config.stop`` condition met at this epoch's end, else None."""
        stop = config.stop
        if stop["epochs"] is not None and self.epoch >= stop["epochs"]:
            return "epochs"
        if stop["validation_loss"] is None and stop["validation_accuracy"] is None:
            return None
        if m is None:
            with np.errstate(all="ignore"):
                m = self.evaluate(config, model)
        target = stop["validation_loss"]
        if target is not None and m.validation_loss is not None and m.validation_loss <= target:
            return "validation_loss"
        target = stop["validation_accuracy"]
        if (
            target is not None
            and m.validation_accuracy is not None
            and m.validation_accuracy >= target
        ):
            return "validation_accuracy"
        return None

    # ---------------------------------------------------------------- metrics, history

    def _record(self, config: TrainConfig, model: MLP) -> Metrics:
        m = self.evaluate(config, model)
        self.history.append(
            {
                "epoch": self.epoch,
                "step": self.step,
                "train_loss": finite_or_none(m.train_loss),
                "train_accuracy": m.train_accuracy,
                "validation_loss": finite_or_none(m.validation_loss),
                "validation_accuracy": m.validation_accuracy,
            }
        )
        if len(self.history) > HISTORY_CAP:
            del self.history[: len(self.history) - HISTORY_CAP]
        return m

    def record(self, config: TrainConfig, model: MLP) -> None:
        """Append the current state to the history (e.g. at step 0 or mid-epoch at the end)."""
        if not self.history or self.history[-1]["step"] != self.step:
            self._record(config, model)

    def evaluate(self, config: TrainConfig, model: MLP) -> Metrics:
        """Loss and accuracy on both splits, without dropout (no parameter changes)."""
        feed = self.feed
        reg = config.regularization["kind"]
        strength = config.regularization["strength"]
        regression = feed.data.regression
        if len(feed.y_train) == 0:
            nan = math.nan
            return Metrics(nan, None, None, None, nan, nan, nan)
        r = model.loss(feed.X_train, feed.y_train, config.loss, reg, strength)
        train_acc = None if regression else accuracy(r.scores, feed.y_train)
        val_loss = val_acc = None
        if len(feed.y_val):
            v = model.loss(feed.X_val, feed.y_val, config.loss, reg, strength)
            val_loss = float(v.data_loss)
            val_acc = None if regression else accuracy(v.scores, feed.y_val)
        return Metrics(
            train_loss=float(r.data_loss),
            train_accuracy=train_acc,
            validation_loss=val_loss,
            validation_accuracy=val_acc,
            data_loss=float(r.data_loss),
            regularization_loss=float(r.reg_loss),
            total_loss=float(r.total_loss),
        )

    # ---------------------------------------------------------------- resumable state

    def state_dict(self) -> dict[str, Any]:
        """Counters, divergence flag and history (a copy)."""
        return {
            "step": int(self.step),
            "epoch": int(self.epoch),
            "diverged": bool(self.diverged),
            "history": [dict(h) for h in self.history],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take ``state`` (from ``state_dict``); ``ValueError`` naming a missing or bad key,
        with this object left as it was. ``history`` may be absent (taken as empty)."""
        values = {}
        for key in ("step", "epoch"):
            if key not in state:
                raise ValueError(f"loop state has no {key!r}")
            v = state[key]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"loop state {key!r} must be a non-negative integer, got {v!r}")
            values[key] = int(v)
        history = state.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, Mapping) for h in history):
            raise ValueError("loop state 'history' must be a list of entries")
        self.step, self.epoch = values["step"], values["epoch"]
        self.diverged = bool(state.get("diverged", False))
        self.history = [dict(h) for h in history]
