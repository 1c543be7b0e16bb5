//! End to end: graphs come back as PNG image content, `stata_read_log` pages, tails and
//! searches a run's log and refuses files outside the log dir, and old runs are removed.

#![cfg(unix)]

mod common;

use std::io::Cursor;
use std::time::Duration;

use base64::Engine as _;
use common::{Client, FakeStata, eventually, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);
const BATCH: &[&str] = &["--mode", "batch"];
const GRAPH_CODE: &str = "sysuse auto\nscatter price mpg\ngraph export g.svg, replace\n";

fn content(resp: &Value) -> Vec<Value> {
    resp.pointer("/result/content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn images(resp: &Value) -> Vec<Value> {
    content(resp)
        .into_iter()
        .filter(|c| c["type"] == "image")
        .collect()
}

fn call(c: &mut Client, tool: &str, args: Value) -> Value {
    let id = c.call_tool(tool, args, None);
    c.wait_response(id, LONG)
}

/// The size in CSS pixels of an SVG's `width`/`height` attributes (pt, in or px).
fn svg_pixels(svg: &str) -> (u32, u32) {
    let tag = &svg[svg.find("<svg").expect("svg tag")..];
    let attr = |name: &str| -> f64 {
        let start = tag.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        let value = &tag[start..start + tag[start..].find('"').expect("quote")];
        let (num, unit) = value.split_at(
            value
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(value.len()),
        );
        let n: f64 = num.parse().expect("number");
        match unit {
            "pt" => n * 96.0 / 72.0,
            "in" => n * 96.0,
            "px" | "" => n,
            other => panic!("unit {other}"),
        }
    };
    (attr("width").round() as u32, attr("height").round() as u32)
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .expect("the image is a PNG");
    (reader.info().width, reader.info().height)
}

#[test]
fn a_graph_export_comes_back_as_one_png_of_the_svgs_size() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let resp = call(&mut c, "stata_run_code", json!({"code": GRAPH_CODE}));
    let s = structured(&resp);
    assert_eq!(s["status"], "ok", "{}", result_text(&resp));
    let svg_path = fake.work().join("g.svg");
    assert_eq!(
        s["graphs"],
        json!([svg_path.to_string_lossy()]),
        "the graph's absolute path is listed"
    );
    let imgs = images(&resp);
    assert_eq!(imgs.len(), 1, "exactly one image block: {resp}");
    assert_eq!(imgs[0]["mimeType"], "image/png");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(imgs[0]["data"].as_str().expect("data"))
        .expect("base64");
    let svg = std::fs::read_to_string(&svg_path).expect("the double wrote g.svg");
    assert_eq!(png_size(&bytes), svg_pixels(&svg));
    assert!(
        result_text(&resp).contains("(attached as an image)"),
        "{}",
        result_text(&resp)
    );
}

