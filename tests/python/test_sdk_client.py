"""Drives the real stata-mcp binary with the official Python MCP SDK (a client we did not write).

Run by tests/run.sh, which sets STATA_MCP_BIN (the server) and STATA_DOUBLE (the Stata double).
"""

import asyncio
import os
import pathlib
import tempfile
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BIN = os.environ["STATA_MCP_BIN"]
DOUBLE = os.environ["STATA_DOUBLE"]


def fake_install(tmp: pathlib.Path) -> pathlib.Path:
    (tmp / "bin").mkdir()
    stata = tmp / "bin" / "stata-mp"
    stata.symlink_to(DOUBLE)
    return stata


async def call_with_progress(tmp: pathlib.Path, code: str):
    stata = fake_install(tmp)
    params = StdioServerParameters(
        command=BIN,
        args=["--stata-path", str(stata), "--log-dir", str(tmp / "logs"), "--workdir", str(tmp)],
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "error", "HOME": str(tmp)},
    )
    events = []
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()

            async def on_progress(progress, total, message):
                events.append(("progress", time.monotonic(), progress, message or ""))

            result = await session.call_tool(
                "stata_run_code", {"code": code}, progress_callback=on_progress
            )
            events.append(("result", time.monotonic(), None, None))
    return tools, result, events


def test_progress_callbacks_fire_before_the_result():
    code = 'forvalues i = 1/6 {\n    display "step `i\'"\n    sleep 250\n}\n'
    with tempfile.TemporaryDirectory() as d:
        tools, result, events = asyncio.run(call_with_progress(pathlib.Path(d), code))

    names = {t.name for t in tools.tools}
    assert {"stata_run_code", "stata_run_file"} <= names
    run_code = next(t for t in tools.tools if t.name == "stata_run_code")
    assert run_code.output_schema is not None

    kinds = [e[0] for e in events]
    assert kinds[-1] == "result"
    progress = [e for e in events if e[0] == "progress"]
    assert len(progress) >= 3, events
    # Each progress callback ran before the result came back, and progress only grows.
    assert all(p[1] <= events[-1][1] for p in progress)
    values = [p[2] for p in progress]
    assert values == sorted(values) and len(set(values)) == len(values), values
    streamed = "".join(p[3] for p in progress)
    for i in range(1, 7):
        assert f"step {i}" in streamed, streamed

    assert result.is_error is False
    assert result.structured_content["status"] == "ok"
    assert "step 6" in result.content[0].text


def test_a_stata_error_is_a_tool_error_with_its_code():
    with tempfile.TemporaryDirectory() as d:
        _, result, _ = asyncio.run(
            call_with_progress(pathlib.Path(d), 'display "before"\nerror 198\n')
        )
    assert result.is_error is True
    assert result.structured_content["rc"] == 198
    assert "before" in result.content[0].text
