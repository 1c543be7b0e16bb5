"""Drives the real stata-mcp binary with the official Python SDK's high-level client in its
default mode, which probes `server/discover` and speaks the 2026-07-28 revision (no
`initialize`): progress, a result, an error, and a call cut off by the client's own time
limit, after which the next call answers at once.

Run by tests/run.sh, which sets STATA_MCP_BIN (the server) and STATA_DOUBLE (the Stata double).
"""

import asyncio
import os
import pathlib
import tempfile
import time

from mcp import Client, StdioServerParameters

BIN = os.environ["STATA_MCP_BIN"]
DOUBLE = os.environ["STATA_DOUBLE"]


def server(tmp: pathlib.Path) -> StdioServerParameters:
    (tmp / "bin").mkdir()
    (tmp / "work").mkdir()
    stata = tmp / "bin" / "stata-mp"
    stata.symlink_to(DOUBLE)
    return StdioServerParameters(
        command=BIN,
        args=["--stata-path", str(stata), "--log-dir", str(tmp / "logs"), "--mode", "session"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "RUST_LOG": "error",
            "HOME": str(tmp),
            "CLAUDE_PROJECT_DIR": str(tmp / "work"),
        },
        cwd="/",
    )


async def session_run(tmp: pathlib.Path):
    events = []
    async with Client(server(tmp)) as client:
        version = client.protocol_version

        async def on_progress(progress, total, message):
            events.append(message or "")

        ok = await client.call_tool(
            "stata_run_code",
            {"code": 'forvalues i = 1/4 {\n    display "step `i\'"\n    sleep 200\n}\n'},
            progress_callback=on_progress,
        )
        bad = await client.call_tool("stata_run_code", {"code": "error 111"})
        # The client gives up on a long call (its own time limit): the server stops Stata.
        cut_off = None
        try:
            await client.call_tool(
                "stata_run_code", {"code": "sleep 60000"}, read_timeout_seconds=1.5
            )
        except Exception as e:  # the SDK's timeout error
            cut_off = e
        start = time.monotonic()
        status = await client.call_tool("stata_session_info", {"action": "status"})
        took = time.monotonic() - start
    return version, events, ok, bad, cut_off, status, took


def test_the_new_era_client_gets_progress_results_and_a_working_cancel():
    with tempfile.TemporaryDirectory() as d:
        version, events, ok, bad, cut_off, status, took = asyncio.run(
            session_run(pathlib.Path(d))
        )
    assert version == "2026-07-28", version
    assert "step 4" in "".join(events), events
    assert ok.is_error is False and "step 4" in ok.content[0].text
    assert bad.is_error is True and "r(111)" in bad.content[0].text
    assert cut_off is not None, "the long call was not cut off"
    text = status.content[0].text
    assert took < 10, took
    assert "idle" in text, text


async def run_with_roots(tmp: pathlib.Path):
    import mcp.types as types

    params = server(tmp)
    del params.env["CLAUDE_PROJECT_DIR"]
    (tmp / "work" / "here.do").write_text('display "ran in the root"\n')

    async def list_roots(context):
        return types.ListRootsResult(roots=[types.Root(uri=(tmp / "work").as_uri())])

    async with Client(params, list_roots_callback=list_roots) as client:
        return await client.call_tool("stata_run_file", {"path": "here.do"})


def test_with_no_project_folder_named_the_server_asks_for_roots_by_input_required():
    with tempfile.TemporaryDirectory() as d:
        result = asyncio.run(run_with_roots(pathlib.Path(d)))
    text = result.content[0].text
    assert result.is_error is False, text
    assert "ran in the root" in text, text
