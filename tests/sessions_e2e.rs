//! End to end, named sessions: several console Statas (the project's double) in one server,
//! each with its own data and line of calls, within `--max-sessions`, idle ones closed.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{Client, FakeStata, eventually, is_error, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);

fn server(fake: &FakeStata, extra: &[&str]) -> Client {
    let mut args = vec!["--mode", "session"];
    args.extend_from_slice(extra);
    let mut c = Client::start(fake, &args);
    c.initialize();
    c
}

fn run_in(c: &mut Client, session: &str, code: &str) -> Value {
    c.call(
        "stata_run_code",
        json!({ "code": code, "session": session }),
        LONG,
    )
}

fn job_in(c: &mut Client, session: &str, code: &str) -> String {
    let r = c.call(
        "stata_run_code",
        json!({ "code": code, "session": session, "background": true }),
        LONG,
    );
    assert!(!is_error(&r), "{r}");
    structured(&r)["job_id"]
        .as_str()
        .expect("job id")
        .to_owned()
}

fn job_status(c: &mut Client, job: &str) -> String {
    let r = c.call("stata_job", json!({ "job_id": job }), LONG);
    structured(&r)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn list(c: &mut Client) -> Value {
    let r = c.call("stata_session", json!({ "action": "list" }), LONG);
    assert!(!is_error(&r), "{r}");
    structured(&r)["sessions"].clone()
}

/// The entry of `name` in a `list`.
fn entry<'a>(sessions: &'a Value, name: &str) -> &'a Value {
    sessions
        .as_array()
        .and_then(|a| a.iter().find(|s| s["session"] == name))
        .unwrap_or_else(|| panic!("no session {name} in {sessions}"))
}

#[test]
fn sessions_keep_separate_data_and_are_listed() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &[]);
    let r = run_in(&mut c, "main", "sysuse auto");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    let r = run_in(&mut c, "other", "clear\ndisplay \"N=\" c(N)");
    assert!(result_text(&r).contains("N=0"), "{r}");
    // A call naming no session is main's: its data is still there.
    let r = c.call(
        "stata_run_code",
        json!({"code": "display \"N=\" c(N)"}),
        LONG,
    );
    assert!(result_text(&r).contains("N=74"), "{r}");
    let r = c.call(
        "stata_inspect_data",
        json!({"what": "describe", "session": "other"}),
        LONG,
    );
    assert_eq!(structured(&r)["observations"], 0, "{r}");

    let sessions = list(&mut c);
    let (main, other) = (entry(&sessions, "main"), entry(&sessions, "other"));
    assert_eq!(main["running"], true, "{sessions}");
    assert_eq!(other["running"], true, "{sessions}");
    assert_ne!(main["pid"], other["pid"], "two Statas: {sessions}");
    assert_eq!(main["calls"], 2, "{sessions}");
    assert!(main["memory_bytes"].as_u64().unwrap_or(0) > 0, "{sessions}");
    assert_eq!(sessions[0]["session"], "main", "main is listed first");
    assert_eq!(fake.live_processes().len(), 2);
    let text = result_text(&c.call("stata_session", json!({"action": "list"}), LONG));
    assert!(text.contains("main: idle for"), "{text}");
    assert!(text.contains("other: idle for"), "{text}");
}

#[test]
fn a_long_job_in_one_session_does_not_hold_up_another() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &[]);
    let job = job_in(
        &mut c,
        "main",
        "display \"start\"\nsleep 15000\ndisplay \"end\"",
    );
    assert!(
        eventually(LONG, || job_status(&mut c, &job) == "running"),
        "the job started"
    );
    let r = run_in(&mut c, "explore", "display 6*7");
    assert!(result_text(&r).contains("42"), "{r}");
    let text = result_text(&r);
    assert!(
        !text.contains("waited"),
        "explore waits for nothing: {text}"
    );
    // Answered while main's job still runs.
    assert_eq!(job_status(&mut c, &job), "running");

    // The list says what holds main.
    let sessions = list(&mut c);
    let busy = entry(&sessions, "main")["busy_with"]
        .as_str()
        .unwrap_or_default();
    assert!(
        busy.contains(&format!("background job {job}")),
        "{sessions}"
    );

    // A call in main itself waits, and says for what.
    let r = run_in(&mut c, "main", "display \"after\"");
    let text = result_text(&r);
    assert!(text.contains("after"), "{text}");
    assert!(
        text.contains("waited") && text.contains(&format!("background job {job}")),
        "{text}"
    );
    assert!(
        text.contains("another session"),
        "a long wait suggests one: {text}"
    );
}

#[test]
fn calls_in_one_session_keep_their_order() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &[]);
    run_in(&mut c, "b", "global order \"\"");
    let job = job_in(&mut c, "b", "sleep 1500\nglobal order \"$order job\"");
    let ids: Vec<i64> = (1..=3)
        .map(|i| {
            c.call_tool(
                "stata_run_code",
                json!({"code": format!("global order \"$order {i}\""), "session": "b"}),
                None,
            )
        })
        .collect();
    for id in ids {
        let r = c.wait_response(id, LONG);
        assert_eq!(structured(&r)["status"], "ok", "{r}");
    }
    assert!(eventually(LONG, || job_status(&mut c, &job) == "ok"));
    let r = run_in(&mut c, "b", "display \"[$order]\"");
    assert!(result_text(&r).contains("[ job 1 2 3]"), "{r}");
}

