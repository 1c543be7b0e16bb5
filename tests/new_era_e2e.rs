//! End to end, the 2026-07-28 revision on the same server as the older ones (raw lines, as
//! the newest Claude Code sends them): `server/discover` and enveloped requests with no
//! `initialize`, a notification before the era is set, progress, a cancel that stops Stata
//! and silences the request, the client's profile from the request's `_meta`, its project
//! folder from `CLAUDE_PROJECT_DIR`, and its own limit from `MCP_TOOL_TIMEOUT`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, FakeStata, eventually, result_text, server_path, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);

/// The `_meta` every request of the new revision carries.
fn envelope(token: Option<i64>) -> Value {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "claude-code", "version": "2.1.337"}
    });
    if let Some(t) = token {
        meta["progressToken"] = json!(t);
    }
    meta
}

/// A server as Claude Code starts it: no --workdir, in `/`, its project in the environment.
fn claude_code(fake: &FakeStata, env: &[(&str, &str)]) -> Client {
    let mut cmd = Command::new(server_path());
    cmd.arg("--stata-path")
        .arg(fake.stata())
        .arg("--log-dir")
        .arg(fake.log_dir())
        .args(["--mode", "session"])
        .current_dir("/")
        .env_remove("STATA_PATH")
        .env_remove("STATA_MCP_WORKDIR")
        .env("HOME", fake.home())
        .env("CLAUDE_PROJECT_DIR", fake.work())
        .env("RUST_LOG", "error")
        // As a client that reads only JSON would be served (the profile decides).
        .env("STATA_MCP_STRUCTURED_CONTENT", "always");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Client::spawn(cmd)
}

fn call(c: &mut Client, id: i64, tool: &str, args: Value, token: Option<i64>) {
    c.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": args, "_meta": envelope(token)}}));
}

fn frames_for(c: &Client, token: i64) -> usize {
    c.seen
        .iter()
        .filter(|r| r.msg.pointer("/params/progressToken") == Some(&json!(token)))
        .count()
}

#[test]
fn a_new_era_client_is_served_and_its_cancel_stops_stata_and_silences_the_call() {
    let fake = FakeStata::new();
    let mut c = claude_code(&fake, &[]);
    c.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": envelope(None)}}));
    let d = c.wait_response(1, LONG);
    let versions = d
        .pointer("/result/supportedVersions")
        .expect("versions")
        .to_string();
    assert!(
        versions.contains("2026-07-28") && versions.contains("2025-06-18"),
        "{d}"
    );
    // A notification before the first real request is dropped; the connection stays.
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}));

    call(
        &mut c,
        2,
        "stata_run_code",
        json!({"code": "display \"begun\"\nsleep 60000\ndisplay \"never\""}),
        Some(7),
    );
    assert!(
        eventually(LONG, || {
            while c.recv(Duration::from_millis(50)).is_some() {}
            c.seen.iter().any(|r| r.msg.to_string().contains("begun"))
        }),
        "progress for the running call"
    );
    assert!(!fake.live_processes().is_empty());
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "timeout"}}));
    let frames = frames_for(&c, 7);
    // For a while after the cancel: nothing for the cancelled request.
    let quiet = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < quiet {
        if let Some(r) = c.recv(Duration::from_millis(100)) {
            assert_ne!(
                r.msg.get("id"),
                Some(&json!(2)),
                "a result after the cancel"
            );
        }
    }
    // The next call answers at once: nothing queues behind the cancelled run.
    let start = Instant::now();
    call(
        &mut c,
        3,
        "stata_session_info",
        json!({"action": "status"}),
        None,
    );
    let r = c.wait_response(3, LONG);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let text = result_text(&r);
    assert!(text.contains("profile claude-code "), "{text}");
    assert!(
        text.contains(&fake.work().display().to_string()),
        "its project folder: {text}"
    );
    assert!(
        text.contains("idle"),
        "the cancelled run was stopped: {text}"
    );
    assert_eq!(frames_for(&c, 7), frames, "no frame after the cancel");
    assert!(
        !c.seen.iter().any(|r| r.msg.get("id") == Some(&json!(2))),
        "no result for it"
    );
}

#[test]
fn the_project_folder_comes_from_the_clients_environment_and_bounds_the_call() {
    let fake = FakeStata::new();
    fake.write("here.do", "display \"ran here\"\n");
    let mut c = claude_code(&fake, &[]);
    call(
        &mut c,
        1,
        "stata_run_file",
        json!({"path": "here.do"}),
        None,
    );
    let r = c.wait_response(1, LONG);
    assert!(result_text(&r).contains("ran here"), "{r}");
    let outside = fake.work().parent().expect("root").to_path_buf();
    call(
        &mut c,
        2,
        "stata_run_code",
        json!({"code": "display 1", "cwd": outside}),
        None,
    );
    let r = c.wait_response(2, LONG);
    assert!(result_text(&r).contains("outside the folders"), "{r}");
}

#[test]
fn the_clients_own_limit_sets_when_a_run_becomes_a_job() {
    let fake = FakeStata::new();
    let mut c = claude_code(&fake, &[("MCP_TOOL_TIMEOUT", "3000")]);
    let start = Instant::now();
    call(
        &mut c,
        1,
        "stata_run_code",
        json!({"code": "sleep 8000"}),
        None,
    );
    let r = c.wait_response(1, LONG);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let text = result_text(&r);
    assert!(text.contains("MCP_TOOL_TIMEOUT"), "{text}");
    assert!(structured(&r)["job_id"].is_string(), "{r}");
}

#[test]
fn the_read_only_session_tool_says_so_and_refuses_to_change_anything() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "session"]);
    c.initialize();
    let id = c.request("tools/list", json!({}));
    let tools = c.wait_response(id, LONG);
    let info = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "stata_session_info")
        .cloned()
        .expect("stata_session_info");
    assert_eq!(info["annotations"]["readOnlyHint"], true);
    assert_eq!(info["annotations"]["destructiveHint"], false);
    let r = c.call("stata_session_info", json!({"action": "list"}), LONG);
    assert!(
        !result_text(&r).is_empty() && r.get("error").is_none(),
        "{r}"
    );
    let r = c.call("stata_session_info", json!({"action": "restart"}), LONG);
    assert!(result_text(&r).contains("action"), "{r}");
}
