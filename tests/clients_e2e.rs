//! End to end, per client: started with each real client's `initialize`, what that client
//! would hand its model (by the forwarding rules of the shared client notes) holds the status
//! line, the output, the error and the graph; long runs come back as jobs in time; relative
//! paths follow the client's roots.

#![cfg(unix)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, FakeStata, result_text};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);
const GRAPH_CODE: &str = "sysuse auto\nscatter price mpg\ngraph export g.svg, replace\n";

/// How a client turns a tool result into what its model reads.
#[derive(Clone, Copy, Debug)]
enum Reads {
    /// Claude Code: the JSON of structuredContent alone, unless the result is an error.
    StructuredUnlessError,
    /// Codex: the JSON of structuredContent alone when there is one (images dropped too).
    Structured,
    /// VS Code: the JSON of structuredContent instead of the text; images kept.
    StructuredTextImagesKept,
    /// Gemini CLI: content only.
    Content,
    /// Claude Desktop: both.
    Both,
}

struct Known {
    name: &'static str,
    capabilities: Value,
    reads: Reads,
}

fn clients() -> Vec<Known> {
    vec![
        Known {
            name: "claude-code",
            capabilities: json!({"roots": {}}),
            reads: Reads::StructuredUnlessError,
        },
        Known {
            name: "codex-mcp-client",
            capabilities: json!({"elicitation": {}, "roots": {"listChanged": false}}),
            reads: Reads::Structured,
        },
        Known {
            name: "Visual Studio Code",
            capabilities: json!({"roots": {"listChanged": true}, "sampling": {}, "elicitation": {}}),
            reads: Reads::StructuredTextImagesKept,
        },
        Known {
            name: "gemini-cli-mcp-client",
            capabilities: json!({"roots": {"listChanged": true}}),
            reads: Reads::Content,
        },
        Known {
            name: "claude-ai",
            capabilities: json!({}),
            reads: Reads::Both,
        },
        // Unknown forwarding: the model may get either field, so it must work with each.
        Known {
            name: "Cursor",
            capabilities: json!({"roots": {"listChanged": false}}),
            reads: Reads::Structured,
        },
        Known {
            name: "Zed",
            capabilities: json!({}),
            reads: Reads::Structured,
        },
    ]
}

/// The text and the number of images the model is handed.
fn model_gets(reads: Reads, resp: &Value) -> (String, usize) {
    let result = &resp["result"];
    let structured = result
        .get("structuredContent")
        .map(|s| serde_json::to_string(s).expect("json"));
    let is_error = result.get("isError") == Some(&json!(true));
    let blocks = result["content"].as_array().cloned().unwrap_or_default();
    let text: String = blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    let images = blocks.iter().filter(|b| b["type"] == "image").count();
    match (reads, structured) {
        (Reads::StructuredUnlessError, Some(json)) if !is_error => (json, 0),
        (Reads::Structured, Some(json)) => (json, 0),
        (Reads::StructuredTextImagesKept, Some(json)) => (json, images),
        (Reads::Both, Some(json)) => (format!("{text}\n{json}"), images),
        _ => (text, images),
    }
}

/// The server as a user runs it: structuredContent as the profile decides.
fn start(fake: &FakeStata, extra: &[&str]) -> Client {
    Client::start_with_env(fake, extra, &[("STATA_MCP_STRUCTURED_CONTENT", "auto")])
}

/// The server started by a client in `dir`, with no --workdir.
fn start_in(fake: &FakeStata, dir: &std::path::Path) -> Client {
    let mut cmd = Command::new(common::server_path());
    cmd.args(["--mode", "batch", "--stata-path"])
        .arg(fake.stata())
        .arg("--log-dir")
        .arg(fake.log_dir())
        .current_dir(dir)
        .env_remove("STATA_PATH")
        .env_remove("STATA_MCP_WORKDIR");
    Client::spawn(cmd)
}

