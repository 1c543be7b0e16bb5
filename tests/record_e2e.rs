//! The research record end to end, through the real binary with the project's double as
//! Stata: a session of a dozen calls is recorded step by step (a failed command and its
//! correction, regressions, a do-file with arguments, a package install, random draws),
//! exported as a replication do-file that the double re-runs in batch mode, verified as
//! reproducing; after a data file changes, verify names the file and the estimates that
//! moved; compare names a change of sample and of clustering.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Client, FakeStata, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);

fn code(c: &mut Client, code: &str) -> Value {
    c.call("stata_run_code", json!({ "code": code }), LONG)
}

fn record(c: &mut Client, args: Value) -> Value {
    c.call("stata_record", args, LONG)
}

/// `auto.dta` in the project, made by the double itself (outside the record), from
/// `sysuse auto` after `drop`.
fn make_data(fake: &FakeStata, drop: &str) {
    let dir = fake.work();
    let script = dir.parent().expect("root").join("make.do");
    std::fs::write(
        &script,
        format!(
            "sysuse auto\n{drop}\nsave \"{}\", replace\n",
            dir.join("auto.dta").display()
        ),
    )
    .expect("make.do");
    let status = std::process::Command::new(fake.stata())
        .args(["-q", "-b", "do"])
        .arg(&script)
        .current_dir(script.parent().expect("root"))
        .status()
        .expect("the double");
    assert!(status.success());
    assert!(dir.join("auto.dta").is_file());
}

