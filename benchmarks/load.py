"""Load on the real server over loopback: `python -m benchmarks.load` (or `run.py --load`).

Starts `python -m emulator serve` on a free port in a child process (as a user runs it), then
20 concurrent clients, each on its own keep-alive connection, send a fixed number of requests:
mostly GETs (retrieve an assistant, a thread, list a thread's messages) and one POST in five
(add a message to the client's own thread). Optionally (`--long-run`) one more client keeps
starting runs on threads holding 3 MB of text, so token counting is busy meanwhile.

Reports requests per second, GET latency percentiles and the server's RSS growth (from
/proc, after a warm-up) against the issue's figures: >= 500 requests/s, GET p99 < 150 ms,
RSS growth < 20 MB over 20,000 requests. Bounded: it stops after `--requests` or `--seconds`,
whichever comes first, and stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-load"
TARGET_RPS = 500
TARGET_GET_P99_MS = 150
TARGET_RSS_GROWTH_MB = 20
WARMUP_REQUESTS = 2_000


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for JSON requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if isinstance(body, bytes):  # encoded once by the caller (large bodies)
            payload = body
        else:
            payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        return int(status_line.split()[1]), json.loads(data) if data else None

    def close(self) -> None:
        self.writer.close()


@dataclass
class Tally:
    """What the clients saw."""

    get_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_server() -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "emulator", "serve", "--port", "0", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"serving on http://127\.0\.0\.1:(\d+)/v1", line)
        if found:
            return process, int(found.group(1))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("the server did not start")


def stop_server(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def client(
    port: int, n: int, budget: list[int], deadline: float, tally: Tally, warm: asyncio.Event
) -> None:
    """One user: its own thread, then GETs and POSTs until the shared budget or time ends."""
    connection = await Connection.open(port)
    try:
        _, assistant = await connection.request("POST", "/v1/assistants", {"model": "gpt-4o"})
        _, thread = await connection.request(
            "POST", "/v1/threads", {"messages": [{"role": "user", "content": "Hello"}]}
        )
        gets = [
            f"/v1/assistants/{assistant['id']}",
            f"/v1/threads/{thread['id']}",
            f"/v1/threads/{thread['id']}/messages?limit=5",
            "/v1/assistants?limit=5",
        ]
        i = n
        while budget[0] > 0 and time.monotonic() < deadline:
            budget[0] -= 1
            post = i % 5 == 0
            started = time.perf_counter()
            if post:
                message = {"role": "user", "content": f"message {i} from client {n}"}
                status, _ = await connection.request(
                    "POST", f"/v1/threads/{thread['id']}/messages", message
                )
            else:
                status, _ = await connection.request("GET", gets[i % len(gets)])
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                tally.errors += 1
            (tally.post_ms if post else tally.get_ms).append(elapsed)
            tally.sent += 1
            if tally.sent == WARMUP_REQUESTS:
                warm.set()
            i += 1
    finally:
        connection.close()


async def long_runs(port: int, stop: asyncio.Event) -> int:
    """Keep starting runs on a thread holding 3 MB of text (12 messages at the 256,000
    character limit), so each run counts tokens for a while."""
    connection = await Connection.open(port)
    runs = 0
    try:
        _, assistant = await connection.request("POST", "/v1/assistants", {"model": "gpt-4o"})
        big = {"role": "user", "content": "word " * 50_000}
        body = json.dumps({"messages": [big] * 12}).encode()  # once: the loop stays free
        while not stop.is_set():
            _, thread = await connection.request("POST", "/v1/threads", body)
            await connection.request(
                "POST", f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]}
            )
            await connection.request("DELETE", f"/v1/threads/{thread['id']}")  # memory back
            runs += 1
    finally:
        connection.close()
    return runs


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally()
    warm = asyncio.Event()
    stop = asyncio.Event()
    budget = [args.requests]
    deadline = time.monotonic() + args.seconds
    background = asyncio.create_task(long_runs(port, stop)) if args.long_run else None
    started = time.perf_counter()
    clients = [
        asyncio.create_task(client(port, n, budget, deadline, tally, warm))
        for n in range(args.clients)
    ]
    rss_warm: float | None = None
    waiter = asyncio.create_task(warm.wait())
    done, _ = await asyncio.wait([waiter, *clients], return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        rss_warm = rss_mb(pid)
    await asyncio.gather(*clients)
    elapsed = time.perf_counter() - started
    waiter.cancel()
    stop.set()
    runs = await background if background is not None else None
    rss_end = rss_mb(pid)
    gets = tally.get_ms
    return {
        "clients": args.clients,
        "requests": tally.sent,
        "errors": tally.errors,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(tally.sent / elapsed, 1),
        "get_p50_ms": round(statistics.median(gets), 2),
        "get_p99_ms": round(percentile(gets, 99), 2),
        "get_max_ms": round(max(gets), 2),
        "post_p99_ms": round(percentile(tally.post_ms, 99), 2) if tally.post_ms else None,
        "rss_after_warmup_mb": None if rss_warm is None else round(rss_warm, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_mb": None if rss_warm is None else round(rss_end - rss_warm, 1),
        "long_runs_started": runs,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def measure(
    requests: int = 20_000, clients: int = 20, seconds: float = 120, long_run: bool = False
) -> dict[str, Any]:
    """Start a server, load it, stop it; the figures and whether they meet the targets."""
    args = argparse.Namespace(
        requests=requests, clients=clients, seconds=seconds, long_run=long_run
    )
    process, port = start_server()
    try:
        figures = asyncio.run(drive(port, process.pid, args))
    finally:
        stop_server(process)
    growth = figures["rss_growth_mb"]
    figures["meets"] = {
        "requests_per_second": figures["requests_per_second"] >= TARGET_RPS,
        "get_p99": figures["get_p99_ms"] < TARGET_GET_P99_MS,
        "rss_growth": growth is not None and growth < TARGET_RSS_GROWTH_MB,
    }
    return figures


def render(figures: dict[str, Any]) -> str:
    meets = figures["meets"]

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    return "\n".join(
        [
            f"load: {figures['requests']} requests, {figures['clients']} clients, "
            f"{figures['seconds']} s, {figures['errors']} errors "
            f"({figures['cpu_count']} CPUs, load {figures['load_average_1m']})"
            + (
                f", {figures['long_runs_started']} long runs meanwhile"
                if figures["long_runs_started"] is not None
                else ""
            ),
            f"  throughput   {figures['requests_per_second']:>8} req/s   target >= {TARGET_RPS}"
            f"  {mark(meets['requests_per_second'])}",
            f"  GET p99      {figures['get_p99_ms']:>8} ms      target < {TARGET_GET_P99_MS}"
            f"  {mark(meets['get_p99'])}   (p50 {figures['get_p50_ms']} ms, "
            f"max {figures['get_max_ms']} ms)",
            f"  RSS growth   {figures['rss_growth_mb']!s:>8} MB      target < "
            f"{TARGET_RSS_GROWTH_MB}  {mark(meets['rss_growth'])}   "
            f"({figures['rss_after_warmup_mb']} -> {figures['rss_end_mb']} MB)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20_000, help="requests in all")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=120, help="stop after this long")
    parser.add_argument(
        "--long-run", action="store_true", help="keep a token-heavy run going meanwhile"
    )
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    figures = measure(args.requests, args.clients, args.seconds, args.long_run)
    print(render(figures))
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(figures["meets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
