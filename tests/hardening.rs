//! Faults, floods, hostile input and awkward paths: nothing lost, nothing left running,
//! and the server keeps serving.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{Client, FakeStata, eventually, frame_message, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);
const BATCH: &[&str] = &["--mode", "batch"];
const SESSION: &[&str] = &["--mode", "session"];

fn run_code(c: &mut Client, code: &str) -> Value {
    let id = c.call_tool("stata_run_code", json!({ "code": code }), None);
    c.wait_response(id, LONG)
}

#[test]
fn shell_escapes_are_refused_unless_allowed() {
    let fake = FakeStata::new();
    fake.write("inner.do", "display 1\n!echo pwned > pwned.txt\n");
    fake.write("outer.do", "do inner.do\n");
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let resp = run_code(&mut c, "display 1\nshell echo pwned > pwned.txt");
    assert_eq!(resp.pointer("/result/isError"), Some(&json!(true)));
    assert!(result_text(&resp).contains("--allow-shell"), "{resp}");
    let id = c.call_tool("stata_run_file", json!({"path": "outer.do"}), None);
    let resp = c.wait_response(id, LONG);
    assert!(
        result_text(&resp).contains("inner.do"),
        "names the nested file: {resp}"
    );
    assert!(!fake.work().join("pwned.txt").exists());

    let mut c = Client::start(&fake, &["--mode", "batch", "--allow-shell"]);
    c.initialize();
    let resp = run_code(&mut c, "shell echo allowed");
    assert_eq!(structured(&resp)["status"], "ok", "{resp}");
    assert!(result_text(&resp).contains("allowed"));
}

#[test]
fn awkward_paths_work_in_both_modes() {
    for mode in [BATCH, SESSION] {
        let fake = FakeStata::new();
        let dir = "dir with spaces/O'Brien/数据";
        fake.write(
            &format!("{dir}/analysis file.do"),
            "display \"in `c(pwd)'\"\ndisplay \"arg=`1'\"\n",
        );
        let log_dir = fake.dir.path().join("logs O'Neil 日志");
        let mut cmd = std::process::Command::new(common::server_path());
        cmd.args(mode)
            .arg("--stata-path")
            .arg(fake.stata())
            .arg("--log-dir")
            .arg(&log_dir)
            .arg("--workdir")
            .arg(fake.work());
        let mut c = Client::spawn(cmd);
        c.initialize();
        let id = c.call_tool(
            "stata_run_file",
            json!({"path": format!("{dir}/analysis file.do"), "args": ["two words"]}),
            None,
        );
        let resp = c.wait_response(id, LONG);
        let text = result_text(&resp);
        assert_eq!(structured(&resp)["status"], "ok", "{mode:?}: {resp}");
        assert!(
            text.contains("O'Brien/数据"),
            "{mode:?}: ran in the do-file's folder: {text}"
        );
        assert!(text.contains("arg=two words"), "{mode:?}: {text}");
        let log = structured(&resp)["log_path"]
            .as_str()
            .expect("log")
            .to_owned();
        assert!(log.contains("日志"), "{log}");
    }
}

#[test]
fn code_that_contains_the_runners_marker_text_is_output_like_any_other() {
    for mode in [BATCH, SESSION] {
        let fake = FakeStata::new();
        let mut c = Client::start(&fake, mode);
        c.initialize();
        let code = "display \"STATA_MCP_END_0000000000000000_0\"\ndisplay \"do `\\\"`STATA_MCP_do'\\\"' `STATA_MCP_args'\"\ndisplay \"end of do-file\"\ndisplay \"after\"";
        let resp = run_code(&mut c, code);
        let text = result_text(&resp);
        assert_eq!(structured(&resp)["status"], "ok", "{mode:?}: {resp}");
        assert!(
            text.contains("STATA_MCP_END_0000000000000000_0"),
            "{mode:?}: {text}"
        );
        assert!(text.contains("after"), "{mode:?}: {text}");
    }
}

