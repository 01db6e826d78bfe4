"""Local server mode: the emulator's API over real HTTP, served by uvicorn.

`assistants-emulator` / `python -m emulator serve` runs it from the command line (see `--help`);
`ThreadedServer` runs it in a background thread of a test process, like moto's threaded server.
Both serve `Emulator.asgi_app()`, so state, responders and faults behave as in-process.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import ipaddress
import logging
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, NoReturn, cast

import uvicorn

from .. import examples
from ..emulator import Emulator
from ..engine.forward import responder_from_cli
from ..engine.responders import Responder, default_responder, load_script
from ..http.asgi import AsgiApp
from ..state.snapshot import SnapshotError
from . import control_cli

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
GRACEFUL_SHUTDOWN_SECONDS = 5  # then requests still held open (injected timeouts) are cut
REQUEST_LOG = 200  # requests a served emulator remembers (`GET /_emulator/requests`)
REQUEST_LOG_BODY = 4096  # bytes of each body it keeps


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that reports the end of its startup, successful or not."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
            if self.started and self._on_ready is not None:
                self._on_ready()
        finally:
            self.ready.set()


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then (else replies stall 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _config(app: AsgiApp, log_level: str | None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="on",
        ws="none",
        log_config=None,  # leave logging to the host program
        log_level=log_level,
        access_log=False,  # the app logs one line per request, faults included
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


class ThreadedServer:
    """Serve an emulator over HTTP from a background thread, e.g. for a test.

    `with ThreadedServer(emu) as server:` listens on a free loopback port and returns once the
    server accepts requests; point a client at `server.base_url` (`http://127.0.0.1:PORT/v1`).
    """

    def __init__(
        self,
        emulator: Emulator,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        allow_remote: bool = False,
        log_level: str | None = "warning",
    ) -> None:
        if not (allow_remote or is_loopback(host)):
            raise ValueError(f"{host} is not a loopback address: pass allow_remote=True")
        self._emulator = emulator
        self.app = emulator.asgi_app()
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def emulator(self) -> Emulator:
        """The emulator being served; assign another to serve it instead (e.g. one per test)."""
        return self._emulator

    @emulator.setter
    def emulator(self, emulator: Emulator) -> None:
        self._emulator = emulator
        fresh = emulator.asgi_app(prefix=self.app.prefix)
        self.app.handler, self.app.mounts = fresh.handler, fresh.mounts

    @property
    def url(self) -> str:
        """`http://HOST:PORT`, the server's root."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base URL for an SDK client: `http://HOST:PORT/v1`."""
        return f"{self.url}/v1"

    def start(self) -> ThreadedServer:
        """Listen and serve; returns when the server is ready (raises if it cannot start)."""
        if self._server is not None:
            return self
        sock = bind(self.host, self._requested_port)
        self.port = sock.getsockname()[1]
        server = _Uvicorn(_config(self.app, self._log_level))
        thread = threading.Thread(
            target=self._serve, args=(server, sock), name=f"emulator-server-{self.port}"
        )
        thread.daemon = True
        thread.start()
        server.ready.wait()
        if not server.started:
            thread.join()
            raise RuntimeError(f"the emulator server on {self.url} did not start")
        self._server, self._thread = server, thread
        return self

    @staticmethod
    def _serve(server: _Uvicorn, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException:  # a failed startup exits; the waiting thread must wake up
            server.ready.set()
            raise
        finally:
            sock.close()

    def stop(self) -> None:
        """Shut down gracefully and wait for the server thread to end."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --- command line ----------------------------------------------------------------------------


def load_responder(spec: str) -> Responder:
    """`--responder`: a JSON script file of replies and rules (`engine/scripts.py`; `examples/NAME`
    is a shipped example), `module:attribute` naming a responder callable, or `default`."""
    if spec == "default":
        return default_responder
    path = examples.resolve(spec)
    if path.suffix == ".json" or path.is_file():
        return load_script(path)
    module_name, colon, attribute = spec.partition(":")
    if not colon:
        raise ValueError(f"{spec!r} is neither a JSON script file nor module:attribute")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{spec} is not callable")
    return cast(Responder, target)


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not {value!r}")
    return int(value)


def _seed(value: str) -> int | str:
    return int(value) if value.lstrip("-").isdigit() else value


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}: use 0 to 65535 (0: any free)")
    return int(value)


class _Parser(argparse.ArgumentParser):
    """Errors are one `error:` line on stderr and exit status 2 (no usage block, no traceback)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="assistants-emulator",
        usage="%(prog)s [serve] [options]",
        description=(
            "Serve the in-memory OpenAI Assistants API (v2) emulator over HTTP. Point a client "
            "at http://HOST:PORT/v1, e.g. OpenAI(base_url='http://127.0.0.1:8000/v1', "
            "api_key='sk-anything'). Also runs as `python -m emulator serve`. Ctrl-C stops it."
        ),
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port (default: %(default)s; 0: any free)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (the API is unauthenticated by default)",
    )
    parser.add_argument(
        "--seed", type=_seed, default=0, help="seed of the generated ids (default: %(default)s)"
    )
    parser.add_argument(
        "--responder",
        metavar="SCRIPT.json|MODULE:ATTR",
        help="what the assistant answers: a JSON script file of replies and rules (the format: "
        "emulator/examples/script.schema.json; examples/NAME is a shipped example, e.g. "
        "examples/support_bot_script.json), or a responder callable to import; default: echo "
        "the user",
    )
    parser.add_argument(
        "--forward",
        metavar="URL",
        help="answer every model turn with an OpenAI-compatible Chat Completions server at URL "
        "(e.g. http://127.0.0.1:8080/v1, a local llama.cpp or Ollama); its key, if any, from "
        "$EMULATOR_FORWARD_API_KEY",
    )
    parser.add_argument(
        "--forward-model",
        metavar="NAME",
        help="with --forward: the upstream model to ask (default: each run's own model)",
    )
    parser.add_argument(
        "--fixture",
        metavar="SNAPSHOT.json",
        help="start from a snapshot written by Emulator.snapshot() (objects, clock, ids); "
        "examples/NAME is a shipped example, e.g. examples/support_bot_expired.json",
    )
    parser.add_argument(
        "--require-key",
        metavar="KEY",
        help="accept only this API key (others get the real 401); default: any bearer key",
    )
    parser.add_argument(
        "--isolate-keys",
        action="store_true",
        help="give each API key its own assistants and threads (others' objects are 404)",
    )
    parser.add_argument(
        "--clock",
        choices=("real", "frozen"),
        default="real",
        help="real: wall-clock time (default); frozen: fixed time, as in tests",
    )
    parser.add_argument(
        "--progress",
        choices=("resting", "step"),
        default="resting",
        help="resting: runs finish within the request (default); step: one status per poll",
    )
    parser.add_argument(
        "--request-log",
        type=_count,
        default=REQUEST_LOG,
        metavar="N",
        help="remember the newest N requests for GET /_emulator/requests (default: %(default)s)",
    )
    parser.add_argument(
        "--request-log-body",
        type=_count,
        default=REQUEST_LOG_BODY,
        metavar="BYTES",
        help="keep the first BYTES of each logged request body (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="info logs one line per request (default: %(default)s)",
    )
    return parser


