"""The PyTorch training script: the run of ``training_script`` with autograd and torch.optim.

The data, settings, initial weights, random stream and epoch loop are the NumPy script's
(``training_script``); here the network is an ``nn.Sequential`` in float64, the loss is
torch's (the hinge rescaled to ours), and the update is ``torch.optim``'s, whose formulas
are the engine's: the histories agree to rounding.
"""

from __future__ import annotations

from mlp_playground.export import pieces
from mlp_playground.export.model_script import torch_sequential
from mlp_playground.export.network import Network
from mlp_playground.export.training_script import (
    FINITE,
    HISTORY_LOOP,
    MAIN,
    NO_STOP_CODE,
    STOP_CODE,
    _doc,
    embedded_run,
)
from mlp_playground.training.trainer import Trainer

TORCH_LOSSES = {
    "cross_entropy": (
        "def data_loss(scores, y):\n"
        '    """Softmax cross-entropy, the mean over the batch."""\n'
        "    return F.cross_entropy(scores, y)\n"
    ),
    "hinge": (
        "def data_loss(scores, y):\n"
        '    """Multiclass hinge: mean of sum_{j != y} max(0, 1 + s_j - s_y). torch\'s\n'
        '    multi_margin_loss divides the sum by the number of classes: undo that."""\n'
        "    return F.multi_margin_loss(scores, y) * scores.shape[1]\n"
    ),
    "mse": (
        "def data_loss(scores, t):\n"
        '    """Mean over the batch of 0.5 * sum_k (s_k - t_k)^2 (torch\'s mse_loss has no 0.5)."""\n'
        "    return 0.5 * ((scores - t.reshape(scores.shape)) ** 2).sum() / len(t)\n"
    ),
}

TORCH_OPTIMIZERS = {
    "sgd": "torch.optim.SGD(parameters, lr=OPTIMIZER['learning_rate'])",
    "momentum": (
        "torch.optim.SGD(parameters, lr=OPTIMIZER['learning_rate'], momentum=OPTIMIZER['momentum'])"
    ),
    "nesterov": (
        "torch.optim.SGD(\n"
        "        parameters, lr=OPTIMIZER['learning_rate'], momentum=OPTIMIZER['momentum'],\n"
        "        nesterov=True,\n"
        "    )"
    ),
    "adagrad": (
        "torch.optim.Adagrad(parameters, lr=OPTIMIZER['learning_rate'], eps=OPTIMIZER['epsilon'])"
    ),
    "rmsprop": (
        "torch.optim.RMSprop(\n"
        "        parameters, lr=OPTIMIZER['learning_rate'], alpha=OPTIMIZER['decay_rate'],\n"
        "        eps=OPTIMIZER['epsilon'],\n"
        "    )"
    ),
    "adam": (
        "torch.optim.Adam(\n"
        "        parameters, lr=OPTIMIZER['learning_rate'],\n"
        "        betas=(OPTIMIZER['beta1'], OPTIMIZER['beta2']), eps=OPTIMIZER['epsilon'],\n"
        "    )"
    ),
}

MASK_DROPOUT = '''class MaskDropout(nn.Module):
    """Inverted dropout whose mask is set from outside: train() draws it from the
    playground's random stream (nn.Dropout would draw from torch's), so the run is the
    server's. Off in evaluation mode (net.eval()), like nn.Dropout."""

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, h):
        return h * self.mask if self.training and self.mask is not None else h
'''


def _torch_penalty(kind: str, strength: float) -> str:
    if kind == "none" or strength == 0.0:
        return 'def penalty(net):\n    """No regularisation in this run."""\n    return 0.0\n'
    term = "(W * W).sum()" if kind == "l2" else "W.abs().sum()"
    scale = "0.5 * REGULARIZATION['strength']" if kind == "l2" else "REGULARIZATION['strength']"
    doc = "L2: 0.5 * strength * sum(W^2)" if kind == "l2" else "L1: strength * sum(|W|)"
    return (
        "def penalty(net):\n"
        f'    """{doc}, on the weights of the Linear layers only (never biases or\n'
        '    PReLU slopes); autograd gives its gradient."""\n'
        "    weights = [m.weight for m in net if isinstance(m, nn.Linear)]\n"
        f"    return {scale} * sum({term} for W in weights)\n"
    )


