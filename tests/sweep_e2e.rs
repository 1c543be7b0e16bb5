//! End to end, sweeps: `stata_sweep` runs one do-file per argument list as separate batch
//! Stata processes, bounded by `max_parallel`, followed with `stata_job`, in batch and
//! session mode, against the project's double of Stata.

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::{Client, FakeStata, frame_message, is_error, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);

/// A task: prints its argument, works for a moment, fails for `bad`.
const TASK: &str = "args year\ndisplay \"year `year' start\"\nsleep 600\nif \"`year'\" == \"bad\" {\n    confirm variable nosuch\n}\ndisplay \"year `year' done\"\n";

fn start_sweep(c: &mut Client, args: Value, extra: Value) -> String {
    let mut call = json!({"path": "task.do", "args": args});
    if let (Some(o), Some(e)) = (call.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let resp = c.call("stata_sweep", call, LONG);
    assert!(!is_error(&resp), "{resp}");
    let s = structured(&resp);
    assert_eq!(s["done"], false, "the sweep answers at once: {resp}");
    s["job_id"].as_str().expect("job_id").to_owned()
}

/// Waits on the job (progress token `sweep-<n>`), counting the double's live processes
/// meanwhile; the last answer and the most processes seen at once.
fn follow(c: &mut Client, fake: &FakeStata, job: &str) -> (Value, usize) {
    let mut most = 0;
    for n in 0..60 {
        let id = c.call_tool(
            "stata_job",
            json!({"job_id": job, "wait_s": 0.2}),
            Some(&format!("sweep-{n}")),
        );
        most = most.max(fake.live_processes().len());
        let resp = c.wait_response(id, LONG);
        most = most.max(fake.live_processes().len());
        if structured(&resp)["done"] == true {
            return (resp, most);
        }
    }
    panic!("the sweep did not end");
}

fn sweep_of_ten(mode: &str) {
    let fake = FakeStata::new();
    fake.write("task.do", TASK);
    let mut c = Client::start(&fake, &["--mode", mode, "--max-parallel", "3"]);
    c.initialize();
    let args: Vec<Value> = (0..10)
        .map(|i| {
            if i == 4 {
                json!(["bad"])
            } else {
                json!([format!("{}", 2010 + i)])
            }
        })
        .collect();
    let job = start_sweep(&mut c, json!(args), json!({"max_parallel": 5}));
    let (resp, most) = follow(&mut c, &fake, &job);
    let text = result_text(&resp);
    let s = structured(&resp);
    assert!(
        most <= 3,
        "{most} Stata processes ran at once with --max-parallel 3"
    );
    assert!(
        most >= 2,
        "the tasks ran in parallel (at most {most} at once)"
    );
    assert_eq!(s["status"], "error", "one task failed: {text}");
    let tasks = s["sweep"]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 10, "{text}");
    for (i, t) in tasks.iter().enumerate() {
        let want = if i == 4 { "error" } else { "ok" };
        assert_eq!(t["status"], want, "task {i}: {t}");
    }
    assert_eq!(tasks[4]["rc"], 111, "{}", tasks[4]);
    assert!(
        s["sweep"]["peak_running"].as_u64().is_some_and(|p| p <= 3),
        "{s}"
    );
    // One line per task, the failed task's error and output, the table.
    assert!(text.contains("task 4 [bad]: error r(111)"), "{text}");
    assert!(text.contains("variable nosuch not found"), "{text}");
    assert!(
        text.contains("year bad start"),
        "the failed task's output: {text}"
    );
    assert!(text.contains("--- summary ---"), "{text}");
    for (i, year) in (2010..2020).enumerate() {
        if year != 2014 {
            assert!(text.contains(&format!("task {i} [{year}]: ok")), "{text}");
        }
    }
    eprintln!("{text}");
    // Progress frames name the task that printed each line.
    let frames: Vec<String> = (0..60)
        .flat_map(|n| c.frames(&format!("sweep-{n}")))
        .map(|f| frame_message(&f))
        .collect();
    let all = frames.join("\n");
    for i in 0..10 {
        assert!(
            all.contains(&format!("[task {i}] ")),
            "task {i} in the frames:\n{all}"
        );
    }
    assert!(
        all.contains("[task 4] . display \"year `year' start\"")
            || all.contains("[task 4] year bad start"),
        "{all}"
    );
    // stata_read_log reads a task's own log.
    let run_id = tasks[7]["run_id"].as_str().expect("run id").to_owned();
    let log = c.call("stata_read_log", json!({"run_id": run_id}), LONG);
    assert!(
        result_text(&log).contains("year 2017 done"),
        "{}",
        result_text(&log)
    );
}

