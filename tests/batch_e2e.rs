//! End to end, batch mode: the real binary over pipes, Stata played by the project's double.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{Client, FakeStata, eventually, frame_message, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);
const BATCH: &[&str] = &["--mode", "batch"];

#[test]
fn output_streams_while_stata_runs_and_no_frame_follows_the_result() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let code = "forvalues i = 1/15 {\n    display \"line `i'\"\n    sleep 200\n}\n";
    let id = c.call_tool("stata_run_code", json!({"code": code}), Some("tok-1"));

    // The first line must reach us while Stata is still running: when it arrives, the
    // log on disk does not yet hold the last line and no response has come.
    let mut first_at = None;
    while first_at.is_none() {
        let r = c.recv(LONG).expect("a frame before the result");
        assert!(
            r.msg.get("id") != Some(&json!(id)),
            "result came before any progress: {}",
            r.msg
        );
        if frame_message(&r).contains("line 1\n") {
            first_at = Some(r.at);
        }
    }
    let logs = std::fs::read_dir(fake.log_dir().join("runs"))
        .expect("runs")
        .flatten()
        .count();
    assert_eq!(logs, 1);
    let run_dir = std::fs::read_dir(fake.log_dir().join("runs"))
        .expect("runs")
        .flatten()
        .next()
        .expect("run")
        .path();
    let log_now = std::fs::read_to_string(run_dir.join("run.log")).unwrap_or_default();
    assert!(
        !log_now.contains("line 15"),
        "Stata had already finished when the first frame arrived"
    );

    let resp = c.wait_response(id, LONG);
    // Nothing more for this token after the result.
    std::thread::sleep(Duration::from_millis(300));
    while c.recv(Duration::from_millis(50)).is_some() {}
    let frames = c.frames("tok-1");
    let resp_at = c
        .seen
        .iter()
        .find(|r| r.msg.get("id") == Some(&json!(id)))
        .expect("resp")
        .at;
    assert!(
        frames.iter().all(|f| f.at <= resp_at),
        "a progress frame followed the result"
    );

    // Many frames (one per line or coalesced chunk), progress strictly increasing.
    assert!(
        frames.len() >= 8,
        "only {} frames for 15 lines 200 ms apart",
        frames.len()
    );
    let progress: Vec<f64> = frames
        .iter()
        .map(|f| {
            f.msg
                .pointer("/params/progress")
                .and_then(Value::as_f64)
                .expect("progress")
        })
        .collect();
    assert!(
        progress.windows(2).all(|w| w[1] > w[0]),
        "progress not increasing: {progress:?}"
    );

    // Every line once, in order, across the frames; no wrapper lines.
    let streamed: String = frames.iter().map(frame_message).collect();
    let mut pos = 0;
    for i in 1..=15 {
        let needle = format!("line {i}\n");
        let at = streamed[pos..]
            .find(&needle)
            .unwrap_or_else(|| panic!("line {i} missing or out of order in {streamed}"));
        pos += at + needle.len();
    }
    assert!(
        !streamed.contains("STATA_MCP"),
        "wrapper lines leaked into progress: {streamed}"
    );

    let s = structured(&resp);
    assert_eq!(s["status"], "ok", "{resp}");
    assert_eq!(resp.pointer("/result/isError"), Some(&json!(false)));
    let text = result_text(&resp);
    assert!(text.contains("line 15"), "{text}");
    assert!(
        !text.contains("STATA_MCP") && !text.contains("quietly cd"),
        "wrapper lines in the result: {text}"
    );
}

#[test]
fn a_nested_error_is_reported_with_its_code_and_message() {
    let fake = FakeStata::new();
    fake.write(
        "main.do",
        "display \"start\"\ndo sub/helper.do\ndisplay \"never\"\n",
    );
    fake.write(
        "sub/helper.do",
        "set obs 10\ngen x = 1\ngen y = bad_var + 1\n",
    );
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let id = c.call_tool(
        "stata_run_file",
        json!({"path": "main.do", "cwd": fake.work()}),
        None,
    );
    let resp = c.wait_response(id, LONG);
    assert_eq!(
        resp.pointer("/result/isError"),
        Some(&json!(true)),
        "{resp}"
    );
    let s = structured(&resp);
    assert_eq!(s["status"], "error");
    assert_eq!(s["rc"], 111);
    assert!(
        s["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("bad_var not found"),
        "{s}"
    );
    // Located in the user's nested do-file.
    assert_eq!(s["error"]["line"], 3, "{s}");
    let file = s["error"]["file"].as_str().unwrap_or_default();
    assert!(file.ends_with("sub/helper.do"), "{s}");
    let text = result_text(&resp);
    assert!(text.contains("helper.do, line 3"), "{text}");
    assert!(
        text.contains("start"),
        "output before the error is kept: {text}"
    );
    assert!(!text.contains("never"));
}

#[test]
fn success_is_ok_and_the_log_is_kept() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let id = c.call_tool("stata_run_code", json!({"code": "display 6*7"}), None);
    let resp = c.wait_response(id, LONG);
    let s = structured(&resp);
    assert_eq!(s["status"], "ok", "{resp}");
    assert!(s["rc"].is_null());
    assert!(s["error"].is_null());
    let log = s["log_path"].as_str().expect("log_path");
    assert!(
        std::fs::read_to_string(log)
            .expect("log on disk")
            .contains("42")
    );
    assert!(result_text(&resp).contains("42"));
    assert!(c.frames("none").is_empty());
}

