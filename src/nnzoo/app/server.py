"""The playground's web server: one page of static HTML and JavaScript, and a JSON endpoint per action.

``POST /api/ACTION`` with a JSON object of the action's arguments calls :class:`~nnzoo.app.playground.Playground`'s
method of that name and answers its result as JSON. What a user gets wrong (an unknown argument, an over-long
word, a letter outside the alphabet) is answered with status 400 and ``{"error": "<one line>"}``, the line the
command line prints; anything else with 500 and the same shape, logged, while the server goes on serving.

Nothing is fetched from elsewhere: the page's script, style and images come from this server (its
Content-Security-Policy says so to the browser), and nothing is sent anywhere.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from nnzoo.app.playground import Playground
from nnzoo.errors import UserError
from nnzoo.optional import require

log = logging.getLogger("nnzoo.app")
STATIC = Path(__file__).parent / "static"
MAX_BODY = 4_000_000  # bytes of one request: an uploaded image as base64, with room to spare
ACTIONS = ("catalog", "pronounce", "translate", "write", "tag", "classify", "latent_walk", "examples", "denoise",
           "segment", "forecast")  # fmt: skip
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(playground: Playground) -> Any:
    """The Starlette application serving ``playground``."""
    needed_for = "nnzoo app"  # the web server is the app extra: pip install 'nnzoo[app]'
    run_in_threadpool = require("starlette.concurrency", needed_for).run_in_threadpool
    responses = require("starlette.responses", needed_for)
    routing = require("starlette.routing", needed_for)
    StaticFiles = require("starlette.staticfiles", needed_for).StaticFiles

    def answer(content: Any, status: int = 200) -> Any:
        return responses.JSONResponse(content, status_code=status, headers=HEADERS)

    async def page(request: Any) -> Any:
        return responses.FileResponse(STATIC / "index.html", headers=HEADERS)

    async def action(request: Any) -> Any:
        name = request.path_params["action"]
        if name not in ACTIONS:
            return answer({"error": f"no action {name!r}; the actions are {', '.join(ACTIONS)}"}, 404)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return answer({"error": f"the request is larger than {MAX_BODY // 1_000_000} MB"}, 413)
        try:
            arguments = json.loads(body or b"{}")
            if not isinstance(arguments, dict):
                raise UserError("send a JSON object of the action's arguments")
            method = getattr(playground, name)
            check_arguments(name, method, arguments)
            result = await run_in_threadpool(locked, playground, method, arguments)
        except json.JSONDecodeError as error:
            return answer({"error": f"the request is not JSON: {error.msg} at character {error.pos}"}, 400)
        except UserError as error:
            return answer({"error": str(error)}, 400)
        except Exception as error:  # a fault of nnzoo's, not of the input: logged, and the server goes on
            log.exception("%s failed", name)
            return answer({"error": f"internal error in {name}: {type(error).__name__}: {error}"}, 500)
        return answer(result)

    routes = [
        routing.Route("/", page),
        routing.Route("/api/{action}", action, methods=["POST"]),
        routing.Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return require("starlette.applications", needed_for).Starlette(routes=routes)


def locked(playground: Playground, method: Any, arguments: dict[str, Any]) -> Any:
    """``method(**arguments)``, one request at a time."""
    with playground.lock:
        return method(**arguments)


def check_arguments(name: str, method: Any, arguments: dict[str, Any]) -> None:
    """One line naming what is missing or unknown, and what the action takes."""
    parameters = inspect.signature(method).parameters
    accepted = ", ".join(parameters) or "nothing"
    unknown = sorted(set(arguments) - set(parameters))
    missing = [p for p, v in parameters.items() if v.default is inspect.Parameter.empty and p not in arguments]
    if unknown or missing:
        wrong = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise UserError(f"{name}: {wrong}; it takes {accepted}")


def serve(playground: Playground, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve ``playground`` until interrupted (Ctrl-C)."""
    uvicorn = require("uvicorn", "nnzoo app")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach this machine can use the playground", host)
    print(f"nnzoo app: http://{'[' + host + ']' if ':' in host else host}:{port}/  (Ctrl-C stops it)", flush=True)
    uvicorn.run(create_app(playground), host=host, port=port, log_level="warning")


class Served(NamedTuple):
    """An ``nnzoo app`` running in a child process."""

    url: str  # http://127.0.0.1:PORT/
    process: subprocess.Popen


@contextlib.contextmanager
def serving(models: Sequence[str] = (), device: str = "cpu", timeout: float = 60) -> Iterator[Served]:
    """``nnzoo app`` in a child process on a free port of this machine's loopback, for as long as the block runs;
    ``models`` as ``--models`` takes them (none: every shipped model). Raises when it does not answer within
    ``timeout`` seconds; stops it afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "nnzoo", "app", "--port", str(port), "--device", device]
    command += ["--models", *models] if models else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"nnzoo app stopped: {process.stdout.read().strip()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nnzoo app did not answer within {timeout:.0f} s") from None
                time.sleep(0.2)
        yield Served(f"http://127.0.0.1:{port}/", process)
    finally:
        process.terminate()
        process.wait(timeout=30)
