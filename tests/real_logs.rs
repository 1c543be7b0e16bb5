//! Every real Stata log in `../shared/real-logs/` (Stata 12 to StataNow 19.5, Linux, macOS,
//! Windows; text and SMCL) read as a careful reader reads it: status, code, message, failing
//! command, do-file stack, captured errors and exported graphs. The readings below were made
//! by reading each log; the logs themselves stay in `../shared` and are read at test time.

mod common;

use stata_mcp::GraphExports;
use stata_mcp::LineDecoder;
use stata_mcp::{ErrorScanner, Scan, estimates};

#[path = "real_logs/readings.rs"]
mod readings;
use readings::{READINGS, Reading};

/// `got` is `want`, or starts with it when `want` ends in `…`.
fn matches(got: &str, want: &str) -> bool {
    match want.strip_suffix('…') {
        Some(start) => got.starts_with(start),
        None => got == want,
    }
}

/// The log's bytes through the decoder (UTF-8, Latin-1, SMCL), from line `from` on.
fn read(bytes: &[u8], from: usize) -> (Scan, Vec<String>) {
    let mut scanner = ErrorScanner::new();
    let mut graphs = GraphExports::new();
    let mut decoder = LineDecoder::default();
    let mut line_no = 0;
    let mut feed = |l: &str, _len: usize| {
        line_no += 1;
        if line_no > from {
            scanner.push_line(l);
            graphs.push_line(l);
        }
    };
    for raw in bytes.split_inclusive(|&b| b == b'\n') {
        decoder.push(raw, &mut feed);
    }
    decoder.finish(&mut feed);
    let names = graphs
        .into_paths()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    (scanner.finish(), names)
}

/// Where the user's part of a log begins: its first command echo (the runner drops the
/// banner and log header before it).
fn first_echo(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes)
        .lines()
        .position(|l| {
            let l = l.trim_start_matches("{com}");
            l.starts_with(". ") || l == "."
        })
        .unwrap_or(0)
}

fn check(r: &Reading, scan: &Scan, graphs: &[String], part: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut bad = |what: String| wrong.push(format!("{} ({part}): {what}", r.log));
    match (&r.error, &scan.error) {
        (None, None) => {}
        (None, Some(e)) => bad(format!("no error expected, got {e:?}")),
        (Some(f), None) => bad(format!("expected r({}), got none", f.rc)),
        (Some(f), Some(e)) => {
            if e.code != Some(f.rc) {
                bad(format!("rc {:?}, expected {}", e.code, f.rc));
            }
            if !matches(&e.message, f.message) {
                bad(format!("message {:?}, expected {:?}", e.message, f.message));
            }
            if !matches(e.command.as_deref().unwrap_or(""), f.command) {
                bad(format!("command {:?}, expected {:?}", e.command, f.command));
            }
            if e.stack != f.stack {
                bad(format!("stack {:?}, expected {:?}", e.stack, f.stack));
            }
        }
    }
    if scan.interrupted != r.interrupted {
        bad(format!(
            "interrupted {}, expected {}",
            scan.interrupted, r.interrupted
        ));
    }
    let captured: Vec<(Option<i32>, &str)> = scan
        .warnings
        .iter()
        .map(|w| (w.code, w.message.as_str()))
        .collect();
    if captured != r.captured {
        bad(format!("captured {captured:?}, expected {:?}", r.captured));
    }
    if graphs != r.graphs {
        bad(format!("graphs {graphs:?}, expected {:?}", r.graphs));
    }
    wrong
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn every_real_log_is_read_right() {
    common::require_shared();
    let dir = common::shared_dir().join("real-logs");
    let mut wrong = Vec::new();
    for r in READINGS {
        let bytes = std::fs::read(dir.join(r.log)).unwrap_or_else(|e| panic!("{}: {e}", r.log));
        let (scan, graphs) = read(&bytes, 0);
        wrong.extend(check(r, &scan, &graphs, "whole log"));
        let (scan, graphs) = read(&bytes, first_echo(&bytes));
        wrong.extend(check(r, &scan, &graphs, "from the first command"));
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn every_real_log_has_a_reading() {
    common::require_shared();
    let dir = common::shared_dir().join("real-logs");
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&dir).expect("real-logs").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "SOURCES.md" && !READINGS.iter().any(|r| r.log == name) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "logs with no reading: {missing:?}");
}

/// Each real log put in front of the server by the double (`_double replay`), as if Stata
/// had written it for a `stata_run_code` call: the result says what the reading says.
#[cfg(unix)]
#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn every_real_log_replayed_through_the_server_is_reported_right() {
    common::require_shared();
    replay_all("batch");
    replay_all("session");
}