#[test]
fn a_sweep_runs_every_task_within_max_parallel_in_batch_mode() {
    sweep_of_ten("batch");
}

#[test]
fn a_sweep_in_session_mode_runs_batch_processes_and_leaves_the_session_alone() {
    let fake = FakeStata::new();
    fake.write("task.do", TASK);
    let mut c = Client::start(&fake, &["--mode", "session", "--max-parallel", "2"]);
    c.initialize();
    let r = c.call(
        "stata_run_code",
        json!({"code": "set obs 5\ngenerate x = _n"}),
        LONG,
    );
    assert!(!is_error(&r), "{r}");
    let job = start_sweep(&mut c, json!([["2001"], ["2002"], ["2003"]]), json!({}));
    let (resp, most) = follow(&mut c, &fake, &job);
    assert_eq!(structured(&resp)["status"], "ok", "{}", result_text(&resp));
    // The session's Stata plus at most two tasks.
    assert!(most <= 3, "{most} processes");
    let r = c.call("stata_run_code", json!({"code": "count"}), LONG);
    assert!(
        result_text(&r).contains("\n  5\n") || result_text(&r).contains("5"),
        "{}",
        result_text(&r)
    );
}

#[test]
fn cancelling_a_sweep_stops_every_task() {
    let fake = FakeStata::new();
    fake.write("task.do", "args n\ndisplay \"task `n'\"\nsleep 60000\n");
    let mut c = Client::start(&fake, &["--mode", "batch", "--max-parallel", "2"]);
    c.initialize();
    let job = start_sweep(&mut c, json!([["1"], ["2"], ["3"], ["4"]]), json!({}));
    let started = Instant::now();
    while fake.live_processes().len() < 2 && started.elapsed() < LONG {
        std::thread::sleep(Duration::from_millis(50));
    }
    let resp = c.call("stata_job", json!({"job_id": job, "cancel": true}), LONG);
    let text = result_text(&resp);
    assert!(text.contains("was cancelled"), "{text}");
    assert_eq!(structured(&resp)["status"], "cancelled", "{text}");
    let tasks = structured(&resp)["sweep"]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        tasks.iter().all(|t| t["status"] == "cancelled"),
        "{tasks:?}"
    );
    assert!(
        fake.live_processes().is_empty(),
        "no Stata left: {:?}",
        fake.live_processes()
    );
}

#[test]
fn bad_sweeps_are_refused_saying_why() {
    let fake = FakeStata::new();
    fake.write("task.do", TASK);
    let mut c = Client::start(&fake, &["--mode", "batch"]);
    c.initialize();
    for (args, says) in [
        (
            json!({"path": "task.do", "args": []}),
            "at least one argument list",
        ),
        (
            json!({"path": "task.do", "args": [["1"]], "max_parallel": 0}),
            "at least 1",
        ),
        (json!({"path": "missing.do", "args": [["1"]]}), "missing.do"),
    ] {
        let resp = c.call("stata_sweep", args, LONG);
        assert!(is_error(&resp), "{resp}");
        assert!(result_text(&resp).contains(says), "{}", result_text(&resp));
    }
}
