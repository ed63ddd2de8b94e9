"""The one thing pyproject.toml cannot say: the page's files (top-level ``static/``) ship in
the wheel as the data package ``mlp_playground.static``, beside the code found under
``server/``. Everything else about the build is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages("server"), "mlp_playground.static"])
