"""The notebook widget (the ``[notebook]`` extra): ``Playground`` shows a live session of a
running server inside JupyterLab, Notebook and VS Code, driven from Python (docs/notebook.md).

The engine and the server never import this package; it is a client over HTTP and the
websocket, like the page.
"""

from mlp_playground.notebook.connection import SessionClosed, SessionError
from mlp_playground.notebook.widget import Playground

__all__ = ["Playground", "SessionClosed", "SessionError"]