#[test]
fn a_crash_mid_run_is_an_error_with_the_output_so_far() {
    for mode in [BATCH, SESSION] {
        let fake = FakeStata::new();
        let mut c = Client::start(&fake, mode);
        c.initialize();
        let resp = run_code(
            &mut c,
            "display \"before the crash\"\n_double crash\ndisplay \"never\"",
        );
        assert_eq!(
            resp.pointer("/result/isError"),
            Some(&json!(true)),
            "{mode:?}: {resp}"
        );
        let text = result_text(&resp);
        assert!(text.contains("before the crash"), "{mode:?}: {text}");
        assert!(!text.contains("never"));
        assert!(
            eventually(Duration::from_secs(5), || fake.live_processes().is_empty()),
            "{mode:?}"
        );
        // The next call works.
        let resp = run_code(&mut c, "display 40+2");
        assert_eq!(structured(&resp)["status"], "ok", "{mode:?}: {resp}");
    }
}

#[test]
fn stata_that_ignores_breaks_is_killed_at_the_time_limit() {
    for mode in [BATCH, SESSION] {
        let fake = FakeStata::new();
        let mut args = mode.to_vec();
        args.extend(["--break-grace-secs", "1"]);
        let mut c = Client::start(&fake, &args);
        c.initialize();
        let id = c.call_tool(
            "stata_run_code",
            json!({"code": "_double ignore_sigint\ndisplay \"stubborn\"\nsleep 60000", "timeout_s": 1}),
            None,
        );
        let resp = c.wait_response(id, LONG);
        assert_eq!(structured(&resp)["status"], "timeout", "{mode:?}: {resp}");
        assert!(result_text(&resp).contains("stubborn"));
        assert!(
            eventually(Duration::from_secs(5), || fake.live_processes().is_empty()),
            "{mode:?}: Stata left running"
        );
    }
}

#[test]
fn stata_that_cannot_start_fails_fast_and_clearly() {
    let fake = FakeStata::new();
    let not_exec = fake.dir.path().join("bin/stata-se");
    std::fs::write(&not_exec, "not a program").expect("write");
    for (stata, expect) in [
        (not_exec.clone(), "execut"),
        (fake.dir.path().join("bin/missing-stata"), "missing-stata"),
    ] {
        let mut cmd = std::process::Command::new(common::server_path());
        cmd.args(BATCH)
            .arg("--stata-path")
            .arg(&stata)
            .arg("--log-dir")
            .arg(fake.log_dir());
        let mut c = Client::spawn(cmd);
        c.initialize();
        let resp = run_code(&mut c, "display 1");
        assert_eq!(
            resp.pointer("/result/isError"),
            Some(&json!(true)),
            "{resp}"
        );
        assert!(result_text(&resp).contains(expect), "{expect}: {resp}");
        assert!(result_text(&resp).contains("STATA_PATH"), "{resp}");
    }
}

#[test]
fn a_flood_keeps_memory_bounded_caps_the_result_and_keeps_the_whole_log() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    // 400,000 lines of 250 characters: about 100 MB.
    let (lines, width) = (400_000, 250);
    let id = c.call_tool(
        "stata_run_code",
        json!({"code": format!("_double burst {lines} {width}\ndisplay \"done\"")}),
        Some("flood"),
    );
    let resp = c.wait_response(id, Duration::from_secs(240));
    let s = structured(&resp);
    assert_eq!(s["status"], "ok", "{}", result_text(&resp));
    assert_eq!(s["truncated"], true);
    let text = result_text(&resp);
    assert!(
        text.len() < 60_000,
        "result not capped: {} bytes",
        text.len()
    );
    assert!(text.contains("done"), "the tail is kept");

    // The full log is on disk.
    let log = std::fs::read(s["log_path"].as_str().expect("log")).expect("log");
    assert!(log.len() > lines * width, "log has {} bytes", log.len());
    // Stata wraps long lines at 79 columns; each burst line starts with "burst".
    let burst_lines = log
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"burst "))
        .count();
    assert_eq!(burst_lines, lines);

    // Frames kept coming during the flood, paced (at most one per 100 ms), not one per line.
    let frames = c.frames("flood");
    assert!(
        frames.len() >= 3,
        "only {} frames during the flood",
        frames.len()
    );
    let span = frames.last().expect("frames").at - frames[0].at;
    let allowed = span.as_secs_f64() * 10.0 + 3.0;
    assert!(
        (frames.len() as f64) <= allowed,
        "{} frames in {span:?}: faster than one per 100 ms",
        frames.len()
    );
    assert!(
        frames.len() < 2_000,
        "{} frames for {lines} lines",
        frames.len()
    );
    assert!(
        frames.iter().all(|f| frame_message(f).len() <= 9_000),
        "a frame exceeded the cap"
    );

    // Peak memory of the server.
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.child.id())).expect("status");
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM");
    assert!(hwm_kb < 64 * 1024, "peak RSS {hwm_kb} kB");
}