#[test]
fn no_progress_token_means_no_progress_frames() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let id = c.call_tool(
        "stata_run_code",
        json!({"code": "display 1\nsleep 300\ndisplay 2"}),
        None,
    );
    c.wait_response(id, LONG);
    assert!(
        c.seen
            .iter()
            .all(|r| r.msg.get("method").and_then(Value::as_str) != Some("notifications/progress")),
        "progress sent without a token"
    );
}

#[test]
fn bad_input_gets_clear_errors_fast() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let id = c.call_tool("stata_run_file", json!({"path": "missing.do"}), None);
    let resp = c.wait_response(id, LONG);
    assert_eq!(resp.pointer("/result/isError"), Some(&json!(true)));
    assert_eq!(structured(&resp)["status"], "failed_to_start");
    assert!(result_text(&resp).contains("missing.do"), "{resp}");

    let id = c.call_tool(
        "stata_run_code",
        json!({"code": "display 1", "cwd": "/no/such/dir"}),
        None,
    );
    let resp = c.wait_response(id, LONG);
    assert!(result_text(&resp).contains("/no/such/dir"), "{resp}");

    let id = c.call_tool("stata_run_code", json!({"code": 5}), None);
    let resp = c.wait_response(id, LONG);
    assert_eq!(
        resp.pointer("/result/isError"),
        Some(&json!(true)),
        "{resp}"
    );
    let text = result_text(&resp);
    assert!(
        text.contains("invalid arguments for stata_run_code"),
        "{resp}"
    );
    assert!(
        text.contains("`code` must be a string"),
        "says which and what: {text}"
    );
    assert!(
        text.contains("A correct call: {"),
        "gives an example: {text}"
    );
    assert!(
        !text.contains("did not start"),
        "not a start failure: {text}"
    );
    assert!(
        resp.pointer("/result/structuredContent").is_none(),
        "an argument error carries no run result: {resp}"
    );

    // Every tool answers bad arguments alike.
    for (tool, args, want) in [
        (
            "stata_run_code",
            json!({"code": "x", "timeout_s": "10"}),
            "`timeout_s` must be a number",
        ),
        (
            "stata_run_file",
            json!({"path": "a.do", "args": "hello"}),
            "`args` must be a list",
        ),
        (
            "stata_run_code",
            json!({"code": "x", "timeout_s": -1}),
            "timeout_s must be",
        ),
        (
            "stata_read_log",
            json!({"run_id": 7}),
            "`run_id` must be a string",
        ),
        (
            "stata_job",
            json!({"job_id": "job-1", "when": 1}),
            "no argument `when`",
        ),
        ("stata_job", json!({"wait_s": 5}), "needs a job_id"),
        (
            "stata_read_log",
            json!({"run_id": "x", "grep": "a", "tail_lines": 1}),
            "not both",
        ),
    ] {
        let resp = c.call(tool, args, LONG);
        let text = result_text(&resp);
        assert_eq!(
            resp.pointer("/result/isError"),
            Some(&json!(true)),
            "{resp}"
        );
        assert!(
            text.contains(&format!("invalid arguments for {tool}")),
            "{text}"
        );
        assert!(text.contains(want), "{tool}: {text}");
        assert!(text.contains("A correct call: {"), "{text}");
    }
    assert!(fake.live_processes().is_empty());
}

#[test]
fn stata_not_found_says_where_it_looked_and_how_to_set_stata_path() {
    let fake = FakeStata::new();
    let mut cmd = std::process::Command::new(common::server_path());
    cmd.args(BATCH)
        .arg("--stata-path")
        .arg(fake.dir.path().join("nowhere/stata-mp"))
        .arg("--log-dir")
        .arg(fake.log_dir());
    let mut c = Client::spawn(cmd);
    c.initialize();
    let id = c.call_tool("stata_run_code", json!({"code": "display 1"}), None);
    let resp = c.wait_response(id, LONG);
    assert_eq!(resp.pointer("/result/isError"), Some(&json!(true)));
    let text = result_text(&resp);
    assert!(text.contains("STATA_PATH"), "{text}");
    assert!(text.contains("nowhere"), "{text}");
}

