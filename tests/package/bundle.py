"""The Claude Desktop bundle (.mcpb), from both ends.

  bundle.py manifest TEMPLATE OUT BINARY VERSION
      writes the bundle's manifest: the template with the crate's version and the tools as
      the server lists them (names and descriptions come from the binary, their one home);
  bundle.py start UNPACKED STATA PROJECT
      starts the unpacked bundle as Claude Desktop does: the manifest's command, args and env,
      `${__dirname}` the bundle's folder and `${user_config.*}` the user's settings (the Stata
      path and the project folder filled in, the rest left empty as a form left blank sends them), then initialize,
      tools/list and a call, through the official MCP Python SDK.
"""

import asyncio
import json
import os
import subprocess
import sys


def listed_tools(binary):
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bundle-check", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    out = subprocess.run([binary], input=text, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "RUST_LOG": "error"})
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("id") == 2:
            return [{"name": t["name"], "description": t["description"]}
                    for t in msg["result"]["tools"]]
    raise SystemExit(f"no tools/list answer from {binary}: {out.stderr}")


def manifest(template, out, binary, version):
    with open(template) as f:
        m = json.load(f)
    m["version"] = version
    m["tools"] = listed_tools(binary)
    with open(out, "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    print(f"manifest: version {version}, {len(m['tools'])} tools")


def substitute(value, dirname, user):
    value = value.replace("${__dirname}", dirname)
    for key, v in user.items():
        value = value.replace("${user_config." + key + "}", v)
    return value


async def start(unpacked, stata, project):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    with open(os.path.join(unpacked, "manifest.json")) as f:
        m = json.load(f)
    config = m["server"]["mcp_config"]
    # The user's settings as the form gives them: the Stata path chosen, the others blank.
    user = {key: "" for key in m.get("user_config", {})}
    user["stata_path"] = stata
    user["project"] = project
    command = substitute(config["command"], unpacked, user)
    args = [substitute(a, unpacked, user) for a in config.get("args", [])]
    env = {k: substitute(v, unpacked, user) for k, v in config.get("env", {}).items()}
    # Claude Desktop starts it with a small environment of its own, not the user's shell's.
    base = {k: os.environ[k] for k in ("HOME", "PATH", "TMPDIR") if k in os.environ}
    # Claude Desktop starts servers in `/`.
    params = StdioServerParameters(command=command, args=args, env={**base, **env}, cwd="/")
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            names = {t.name for t in tools.tools}
            assert "stata_run_code" in names and "stata_record" in names, names
            assert len(tools.tools) == len(m["tools"]), (len(tools.tools), len(m["tools"]))
            result = await session.call_tool("stata_run_code", {"code": "display 6*7"})
            text = "".join(getattr(c, "text", "") for c in result.content)
            failed = getattr(result, "is_error", None) or getattr(result, "isError", None)
            assert "42" in text and not failed, text
    print(f"bundle: started as Claude Desktop starts it; {len(names)} tools; a call answered 42")


if __name__ == "__main__":
    if sys.argv[1] == "manifest":
        manifest(*sys.argv[2:6])
    elif sys.argv[1] == "start":
        asyncio.run(start(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        raise SystemExit(__doc__)
