//! End to end, session mode: the real binary over pipes, one console Stata (the project's
//! double) kept alive across calls.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{Client, FakeStata, eventually, frame_message, is_error, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(20);
const SESSION: &[&str] = &["--mode", "session"];

fn run(c: &mut Client, code: &str) -> Value {
    c.call("stata_run_code", json!({ "code": code }), LONG)
}

fn session(fake: &FakeStata) -> Client {
    let mut c = Client::start(fake, SESSION);
    c.initialize();
    c
}

/// Text the user must never see: the runner's own commands, markers and log headers.
fn assert_no_runner_lines(what: &str, text: &str) {
    // The result's own last line names the run and its log on purpose.
    let text = text
        .lines()
        .filter(|l| !l.starts_with("--- run "))
        .collect::<Vec<_>>()
        .join("\n");
    for bad in [
        "STATA_MCP",
        "stata_mcp",
        "capture log close",
        "_return",
        "run.log",
        "set more off",
    ] {
        assert!(!text.contains(bad), "{bad:?} leaked into {what}: {text}");
    }
}

#[test]
fn data_and_macros_persist_across_calls() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    let r = run(&mut c, "sysuse auto\nglobal g 42\nlocal l 7");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    let r = run(&mut c, "summarize mpg");
    let text = result_text(&r);
    assert!(text.contains("mpg |         74     21.2973"), "{text}");
    let r = run(&mut c, "display $g + `l'");
    assert!(result_text(&r).contains("\n49\n"), "{r}");
    // r() of one call is still there in the next (the runner's `log` commands leave it).
    run(&mut c, "quietly summarize price");
    let r = run(&mut c, "display r(N)");
    assert!(result_text(&r).contains("\n74\n"), "{r}");
    assert_eq!(
        fake.live_processes().len(),
        1,
        "one Stata serves every call"
    );
    assert_no_runner_lines("a result", &result_text(&r));
}

#[test]
fn concurrent_calls_are_serialised_and_the_second_is_told_it_waits() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "display 0");
    let a = c.call_tool(
        "stata_run_code",
        json!({"code": "forvalues i = 1/5 {\n    display \"A`i'\"\n    sleep 100\n}"}),
        Some("ta"),
    );
    std::thread::sleep(Duration::from_millis(100));
    let b = c.call_tool(
        "stata_run_code",
        json!({"code": "forvalues i = 1/3 {\n    display \"B`i'\"\n}"}),
        Some("tb"),
    );
    let ra = c.wait_response(a, LONG);
    let rb = c.wait_response(b, LONG);
    let (ta, tb) = (result_text(&ra), result_text(&rb));
    assert!(ta.contains("A5") && !ta.contains("B1"), "{ta}");
    assert!(tb.contains("B3") && !tb.contains("A1"), "{tb}");
    let fb: String = c.frames("tb").iter().map(frame_message).collect();
    assert!(
        fb.contains("queued"),
        "no queued frame for the second call: {fb}"
    );
    assert!(!fb.contains("A1"), "{fb}");
    // The result says it waited, and for what; the first call did not wait.
    let notes = structured(&rb)["notes"].to_string();
    assert!(
        notes.contains("waited") && notes.contains("1 earlier call"),
        "{rb}"
    );
    assert!(
        !structured(&ra)["notes"].to_string().contains("waited"),
        "{ra}"
    );
    let fa: String = c.frames("ta").iter().map(frame_message).collect();
    assert!(!fa.contains("B1"), "{fa}");
    assert_no_runner_lines("progress", &(fa + &fb));
}

#[test]
fn a_timeout_breaks_the_command_and_keeps_the_data() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "sysuse auto");
    let r = c.call(
        "stata_run_code",
        json!({"code": "display \"before\"\nsleep 60000\ndisplay \"after\"", "timeout_s": 0.5}),
        LONG,
    );
    assert_eq!(structured(&r)["status"], "timeout", "{r}");
    let text = result_text(&r);
    assert!(
        text.contains("before") && !text.contains("\nafter"),
        "{text}"
    );
    assert!(text.contains("data in memory is intact"), "{text}");
    assert_no_runner_lines("a timed-out result", &text);
    let r = run(&mut c, "count");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    assert!(result_text(&r).contains("74"), "{r}");
    assert!(!result_text(&r).contains("new Stata session"), "{r}");
}

