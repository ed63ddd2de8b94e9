"""The NumPy engine: a multilayer perceptron, its losses, optimisers and instruments.

Imports numpy and the standard library only. See docs/internals.md for the interface.
"""

from .activations import ACTIVATIONS
from .gradcheck import GradCheckResult, gradient_check
from .initializers import INITIALIZERS
from .losses import LOSSES
from .model import MLP, LossResult
from .optimizers import OPTIMIZERS, Optimizer, make_optimizer
from .regularization import REGULARIZATIONS
from .serialization import LoadedModel, ModelDocumentError, model_from_document, model_to_document

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "MLP",
    "OPTIMIZERS",
    "REGULARIZATIONS",
    "GradCheckResult",
    "LoadedModel",
    "LossResult",
    "ModelDocumentError",
    "Optimizer",
    "gradient_check",
    "make_optimizer",
    "model_from_document",
    "model_to_document",
]