TORCH_STEP = """            if masks is not None:
                for module, mask in zip(dropouts, masks):
                    module.mask = torch.from_numpy(mask)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step)
            optimizer.zero_grad()
            scores = net(torch.from_numpy(X))  # 1. forward
            loss = data_loss(scores, torch.from_numpy(y)) + penalty(net)  # 2. loss
            if not math.isfinite(loss.item()):  # diverged: stop here (the server rolls back)
                diverged = True
                break
            loss.backward()  # 3. backward (autograd)
            optimizer.step()  # 4. update"""


def torch_training_script(trainer: Trainer, steps: int, file: str = "train_pytorch.py") -> str:
    """The PyTorch training script (one template of a whole script, read in order)."""
    network = Network.from_model(
        trainer.model, trainer.features, trainer.normalization, trainer.config.loss
    )
    regression = trainer.data.regression
    reg = trainer.config.regularization
    dropout = trainer.model.dropout > 0 and bool(network.hidden_activations)
    acc_train = "None" if regression else "accuracy(scores, TRAIN_LABELS)"
    acc_val = "None" if regression else "accuracy(scores, VALIDATION_LABELS)"
    setup = (
        "    net = build_network()\n"
        "    net.train()\n"
        + (
            "    dropouts = [m for m in net if isinstance(m, MaskDropout)]\n"
            if dropout
            else "    dropouts = []  # this run has no dropout\n"
        )
        + "    parameters = list(net.parameters())\n"
        f"    optimizer = {TORCH_OPTIMIZERS[trainer.config.optimizer['name']]}\n"
        "    rng = new_rng()"
    )
    hist = HISTORY_LOOP.format(setup=setup, evaluated="net", step_body=TORCH_STEP, trained="net")
    return (
        _doc(network, file, "PyTorch")
        + "import json\nimport math\nimport sys\n\nimport numpy as np\nimport torch\n"
        "import torch.nn.functional as F\nfrom torch import nn\n\n"
        + embedded_run(trainer, network, steps)
        + pieces.section("The network, the loss, the optimiser")
        + (MASK_DROPOUT + "\n\n" if dropout else "")
        + torch_sequential(network, dropout=dropout, name="INITIAL_LAYERS")
        + "\n\n"
        + TORCH_LOSSES[trainer.config.loss]
        + "\n\n"
        + _torch_penalty(reg["kind"], float(reg["strength"]))
        + "\n\n"
        + ("" if regression else pieces.ACCURACY + "\n\n")
        + FINITE
        + "\n\n"
        + "def evaluate(net):\n"
        '    """Data loss and accuracy on both splits, dropout off."""\n'
        "    net.eval()\n"
        "    with torch.no_grad():\n"
        "        scores = net(torch.from_numpy(X_train))\n"
        "        train_loss = data_loss(scores, torch.from_numpy(TRAIN_LABELS)).item()\n"
        "        scores = scores.numpy()\n"
        "        metrics = {\n"
        "            'train_loss': finite(train_loss),\n"
        f"            'train_accuracy': {acc_train},\n"
        "            'validation_loss': None,\n"
        "            'validation_accuracy': None,\n"
        "        }\n"
        "        if len(VALIDATION_LABELS):\n"
        "            scores = net(torch.from_numpy(X_val))\n"
        "            loss = data_loss(scores, torch.from_numpy(VALIDATION_LABELS)).item()\n"
        "            scores = scores.numpy()\n"
        "            metrics['validation_loss'] = finite(loss)\n"
        f"            metrics['validation_accuracy'] = {acc_val}\n"
        "    net.train()\n"
        "    return metrics\n\n\n"
        + pieces.schedule_block(trainer.config.schedule)
        + "\n\n"
        + (STOP_CODE if trainer.config.stops else NO_STOP_CODE)
        + "\n\n"
        + pieces.section("Training")
        + hist
        + "\n\n"
        + "def predict_proba(points):\n"
        '    """Class probabilities (N, K) of raw points with the network train() left (the\n'
        '    initial one before it runs)."""\n'
        "    net = RESULT.get('net') or build_network()\n"
        "    net.eval()\n"
        "    with torch.no_grad():\n"
        "        return torch.softmax(net(torch.from_numpy(inputs(points))), dim=1).numpy()\n"
        + MAIN
    )