#[test]
fn a_cancelled_sleep_leaves_the_session_alive_with_its_data() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "sysuse auto");
    let pids = fake.live_processes();
    let id = c.call_tool(
        "stata_run_code",
        json!({"code": "display \"going\"\nsleep 60000"}),
        Some("tc"),
    );
    loop {
        let r = c.recv(LONG).expect("frames");
        if frame_message(&r).contains("going") {
            break;
        }
    }
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id, "reason": "test"}}));
    let r = run(&mut c, "summarize mpg");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    assert!(result_text(&r).contains("21.2973"), "{r}");
    assert_eq!(fake.live_processes(), pids, "the same Stata goes on");
    assert!(c.seen.iter().all(|m| m.msg.get("id") != Some(&json!(id))));
}

#[test]
fn a_stata_that_ignores_the_break_is_killed_and_replaced() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "session", "--break-grace-secs", "1"]);
    c.initialize();
    run(&mut c, "sysuse auto\n_double ignore_sigint");
    let r = c.call(
        "stata_run_code",
        json!({"code": "sleep 60000", "timeout_s": 0.3}),
        LONG,
    );
    assert_eq!(structured(&r)["status"], "timeout", "{r}");
    let text = result_text(&r);
    assert!(text.contains("session was lost"), "{text}");
    assert!(
        eventually(Duration::from_secs(3), || fake.live_processes().is_empty()),
        "the stuck Stata was not killed"
    );
    let r = run(&mut c, "count");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    let text = result_text(&r);
    assert!(
        text.contains("new Stata session") && text.contains("gone"),
        "{text}"
    );
    assert!(text.contains("\n  0\n"), "the data should be gone: {text}");
}

#[test]
fn a_crash_mid_call_is_an_error_with_the_output_so_far_and_the_next_call_works() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "sysuse auto");
    let r = run(
        &mut c,
        "display \"before the crash\"\n_double crash\ndisplay \"never\"",
    );
    assert!(is_error(&r), "{r}");
    let text = result_text(&r);
    assert!(
        text.contains("before the crash") && !text.contains("\nnever"),
        "{text}"
    );
    assert!(text.contains("died"), "{text}");
    let r = run(&mut c, "display 2 + 2");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    let text = result_text(&r);
    assert!(text.contains("\n4\n") && text.contains("gone"), "{text}");
}

#[test]
fn exit_in_user_code_ends_the_session_without_hanging_and_the_next_call_restarts() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    for code in ["sysuse auto\nexit, clear STATA", "exit, clear"] {
        let r = run(&mut c, code);
        assert!(!result_text(&r).contains("STATA_MCP"), "{r}");
        let r = run(&mut c, "display \"again\"");
        assert_eq!(structured(&r)["status"], "ok", "{r}");
        assert!(result_text(&r).contains("again"), "{r}");
        if code.contains("STATA") {
            assert!(result_text(&r).contains("new Stata session"), "{r}");
        }
    }
    let r = run(&mut c, "sysuse auto\nclear all\ndisplay c(N)");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    let r = run(&mut c, "display \"still here\"");
    assert!(result_text(&r).contains("still here"), "{r}");
    assert!(!result_text(&r).contains("new Stata session"), "{r}");
}

#[test]
fn the_users_own_logs_do_not_break_streaming() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    let code = "log using mine.log, text replace\ndisplay \"inside\"\nlog close\ndisplay \"after\"";
    let id = c.call_tool("stata_run_code", json!({ "code": code }), Some("tl"));
    let r = c.wait_response(id, LONG);
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    let text = result_text(&r);
    assert!(text.contains("inside") && text.contains("after"), "{text}");
    assert!(fake.work().join("mine.log").is_file());
    // Even closing every log, the runner's included, ends the call.
    let r = run(&mut c, "display \"one\"\nlog close _all\ndisplay \"two\"");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    assert!(result_text(&r).contains("one"), "{r}");
    // The footer of the runner's own log is not shown.
    assert_no_runner_lines("a result", &result_text(&r));
    let r = run(&mut c, "display \"three\"");
    assert!(result_text(&r).contains("three"), "{r}");
    let frames: String = c.frames("tl").iter().map(frame_message).collect();
    assert!(frames.contains("inside"), "{frames}");
    assert_no_runner_lines("progress", &frames);
    assert_no_runner_lines("a result", &result_text(&r));
}