#[test]
fn twenty_concurrent_batch_runs_all_complete_under_the_cap() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "batch", "--max-parallel", "3"]);
    c.initialize();
    let ids: Vec<(i64, usize)> = (0..20)
        .map(|i| {
            let code = format!("display \"run {i} start\"\nsleep 100\ndisplay \"run {i} end\"");
            (
                c.call_tool("stata_run_code", json!({ "code": code }), None),
                i,
            )
        })
        .collect();
    let mut peak = 0;
    let mut pending: Vec<_> = ids.clone();
    let deadline = std::time::Instant::now() + LONG;
    while !pending.is_empty() && std::time::Instant::now() < deadline {
        peak = peak.max(fake.live_processes().len());
        if c.recv(Duration::from_millis(5)).is_some() {
            pending.retain(|(id, _)| !c.seen.iter().any(|r| r.msg.get("id") == Some(&json!(id))));
        }
    }
    assert!(pending.is_empty(), "{} runs never answered", pending.len());
    assert!(
        peak <= 3,
        "{peak} Stata processes at once with --max-parallel 3"
    );
    for (id, i) in ids {
        let resp = c
            .seen
            .iter()
            .find(|r| r.msg.get("id") == Some(&json!(id)))
            .expect("resp");
        let text = result_text(&resp.msg);
        assert!(text.contains(&format!("run {i} end")), "{text}");
        for j in 0..20 {
            if j != i {
                assert!(
                    !text.contains(&format!("run {j} ")),
                    "output of run {j} in run {i}"
                );
            }
        }
    }
}

#[test]
fn no_progress_frame_ever_follows_its_response_over_many_cancelled_runs() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let mut cancelled = Vec::new();
    let mut answered = Vec::new();
    for i in 0..200u64 {
        let token = format!("t{i}");
        let code = "forvalues k = 1/40 {\n    display \"k `k'\"\n    sleep 5\n}";
        let id = c.call_tool("stata_run_code", json!({ "code": code }), Some(&token));
        // Cancel about half of them, after a pseudo-random delay.
        let roll = (i * 2_654_435_761) % 100;
        if roll < 50 {
            std::thread::sleep(Duration::from_millis(roll));
            c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id}}));
            cancelled.push((id, token));
        } else {
            c.wait_response(id, LONG);
            answered.push((id, token));
        }
    }
    let ping = c.request("ping", json!({}));
    c.wait_response(ping, LONG);
    std::thread::sleep(Duration::from_millis(500));
    while c.recv(Duration::from_millis(100)).is_some() {}
    for (id, token) in answered.iter().chain(cancelled.iter()) {
        if let Some(resp_at) = c
            .seen
            .iter()
            .position(|r| r.msg.get("id") == Some(&json!(id)) && r.msg.get("method").is_none())
        {
            let late = c.seen[resp_at..]
                .iter()
                .any(|r| r.msg.pointer("/params/progressToken") == Some(&json!(token)));
            assert!(!late, "a progress frame for {token} followed its response");
        }
    }
    assert!(eventually(Duration::from_secs(5), || fake
        .live_processes()
        .is_empty()));
}