#[test]
fn max_sessions_refuses_one_more_and_says_how_to_free_one() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &["--max-sessions", "2"]);
    run_in(&mut c, "main", "display 1");
    run_in(&mut c, "a", "display 1");
    let r = run_in(&mut c, "b", "display 1");
    let text = result_text(&r);
    assert_eq!(structured(&r)["status"], "failed_to_start", "{r}");
    assert!(text.contains("--max-sessions"), "{text}");
    assert!(
        text.contains("main (idle") && text.contains("a (idle"),
        "{text}"
    );
    assert!(text.contains("\"action\": \"close\""), "{text}");
    assert_eq!(fake.live_processes().len(), 2, "no third Stata started");

    // Closing one frees its seat.
    let r = c.call(
        "stata_session",
        json!({"action": "close", "session": "a"}),
        LONG,
    );
    assert!(result_text(&r).contains("session \"a\" is closed"), "{r}");
    let r = run_in(&mut c, "b", "display \"in b\"");
    assert!(result_text(&r).contains("in b"), "{r}");
}

#[test]
fn an_idle_session_is_closed_and_the_next_call_says_its_state_was_reset() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &["--session-idle-secs", "1"]);
    run_in(&mut c, "main", "global kept 1");
    run_in(&mut c, "scratch", "global g 5");
    assert!(
        eventually(LONG, || entry(&list(&mut c), "scratch")["running"] == false),
        "scratch closed after a second idle"
    );
    let sessions = list(&mut c);
    assert_eq!(
        entry(&sessions, "main")["running"],
        true,
        "main is never closed"
    );
    let lost = entry(&sessions, "scratch")["lost"]
        .as_str()
        .unwrap_or_default();
    assert!(lost.contains("--session-idle-secs"), "{sessions}");
    assert_eq!(fake.live_processes().len(), 1);

    let r = run_in(&mut c, "scratch", "display \"g=[$g]\"");
    let text = result_text(&r);
    assert!(text.contains("g=[]"), "a fresh Stata: {text}");
    assert!(
        text.contains("a new Stata session \"scratch\" was started because it had nothing to do"),
        "{text}"
    );
    let r = run_in(&mut c, "main", "display \"kept=$kept\"");
    assert!(result_text(&r).contains("kept=1"), "{r}");
}

#[test]
fn closing_a_session_cancels_its_job_first() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &[]);
    run_in(&mut c, "main", "display 1");
    let job = job_in(&mut c, "long", "display \"start\"\nsleep 60000");
    // Its Stata has started and printed its first line (the job's summary also says
    // "start", so the line is matched whole).
    assert!(eventually(LONG, || {
        result_text(&c.call("stata_job", json!({ "job_id": job }), LONG)).contains("\nstart\n")
    }));
    let live = fake.live_processes();
    assert_eq!(live.len(), 2, "{live:?} {}", list(&mut c));
    let r = c.call(
        "stata_session",
        json!({"action": "close", "session": "long"}),
        LONG,
    );
    let text = result_text(&r);
    assert!(
        text.contains(&format!("background job {job}")) && text.contains("cancelled first"),
        "{text}"
    );
    assert_eq!(job_status(&mut c, &job), "cancelled");
    assert!(eventually(LONG, || fake.live_processes().len() == 1));
    let sessions = list(&mut c);
    assert!(
        sessions.as_array().is_some_and(|a| a.len() == 1),
        "the closed session is gone: {sessions}"
    );
    // Closing a session that does not exist says which do.
    let r = c.call(
        "stata_session",
        json!({"action": "close", "session": "nope"}),
        LONG,
    );
    assert!(is_error(&r), "{r}");
    assert!(result_text(&r).contains("main (idle"), "{r}");
}

#[test]
fn a_crashed_session_leaves_the_others_alone() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &[]);
    run_in(&mut c, "main", "sysuse auto");
    run_in(&mut c, "fragile", "global x 1");
    let pid = entry(&list(&mut c), "fragile")["pid"]
        .as_u64()
        .expect("pid");
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let r = run_in(&mut c, "main", "display \"N=\" c(N)");
    assert!(result_text(&r).contains("N=74"), "{r}");
    let r = run_in(&mut c, "fragile", "display \"x=[$x]\"");
    let text = result_text(&r);
    assert!(text.contains("x=[]"), "{text}");
    assert!(text.contains("ended between calls"), "{text}");
}

#[test]
fn stdin_closing_stops_every_session() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &[]);
    for s in ["main", "a", "b"] {
        run_in(&mut c, s, "display 1");
    }
    job_in(&mut c, "a", "sleep 60000");
    assert_eq!(fake.live_processes().len(), 3);
    c.close_stdin();
    assert!(c.wait_exit(LONG).is_some(), "the server exits");
    assert!(
        eventually(Duration::from_secs(5), || fake.live_processes().is_empty()),
        "left running: {:?}",
        fake.live_processes()
    );
}

#[test]
fn bad_names_and_batch_mode_are_refused_with_the_reason() {
    let fake = FakeStata::new();
    let mut c = server(&fake, &[]);
    let r = run_in(&mut c, "../etc", "display 1");
    assert!(is_error(&r), "{r}");
    assert!(result_text(&r).contains("short identifiers"), "{r}");
    assert!(fake.live_processes().is_empty());

    let mut b = Client::start(&fake, &["--mode", "batch"]);
    b.initialize();
    let r = run_in(&mut b, "main", "display 1");
    assert!(is_error(&r), "{r}");
    assert!(result_text(&r).contains("batch mode"), "{r}");
    let r = b.call("stata_run_code", json!({"code": "display 1"}), LONG);
    assert_eq!(structured(&r)["status"], "ok", "{r}");
}
