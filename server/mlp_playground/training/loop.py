"""The trainer's step loop, stop conditions, evaluation and history.

``TrainerLoop`` is the part of ``Trainer`` that trains. The per-step path is deliberately
bare: an epoch's shuffled copy of the training set is gathered once per epoch (by
``TrainerData._start_epoch``), a mini-batch is two slices (views), and a step is one
``loss_and_grads`` plus one ``optimizer.step``. Divergence is detected from the loss (a
float test, free) and, once per ``run_steps`` call, from the weights; the weights at the
start of the call are the rollback point, so no per-step copy is needed.
"""

from __future__ import annotations

import math

import numpy as np

from mlp_playground.training.state import (
    Metrics,
    StepResult,
    TrainerState,
    accuracy,
    finite_or_none,
)

HISTORY_CAP = 20_000
"""Most history entries kept (oldest dropped): bounds a live session that runs for hours."""


class TrainerLoop(TrainerState):
    """Steps, stop conditions, metrics and history (part of ``Trainer``)."""

    @property
    def learning_rate(self) -> float:
        """The rate the next update uses (the schedule applied to the base rate)."""
        return self.config.learning_rate_at(self.step)

    def run_steps(self, k: int) -> StepResult:
        """Run up to ``k`` optimiser updates; stop early on divergence or a stop condition.

        On divergence (a non-finite loss, or non-finite weights at the end of the call) the
        weights go back to where this call started, the optimiser state is cleared, and
        ``diverged`` is set. The loop binds everything it touches to locals: it is the
        training hot path (docs/design.md, "The engine").
        """
        self.diverged = False
        if k <= 0 or len(self._y_train) == 0:
            return StepResult(0, False)
        cfg = self.config
        params, grads = self.model.params, self.model.grads
        loss_and_grads = self.model.loss_and_grads
        update = self.optimizer.step
        loss, reg = cfg.loss, cfg.regularization["kind"]
        strength = cfg.regularization["strength"]
        isfinite = math.isfinite
        scheduled = cfg.schedule["kind"] != "constant"
        rate_at = cfg.learning_rate_at
        set_hparams = self.optimizer.set
        set_hparams(learning_rate=rate_at(self.step))
        stopped = None
        snapshot = params.flat.copy()  # one contiguous buffer holds every parameter
        start = (self.step, self.epoch, self._pos)
        # The epoch being walked, not the training set: points added mid-epoch join the next
        # epoch, and counting them here ran the position past the end (an empty batch).
        n = len(self._y_epoch)
        done = 0
        diverged = False
        while done < k:
            pos = self._pos
            if pos == 0:
                self._start_epoch()
                n = len(self._y_epoch)
            end = pos + cfg.batch_size
            result = loss_and_grads(
                self._X_epoch[pos:end], self._y_epoch[pos:end], loss, reg, strength, True
            )
            if not isfinite(result.total_loss):
                diverged = True
                break
            if scheduled:
                set_hparams(learning_rate=rate_at(self.step))
            update(params, grads)
            done += 1
            self.step += 1
            if end < n:
                self._pos = end
            else:
                stopped = self._end_epoch()
                if stopped is not None:
                    break
        if diverged or not isfinite(float(params.flat.sum())):
            self._roll_back(snapshot, start[0], start[1])
            return StepResult(0, True)
        if scheduled:
            set_hparams(learning_rate=rate_at(self.step))  # the reported current rate
        return StepResult(done, False, stopped)

    def _end_epoch(self) -> str | None:
        """Close the epoch just walked: history entry, then the stop condition met, if any."""
        self._pos = 0
        self.epoch += 1
        m = self._record() if self.record_history else None
        return self._stop_condition(m) if self.config.stops else None

    def _roll_back(self, snapshot: np.ndarray, step: int, epoch: int) -> None:
        """Undo a diverged ``run_steps`` call: weights, counters and history as they were.

        The interrupted epoch's order is gone, so the next step starts a fresh epoch.
        """
        self.model.params.flat[...] = snapshot
        self.optimizer.reset()
        self.step, self.epoch, self._pos = step, epoch, 0
        self.history = [h for h in self.history if h["step"] <= step]
        self.diverged = True

    def _stop_condition(self, m: Metrics | None = None) -> str | None:
        """The first ``config.stop`` condition met at this epoch's end, else None."""
        stop = self.config.stop
        if stop["epochs"] is not None and self.epoch >= stop["epochs"]:
            return "epochs"
        if stop["validation_loss"] is None and stop["validation_accuracy"] is None:
            return None
        if m is None:
            with np.errstate(all="ignore"):
                m = self.evaluate()
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

    def run_epochs(self, n: int) -> StepResult:
        """Run ``n`` epochs' worth of steps (from the current position)."""
        return self.run_steps(n * self.steps_per_epoch)

    # ---------------------------------------------------------------- metrics, history

    def _record(self) -> Metrics:
        m = self.evaluate()
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

    def record(self) -> None:
        """Append the current state to the history (e.g. at step 0 or mid-epoch at the end)."""
        if not self.history or self.history[-1]["step"] != self.step:
            self._record()

    def evaluate(self) -> Metrics:
        """Loss and accuracy on both splits, without dropout (no parameter changes)."""
        cfg = self.config
        reg = cfg.regularization["kind"]
        strength = cfg.regularization["strength"]
        regression = self.data.regression
        if len(self._y_train) == 0:
            nan = math.nan
            return Metrics(nan, None, None, None, nan, nan, nan)
        r = self.model.loss(self._X_train, self._y_train, cfg.loss, reg, strength)
        train_acc = None if regression else accuracy(r.scores, self._y_train)
        val_loss = val_acc = None
        if len(self._y_val):
            v = self.model.loss(self._X_val, self._y_val, cfg.loss, reg, strength)
            val_loss = float(v.data_loss)
            val_acc = None if regression else accuracy(v.scores, self._y_val)
        return Metrics(
            train_loss=float(r.data_loss),
            train_accuracy=train_acc,
            validation_loss=val_loss,
            validation_accuracy=val_acc,
            data_loss=float(r.data_loss),
            regularization_loss=float(r.reg_loss),
            total_loss=float(r.total_loss),
        )
