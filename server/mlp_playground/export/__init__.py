"""Take the model home: a network, or a whole training run, as a standalone Python script.

``model_script(Network.from_document(doc, limits), fmt)`` writes a trained network as a
NumPy or PyTorch program (``predict_proba``, ``predict``, ``python script.py X1 X2``);
``training_script(trainer, steps, fmt)`` writes a fresh ``/train`` run (its points, initial
weights, batch order and dropout masks) whose ``train()`` returns the history ``/train``
answers. The scripts import numpy (and torch), never this project. This package reads
``training``, ``nn`` and ``data``; the routes call it (docs/export.md).
"""

from mlp_playground.export.model_script import model_script
from mlp_playground.export.network import Network
from mlp_playground.export.training_script import numpy_training_script
from mlp_playground.export.training_torch import torch_training_script
from mlp_playground.training.trainer import Trainer

FORMATS = ("numpy", "pytorch")
"""Script flavours: NumPy only, or NumPy and PyTorch."""

__all__ = ["FORMATS", "Network", "model_script", "training_script"]


def training_script(trainer: Trainer, steps: int, fmt: str) -> str:
    """The training script of a fresh ``trainer`` (no step made) for ``steps`` updates."""
    if fmt == "pytorch":
        return torch_training_script(trainer, steps)
    return numpy_training_script(trainer, steps)
