//! End to end, `--mode slurm` against a real one-node SLURM cluster that `tests/run.sh
//! --with-slurm` starts on this machine (tests/slurm/cluster.sh), with the project's double
//! of Stata as the cluster's Stata. Without that cluster these tests say so once and return.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, FakeStata, eventually, frame_message, is_error, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(120);

/// Whether the cluster is up (`STATA_MCP_TEST_SLURM` set by tests/run.sh --with-slurm).
fn cluster() -> bool {
    // Ignored unless asked for; asked for without a cluster is a failure, not a pass.
    assert!(
        std::env::var_os("STATA_MCP_TEST_SLURM").is_some(),
        "the slurm-mode tests need a SLURM cluster: `bash tests/run.sh --with-slurm` (root) \
         starts one and runs them"
    );
    true
}

/// Cancels, as the test ends, every job still on the cluster whose folder is in `dir`.
struct Leftovers<'a>(&'a Path);

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        for (id, _) in jobs_in(self.0) {
            let _ = Command::new("scancel").arg(&id).status();
        }
    }
}

/// The cluster's jobs (id and state) whose working folder is under `dir`.
fn jobs_in(dir: &Path) -> Vec<(String, String)> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-o", "%i|%T|%Z"])
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut p = l.split('|');
            let (id, state, wd) = (p.next()?, p.next()?, p.next()?);
            Path::new(wd)
                .starts_with(dir)
                .then(|| (id.to_owned(), state.to_owned()))
        })
        .collect()
}

fn start(fake: &FakeStata, extra: &[&str]) -> Client {
    let mut args = vec!["--mode", "slurm"];
    args.extend_from_slice(extra);
    let mut c = Client::start(fake, &args);
    c.initialize();
    c
}

/// No job of this test on the cluster and no Stata of its install running.
fn nothing_left(fake: &FakeStata) -> bool {
    eventually(Duration::from_secs(30), || {
        jobs_in(fake.dir.path()).is_empty() && fake.live_processes().is_empty()
    })
}

fn start_job(c: &mut Client, code: &str, extra: Value) -> String {
    let mut args = json!({"code": code, "background": true});
    if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    let resp = c.call("stata_run_code", args, LONG);
    assert!(!is_error(&resp), "{resp}");
    structured(&resp)["job_id"]
        .as_str()
        .expect("job id")
        .to_owned()
}