#[test]
fn every_client_hands_its_model_the_status_the_output_and_the_graph() {
    let fake = FakeStata::new();
    for client in clients() {
        let mut c = start(&fake, &["--mode", "batch"]);
        c.initialize_as(client.name, client.capabilities.clone());
        let resp = c.call("stata_run_code", json!({"code": GRAPH_CODE}), LONG);
        let (text, images) = model_gets(client.reads, &resp);
        assert!(text.contains("Stata run ok in"), "{}: {text}", client.name);
        assert!(
            text.contains("1978 automobile data"),
            "{}: {text}",
            client.name
        );
        assert!(text.contains("g.svg"), "{}: {text}", client.name);
        assert_eq!(images, 1, "{}: the graph reaches the model", client.name);

        let resp = c.call(
            "stata_run_code",
            json!({"code": "display \"before\"\nsummarize nosuch\n"}),
            LONG,
        );
        let (text, _) = model_gets(client.reads, &resp);
        assert!(text.contains("r(111)"), "{}: {text}", client.name);
        assert!(text.contains("before"), "{}: {text}", client.name);
    }
}

#[test]
fn tools_promise_structured_content_only_to_clients_that_get_it() {
    let fake = FakeStata::new();
    for (name, promised) in [("claude-code", false), ("claude-ai", true), ("Zed", false)] {
        let mut c = start(&fake, &["--mode", "batch"]);
        c.initialize_as(name, json!({}));
        let id = c.request("tools/list", json!({}));
        let resp = c.wait_response(id, LONG);
        let tools = resp
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .expect("tools");
        for tool in tools {
            assert_eq!(
                tool.get("outputSchema").is_some(),
                promised,
                "{name}: {tool}"
            );
        }
    }
    // The flag overrides the profile.
    let mut c = start(
        &fake,
        &["--mode", "batch", "--structured-content", "always"],
    );
    c.initialize_as("claude-code", json!({"roots": {}}));
    let resp = c.call("stata_run_code", json!({"code": "display 1"}), LONG);
    assert!(
        resp.pointer("/result/structuredContent").is_some(),
        "{resp}"
    );
}

#[test]
fn a_run_longer_than_the_clients_patience_comes_back_as_a_job_in_time() {
    let fake = FakeStata::new();
    let mut c = start(&fake, &["--mode", "batch", "--auto-background-secs", "1"]);
    c.initialize_as("claude-code", json!({"roots": {}}));
    c.answer_roots(&[]);
    let started = Instant::now();
    let resp = c.call(
        "stata_run_code",
        json!({"code": "display \"start\"\nsleep 4000\ndisplay \"done\""}),
        LONG,
    );
    let waited = started.elapsed();
    let (text, _) = model_gets(Reads::StructuredUnlessError, &resp);
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
    assert!(text.contains("background"), "{text}");
    assert!(text.contains("stata_job"), "the next call is named: {text}");
    let job = text
        .split_whitespace()
        .find(|w| w.starts_with("job-"))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-'))
        .expect("a job id")
        .to_owned();
    let resp = c.call("stata_job", json!({"job_id": job, "wait_s": 20}), LONG);
    assert!(
        result_text(&resp).contains("done"),
        "{}",
        result_text(&resp)
    );
}

#[test]
fn each_profile_sets_its_own_background_margin() {
    let fake = FakeStata::new();
    for (name, caps, want) in [
        ("claude-code", json!({"roots": {}}), json!(100)),
        ("Zed", json!({}), json!(45)),
        ("Visual Studio Code", json!({}), Value::Null),
    ] {
        let mut c = start(&fake, &["--structured-content", "always"]);
        c.initialize_as(name, caps);
        let resp = c.call("stata_session", json!({"action": "status"}), LONG);
        let client = &resp["result"]["structuredContent"]["client"];
        assert_eq!(client["auto_background_s"], want, "{name}: {client}");
        assert!(
            result_text(&resp).contains("client: profile"),
            "status says the profile: {}",
            result_text(&resp)
        );
    }
}