#[test]
fn hostile_json_rpc_is_answered_and_the_server_keeps_serving() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    // Before initialize: a notification is ignored, a request is answered.
    c.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#);
    let ping = c.request("ping", json!({}));
    let resp = c.wait_response(ping, LONG);
    assert!(resp.get("result").is_some(), "{resp}");
    // Any other request before initialize is told what to do.
    let early = c.request("tools/list", json!({}));
    let resp = c.wait_response(early, LONG);
    assert_eq!(resp.pointer("/error/code"), Some(&json!(-32600)), "{resp}");
    let message = resp.pointer("/error/message").and_then(|m| m.as_str());
    assert!(
        message.is_some_and(|m| m.contains("send initialize first")),
        "{resp}"
    );
    c.initialize();

    let cases: Vec<(String, i64)> = vec![
        ("{".into(), -32700),
        ("\u{0}\u{1}binary".into(), -32700),
        ("42".into(), -32600),
        ("\"text\"".into(), -32600),
        ("[]".into(), -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#.into(), -32600),
        (
            r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#.into(),
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9005,"method":"tools/call","params":"not an object"}"#.into(),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9006,"method":"does/not/exist"}"#.into(),
            -32601,
        ),
        (
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            -32700,
        ),
    ];
    for (line, code) in &cases {
        c.send_raw(line);
        let r = c
            .recv(LONG)
            .unwrap_or_else(|| panic!("no answer to {:.60}", line));
        assert_eq!(
            r.msg["error"]["code"],
            json!(code),
            "{:.60} -> {}",
            line,
            r.msg
        );
    }
    // A 10 MB line: valid JSON, a huge string argument; answered, not fatal.
    let big = "x".repeat(10 * 1024 * 1024);
    c.send(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {"code": big}}}));
    let resp = c.wait_response(99, LONG);
    assert_eq!(
        resp.pointer("/error/code"),
        Some(&json!(-32602)),
        "an unknown tool is invalid params: {:.200}",
        resp.to_string()
    );
    let message = resp.pointer("/error/message").and_then(|m| m.as_str());
    assert!(
        message.is_some_and(|m| m.contains("no_such_tool") && m.contains("stata_run_code")),
        "{:.300}",
        resp.to_string()
    );
    // Wrong argument types for a real tool.
    let id = c.call_tool(
        "stata_run_code",
        json!({"code": ["a"], "timeout_s": "soon"}),
        None,
    );
    let resp = c.wait_response(id, LONG);
    assert_eq!(resp.pointer("/result/isError"), Some(&json!(true)));
    // Duplicate ids: both answered (the second with an error if the first is still in flight).
    c.send(&json!({"jsonrpc": "2.0", "id": 500, "method": "ping"}));
    c.send(&json!({"jsonrpc": "2.0", "id": 500, "method": "ping"}));
    let answers_to_500 = |c: &Client| {
        c.seen
            .iter()
            .filter(|r| r.msg.get("id") == Some(&json!(500)) && r.msg.get("method").is_none())
            .count()
    };
    while answers_to_500(&c) < 2 {
        assert!(
            c.recv(LONG).is_some(),
            "the second request with id 500 got no answer"
        );
    }
    // Still serving real work.
    let resp = run_code(&mut c, "display 2+2");
    assert_eq!(structured(&resp)["status"], "ok", "{resp}");
}