#[test]
fn no_images_lists_the_graph_but_sends_no_image() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "batch", "--no-images"]);
    c.initialize();
    let resp = call(&mut c, "stata_run_code", json!({"code": GRAPH_CODE}));
    assert_eq!(structured(&resp)["status"], "ok");
    assert!(images(&resp).is_empty(), "{resp}");
    assert_eq!(
        structured(&resp)["graphs"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn at_most_max_images_come_back_and_the_rest_are_listed() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "batch", "--max-images", "1"]);
    c.initialize();
    let code = "sysuse auto\nscatter price mpg\ngraph export a.svg\ngraph export b.svg\n";
    let resp = call(&mut c, "stata_run_code", json!({"code": code}));
    assert_eq!(images(&resp).len(), 1, "{resp}");
    assert_eq!(
        structured(&resp)["graphs"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(result_text(&resp).contains("1 more graph is not shown"));
}

#[test]
fn read_log_pages_tails_and_searches_a_run() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let code = "forvalues i = 1/300 {\n    display \"row `i'\"\n}\ndisplay \"the end\"\n";
    let resp = call(&mut c, "stata_run_code", json!({"code": code}));
    let run_id = structured(&resp)["run_id"]
        .as_str()
        .expect("run_id")
        .to_owned();
    let log_path = structured(&resp)["log_path"]
        .as_str()
        .expect("log_path")
        .to_owned();
    let full = std::fs::read(&log_path).expect("log on disk");

    // By default a run's log reads as the user's output alone: what the result showed, none
    // of the runner's lines.
    let mut user = String::new();
    let mut next = None::<u64>;
    loop {
        let mut args = json!({"run_id": run_id, "max_bytes": 1000});
        if let Some(n) = next {
            args["offset"] = json!(n);
        }
        let s = structured(&call(&mut c, "stata_read_log", args)).clone();
        assert_eq!(s["user_output_only"], true, "{s}");
        user.push_str(s["text"].as_str().expect("text"));
        next = s["next_offset"].as_u64();
        if next.is_none() {
            break;
        }
    }
    let shown = structured(&resp)["output"].as_str().expect("output");
    assert_eq!(user.trim_end(), shown.trim_end());
    assert!(!user.contains("STATA_MCP"), "{user}");
    assert!(user.contains("row 300") && user.contains("the end"));

    // With raw: true, pages chained through next_offset give back the whole file, each
    // ending at a line end.
    let mut offset = 0u64;
    let mut read = Vec::new();
    loop {
        let r = call(
            &mut c,
            "stata_read_log",
            json!({"run_id": run_id, "offset": offset, "max_bytes": 1000, "raw": true}),
        );
        let s = structured(&r).clone();
        assert_eq!(s["mode"], "range", "{r}");
        assert_eq!(s["total_bytes"], full.len());
        assert_eq!(s["offset"], offset);
        let text = s["text"].as_str().expect("text");
        assert!(text.len() <= 1000);
        read.extend_from_slice(text.as_bytes());
        match s["next_offset"].as_u64() {
            Some(n) => {
                assert!(text.ends_with('\n'));
                offset = n;
            }
            None => break,
        }
    }
    assert_eq!(read, full, "the pages make up the log exactly");

    let r = call(
        &mut c,
        "stata_read_log",
        json!({"path": log_path, "tail_lines": 2, "raw": true}),
    );
    let tail = structured(&r)["text"].as_str().expect("text").to_owned();
    let expected: Vec<&str> = std::str::from_utf8(&full)
        .expect("utf8")
        .lines()
        .rev()
        .take(2)
        .collect();
    assert_eq!(
        tail.lines().collect::<Vec<_>>(),
        expected.into_iter().rev().collect::<Vec<_>>()
    );
    assert_eq!(structured(&r)["run_id"], run_id.as_str());

    let r = call(
        &mut c,
        "stata_read_log",
        json!({"run_id": run_id, "grep": "ROW 29"}),
    );
    let s = structured(&r);
    // row 29 and rows 290..=299.
    assert_eq!(s["total_matches"], 11, "{r}");
    let first = &s["matches"][0];
    let line_no = first["line"].as_u64().expect("line") as usize;
    let nth = std::str::from_utf8(&full)
        .expect("utf8")
        .lines()
        .nth(line_no - 1)
        .expect("line exists");
    assert_eq!(first["text"], nth);
    assert_eq!(nth, "row 29");
}

#[test]
fn read_log_refuses_files_outside_the_log_dir() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, BATCH);
    c.initialize();
    let resp = call(&mut c, "stata_run_code", json!({"code": "display 1\n"}));
    let run_id = structured(&resp)["run_id"]
        .as_str()
        .expect("run_id")
        .to_owned();
    // A file outside, and a link to it from inside the log dir.
    let secret = fake.dir.path().join("secret.txt");
    std::fs::write(&secret, "secret").expect("write");
    let link = fake.log_dir().join("runs").join(&run_id).join("sneaky.log");
    std::os::unix::fs::symlink(&secret, &link).expect("symlink");

    for args in [
        json!({"path": "/etc/passwd"}),
        json!({"path": secret.to_string_lossy()}),
        json!({"path": "../secret.txt"}),
        json!({"path": format!("runs/{run_id}/../../../secret.txt")}),
        json!({"path": link.to_string_lossy()}),
        json!({"run_id": "../../secret.txt"}),
        json!({"run_id": format!("{run_id}/../..")}),
    ] {
        let r = call(&mut c, "stata_read_log", args.clone());
        assert_eq!(r["result"]["isError"], true, "{args}: {r}");
        let text = result_text(&r);
        assert!(
            !text.contains("secret\n") && !text.ends_with("secret"),
            "{text}"
        );
        assert!(
            text.contains("outside the log dir")
                || text.contains("`..`")
                || text.contains("not a run id"),
            "{args}: {text}"
        );
    }
    // And the run's own log is readable.
    let r = call(&mut c, "stata_read_log", json!({"run_id": run_id}));
    assert_ne!(r["result"]["isError"], true, "{r}");
}

#[test]
fn old_runs_are_removed_beyond_keep_runs() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "batch", "--keep-runs", "2"]);
    c.initialize();
    let mut ids = Vec::new();
    for i in 0..4 {
        let resp = call(
            &mut c,
            "stata_run_code",
            json!({"code": format!("display {i}\n")}),
        );
        ids.push(structured(&resp)["run_id"].as_str().expect("id").to_owned());
    }
    let runs = fake.log_dir().join("runs");
    let count = || {
        std::fs::read_dir(&runs)
            .map(|d| d.flatten().count())
            .unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(10), || count() <= 2),
        "{} run directories left",
        count()
    );
    assert!(runs.join(&ids[3]).exists(), "the newest run is kept");
    assert!(!runs.join(&ids[0]).exists(), "the oldest run is removed");
}

