"""``nnzoo app``: a local web playground over the shipped models (and a user's runs).

:class:`~nnzoo.app.playground.Playground` holds the models and answers each tab's questions; :mod:`nnzoo.app.server`
serves it as one page and a JSON endpoint per action, on this machine only unless told otherwise. Install the web
server with ``pip install 'nnzoo[app]'``.
"""

from nnzoo.app.playground import Playground
from nnzoo.app.server import create_app, serve, serving

__all__ = ["Playground", "create_app", "serve", "serving"]