#[test]
fn stdin_closing_during_a_queue_of_runs_or_start_up_leaves_nothing_running() {
    for mode in [BATCH, SESSION] {
        let fake = FakeStata::new();
        let mut c = Client::start(&fake, mode);
        c.initialize();
        for i in 0..4 {
            c.call_tool(
                "stata_run_code",
                json!({"code": format!("display \"q{i}\"\nsleep 30000")}),
                Some("q"),
            );
        }
        assert!(eventually(Duration::from_secs(10), || !fake
            .live_processes()
            .is_empty()));
        c.close_stdin();
        assert!(
            c.wait_exit(Duration::from_secs(10)).is_some(),
            "{mode:?}: server did not exit"
        );
        assert!(
            eventually(Duration::from_secs(2), || fake.live_processes().is_empty()),
            "{mode:?}: Stata survived"
        );
    }
    // During Stata's start-up (a slow licence check).
    let fake = FakeStata::new();
    let mut cmd = std::process::Command::new(common::server_path());
    cmd.args(SESSION)
        .arg("--stata-path")
        .arg(fake.stata())
        .arg("--log-dir")
        .arg(fake.log_dir())
        .env("STATA_DOUBLE_STARTUP_MS", "20000");
    let mut c = Client::spawn(cmd);
    c.initialize();
    c.call_tool("stata_run_code", json!({"code": "display 1"}), None);
    assert!(eventually(Duration::from_secs(10), || !fake
        .live_processes()
        .is_empty()));
    c.close_stdin();
    assert!(c.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        eventually(Duration::from_secs(2), || fake.live_processes().is_empty()),
        "Stata survived start-up"
    );
}

#[test]
fn ten_concurrent_session_calls_complete_in_order_each_with_its_own_output() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, SESSION);
    c.initialize();
    let ids: Vec<i64> = (0..10)
        .map(|i| {
            let code = format!("display \"call {i} start\"\nsleep 50\ndisplay \"call {i} end\"");
            c.call_tool(
                "stata_run_code",
                json!({ "code": code }),
                Some(&format!("s{i}")),
            )
        })
        .collect();
    for id in &ids {
        c.wait_response(*id, LONG);
    }
    // Answered in the order asked (the session runs one call at a time, first come first served).
    let order: Vec<i64> = c
        .seen
        .iter()
        .filter(|r| r.msg.get("method").is_none())
        .filter_map(|r| r.msg.get("id").and_then(Value::as_i64))
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(order, ids);
    for (i, id) in ids.iter().enumerate() {
        let resp = c
            .seen
            .iter()
            .find(|r| r.msg.get("id") == Some(&json!(id)))
            .expect("resp");
        assert_eq!(structured(&resp.msg)["status"], "ok", "{}", resp.msg);
        let text = result_text(&resp.msg);
        assert!(
            text.contains(&format!("call {i} start")) && text.contains(&format!("call {i} end")),
            "{text}"
        );
        // (The notes may name the call it waited for; the output is its own alone.)
        let output = text.split_once("--- output").map_or(text.as_str(), |x| x.1);
        for j in (0..10).filter(|j| *j != i) {
            assert!(
                !output.contains(&format!("call {j} ")),
                "output of call {j} in call {i}: {text}"
            );
        }
        // Its progress frames carry only its own output too (a "queued" status names the
        // call it waits for).
        let streamed: String = c
            .frames(&format!("s{i}"))
            .iter()
            .map(frame_message)
            .filter(|m| !m.starts_with("queued:"))
            .collect();
        for j in (0..10).filter(|j| *j != i) {
            assert!(
                !streamed.contains(&format!("call {j} ")),
                "call {j} streamed to call {i}"
            );
        }
    }
}

#[test]
fn a_run_cut_short_by_stdin_closing_says_the_server_stopped_it() {
    for mode in [BATCH, SESSION] {
        let fake = FakeStata::new();
        let mut c = Client::start(&fake, mode);
        c.initialize();
        let id = c.call_tool(
            "stata_run_code",
            json!({"code": "display \"started\"\nsleep 30000"}),
            None,
        );
        assert!(eventually(Duration::from_secs(10), || !fake
            .live_processes()
            .is_empty()));
        // As `printf ... | stata-mcp` does: the input ends while the call runs.
        c.close_stdin();
        let resp = c.wait_response(id, Duration::from_secs(10));
        let text = result_text(&resp);
        assert!(!text.contains("died"), "{mode:?}: not a crash: {text}");
        assert!(
            text.contains("closed the server's input"),
            "{mode:?}: {text}"
        );
        assert_eq!(structured(&resp)["status"], "cancelled", "{mode:?}: {resp}");
    }
}