#[test]
fn graphs_are_found_in_session_mode_too() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "session"]);
    c.initialize();
    let resp = call(&mut c, "stata_run_code", json!({"code": GRAPH_CODE}));
    assert_eq!(structured(&resp)["status"], "ok", "{}", result_text(&resp));
    assert_eq!(images(&resp).len(), 1, "{resp}");
}

#[test]
fn a_graph_a_session_draws_comes_back_without_graph_export() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "session"]);
    c.initialize();
    let resp = call(
        &mut c,
        "stata_run_code",
        json!({"code": "sysuse auto\nscatter price mpg"}),
    );
    assert_eq!(structured(&resp)["status"], "ok", "{}", result_text(&resp));
    let imgs = images(&resp);
    assert_eq!(imgs.len(), 1, "the scatter plot drawn: {resp}");
    assert_eq!(imgs[0]["mimeType"], "image/png");
    let text = result_text(&resp);
    assert!(text.contains("drawn in this call (Graph)"), "{text}");
    // The runner's own listing and export are not the user's output.
    let output = text.split_once("--- output").map_or("", |x| x.1);
    for leaked in ["graph dir", "graph export", "as(svg)"] {
        assert!(!output.contains(leaked), "{leaked:?} in {text}");
    }
    let run_id = structured(&resp)["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let log = call(&mut c, "stata_read_log", json!({"run_id": run_id}));
    assert!(!result_text(&log).contains("graph dir"), "{log}");

    // Nothing new drawn: nothing shown again.
    let resp = call(&mut c, "stata_run_code", json!({"code": "summarize price"}));
    assert!(images(&resp).is_empty(), "{resp}");
    // A new graph is shown; an exported one only once.
    let resp = call(
        &mut c,
        "stata_run_code",
        json!({"code": "scatter mpg weight"}),
    );
    assert_eq!(images(&resp).len(), 1, "{resp}");
    let resp = call(
        &mut c,
        "stata_run_code",
        json!({"code": "scatter price weight\ngraph export w.svg, replace"}),
    );
    assert_eq!(
        images(&resp).len(),
        1,
        "the export, not the export and the memory graph: {resp}"
    );
}

#[test]
fn a_session_runs_log_reads_as_the_users_output_and_raw_shows_the_rest() {
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "session"]);
    c.initialize();
    let resp = call(&mut c, "stata_run_code", json!({"code": "display 6*7\n"}));
    let run_id = structured(&resp)["run_id"]
        .as_str()
        .expect("run_id")
        .to_owned();
    let user = call(&mut c, "stata_read_log", json!({"run_id": run_id}));
    let text = structured(&user)["text"].as_str().expect("text").to_owned();
    assert!(text.contains(". display 6*7\n42"), "{text}");
    assert!(!text.contains("STATA_MCP"), "no runner lines: {text}");
    assert!(
        result_text(&user).contains("raw: true"),
        "{}",
        result_text(&user)
    );
    let raw = call(
        &mut c,
        "stata_read_log",
        json!({"run_id": run_id, "raw": true}),
    );
    let s = structured(&raw);
    assert_eq!(s["user_output_only"], false);
    assert!(
        s["text"].as_str().expect("text").contains("STATA_MCP"),
        "{s}"
    );
}

#[test]
fn every_file_and_folder_of_the_log_dir_is_the_users_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let fake = FakeStata::new();
    let mut c = Client::start(&fake, &["--mode", "session"]);
    c.initialize();
    let resp = call(&mut c, "stata_run_code", json!({"code": "display 1\n"}));
    let log = std::path::PathBuf::from(structured(&resp)["log_path"].as_str().expect("log"));
    let run_dir = log.parent().expect("run dir");
    assert_eq!(mode(run_dir), 0o700);
    assert_eq!(mode(run_dir.parent().expect("runs")), 0o700, "runs/");
    for entry in std::fs::read_dir(run_dir).expect("run dir").flatten() {
        assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
    }
    let sessions = fake.log_dir().join("sessions");
    assert_eq!(mode(&sessions), 0o700, "sessions/");
    let start_logs: Vec<_> = std::fs::read_dir(&sessions)
        .expect("sessions")
        .flatten()
        .collect();
    assert!(!start_logs.is_empty());
    for entry in start_logs {
        // Files the user's only; a session's temporary folder too.
        let want = if entry.path().is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&entry.path()), want, "{}", entry.path().display());
    }
}