#[test]
fn errors_are_reported_and_the_session_goes_on() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "sysuse auto");
    let r = run(&mut c, "generate y = nosuch + 1");
    assert_eq!(structured(&r)["status"], "error", "{r}");
    assert_eq!(structured(&r)["rc"], 111, "{r}");
    assert_no_runner_lines("an error result", &result_text(&r));
    let r = run(&mut c, "display c(N)");
    assert!(result_text(&r).contains("\n74\n"), "{r}");
}

#[test]
fn closing_stdin_ends_the_session_and_its_processes() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "display 1");
    assert_eq!(fake.live_processes().len(), 1);
    c.close_stdin();
    assert!(
        c.wait_exit(Duration::from_secs(10)).is_some(),
        "server did not exit"
    );
    assert!(
        eventually(Duration::from_secs(3), || fake.live_processes().is_empty()),
        "Stata survived the server"
    );
}

#[test]
fn the_session_starts_lazily_or_at_launch_with_warm() {
    let fake = FakeStata::new();
    let _lazy = session(&fake);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        fake.live_processes().is_empty(),
        "Stata started before any call"
    );

    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "session", "--warm"]);
    c.initialize();
    assert!(
        eventually(Duration::from_secs(5), || fake.live_processes().len() == 1),
        "--warm did not start Stata"
    );
    let r = run(&mut c, "display 5");
    assert!(result_text(&r).contains("\n5\n"), "{r}");
    assert_eq!(fake.live_processes().len(), 1);
}

#[test]
fn an_invalid_licence_is_a_fast_failed_to_start() {
    let fake = FakeStata::new();
    let mut c = Client::start_with_env(&fake, SESSION, &[("STATA_DOUBLE_LICENSE", "invalid")]);
    c.initialize();
    let r = run(&mut c, "display 1");
    assert_eq!(structured(&r)["status"], "failed_to_start", "{r}");
    let text = result_text(&r);
    assert!(
        text.contains("License is invalid") && text.contains("licence"),
        "{text}"
    );
    assert!(!text.contains("data"), "no data was ever lost: {text}");
}

#[test]
fn a_failed_first_start_is_retried_by_the_next_call() {
    let fake = FakeStata::new();
    // A Stata whose licence becomes valid once a file exists.
    let flag = fake.dir.path().join("licensed");
    let script = fake.dir.path().join("bin/flaky-stata");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ -e '{}' ]; then exec '{}' \"$@\"; fi\necho 'License is invalid'\n",
            flag.display(),
            common::double_path().display()
        ),
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut cmd = std::process::Command::new(common::server_path());
    cmd.args(SESSION)
        .arg("--stata-path")
        .arg(&script)
        .arg("--log-dir")
        .arg(fake.log_dir())
        .arg("--workdir")
        .arg(fake.work());
    let mut c = Client::spawn(cmd);
    c.initialize();
    let r = run(&mut c, "display 1");
    assert_eq!(structured(&r)["status"], "failed_to_start", "{r}");
    std::fs::write(&flag, "").expect("flag");
    let r = run(&mut c, "display 40 + 2");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    assert!(result_text(&r).contains("42"), "{r}");
}

#[test]
fn run_file_runs_in_the_session_with_its_arguments() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "sysuse auto");
    let path = fake.write("sub/step.do", "args what\ndisplay \"`what'\"\ncount\n");
    let r = c.call(
        "stata_run_file",
        json!({"path": path.to_string_lossy(), "args": ["hello there"]}),
        LONG,
    );
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    let text = result_text(&r);
    assert!(
        text.contains("hello there") && text.contains("74"),
        "{text}"
    );
    assert_no_runner_lines("a run_file result", &text);
}