#[cfg(unix)]
fn replay_all(mode: &str) {
    use serde_json::json;
    let dir = common::shared_dir().join("real-logs");
    let fake = common::FakeStata::new();
    let mut c = common::Client::start(&fake, &["--mode", mode, "--no-images"]);
    c.initialize();
    let mut wrong = Vec::new();
    for r in READINGS {
        let path = dir.join(r.log);
        let code = format!("_double replay \"{}\"", path.display());
        let resp = c.call(
            "stata_run_code",
            json!({ "code": code }),
            std::time::Duration::from_secs(60),
        );
        let s = common::structured(&resp);
        let mut bad = |what: String| wrong.push(format!("{} ({mode}): {what}", r.log));
        let status = if r.error.is_some() { "error" } else { "ok" };
        if s["status"] != status {
            bad(format!("status {}, expected {status}", s["status"]));
        }
        if let Some(f) = &r.error {
            let e = &s["error"];
            if s["rc"] != f.rc {
                bad(format!("rc {}, expected {}", s["rc"], f.rc));
            }
            if !matches(e["message"].as_str().unwrap_or(""), f.message) {
                bad(format!(
                    "message {}, expected {:?}",
                    e["message"], f.message
                ));
            }
            if !matches(e["command"].as_str().unwrap_or(""), f.command) {
                bad(format!(
                    "command {}, expected {:?}",
                    e["command"], f.command
                ));
            }
            let stack: Vec<&str> = e["stack"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if stack != f.stack {
                bad(format!("stack {stack:?}, expected {:?}", f.stack));
            }
        }
        let captured: Vec<(Option<i32>, String)> = s["warnings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|w| {
                        let code = w["code"].as_i64().and_then(|c| i32::try_from(c).ok());
                        (code, w["message"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let want: Vec<(Option<i32>, String)> = r
            .captured
            .iter()
            .map(|(c, m)| (*c, (*m).to_owned()))
            .collect();
        if captured != want {
            bad(format!("captured {captured:?}, expected {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The estimation tables of real logs, as the research record reads them: a `cqreg` table
/// (Stata 18.5, numbers in e-notation), and a table whose equation is named in a row of its
/// own (Stata 15, `Coef.` and `z`), inside a loop.
#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn real_estimation_tables_are_read_for_the_record() {
    common::require_shared();
    let dir = common::shared_dir().join("real-logs");
    let text = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(dir.join(name)).expect("a real log")).into_owned()
    };
    let log = text("ctools-18.5-capnoi-do-long-ok.log");
    let found = estimates(log.lines());
    let cq = found
        .iter()
        .find(|e| {
            e.command
                .starts_with("capture noisily cqreg price mpg weight")
        })
        .expect("the cqreg table");
    assert_eq!(
        (cq.depvar.as_str(), cq.n, cq.vce.as_str()),
        ("price", Some(74), "ols")
    );
    let mpg = cq.coef("mpg").expect("mpg");
    assert_eq!((mpg.b, mpg.se), (-9.598359, 1.74e-12));
    assert_eq!(cq.coefs.len(), 3);

    let log = text("koren-logusing-loop-r7.log");
    let found = estimates(log.lines());
    let first = found.first().expect("a table");
    assert_eq!(first.depvar, "lnQL");
    let names: Vec<&str> = first.coefs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "event_m4", "event_m3", "event_m2", "event_m1", "event_1", "event_2", "event_3",
            "event_4"
        ]
    );
    assert_eq!(
        first.coef("event_1").map(|c| (c.b, c.se)),
        Some((0.0529145, 0.0255455))
    );
    // Every table of every real log reads as numbers, never as a half-read row.
    for entry in std::fs::read_dir(&dir).expect("real logs").flatten() {
        let log = String::from_utf8_lossy(&std::fs::read(entry.path()).expect("log")).into_owned();
        for e in estimates(log.lines()) {
            assert!(
                e.coefs
                    .iter()
                    .all(|c| c.b.is_finite() && c.se.is_finite() && !c.name.is_empty()),
                "{}: {e:?}",
                entry.path().display()
            );
        }
    }
}
