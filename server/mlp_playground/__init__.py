"""MLP Playground: a live neural-network playground for 2D classification."""

from pathlib import Path

__version__ = "0.1.0"


def _static_dir() -> Path:
    """The page's files, served at "/".

    An installed wheel carries them inside the package (``mlp_playground/static``, see
    setup.py); a checkout, and an editable install of it, keeps them in the repository's
    top-level ``static/``, two folders up from this file (``server/mlp_playground/``).
    """
    here = Path(__file__).resolve().parent
    inside = here / "static"
    return inside if (inside / "index.html").is_file() else here.parent.parent / "static"


STATIC_DIR = _static_dir()