#[test]
fn get_results_returns_typed_json_after_regress() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "sysuse auto\nregress price mpg");
    let r = c.call("stata_get_results", json!({"class": "e"}), LONG);
    assert!(!is_error(&r), "{r}");
    let s = structured(&r);
    assert_eq!(s["scalars"]["N"], json!(74.0), "{s}");
    let r2 = s["scalars"]["r2"].as_f64().expect("r2");
    assert!((r2 - 0.2196).abs() < 1e-4, "{r2}");
    assert_eq!(s["macros"]["cmd"], "regress");
    let b = &s["matrices"]["b"];
    assert_eq!(
        (b["rows"].clone(), b["cols"].clone()),
        (json!(1), json!(2)),
        "{b}"
    );
    assert_eq!(b["colnames"], json!(["mpg", "_cons"]));
    let coef = b["values"][0][0].as_f64().expect("coef");
    assert!((coef + 238.894).abs() < 1e-3, "{coef}");
    let v = &s["matrices"]["V"];
    assert_eq!(v["values"][0][1], v["values"][1][0], "V is symmetric: {v}");
    assert_no_runner_lines("get_results", &result_text(&r));

    // r() after summarize; inspecting the data leaves r() alone.
    run(&mut c, "summarize mpg");
    let r = c.call(
        "stata_inspect_data",
        json!({"what": "summarize", "vars": ["price"]}),
        LONG,
    );
    assert!(!is_error(&r), "{r}");
    let r = c.call("stata_get_results", json!({"class": "r"}), LONG);
    let s = structured(&r);
    assert!(
        (s["scalars"]["mean"].as_f64().expect("mean") - 21.2973).abs() < 1e-3,
        "{s}"
    );
}

#[test]
fn inspect_data_describes_summarizes_lists_and_codebooks() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "sysuse auto");
    let r = c.call("stata_inspect_data", json!({"what": "describe"}), LONG);
    let s = structured(&r);
    assert_eq!(
        (s["observations"].clone(), s["variables"].clone()),
        (json!(74), json!(12)),
        "{s}"
    );
    assert!(
        s["output"]
            .as_str()
            .expect("output")
            .contains("Make and model"),
        "{s}"
    );

    let r = c.call(
        "stata_inspect_data",
        json!({"what": "summarize", "vars": ["price", "mpg"], "if": "foreign == 1"}),
        LONG,
    );
    let s = structured(&r);
    assert_eq!(s["summary"][0]["variable"], "price", "{s}");
    assert_eq!(s["summary"][0]["obs"], json!(22.0), "{s}");

    let r = c.call(
        "stata_inspect_data",
        json!({"what": "list", "vars": ["make", "price"]}),
        LONG,
    );
    let out = structured(&r)["output"]
        .as_str()
        .expect("output")
        .to_owned();
    assert!(out.contains(" 20. |") && !out.contains(" 21. |"), "{out}");
    assert!(result_text(&r).contains("first 20 of 74"), "{r}");

    let r = c.call(
        "stata_inspect_data",
        json!({"what": "list", "vars": ["make"], "n": 3, "if": "foreign == 1"}),
        LONG,
    );
    let s = structured(&r);
    let out = s["output"].as_str().expect("output");
    assert!(
        out.contains("Audi 5000") && out.contains("  3. |") && !out.contains("  4. |"),
        "{s}"
    );
    assert_eq!(s["matching"], json!(22));
    // The data in memory is untouched by the listing.
    let r = run(&mut c, "count");
    assert!(result_text(&r).contains("74"), "{r}");

    let r = c.call(
        "stata_inspect_data",
        json!({"what": "codebook", "vars": ["mpg"]}),
        LONG,
    );
    assert!(
        structured(&r)["output"]
            .as_str()
            .expect("o")
            .contains("Mileage (mpg)"),
        "{r}"
    );

    let r = c.call(
        "stata_inspect_data",
        json!({"what": "describe", "vars": ["nosuch"]}),
        LONG,
    );
    assert!(is_error(&r) && result_text(&r).contains("nosuch"), "{r}");
    // The user's problem, none of the server's own commands.
    let text = result_text(&r);
    assert!(text.starts_with("variable nosuch not found"), "{text}");
    assert_no_runner_lines("a failed inspection", &text);
    assert!(
        !text.contains("describe nosuch"),
        "the query itself is not shown: {text}"
    );
    for bad in [
        json!({"what": "list", "vars": ["price; drop _all"]}),
        json!({"what": "list", "if": "1\ndrop _all"}),
        json!({"what": "list", "n": 0}),
        json!({"what": "explode"}),
    ] {
        let r = c.call("stata_inspect_data", bad.clone(), LONG);
        assert!(is_error(&r), "{bad} was accepted: {r}");
    }
    let r = run(&mut c, "count");
    assert!(result_text(&r).contains("74"), "{r}");
}