fn steps(show: &Value) -> Vec<Value> {
    structured(show)["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_session_is_recorded_exported_verified_and_compared() {
    let fake = FakeStata::new();
    make_data(&fake, "");
    let ssc = fake.ssc_with_hello();
    fake.write(
        "cuts.do",
        "args lo\nsummarize price if mpg > `lo'\nregress price mpg if mpg > `lo'\n",
    );
    let ssc_dir = ssc.display().to_string();
    let mut c = Client::start_with_env(
        &fake,
        &["--mode", "session"],
        &[("STATA_DOUBLE_SSC", &ssc_dir)],
    );
    c.initialize();

    let first = code(&mut c, "use auto, clear");
    assert_eq!(structured(&first)["status"], "ok", "{first}");
    let text = result_text(&first);
    assert!(
        text.contains("step 1 of the research record") && text.contains("stata-record"),
        "the first result says where the record is: {text}"
    );
    let draws = code(&mut c, "generate r = runiform()");
    assert_eq!(structured(&draws)["status"], "ok", "{draws}");
    code(&mut c, "generate ppm = price / mpg");
    let failed = code(&mut c, "regress pricee mpg");
    assert_eq!(structured(&failed)["status"], "error");
    code(&mut c, "regress price mpg");
    code(&mut c, "regress price mpg weight");
    let file = c.call(
        "stata_run_file",
        json!({"path": "cuts.do", "args": ["20"]}),
        LONG,
    );
    assert_eq!(structured(&file)["status"], "ok", "{file}");
    let install = code(&mut c, "ssc install hello");
    assert_eq!(structured(&install)["status"], "ok", "{install}");
    code(&mut c, "hello");
    code(
        &mut c,
        "regress price mpg weight if rep78 < ., vce(cluster rep78)",
    );
    code(&mut c, "set seed 42\ngenerate u = runiform()\nsummarize u");
    code(&mut c, "display \"done\"");

    // show: every step in order, the failed one marked, the regression's estimates.
    let show = record(&mut c, json!({"action": "show"}));
    let listed = steps(&show);
    assert_eq!(listed.len(), 12, "{show}");
    let numbers: Vec<u64> = listed.iter().filter_map(|s| s["step"].as_u64()).collect();
    assert_eq!(numbers, (1..=12).collect::<Vec<u64>>());
    assert_eq!(listed[3]["status"], "error");
    assert_eq!(listed[3]["rc"], 111);
    let reg = &listed[4]["estimates"][0];
    assert_eq!(reg["depvar"], "price", "{show}");
    assert_eq!(reg["n"], 74);
    assert_eq!(reg["vce"], "ols");
    let mpg = reg["coefs"].as_array().expect("coefs")[0].clone();
    assert_eq!(mpg["name"], "mpg");
    assert!(
        (mpg["b"].as_f64().expect("b") + 238.8943).abs() < 1e-3,
        "{mpg}"
    );
    assert!(listed[1]["random_without_seed"].as_bool().expect("flag"));
    assert!(!listed[10]["random_without_seed"].as_bool().expect("flag"));
    assert!(
        listed[0]["reads"][0]
            .as_str()
            .expect("read")
            .ends_with("auto.dta")
    );
    let text = result_text(&show);
    assert!(
        text.contains("regress pricee mpg") && text.contains("error r(111)"),
        "{text}"
    );

    // export: a master do-file the double runs in batch mode, reproducing every step.
    let export = record(&mut c, json!({"action": "export"}));
    let master = structured(&export)["master_do"]
        .as_str()
        .expect("master")
        .to_owned();
    let do_text = std::fs::read_to_string(&master).expect("master.do");
    assert!(
        do_text.contains("* regress pricee mpg"),
        "the failed step as a comment: {do_text}"
    );
    assert!(
        do_text.contains("do `\""),
        "the do-file step runs the file: {do_text}"
    );
    assert!(
        do_text.contains("hello: *! version 1.2.0"),
        "the package's version: {do_text}"
    );
    assert!(
        do_text.lines().any(|l| l.starts_with("version ")),
        "{do_text}"
    );
    assert!(do_text.contains("set seed 123456789"), "{do_text}");
    let readme = std::fs::read_to_string(structured(&export)["readme"].as_str().expect("readme"))
        .expect("README");
    assert!(
        readme.contains("## Data") && readme.contains("auto.dta"),
        "{readme}"
    );
    let replay = std::process::Command::new(fake.stata())
        .args(["-q", "-b", "do"])
        .arg(&master)
        .env("STATA_DOUBLE_SSC", &ssc_dir)
        .current_dir(Path::new(&master).parent().expect("dir"))
        .status()
        .expect("the double");
    assert!(replay.success());
    let replay_log = std::fs::read_to_string(Path::new(&master).with_extension("log"))
        .expect("the replay's log");
    assert!(
        !replay_log.lines().any(|l| l.starts_with("r(")),
        "{replay_log}"
    );
    assert!(
        replay_log.contains("hello from the package"),
        "{replay_log}"
    );

    let verify = record(&mut c, json!({"action": "verify"}));
    let v = structured(&verify);
    assert_eq!(v["differing"], json!([]), "{}", result_text(&verify));
    assert_eq!(v["not_run"], json!([]), "{}", result_text(&verify));
    assert_eq!(
        v["identical"].as_array().map(Vec::len),
        Some(11),
        "{verify}"
    );
    assert!(
        result_text(&verify).starts_with("Verified: all 11 steps reproduce"),
        "{verify}"
    );
    assert_eq!(v["random_without_seed"], json!([2]), "{verify}");

    // compare: the last two estimations differ in sample and clustering.
    let cmp = record(&mut c, json!({"action": "compare", "steps": [6, 10]}));
    let changes = structured(&cmp)["changes"].to_string();
    assert!(changes.contains("observations: 74 -> 69 (5 lost)"), "{cmp}");
    assert!(
        changes.contains("standard errors: ols -> clustered by rep78 (5 clusters)"),
        "{cmp}"
    );

    // A data file the session read changes: verify names it and the estimates that moved.
    make_data(&fake, "drop in 1/5");
    let verify = record(&mut c, json!({"action": "verify"}));
    let v = structured(&verify);
    let text = result_text(&verify);
    assert!(text.starts_with("Not reproduced"), "{text}");
    assert_eq!(v["changed_files"][0]["step"], 1, "{verify}");
    assert!(
        v["changed_files"][0]["path"]
            .as_str()
            .expect("path")
            .ends_with("auto.dta"),
        "{verify}"
    );
    let step5 = v["differing"]
        .as_array()
        .expect("differing")
        .iter()
        .find(|d| d["step"] == 5)
        .expect("step 5 differs");
    let diffs = step5["differences"].to_string();
    assert!(diffs.contains("N 74 -> 69"), "{diffs}");
    assert!(diffs.contains("coefficient on mpg -238.8943 ->"), "{diffs}");
    assert!(
        step5["likely_cause"]
            .as_str()
            .expect("cause")
            .contains("auto.dta"),
        "{step5}"
    );
    assert!(text.contains("draw random numbers with no seed"), "{text}");
}

#[test]
fn record_off_keeps_nothing_and_the_tool_says_so() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "batch", "--record", "off"]);
    c.initialize();
    let r = code(&mut c, "display 1");
    assert!(!result_text(&r).contains("research record"), "{r}");
    assert!(!fake.work().join("stata-record").exists());
    let show = record(&mut c, json!({"action": "show"}));
    let text = result_text(&show);
    assert!(
        text.contains("no steps yet") && text.contains("--record off"),
        "{text}"
    );
}

