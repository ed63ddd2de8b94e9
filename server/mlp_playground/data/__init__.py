"""2D data: the toy datasets, input features and normalisation, CSV uploads, the evaluation grid.

NumPy and the standard library only: no web framework, no training.
"""