def build_emulator(args: argparse.Namespace) -> Emulator:
    """The emulator the command line describes."""
    emulator = Emulator(
        seed=args.seed,
        clock=args.clock,
        require_key=args.require_key,
        isolate_keys=args.isolate_keys,
        request_log=args.request_log,
        request_log_body=args.request_log_body,
    )
    if args.fixture:
        emulator.load(examples.resolve(args.fixture))
    emulator.progress = args.progress
    if args.responder and args.forward:
        raise ValueError("--responder and --forward both choose the responder: give one")
    if args.forward_model and not args.forward:
        raise ValueError("--forward-model goes with --forward URL")
    if args.responder:
        emulator.respond_with(load_responder(args.responder))
    elif args.forward:
        emulator.respond_with(responder_from_cli(args.forward, args.forward_model, seed=args.seed))
    return emulator


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until Ctrl-C (or, for a control command such as `clock advance 601`,
    drive a running one); returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] and arguments[0] in control_cli.COMMANDS:
        return control_cli.main(arguments)
    if arguments[:1] == ["serve"]:
        arguments = arguments[1:]
    parser = build_parser()
    args = parser.parse_args(arguments)
    if not is_loopback(args.host):
        if not args.allow_remote:
            parser.error(
                f"--host {args.host} is not a loopback address; anyone who can reach it could "
                "use the emulator. Pass --allow-remote to bind it anyway."
            )
        print(
            f"WARNING: serving on {args.host}, reachable from other machines; the emulator "
            "has no real authentication.",
            file=sys.stderr,
        )
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        emulator = build_emulator(args)
    except SnapshotError as error:  # one line, not the usage: the options were fine
        print(f"{parser.prog}: error: --fixture {args.fixture}: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, TypeError, ImportError, AttributeError) as error:
        parser.error(str(error))
    try:
        sock = bind(args.host, args.port)
    except OSError as error:
        hint = "; pass --port 0 for any free port" if error.errno == errno.EADDRINUSE else ""
        parser.error(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}{hint}")
    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{sock.getsockname()[1]}/v1"
    app = emulator.asgi_app()
    server = _Uvicorn(_config(app, args.log_level), on_ready=lambda: _announce(base_url))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the Ctrl-C
    finally:
        sock.close()
    print("Assistants emulator stopped.", file=sys.stderr, flush=True)
    return 0


def _announce(base_url: str) -> None:
    print(
        f"Assistants emulator serving on {base_url} (Ctrl-C to stop)", file=sys.stderr, flush=True
    )


__all__ = ["ThreadedServer", "build_emulator", "build_parser", "load_responder", "main"]