#[test]
fn a_long_verification_goes_on_past_the_clients_limit_and_the_next_call_gets_its_verdict() {
    let fake = FakeStata::new();
    let mut a = Client::start(&fake, &["--mode", "batch"]);
    a.initialize();
    let r = code(&mut a, "sleep 2500\ndisplay \"slept\"");
    assert_eq!(structured(&r)["status"], "ok", "{r}");
    drop(a);
    // A client that gives up on a call after a second or so.
    let mut b = Client::start(&fake, &["--mode", "batch", "--auto-background-secs", "1"]);
    b.initialize();
    let first = record(&mut b, json!({"action": "verify"}));
    assert_eq!(structured(&first)["running"], true, "{first}");
    assert!(result_text(&first).contains("still running"), "{first}");
    let mut verdict = record(&mut b, json!({"action": "verify"}));
    for _ in 0..10 {
        if structured(&verdict)["running"] != true {
            break;
        }
        verdict = record(&mut b, json!({"action": "verify"}));
    }
    assert_eq!(structured(&verdict)["identical"], json!([1]), "{verdict}");
    assert!(
        result_text(&verdict).starts_with("Verified: all 1 steps reproduce"),
        "{verdict}"
    );
}

#[test]
fn a_person_at_a_terminal_reads_and_verifies_the_record() {
    let fake = FakeStata::new();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(common::server_path())
            .arg("record")
            .args(args)
            .env("STATA_PATH", fake.stata())
            .env("STATA_MCP_LOG_DIR", fake.log_dir())
            .env("RUST_LOG", "error")
            .env_remove("STATA_MCP_MODE")
            .current_dir(fake.work())
            .output()
            .expect("stata-mcp record");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code_, _, stderr) = cli(&["show"]);
    assert_eq!(code_, Some(2), "{stderr}");
    assert!(stderr.contains("no steps yet"), "{stderr}");
    let mut c = Client::start(&fake, &["--mode", "batch"]);
    c.initialize();
    code(&mut c, "sysuse auto\nregress price mpg");
    drop(c);
    let (code_, stdout, stderr) = cli(&["show"]);
    assert_eq!(code_, Some(0), "{stderr}");
    assert!(
        stdout.contains("step 1") && stdout.contains("regress price mpg: N 74"),
        "{stdout}"
    );
    let (code_, stdout, stderr) = cli(&["verify"]);
    assert_eq!(code_, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Verified: all 1 steps reproduce"),
        "{stdout}"
    );
    assert!(
        fake.work()
            .join("stata-record/replication/README.md")
            .is_file()
    );
}