#[test]
fn an_invalid_licence_is_reported_as_such() {
    let fake = FakeStata::new();
    let mut cmd = std::process::Command::new(common::server_path());
    cmd.args(BATCH)
        .arg("--stata-path")
        .arg(fake.stata())
        .arg("--log-dir")
        .arg(fake.log_dir())
        .env("STATA_DOUBLE_LICENSE", "invalid");
    let mut c = Client::spawn(cmd);
    c.initialize();
    let id = c.call_tool("stata_run_code", json!({"code": "display 1"}), None);
    let resp = c.wait_response(id, LONG);
    assert_eq!(structured(&resp)["status"], "failed_to_start", "{resp}");
    assert!(result_text(&resp).contains("License is invalid"), "{resp}");
}

#[test]
fn timeout_stops_stata_and_keeps_the_output_so_far() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let id = c.call_tool(
        "stata_run_code",
        json!({"code": "display \"before\"\nsleep 60000\ndisplay \"after\"", "timeout_s": 1.5}),
        None,
    );
    let resp = c.wait_response(id, LONG);
    let s = structured(&resp);
    assert_eq!(s["status"], "timeout", "{resp}");
    assert!(result_text(&resp).contains("before"));
    assert!(
        eventually(Duration::from_secs(5), || fake.live_processes().is_empty()),
        "Stata left running after a timeout"
    );
}

#[test]
fn cancellation_stops_stata_and_silences_the_request() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let code = "forvalues i = 1/1000 {\n    display \"tick `i'\"\n    sleep 50\n}\n";
    let id = c.call_tool("stata_run_code", json!({"code": code}), Some("tok-c"));
    // Wait until it is really running.
    loop {
        let r = c.recv(LONG).expect("frames");
        if frame_message(&r).contains("tick 3") {
            break;
        }
    }
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id, "reason": "test"}}));
    let cancelled_at = std::time::Instant::now();
    // Frames already in flight may still arrive just after; then nothing, and no response.
    while c.recv(Duration::from_secs(2)).is_some() {}
    let late: Vec<_> = c
        .frames("tok-c")
        .into_iter()
        .filter(|f| f.at > cancelled_at + Duration::from_millis(500))
        .collect();
    assert!(
        late.is_empty(),
        "{} frames long after the cancellation",
        late.len()
    );
    assert!(
        c.seen.iter().all(|r| r.msg.get("id") != Some(&json!(id))),
        "a cancelled request got a response"
    );
    assert!(
        eventually(Duration::from_secs(5), || fake.live_processes().is_empty()),
        "Stata left running after cancel"
    );
    // The server still serves.
    let ping = c.request("ping", json!({}));
    c.wait_response(ping, LONG);
}

#[test]
fn closing_stdin_mid_run_stops_stata_and_the_server() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    c.call_tool(
        "stata_run_code",
        json!({"code": "display \"go\"\nsleep 60000"}),
        Some("t"),
    );
    loop {
        let r = c.recv(LONG).expect("frames");
        if frame_message(&r).contains("go") {
            break;
        }
    }
    assert!(
        !fake.live_processes().is_empty(),
        "Stata should be running now"
    );
    c.close_stdin();
    let status = c.wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "server did not exit after stdin closed");
    assert!(
        eventually(Duration::from_secs(2), || fake.live_processes().is_empty()),
        "Stata survived the server"
    );
}

#[test]
fn garbage_lines_get_json_rpc_errors_and_the_server_keeps_serving() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.send_raw("this is not json");
    let r = c.recv(LONG).expect("parse error reply");
    assert_eq!(r.msg["error"]["code"], -32700, "{}", r.msg);
    assert!(r.msg["id"].is_null());
    c.initialize();
    c.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 7}");
    let r = c.recv(LONG).expect("invalid request reply");
    assert_eq!(r.msg["error"]["code"], -32600, "{}", r.msg);
    assert_eq!(r.msg["id"], 7);
    c.send_raw("[1, 2]");
    let r = c.recv(LONG).expect("batch reply");
    assert_eq!(r.msg["error"]["code"], -32600, "{}", r.msg);
    c.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 8, \"method\": \"no/such/method\"}");
    let r = c.recv(LONG).expect("method not found reply");
    assert_eq!(r.msg["error"]["code"], -32601, "{}", r.msg);
    assert_eq!(
        r.msg["error"]["message"], "method not found: no/such/method",
        "{}",
        r.msg
    );
    // What the server does not offer is not found either, whatever the client expects.
    for method in ["resources/list", "prompts/list"] {
        let id = c.request(method, json!({}));
        let resp = c.wait_response(id, LONG);
        assert_eq!(resp.pointer("/error/code"), Some(&json!(-32601)), "{resp}");
    }
    let ping = c.request("ping", json!({}));
    let resp = c.wait_response(ping, LONG);
    assert!(resp.get("result").is_some());
}