/// Waits for job `id` to end (frames under `poll-<id>-<n>`); its last answer.
fn wait_done(c: &mut Client, id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    let mut n = 0;
    loop {
        let call = c.call_tool(
            "stata_job",
            json!({"job_id": id, "wait_s": 20}),
            Some(&format!("poll-{id}-{n}")),
        );
        let resp = c.wait_response(call, LONG);
        if structured(&resp)["done"] == true {
            return resp;
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {resp}");
        n += 1;
    }
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn a_run_streams_its_log_while_the_job_runs_and_an_error_is_located() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    let mut c = start(&fake, &[]);
    let code = "forvalues i = 1/8 {\n    display \"tick `i'\"\n    sleep 250\n}\n";
    let id = c.call_tool("stata_run_code", json!({"code": code}), Some("live"));
    let resp = c.wait_response(id, LONG);
    let text = result_text(&resp);
    assert_eq!(structured(&resp)["status"], "ok", "{text}");
    assert!(text.contains("tick 8"), "{text}");
    assert!(text.contains("ran on the cluster as SLURM job"), "{text}");
    let answered = c
        .seen
        .iter()
        .find(|r| r.msg.get("id") == Some(&json!(id)))
        .map(|r| r.at)
        .expect("answer");
    let frames = c.frames("live");
    let first_tick = frames
        .iter()
        .find(|f| frame_message(f).contains("tick 1"))
        .expect("a frame with the first tick");
    // The first tick came while the job still had about 1.75 s of ticks to go.
    assert!(
        answered.duration_since(first_tick.at) > Duration::from_millis(1000),
        "tick 1 came {:?} before the answer",
        answered.duration_since(first_tick.at)
    );
    assert!(
        frames
            .iter()
            .any(|f| frame_message(f).contains("submitted to SLURM as job")),
        "{:?}",
        frames.iter().map(frame_message).collect::<Vec<_>>()
    );

    fake.write("bad.do", "display \"before\"\nregress nosuchvar\n");
    let resp = c.call("stata_run_file", json!({"path": "bad.do"}), LONG);
    let s = structured(&resp);
    assert_eq!(s["status"], "error", "{resp}");
    assert_eq!(s["rc"], 111, "{resp}");
    assert_eq!(s["error"]["line"], 2, "{resp}");
    assert!(nothing_left(&fake));
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn a_job_waiting_in_the_queue_says_so_and_cancel_takes_it_off() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    // `--begin` keeps the job pending (Reason BeginTime) for as long as the test needs.
    let mut c = start(&fake, &["--slurm-sbatch-arg=--begin=now+600"]);
    let job = start_job(&mut c, "display \"never\"", json!({}));
    let call = c.call_tool(
        "stata_job",
        json!({"job_id": job, "wait_s": 7}),
        Some("pend"),
    );
    let resp = c.wait_response(call, LONG);
    assert_eq!(structured(&resp)["done"], false, "{resp}");
    let frames: Vec<String> = c.frames("pend").iter().map(frame_message).collect();
    assert!(
        frames
            .iter()
            .any(|f| f.contains("queued on the cluster (BeginTime)")),
        "{frames:?}"
    );
    assert_eq!(jobs_in(fake.dir.path()).len(), 1);
    let resp = c.call("stata_job", json!({"job_id": job, "cancel": true}), LONG);
    assert_eq!(structured(&resp)["status"], "cancelled", "{resp}");
    assert!(nothing_left(&fake), "{:?}", jobs_in(fake.dir.path()));
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn cancel_and_the_time_limit_end_the_job_with_no_stata_left() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    let mut c = start(&fake, &["--break-grace-secs", "3"]);
    let resp = c.call(
        "stata_run_code",
        json!({"code": "display \"working\"\nsleep 60000", "timeout_s": 4}),
        LONG,
    );
    let text = result_text(&resp);
    assert_eq!(structured(&resp)["status"], "timeout", "{text}");
    assert!(text.contains("working"), "the output so far: {text}");
    assert!(nothing_left(&fake), "{:?}", jobs_in(fake.dir.path()));

    let job = start_job(&mut c, "display \"working\"\nsleep 60000", json!({}));
    assert!(eventually(Duration::from_secs(30), || !fake
        .live_processes()
        .is_empty()));
    let resp = c.call("stata_job", json!({"job_id": job, "cancel": true}), LONG);
    let text = result_text(&resp);
    assert!(text.contains("was cancelled"), "{text}");
    assert_eq!(structured(&resp)["status"], "cancelled", "{text}");
    assert!(nothing_left(&fake), "{:?}", jobs_in(fake.dir.path()));
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn a_failing_job_script_and_a_job_over_its_memory_say_what_the_cluster_did() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    let mut c = start(
        &fake,
        &[
            "--slurm-setup",
            "echo 'module: stata/99 not found' >&2; exit 3",
        ],
    );
    let resp = c.call("stata_run_code", json!({"code": "display 1"}), LONG);
    let text = result_text(&resp);
    assert_eq!(structured(&resp)["status"], "error", "{text}");
    assert!(text.contains("FAILED (NonZeroExitCode)"), "{text}");
    assert!(
        text.contains("module: stata/99 not found"),
        "the job's own output: {text}"
    );
    drop(c);

    // The cluster enforces --mem (JobAcctGatherParams=OverMemoryKill): a setup line that
    // takes 200 MB of a 20 MB job gets it killed.
    let mut c = start(
        &fake,
        &[
            "--slurm-mem",
            "20M",
            "--slurm-setup",
            "python3 -c 'import time; a = bytearray(200 << 20); time.sleep(5)'",
        ],
    );
    let resp = c.call("stata_run_code", json!({"code": "display 1"}), LONG);
    let text = result_text(&resp);
    assert_eq!(structured(&resp)["status"], "error", "{text}");
    assert!(text.contains("ran out of memory on the cluster"), "{text}");
    assert!(text.contains("--slurm-mem 20M"), "{text}");
    assert!(nothing_left(&fake));
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn the_clusters_time_limit_is_a_timeout_with_the_output_so_far() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    // SLURM rounds 0:10 up to a minute and checks every ~30 s: this takes 60-100 s.
    let mut c = start(&fake, &["--slurm-time", "0:10"]);
    let job = start_job(
        &mut c,
        "display \"long run\"\nsleep 300000",
        json!({"timeout_s": 600}),
    );
    let resp = wait_done(&mut c, &job, Duration::from_secs(200));
    let text = result_text(&resp);
    assert_eq!(structured(&resp)["status"], "timeout", "{text}");
    assert!(
        text.contains("the cluster stopped the job at its time limit of 0:10"),
        "{text}"
    );
    assert!(text.contains("TIMEOUT"), "{text}");
    assert!(text.contains("long run"), "{text}");
    assert!(nothing_left(&fake));
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn a_ten_task_sweep_is_one_array_that_never_runs_more_than_three_at_once() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    fake.write(
        "task.do",
        "args n\ndisplay \"task `n' start\"\nsleep 700\nif `n' == 7 {\n    error 459\n}\ndisplay \"task `n' done\"\n",
    );
    let mut c = start(&fake, &["--max-parallel", "8"]);
    let args: Vec<Value> = (0..10).map(|i| json!([i.to_string()])).collect();
    let resp = c.call(
        "stata_sweep",
        json!({"path": "task.do", "args": args, "max_parallel": 3}),
        LONG,
    );
    assert!(!is_error(&resp), "{resp}");
    let job = structured(&resp)["job_id"].as_str().expect("id").to_owned();
    // One array job on the cluster (submitted as the sweep's job starts).
    let on_cluster = eventually(Duration::from_secs(30), || {
        !jobs_in(fake.dir.path()).is_empty()
    });
    assert!(
        on_cluster,
        "{}",
        result_text(&c.call("stata_job", json!({"job_id": job}), LONG))
    );
    let ids: Vec<String> = jobs_in(fake.dir.path()).into_iter().map(|j| j.0).collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|i| i.contains('_') || i.contains('[')),
        "{ids:?}"
    );
    let mut most = 0;
    let mut most_running = 0;
    let deadline = Instant::now() + LONG;
    let last = loop {
        let resp = c.call("stata_job", json!({"job_id": job, "wait_s": 0.3}), LONG);
        most = most.max(fake.live_processes().len());
        let running = jobs_in(fake.dir.path())
            .iter()
            .filter(|(_, s)| s == "RUNNING")
            .count();
        most_running = most_running.max(running);
        if structured(&resp)["done"] == true {
            break resp;
        }
        assert!(Instant::now() < deadline, "the sweep did not end");
    };
    assert!(
        most <= 3 && most_running <= 3,
        "{most} Stata, {most_running} running jobs at once"
    );
    assert!(
        most_running >= 2,
        "the tasks ran in parallel: {most_running}"
    );
    let text = result_text(&last);
    let tasks = structured(&last)["sweep"]["tasks"]
        .as_array()
        .cloned()
        .expect("tasks");
    assert_eq!(tasks.len(), 10, "{text}");
    for (i, t) in tasks.iter().enumerate() {
        assert_eq!(t["status"], if i == 7 { "error" } else { "ok" }, "{t}");
    }
    assert_eq!(tasks[7]["rc"], 459, "{text}");
    assert!(text.contains("--- summary ---"), "{text}");
    let log = c.call(
        "stata_read_log",
        json!({"run_id": tasks[3]["run_id"].as_str().expect("run id")}),
        LONG,
    );
    assert!(
        result_text(&log).contains("task 3 done"),
        "{}",
        result_text(&log)
    );
    assert!(nothing_left(&fake));
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn a_background_job_outlives_its_server_and_the_next_server_reads_it() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    let mut first = start(&fake, &[]);
    let job = start_job(
        &mut first,
        "display \"first half\"\nsleep 4000\ndisplay \"second half\"",
        json!({}),
    );
    fake.write(
        "task.do",
        "args n\ndisplay \"task `n' begins\"\nsleep 4000\ndisplay \"task `n' ends\"\n",
    );
    let sweep = first.call(
        "stata_sweep",
        json!({"path": "task.do", "args": [["1"], ["2"]]}),
        LONG,
    );
    let sweep = structured(&sweep)["job_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(eventually(Duration::from_secs(30), || fake
        .live_processes()
        .len()
        >= 3));
    // A foreground run at the same time is cancelled when the client goes.
    let fg = first.call_tool(
        "stata_run_code",
        json!({"code": "display \"foreground\"\nsleep 60000"}),
        None,
    );
    assert!(eventually(Duration::from_secs(30), || fake
        .live_processes()
        .len()
        >= 4));
    first.close_stdin();
    let _ = first.wait_response(fg, Duration::from_secs(15));
    assert!(
        first.wait_exit(Duration::from_secs(15)).is_some(),
        "the server exited"
    );
    // The background job and the sweep are the cluster's: still there once their server
    // has gone; the foreground run is not.
    let left = jobs_in(fake.dir.path());
    assert_eq!(
        left.len(),
        3,
        "the background job and the sweep's two tasks are left: {left:?}"
    );

    let mut second = start(&fake, &[]);
    let list = second.call("stata_job", json!({}), LONG);
    let jobs = structured(&list)["jobs"].as_array().cloned().expect("jobs");
    assert_eq!(jobs.len(), 2, "{list}");
    let find = |old: &str| {
        jobs.iter()
            .find(|j| {
                j["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains(&format!("re-attached: {old} ")))
            })
            .and_then(|j| j["job_id"].as_str())
            .unwrap_or_else(|| panic!("{old} re-attached: {list}"))
            .to_owned()
    };
    let (id, sweep_id) = (find(&job), find(&sweep));
    let resp = wait_done(&mut second, &id, LONG);
    let text = result_text(&resp);
    assert_eq!(structured(&resp)["status"], "ok", "{text}");
    assert!(text.contains("second half"), "{text}");
    let resp = wait_done(&mut second, &sweep_id, LONG);
    let text = result_text(&resp);
    assert_eq!(structured(&resp)["status"], "ok", "{text}");
    assert!(
        text.contains("task 0 [1]: ok") && text.contains("task 1 [2]: ok"),
        "{text}"
    );
    assert!(nothing_left(&fake));
    // A third server has nothing to re-attach: the job was followed to its end.
    drop(second);
    let mut third = start(&fake, &[]);
    let list = third.call("stata_job", json!({}), LONG);
    assert_eq!(structured(&list)["jobs"], json!([]), "{list}");
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn doctor_checks_the_cluster_and_runs_one_job() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    let out = Command::new(common::server_path())
        .args(["doctor", "--mode", "slurm", "--stata-path"])
        .arg(fake.stata())
        .arg("--log-dir")
        .arg(fake.log_dir())
        .arg("--workdir")
        .arg(fake.work())
        .env("HOME", fake.home())
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for tool in ["sbatch", "squeue", "scancel", "scontrol"] {
        assert!(text.contains(&format!("  {tool} ")), "{tool}: {text}");
    }
    assert!(text.contains("(the default)"), "the partition: {text}");
    assert!(text.contains("ran on the cluster as SLURM job"), "{text}");
    assert!(text.contains("Stata says its version is 18"), "{text}");

    let out = Command::new(common::server_path())
        .args([
            "doctor",
            "--mode",
            "slurm",
            "--slurm-partition",
            "nosuch",
            "--stata-path",
        ])
        .arg(fake.stata())
        .arg("--log-dir")
        .arg(fake.log_dir())
        .env("HOME", fake.home())
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("\"nosuch\" (--slurm-partition) does not exist"),
        "{text}"
    );
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn stata_mcp_run_is_a_cluster_job_too() {
    if !cluster() {
        return;
    }
    let fake = FakeStata::new();
    let _clean = Leftovers(fake.dir.path());
    let file = fake.write("hello.do", "args who\ndisplay \"hello `who'\"\nerror 198\n");
    let out = Command::new(common::server_path())
        .args(["run", "--mode", "slurm", "--stata-path"])
        .arg(fake.stata())
        .arg("--log-dir")
        .arg(fake.log_dir())
        .arg(&file)
        .arg("cluster")
        .env("HOME", fake.home())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a Stata error: {stdout}\n{stderr}"
    );
    assert!(stdout.contains("hello cluster"), "{stdout}");
    assert!(stderr.contains("r(198)"), "{stderr}");
    assert!(nothing_left(&fake));
}