#[test]
fn relative_paths_follow_the_clients_project_root() {
    let fake = FakeStata::new();
    let project = fake.work().join("project");
    std::fs::create_dir_all(&project).expect("project folder");
    std::fs::write(
        project.join("analysis.do"),
        "display \"from the project\"\n",
    )
    .expect("do");
    let elsewhere = tempfile::tempdir().expect("tmp");
    let mut c = start_in(&fake, elsewhere.path());
    c.initialize_as("claude-code", json!({"roots": {}}));
    c.answer_roots(&[format!("file://{}", project.display())]);
    let resp = c.call("stata_run_file", json!({"path": "analysis.do"}), LONG);
    let text = result_text(&resp);
    assert!(text.contains("from the project"), "{text}");
    assert!(text.contains("first root"), "the result says where: {text}");
    // Code with no cwd runs there too.
    let resp = c.call("stata_run_code", json!({"code": "pwd"}), LONG);
    assert!(
        result_text(&resp).contains(&project.display().to_string()),
        "{}",
        result_text(&resp)
    );
}

#[test]
fn with_no_roots_a_server_started_in_the_root_folder_refuses_every_path() {
    let fake = FakeStata::new();
    let mut c = start_in(&fake, std::path::Path::new("/"));
    c.initialize_as("claude-ai", json!({}));
    let resp = c.call("stata_run_file", json!({"path": "analysis.do"}), LONG);
    let text = result_text(&resp);
    assert!(text.contains("no folder to be taken from"), "{text}");
    assert!(text.contains("--workdir"), "it says how to fix it: {text}");
    // With no folder of the user's, an absolute path is no way out: the call is refused,
    // saying how to name the project.
    let path = fake.work().join("ok.do");
    std::fs::write(&path, "display \"absolute is fine\"\n").expect("do");
    let resp = c.call("stata_run_file", json!({"path": path}), LONG);
    let text = result_text(&resp);
    assert!(!text.contains("absolute is fine"), "{text}");
    assert!(text.contains("this server has none"), "{text}");
    assert!(text.contains("--workdir"), "{text}");
}

#[test]
fn a_do_files_frames_count_its_commands_for_a_progress_bar() {
    let fake = FakeStata::new();
    let path = fake.work().join("steps.do");
    std::fs::write(
        &path,
        "display \"one\"\nsleep 300\ndisplay \"two\"\nsleep 300\n\
         foreach i in 1 2 {\n  display `i'\n}\ndisplay \"end\"\n",
    )
    .expect("do-file");
    let mut c = start(&fake, &["--mode", "batch", "--progress-interval-ms", "20"]);
    c.initialize_as("gemini-cli-mcp-client", json!({}));
    let id = c.call_tool("stata_run_file", json!({"path": path}), Some("bar"));
    let resp = c.wait_response(id, LONG);
    assert!(result_text(&resp).contains("end"), "{}", result_text(&resp));
    let frames: Vec<(f64, f64)> = c
        .frames("bar")
        .iter()
        .map(|f| {
            let p = &f.msg["params"];
            let total = p["total"].as_f64().expect("every frame has a total");
            (p["progress"].as_f64().expect("progress"), total)
        })
        .collect();
    assert!(frames.len() >= 2, "{frames:?}");
    assert!(
        frames.iter().all(|&(_, t)| t == 6.0),
        "6 top-level commands: {frames:?}"
    );
    for w in frames.windows(2) {
        assert!(w[1].0 > w[0].0, "progress rises: {frames:?}");
    }
    assert!(frames.iter().all(|&(p, t)| p < t), "{frames:?}");
    assert!(
        frames.last().is_some_and(|&(p, _)| p >= 3.0),
        "the bar moved with the commands: {frames:?}"
    );
    // Code has no count: no total, as before.
    let id = c.call_tool("stata_run_code", json!({"code": "display 1"}), Some("code"));
    c.wait_response(id, LONG);
    assert!(
        c.frames("code")
            .iter()
            .all(|f| f.msg["params"].get("total").is_none())
    );
}
