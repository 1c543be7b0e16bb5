//! End to end, background jobs: `background: true`, `stata_job` (poll, wait, cancel, list)
//! and `--auto-background-secs`, in both modes, against the project's double of Stata.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{Client, FakeStata, eventually, frame_message, is_error, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);
const BATCH: &[&str] = &["--mode", "batch"];
const SESSION: &[&str] = &["--mode", "session"];

/// About 3 s of output: one line every 100 ms.
const TICKS: &str = "forvalues i = 1/30 {\n    display \"tick `i'\"\n    sleep 100\n}\n";
/// Prints a line, then runs for a minute unless stopped.
const SLEEPER: &str = "display \"start\"\nsleep 60000\ndisplay \"never\"";

fn start_job(c: &mut Client, code: &str) -> String {
    let resp = c.call(
        "stata_run_code",
        json!({"code": code, "background": true}),
        LONG,
    );
    assert!(!is_error(&resp), "{resp}");
    let s = structured(&resp);
    assert_eq!(s["done"], false, "{resp}");
    s["job_id"].as_str().expect("job_id").to_owned()
}

/// Polls `job` with `wait_s` (progress token `poll-<n>` on each call) until it has ended;
/// returns every answer, in order.
fn poll_until_done(c: &mut Client, job: &str, wait_s: f64) -> Vec<Value> {
    let mut answers = Vec::new();
    for n in 0..60 {
        let token = format!("poll-{job}-{n}");
        let id = c.call_tool(
            "stata_job",
            json!({"job_id": job, "wait_s": wait_s}),
            Some(&token),
        );
        let resp = c.wait_response(id, LONG);
        let done = structured(&resp)["done"] == true;
        answers.push(resp);
        if done {
            return answers;
        }
    }
    panic!("job {job} did not end: {:?}", answers.last());
}

/// `tick 1` ... `tick 30`, each exactly once, in `text`.
fn assert_each_tick_once(text: &str) {
    for i in 1..=30 {
        let n = text.lines().filter(|l| *l == format!("tick {i}")).count();
        assert_eq!(n, 1, "tick {i} appears {n} times in:\n{text}");
    }
}

fn background_job_runs_and_polls_give_each_line_once(mode: &[&str]) {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, mode);
    c.initialize();
    let resp = c.call(
        "stata_run_code",
        json!({"code": TICKS, "background": true}),
        LONG,
    );
    assert!(!is_error(&resp), "{resp}");
    let s = structured(&resp);
    assert_eq!(s["job_id"], "job-1", "{resp}");
    assert!(
        s["status"] == "running" || s["status"] == "queued",
        "{resp}"
    );
    assert!(
        s["runs_dir"].as_str().is_some_and(|d| d.ends_with("runs")),
        "{resp}"
    );
    // The run is named at once: its id and where its log is being written.
    let start_run_id = s["run_id"].as_str().expect("run_id at start").to_owned();
    assert!(
        s["log_path"]
            .as_str()
            .is_some_and(|p| p.contains(&start_run_id) && p.ends_with("run.log")),
        "{resp}"
    );
    assert!(
        result_text(&resp).contains("stata_job"),
        "says how to follow it"
    );
    // Stata is running while the client is free.
    assert!(eventually(Duration::from_secs(5), || !fake
        .live_processes()
        .is_empty()));

    let answers = poll_until_done(&mut c, "job-1", 1.0);
    assert!(
        answers.len() >= 2,
        "{mode:?}: a 3 s job and 1 s waits: {answers:?}"
    );
    let streamed: String = answers
        .iter()
        .map(|a| structured(a)["new_output"].as_str().unwrap_or_default())
        .collect();
    assert_each_tick_once(&streamed);
    let polls_with_output = answers
        .iter()
        .filter(|a| structured(a)["new_output"] != "")
        .count();
    assert!(polls_with_output >= 2, "{mode:?}: output came in pieces");
    let frames: usize = (0..answers.len())
        .map(|n| c.frames(&format!("poll-job-1-{n}")).len())
        .sum();
    assert!(frames > 0, "{mode:?}: waiting polls stream progress");

    // The last answer: the whole run result a foreground call gives, and the job fields.
    let last = answers.last().expect("answers");
    let s = structured(last);
    assert!(!is_error(last), "{last}");
    assert_eq!(s["status"], "ok");
    assert_eq!(s["job_id"], "job-1");
    assert_eq!(s["rc"], Value::Null);
    // Of the output, only what earlier polls did not show, and a line saying so.
    assert_eq!(
        s["output"], s["new_output"],
        "the output is what this poll saw first"
    );
    assert!(
        result_text(last).contains("shown by earlier stata_job looks are not repeated"),
        "{last}"
    );
    let log = s["log_path"].as_str().expect("log_path");
    let log_text = std::fs::read_to_string(log).expect("log");
    assert!(log_text.contains("tick 30"));
    assert_eq!(
        s["run_id"],
        start_run_id.as_str(),
        "the run named at the start"
    );
    assert!(log.contains(&start_run_id));
    let text = result_text(last);
    assert!(text.contains("Stata run ok"), "{text}");

    // No frame for a poll comes after that poll's answer, even later on.
    std::thread::sleep(Duration::from_millis(300));
    while c.recv(Duration::from_millis(50)).is_some() {}
    for (n, answer) in answers.iter().enumerate() {
        let token = format!("poll-job-1-{n}");
        let answered = c
            .seen
            .iter()
            .position(|r| r.msg == *answer)
            .expect("answer seen");
        let late = c.seen.iter().skip(answered + 1).any(|r| {
            r.msg
                .pointer("/params/progressToken")
                .and_then(Value::as_str)
                == Some(&token)
        });
        assert!(!late, "{mode:?}: a frame for {token} came after its answer");
    }
}

