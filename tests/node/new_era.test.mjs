// The official TypeScript SDK 2.x client pinned to the 2026-07-28 revision (server/discover,
// no initialize), as the newest Claude Code speaks it, driving the real stata-mcp binary:
// progress, a result, the client's profile and project folder, and a cancel that stops
// Stata so that the next call answers at once. Run by tests/run.sh.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const BIN = process.env.STATA_MCP_BIN;
const DOUBLE = process.env.STATA_DOUBLE;

test("a 2026-07-28 client is served: progress, profile, project folder, and a cancel that stops Stata", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "stata-mcp-node-new-"));
  mkdirSync(join(tmp, "bin"));
  mkdirSync(join(tmp, "work"));
  const stata = join(tmp, "bin", "stata-mp");
  symlinkSync(DOUBLE, stata);
  const client = new Client(
    { name: "claude-code", version: "2.1.337" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  const transport = new StdioClientTransport({
    command: BIN,
    args: ["--stata-path", stata, "--log-dir", join(tmp, "logs"), "--mode", "session"],
    cwd: "/",
    env: {
      PATH: process.env.PATH ?? "",
      RUST_LOG: "error",
      HOME: tmp,
      CLAUDE_PROJECT_DIR: join(tmp, "work"),
    },
    stderr: "ignore",
  });
  try {
    await client.connect(transport);
    const frames = [];
    const done = await client.callTool(
      { name: "stata_run_code", arguments: { code: 'display "first"\nsleep 200\ndisplay "second"\n' } },
      { onprogress: (p) => frames.push(p.message ?? "") },
    );
    assert.ok(done.content[0].text.includes("second"), done.content[0].text);
    assert.ok(frames.join("").includes("first"), JSON.stringify(frames));

    // The client gives up on a long call: the server breaks it off.
    const abort = new AbortController();
    const long = client.callTool(
      { name: "stata_run_code", arguments: { code: "sleep 60000" } },
      { signal: abort.signal },
    );
    setTimeout(() => abort.abort("the client's time limit"), 1000);
    await assert.rejects(long);
    const start = Date.now();
    const status = await client.callTool({ name: "stata_session_info", arguments: { action: "status" } });
    const text = status.content[0].text;
    assert.ok(Date.now() - start < 10000, `the next call waited ${Date.now() - start} ms`);
    assert.ok(text.includes("idle"), text);
    assert.ok(text.includes("profile claude-code "), text);
    assert.ok(text.includes(join(tmp, "work")), text);
  } finally {
    await client.close();
  }
});
