// Drives the real stata-mcp binary with clients we did not write: the official TypeScript
// SDK (as Claude Code, Cursor and most small clients use it) and the MCP Inspector's CLI with
// its --strict schema check. Run by tests/run.sh, which sets STATA_MCP_BIN and STATA_DOUBLE.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const BIN = process.env.STATA_MCP_BIN;
const DOUBLE = process.env.STATA_DOUBLE;
const HERE = dirname(fileURLToPath(import.meta.url));

/** A temp folder with a Stata install (the double) and the server's arguments for it. */
function fakeInstall() {
  const tmp = mkdtempSync(join(tmpdir(), "stata-mcp-node-"));
  mkdirSync(join(tmp, "bin"));
  const stata = join(tmp, "bin", "stata-mp");
  symlinkSync(DOUBLE, stata);
  return {
    tmp,
    args: ["--stata-path", stata, "--log-dir", join(tmp, "logs"), "--workdir", tmp],
  };
}

test("the TypeScript SDK lists the tools without a warning and gets every frame before the result", async () => {
  const { tmp, args } = fakeInstall();
  // With structuredContent and outputSchema, as programs get them: the SDK compiles every
  // output schema and validates every result against it.
  args.push("--structured-content", "always");
  const warnings = [];
  const originalWarn = console.warn;
  console.warn = (...a) => warnings.push(a.join(" "));
  const errors = [];
  const client = new Client({ name: "node-sdk-test", version: "1.0.0" });
  client.onerror = (e) => errors.push(String(e));
  const transport = new StdioClientTransport({
    command: BIN,
    args,
    // HOME: nothing the server or Stata keeps there (~/ado) goes to the real one.
    env: { PATH: process.env.PATH ?? "", RUST_LOG: "error", HOME: tmp },
    stderr: "ignore",
  });
  try {
    await client.connect(transport);
    assert.equal(client.getServerVersion()?.name, "stata-mcp");
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "stata_run_code"));
    // Output that ends right before the response: the last frame must not be lost.
    for (let round = 0; round < 5; round++) {
      const frames = [];
      const result = await client.callTool(
        { name: "stata_run_code", arguments: { code: `display "a${round}"\nsleep 150\ndisplay "last${round}"\n` } },
        undefined,
        { onprogress: (p) => frames.push(p), resetTimeoutOnProgress: true },
      );
      assert.equal(result.isError, false, JSON.stringify(result));
      assert.equal(result.structuredContent?.status, "ok");
      const text = result.content.map((c) => c.text ?? "").join("");
      assert.match(text, new RegExp(`last${round}`));
      const streamed = frames.map((f) => f.message ?? "").join("");
      assert.match(streamed, new RegExp(`last${round}`), `frames: ${JSON.stringify(frames)}`);
    }
    // An unknown tool is a protocol error, as the 2025-11-25 specification says.
    await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /-32602|unknown tool/);
  } finally {
    console.warn = originalWarn;
    await client.close();
  }
  assert.deepEqual(warnings, [], "no schema warnings");
  assert.deepEqual(errors.filter((e) => /unknown token/.test(e)), [], "no frame for an unknown token");
});

function inspector(args, server, home) {
  const cli = join(HERE, "node_modules", ".bin", "mcp-inspector");
  return spawnSync(cli, ["--cli", ...args, "-e", "RUST_LOG=warn", "-e", `HOME=${home}`, BIN, ...server], {
    encoding: "utf8",
    timeout: 60_000,
  });
}

test("the Inspector's strict check finds no portability problem, and a call works", () => {
  const { tmp, args } = fakeInstall();
  const listed = inspector(["--strict", "--method", "tools/list"], args, tmp);
  assert.equal(listed.status, 0, listed.stderr);
  assert.equal(listed.stderr.trim(), "", "no problems reported");
  const tools = JSON.parse(listed.stdout).tools;
  assert.equal(tools.length, 11);
  assert.ok(tools.some((t) => t.name === "stata_record"), "the research record's tool is listed");

  const called = inspector(
    ["--method", "tools/call", "--tool-name", "stata_run_code", "--tool-arg", "code=display 6*7"],
    args,
    tmp,
  );
  assert.equal(called.status, 0, called.stderr);
  const result = JSON.parse(called.stdout);
  assert.match(result.content[0].text, /Stata run ok/);
  assert.match(result.content[0].text, /\n42\n/);
});