#[test]
fn batch_background_job_runs_and_polls_give_each_line_once() {
    background_job_runs_and_polls_give_each_line_once(BATCH);
}

#[test]
fn session_background_job_runs_and_polls_give_each_line_once() {
    background_job_runs_and_polls_give_each_line_once(SESSION);
}

/// Starts the sleeper job and polls until it has printed its first line: Stata is running.
fn start_sleeper(c: &mut Client) -> (String, String) {
    let job = start_job(c, SLEEPER);
    let mut seen = String::new();
    for _ in 0..20 {
        let resp = c.call("stata_job", json!({"job_id": job, "wait_s": 0.5}), LONG);
        seen.push_str(structured(&resp)["new_output"].as_str().unwrap_or_default());
        if seen.contains("start\n") {
            break;
        }
    }
    (job, seen)
}

fn cancelling_a_job_stops_stata(mode: &[&str]) {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, mode);
    c.initialize();
    let (job, seen) = start_sleeper(&mut c);
    assert!(seen.contains("start\n"), "{mode:?}: {seen}");
    assert!(!fake.live_processes().is_empty());

    let id = c.call_tool(
        "stata_job",
        json!({"job_id": job, "cancel": true}),
        Some("cancel"),
    );
    let resp = c.wait_response(id, LONG);
    let s = structured(&resp);
    assert_eq!(s["status"], "cancelled", "{mode:?}: {resp}");
    assert_eq!(s["done"], true);
    assert!(is_error(&resp));
    assert!(result_text(&resp).contains("was cancelled"), "{resp}");
    assert!(!s["output"].as_str().unwrap_or_default().contains("never"));

    if mode == BATCH {
        assert!(
            eventually(Duration::from_secs(5), || fake.live_processes().is_empty()),
            "Stata left running: {:?}",
            fake.live_processes()
        );
    } else {
        // The break brought the session back to its prompt: it alone is left, and serves.
        assert!(
            fake.live_processes().len() <= 1,
            "{:?}",
            fake.live_processes()
        );
        let resp = c.call("stata_run_code", json!({"code": "display \"alive\""}), LONG);
        assert_eq!(structured(&resp)["status"], "ok", "{resp}");
    }
    let again = c.call("stata_job", json!({"job_id": job, "cancel": true}), LONG);
    assert!(result_text(&again).contains("already ended"), "{again}");
    assert_eq!(structured(&again)["status"], "cancelled");

    c.close_stdin();
    assert!(c.wait_exit(Duration::from_secs(10)).is_some());
    assert!(eventually(Duration::from_secs(5), || fake
        .live_processes()
        .is_empty()));
}

#[test]
fn batch_cancelling_a_job_stops_stata() {
    cancelling_a_job_stops_stata(BATCH);
}

#[test]
fn session_cancelling_a_job_breaks_stata() {
    cancelling_a_job_stops_stata(SESSION);
}

