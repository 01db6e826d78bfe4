"""The control API from a shell: `python -m emulator clock advance 601 --url http://127.0.0.1:8000`.

Each command is one call to a running server's `/_emulator/` API (see `emulator.http.control`),
made with the standard library only. Bad input (arguments, files, a 4xx answer) prints one
`error:` line and exits 2; a server that cannot be reached or fails (5xx) exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import examples

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 30
COMMANDS = frozenset(
    {"clock", "reset", "snapshot", "script", "hold", "release", "faults", "requests", "state"}
)
"""First words that make `python -m emulator ...` a control command rather than `serve`."""


class UsageError(Exception):
    """Bad input: exit 2."""


class CallFailed(Exception):
    """The server could not be reached or failed: exit 1."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one `error:` line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("EMULATOR_URL", DEFAULT_URL),
        help="the server's root (default: $EMULATOR_URL or %(default)s)",
    )
    common.add_argument(
        "--key",
        default=os.environ.get("OPENAI_API_KEY"),
        help="API key, for a server started with --require-key (default: $OPENAI_API_KEY)",
    )
    parser = _Parser(
        prog="python -m emulator",
        description="Control a running emulator server through its /_emulator/ API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    clock = commands.add_parser("clock", help="read or move the emulator's clock")
    moves = clock.add_subparsers(dest="action", required=True, metavar="ACTION")
    moves.add_parser("now", parents=[common], help="print the clock's Unix time")
    advance = moves.add_parser("advance", parents=[common], help="move forward by SECONDS")
    advance.add_argument("seconds", type=_number, metavar="SECONDS")
    move_to = moves.add_parser("move_to", parents=[common], help="jump to a Unix TIMESTAMP")
    move_to.add_argument("timestamp", type=_integer, metavar="TIMESTAMP")

    commands.add_parser(
        "reset", parents=[common], help="forget every object, recorded request and fault"
    )

    snapshot = commands.add_parser("snapshot", help="save or load the whole state")
    snapshot_actions = snapshot.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = snapshot_actions.add_parser(
        "get", parents=[common], help="write the snapshot to FILE (default: stdout)"
    )
    get.add_argument("file", nargs="?", metavar="FILE")
    load = snapshot_actions.add_parser("load", parents=[common], help="load a snapshot FILE")
    load.add_argument("file", metavar="FILE")

    script = commands.add_parser(
        "script", parents=[common], help="answer runs from a JSON script FILE (replies, rules)"
    )
    script.add_argument("file", metavar="FILE")
    script.add_argument("--assistant", help="only for this assistant (id or name)")

    hold = commands.add_parser("hold", parents=[common], help="stop runs at a status")
    hold.add_argument("--at", choices=("queued", "in_progress"), default="in_progress")
    hold.add_argument("--run", dest="run_id", metavar="RUN_ID", help="only this run")
    release = commands.add_parser("release", parents=[common], help="lift holds")
    release.add_argument("--run", dest="run_id", metavar="RUN_ID", help="only this run")

    faults = commands.add_parser(
        "faults", parents=[common], help="fail, drop or time out the next requests"
    )
    faults.add_argument("type", choices=("fail", "drop", "timeout"))
    faults.add_argument("--times", type=_integer, default=1)
    faults.add_argument("--status", type=_integer, help="fail: the HTTP status (default 500)")
    faults.add_argument("--method", type=str.upper, choices=("GET", "POST", "DELETE"))
    faults.add_argument("--path", metavar="REGEX", help="only API paths matching this regex")
    faults.add_argument("--retry-after", type=_number, metavar="SECONDS")
    faults.add_argument("--message")

    requests = commands.add_parser("requests", parents=[common], help="list recent requests")
    requests.add_argument("--limit", type=_integer, default=20, help="at most 100")

    commands.add_parser("state", parents=[common], help="print the dashboard's JSON view")
    return parser


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return int(value) if value.is_integer() else value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _read_json(path: str) -> Any:
    """A JSON file; `examples/NAME` missing locally is the example shipped with the package."""
    try:
        text = examples.resolve(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise UsageError(f"{path} is not JSON: {error}") from None


def call(url: str, key: str | None, method: str, path: str, body: Any = None) -> Any:
    """One control call; returns the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url.rstrip('/')}/_emulator/{path}", data, method=method)
    request.add_header("accept", "application/json")
    if data is not None:
        request.add_header("content-type", "application/json")
    if key:
        request.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        message = _error_message(error.read()) or f"HTTP {error.code}"
        raise (UsageError if error.code < 500 else CallFailed)(message) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CallFailed(f"cannot reach the emulator at {url}: {reason}") from None
    except ValueError as error:
        raise CallFailed(f"{url} did not answer JSON: {error}") from None


def _error_message(raw: bytes) -> str | None:
    try:
        message = json.loads(raw)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(message)


def run(args: argparse.Namespace) -> str:
    """Make the call the arguments describe; returns what to print."""
    url, key = args.url, args.key
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must start with http:// or https://, not {url!r}")
    command = args.command
    if command == "clock":
        if args.action == "now":
            answer = call(url, key, "GET", "clock")
        elif args.action == "advance":
            answer = call(url, key, "POST", "clock/advance", {"seconds": args.seconds})
        else:
            answer = call(url, key, "POST", "clock/move_to", {"timestamp": args.timestamp})
        return str(answer["now"])
    if command == "reset":
        call(url, key, "POST", "reset")
        return "reset"
    if command == "snapshot":
        if args.action == "load":
            answer = call(url, key, "POST", "snapshot", _read_json(args.file))
            return f"loaded {args.file} (clock {answer['now']})"
        text = json.dumps(call(url, key, "GET", "snapshot"), indent=2) + "\n"
        if args.file is None:
            return text.rstrip("\n")
        try:
            Path(args.file).write_text(text, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {args.file}: {error}") from None
        return f"wrote {args.file}"
    if command == "script":
        data = _read_json(args.file)
        if isinstance(data, list):
            data = {"replies": data}
        if args.assistant is not None and isinstance(data, dict):
            data = {**data, "assistant": args.assistant}
        answer = call(url, key, "POST", "script", data)
        return f"script loaded: {answer['replies']} replies, {answer['rules']} rules"
    if command in ("hold", "release"):
        body = {"run_id": args.run_id} if command == "release" else {"at": args.at}
        if command == "hold" and args.run_id is not None:
            body["run_id"] = args.run_id
        call(url, key, "POST", command, body)
        target = f"run {args.run_id}" if args.run_id else "all runs"
        return f"holding {target} at {args.at}" if command == "hold" else f"released {target}"
    if command == "faults":
        options = {
            "type": args.type,
            "times": args.times,
            "status": args.status,
            "method": args.method,
            "path": args.path,
            "retry_after": args.retry_after,
            "message": args.message,
        }
        call(url, key, "POST", "faults", {k: v for k, v in options.items() if v is not None})
        return f"the next {args.times} matching request(s) will {args.type}"
    if command == "requests":
        answer = call(url, key, "GET", f"requests?limit={args.limit}&order=asc")
        lines = [
            f"{r['method']:6} {r['path']} {'dropped' if r['status'] is None else r['status']}"
            for r in answer["data"]
        ]
        return "\n".join(lines) if lines else "(no requests)"
    return json.dumps(call(url, key, "GET", "state"), indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 server failure, 2 bad input)."""
    try:
        output = run(build_parser().parse_args(sys.argv[1:] if argv is None else argv))
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except UsageError as error:
        print(f"error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except CallFailed as error:
        print(f"error: {_one_line(str(error))}", file=sys.stderr)
        return 1
    print(output)
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


__all__ = ["COMMANDS", "DEFAULT_URL", "build_parser", "call", "main"]


if __name__ == "__main__":
    sys.exit(main())