#[test]
fn status_without_a_stata_says_none_can_start() {
    let fake = FakeStata::new();
    std::fs::remove_file(fake.stata()).expect("remove the fake Stata");
    let mut c = session(&fake);
    let r = c.call("stata_session", json!({"action": "status"}), LONG);
    assert_eq!(structured(&r)["running"], false, "{r}");
    let notes = structured(&r)["notes"].to_string();
    assert!(notes.contains("none can start"), "{r}");
    assert!(notes.contains("STATA_PATH"), "the fix is named: {r}");
    assert!(!notes.contains("first call starts one"), "{r}");
}

#[test]
fn help_and_session_status_and_restart() {
    let fake = FakeStata::new();
    let mut c = session(&fake);
    let r = c.call("stata_session", json!({"action": "status"}), LONG);
    assert_eq!(structured(&r)["running"], false, "{r}");
    assert!(
        fake.live_processes().is_empty(),
        "status must not start Stata"
    );

    let r = c.call("stata_help", json!({"topic": "regress"}), LONG);
    assert!(!is_error(&r), "{r}");
    assert!(
        structured(&r)["text"]
            .as_str()
            .expect("text")
            .contains("Linear regression")
    );
    assert_no_runner_lines("help", &result_text(&r));
    let r = c.call("stata_help", json!({"topic": "nosuchcommand"}), LONG);
    assert!(is_error(&r), "{r}");

    run(&mut c, "sysuse auto");
    let r = c.call("stata_session", json!({"action": "status"}), LONG);
    let s = structured(&r);
    assert_eq!(s["running"], true, "{s}");
    assert_eq!(s["version"], json!(18.0), "{s}");
    assert_eq!(s["edition"], "MP", "{s}");
    assert_eq!(s["observations"], json!(74), "{s}");
    assert_eq!(s["variables"], json!(12), "{s}");
    assert_eq!(s["calls"], json!(1), "{s}");
    assert_eq!(
        std::path::Path::new(s["pwd"].as_str().expect("pwd"))
            .canonicalize()
            .ok(),
        fake.work().canonicalize().ok(),
        "{s}"
    );

    let r = c.call("stata_session", json!({"action": "restart"}), LONG);
    let s = structured(&r);
    assert_eq!(
        (s["running"].clone(), s["observations"].clone()),
        (json!(true), json!(0)),
        "{s}"
    );
    let r = run(&mut c, "display c(N)");
    assert!(result_text(&r).contains("\n0\n"), "{r}");
    assert!(!result_text(&r).contains("new Stata session"), "{r}");
}

#[test]
fn session_tools_in_batch_mode_say_how_to_switch() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "batch"]);
    c.initialize();
    let r = c.call("stata_get_results", json!({"class": "e"}), LONG);
    assert!(is_error(&r), "{r}");
    assert!(result_text(&r).contains("--mode session"), "{r}");
    let id = c.request("tools/list", json!({}));
    let tools = c.wait_response(id, LONG);
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for n in [
        "stata_inspect_data",
        "stata_get_results",
        "stata_help",
        "stata_session",
    ] {
        assert!(names.contains(&n), "{n} not listed: {names:?}");
    }
}

#[test]
fn a_warm_session_answers_many_calls_with_one_stata() {
    // How fast is measured in benches/ (docs/performance.md); here: one process serves all.
    let fake = FakeStata::new();
    let mut c = session(&fake);
    run(&mut c, "display 0");
    let first = fake.live_processes();
    assert_eq!(first.len(), 1, "{first:?}");
    for i in 1..=20 {
        let r = run(&mut c, &format!("display {i}*2"));
        assert_eq!(structured(&r)["status"], "ok", "{r}");
        assert!(result_text(&r).contains(&(i * 2).to_string()), "{r}");
    }
    assert_eq!(fake.live_processes(), first, "the session was restarted");
}