#[test]
fn session_job_and_a_later_foreground_call_take_turns() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, SESSION);
    c.initialize();
    let code = "forvalues i = 1/10 {\n    display \"tick `i'\"\n    sleep 100\n}\nglobal order \"job first\"\n";
    let job = start_job(&mut c, code);
    let id = c.call_tool(
        "stata_run_code",
        json!({"code": "display \"then: $order\""}),
        Some("fg"),
    );
    let resp = c.wait_response(id, LONG);
    assert_eq!(structured(&resp)["status"], "ok", "{resp}");
    assert!(
        result_text(&resp).contains("then: job first"),
        "the foreground call ran after the job: {resp}"
    );
    let queued = c
        .frames("fg")
        .iter()
        .any(|f| frame_message(f).starts_with("queued"));
    assert!(queued, "the foreground call said it waited");
    let answers = poll_until_done(&mut c, &job, 5.0);
    let last = answers.last().expect("answers");
    assert_eq!(structured(last)["status"], "ok", "{last}");
    assert!(result_text(last).contains("tick 10"));
}

#[test]
fn jobs_are_listed_and_bad_requests_say_what_to_do() {
    let fake = FakeStata::new();
    fake.write("quick.do", "display \"from the file `1'\"\n");
    let mut c = Client::start(&fake, BATCH);
    c.initialize();

    let resp = c.call("stata_job", json!({}), LONG);
    assert!(!is_error(&resp));
    assert!(result_text(&resp).contains("No background jobs"), "{resp}");
    assert_eq!(structured(&resp)["jobs"], json!([]));
    let resp = c.call("stata_job", json!({"job_id": "job-1"}), LONG);
    assert!(is_error(&resp));
    assert!(result_text(&resp).contains("started no jobs"), "{resp}");

    let resp = c.call(
        "stata_run_file",
        json!({"path": "quick.do", "args": ["a"], "background": true}),
        LONG,
    );
    assert_eq!(structured(&resp)["job_id"], "job-1", "{resp}");
    assert_eq!(structured(&resp)["tool"], "stata_run_file");
    let job2 = start_job(&mut c, "display \"second\"");
    assert_eq!(job2, "job-2");
    for job in ["job-1", "job-2"] {
        let last = poll_until_done(&mut c, job, 10.0).pop().expect("answer");
        assert_eq!(structured(&last)["status"], "ok", "{last}");
    }
    let resp = c.call("stata_job", json!({"job_id": "job-1"}), LONG);
    // Its output was shown by the poll that saw it end; a later look points to the log.
    assert!(!result_text(&resp).contains("from the file a"), "{resp}");
    assert!(result_text(&resp).contains("stata_read_log"), "{resp}");
    let run_id = structured(&resp)["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    assert_eq!(structured(&resp)["new_output"], "", "nothing new since");

    let resp = c.call("stata_job", json!({}), LONG);
    let jobs = structured(&resp)["jobs"].as_array().expect("jobs").clone();
    let ids: Vec<&str> = jobs.iter().filter_map(|j| j["job_id"].as_str()).collect();
    assert_eq!(ids, ["job-2", "job-1"], "newest first: {resp}");
    assert!(jobs.iter().all(|j| j["status"] == "ok"), "{resp}");
    assert!(result_text(&resp).contains("job-2  ok"), "{resp}");

    let bad = |c: &mut Client, args: Value, expect: &str| {
        let resp = c.call("stata_job", args.clone(), LONG);
        assert!(is_error(&resp), "{args}: {resp}");
        assert!(
            result_text(&resp).contains(expect),
            "{args}: wanted {expect:?} in {resp}"
        );
    };
    bad(&mut c, json!({"job_id": "job-99"}), "job-1 to job-2");
    bad(&mut c, json!({"job_id": "job-99"}), "stata_job {}");
    bad(&mut c, json!({"job_id": run_id}), "stata_read_log");
    bad(&mut c, json!({"cancel": true}), "needs a job_id");
    bad(
        &mut c,
        json!({"job_id": "job-1", "wait_s": -1}),
        "wait_s must be",
    );
    bad(
        &mut c,
        json!({"job_id": "job-1", "when": 1}),
        "invalid arguments",
    );

    let resp = c.call("stata_job", json!({"job_id": "job-1", "wait_s": 500}), LONG);
    assert!(!is_error(&resp));
    assert!(
        structured(&resp)["job_notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("at most 50 s")),
        "{resp}"
    );

    // A run that cannot start says so at once, and makes no job.
    let resp = c.call(
        "stata_run_file",
        json!({"path": "missing.do", "background": true}),
        LONG,
    );
    assert!(is_error(&resp));
    assert_eq!(structured(&resp)["status"], "failed_to_start", "{resp}");
    let resp = c.call("stata_job", json!({}), LONG);
    assert_eq!(structured(&resp)["jobs"].as_array().map(Vec::len), Some(2));
}

fn auto_background_turns_a_long_run_into_a_job(mode: &[&str]) {
    let fake = FakeStata::new();
    let mut args = mode.to_vec();
    // 2 s: a quick run ends well before it even on a loaded machine; TICKS takes 3 s.
    args.extend(["--auto-background-secs", "2"]);
    let mut c = Client::start(&fake, &args);
    c.initialize();

    // A short run answers as ever.
    let resp = c.call("stata_run_code", json!({"code": "display 1"}), LONG);
    assert_eq!(structured(&resp)["status"], "ok", "{resp}");
    assert!(structured(&resp).get("job_id").is_none(), "{resp}");

    let id = c.call_tool("stata_run_code", json!({"code": TICKS}), Some("fg"));
    let resp = c.wait_response(id, LONG);
    // Answered while Stata was still running: the run went on as a job.
    assert!(
        !fake.live_processes().is_empty(),
        "{mode:?}: the run had already ended"
    );
    assert!(!is_error(&resp), "{resp}");
    let s = structured(&resp);
    assert_eq!(s["job_id"], "job-1", "{resp}");
    assert_eq!(s["status"], "running", "{resp}");
    assert!(
        result_text(&resp).contains("goes on in the background"),
        "{resp}"
    );
    assert!(
        !c.frames("fg").is_empty(),
        "streamed while in the foreground"
    );
    let mut streamed = s["new_output"].as_str().unwrap_or_default().to_owned();

    let answers = poll_until_done(&mut c, "job-1", 2.0);
    for a in &answers {
        streamed.push_str(structured(a)["new_output"].as_str().unwrap_or_default());
    }
    assert_each_tick_once(&streamed);
    let last = answers.last().expect("answers");
    assert_eq!(structured(last)["status"], "ok", "{last}");

    let resp = c.call("stata_job", json!({}), LONG);
    assert_eq!(
        structured(&resp)["jobs"].as_array().map(Vec::len),
        Some(1),
        "only the run that outlasted the limit is a job: {resp}"
    );
}

#[test]
fn batch_auto_background_turns_a_long_run_into_a_job() {
    auto_background_turns_a_long_run_into_a_job(BATCH);
}

#[test]
fn session_auto_background_turns_a_long_run_into_a_job() {
    auto_background_turns_a_long_run_into_a_job(SESSION);
}

#[test]
fn a_job_running_when_stdin_closes_is_stopped_and_its_log_kept() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let (_job, seen) = start_sleeper(&mut c);
    assert!(seen.contains("start\n"), "{seen}");
    c.close_stdin();
    assert!(
        c.wait_exit(Duration::from_secs(10)).is_some(),
        "the server exits"
    );
    assert!(
        eventually(Duration::from_secs(5), || fake.live_processes().is_empty()),
        "Stata left running: {:?}",
        fake.live_processes()
    );
    let runs: Vec<_> = std::fs::read_dir(fake.log_dir().join("runs"))
        .expect("runs")
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    let log = std::fs::read_to_string(runs[0].path().join("run.log")).expect("log");
    assert!(log.contains("start"), "{log}");
}

#[test]
fn a_finished_jobs_result_repeats_nothing_this_caller_has_seen() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "batch"]);
    c.initialize();
    let job = start_job(
        &mut c,
        "display \"first part\"\nsleep 1500\ndisplay \"second part\"\nerror 459",
    );
    // A look while it runs shows the first part.
    assert!(eventually(Duration::from_secs(5), || {
        let resp = c.call("stata_job", json!({"job_id": job}), LONG);
        structured(&resp)["new_output"]
            .as_str()
            .is_some_and(|o| o.contains("first part"))
    }));
    let last = poll_until_done(&mut c, &job, 10.0).pop().expect("answer");
    let text = result_text(&last);
    let output = structured(&last)["output"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(output.contains("second part"), "{text}");
    assert!(!output.contains("first part"), "seen already: {text}");
    assert_eq!(
        text.matches("first part").count(),
        1,
        "only in the job's summary: {text}"
    );
    assert!(text.contains("r(459)"), "the error block in full: {text}");
    assert!(text.contains("not repeated here"), "{text}");
    assert!(text.contains("stata_read_log"), "{text}");
}
