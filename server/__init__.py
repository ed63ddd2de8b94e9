"""MLP Playground: a live neural-network playground for 2D classification."""

from pathlib import Path

__version__ = "0.1.0"

#: The page's files; served at "/" by the app.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
