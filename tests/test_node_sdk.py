"""Another language, for real: the official Node SDK (npm `openai`, pinned in tests/node) against
the emulator's server, streaming a tool-call flow and reproducing run expiry via the control API.

`.ci/node` installs the pinned package (`npm ci`); without node or it, this test is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator import Emulator, ThreadedServer, reply

NODE_DIR = Path(__file__).resolve().parent / "node"


def node() -> str:
    executable = shutil.which("node")
    if executable is None:
        pytest.skip("node is not installed (run .ci/node to install it)")
    if not (NODE_DIR / "node_modules" / "openai" / "package.json").exists():
        pytest.skip("the Node SDK is not installed in tests/node (run .ci/node: npm ci)")
    return executable


def test_the_node_sdk_streams_a_tool_call_flow_and_sees_run_expiry(
    emu: Emulator, assistants_emulator_server: ThreadedServer
) -> None:
    executable = node()
    emu.script(
        reply.tool_call("get_weather", {"city": "Paris"}),
        reply.text(
            "It is 18C and sunny in Paris.", chunks=["It is 18C", " and sunny", " in Paris."]
        ),
        reply.tool_call("get_weather", {"city": "Oslo"}),
    )
    start = emu.clock.now()

    finished = subprocess.run(
        [executable, "flow.mjs", assistants_emulator_server.url],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout)
    assert result["events"][0] == "thread.run.created"
    assert result["events"][-1] == "thread.run.requires_action"
    assert result["waiting"] == {
        "id": result["waiting"]["id"],
        "status": "requires_action",
        "call": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    assert result["deltas"] == ["It is 18C", " and sunny", " in Paris."]
    assert result["answer"] == "It is 18C and sunny in Paris."
    assert result["finished"] == {"status": "completed"}
    assert result["pending"]["status"] == "requires_action"
    assert result["clock"] == {"status": 200, "now": start + 601}
    assert result["expired"] == {"status": "expired", "expires_at": result["pending"]["expires_at"]}
    assert result["rejected"] == {
        "status": 400,
        "message": 'Runs in status "expired" do not accept tool outputs.',
    }
    (thread_id,) = emu.threads
    assert [run["status"] for run in emu.runs(thread_id)] == ["completed", "expired"]
    assert emu.requests[0].headers["user-agent"].startswith("OpenAI/JS")
