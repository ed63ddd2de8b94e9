"""The NumPy engine: a multilayer perceptron, its losses, optimisers and instruments.

Imports numpy and the standard library only. Each name is imported from the module that
defines it (``nn.model.MLP``, ``nn.optimizers.make_optimizer``, ...); docs/internals.md
has the map.
"""