#[test]
#[ignore = "needs a one-node SLURM cluster: `bash tests/run.sh --with-slurm` (root) starts one and runs these"]
fn a_background_job_is_on_the_cluster_when_the_client_leaves_at_once() {
    if !cluster() {
        return;
    }
    for round in 0..20 {
        let fake = FakeStata::new();
        let _clean = Leftovers(fake.dir.path());
        let mut first = start(&fake, &[]);
        let job = start_job(&mut first, &format!("display \"round {round}\""), json!({}));
        // The client goes the moment it has its answer.
        first.close_stdin();
        assert!(
            first.wait_exit(Duration::from_secs(15)).is_some(),
            "round {round}: the server exited"
        );
        let mut second = start(&fake, &[]);
        let list = second.call("stata_job", json!({}), LONG);
        let jobs = structured(&list)["jobs"].as_array().cloned().expect("jobs");
        assert_eq!(jobs.len(), 1, "round {round}: {job} is listed: {list}");
        let id = jobs[0]["job_id"].as_str().expect("id").to_owned();
        let resp = wait_done(&mut second, &id, LONG);
        let text = result_text(&resp);
        assert_eq!(structured(&resp)["status"], "ok", "round {round}: {text}");
        assert!(
            text.contains(&format!("round {round}")),
            "round {round}: {text}"
        );
    }
}
