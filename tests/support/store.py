"""Plain helpers of the store tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any


class FakeClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, t: float = 1_750_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def sample_run(n_points: int = 50, seed: int = 0, title: str | None = "a run") -> dict[str, Any]:
    """A run as ``validate_run`` would produce it (canonical enough for the store)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        "title": title,
        "config": {"network": {"hidden_layers": [8, 8]}, "seed": seed},
        "data": {
            "points": rng.uniform(-6, 6, (n_points, 2)).tolist(),
            "labels": rng.integers(0, 2, n_points).tolist(),
            "classes": 2,
        },
        "model": None,
        "history": {"epoch": [0, 1, 2], "train_loss": [0.7, 0.5, None]},
    }
