//! The terminal commands (`doctor`, `config`, `run`) driven as a user would: the real binary,
//! Stata played by the project's double behind a fake install.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{FakeStata, server_path};
use serde_json::{Value, json};

/// The binary with an environment free of the caller's Stata settings, so a developer's
/// own STATA_PATH or STATA_MCP_MODE cannot change what a test sees.
fn cmd(fake: &FakeStata) -> Command {
    let mut c = Command::new(server_path());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key == "STATA_PATH" || key.starts_with("STATA_MCP_") || key.starts_with("STATA_DOUBLE_")
        {
            c.env_remove(&key);
        }
    }
    c.env("STATA_MCP_LOG_DIR", fake.log_dir())
        .env("RUST_LOG", "warn")
        .current_dir(fake.work());
    c
}

fn with_stata(fake: &FakeStata) -> Command {
    let mut c = cmd(fake);
    c.env("STATA_PATH", fake.stata());
    c
}

fn run(mut c: Command) -> (Output, String, String) {
    let out = c.output().expect("run stata-mcp");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn this_binary() -> PathBuf {
    std::fs::canonicalize(server_path()).expect("canonical binary path")
}

// ---- doctor ----

#[test]
fn doctor_reports_the_version_stata_gives_in_each_mode() {
    let fake = FakeStata::new();
    for (mode, version) in [
        ("session", None),
        ("batch", None),
        ("session", Some("19.5")),
        ("batch", Some("17")),
    ] {
        let mut c = with_stata(&fake);
        c.args(["doctor", "--mode", mode]);
        if let Some(v) = version {
            c.env("STATA_DOUBLE_VERSION", v);
        }
        let (out, stdout, stderr) = run(c);
        assert!(out.status.success(), "{mode}: {stdout}\n{stderr}");
        let expected = version.unwrap_or("18");
        assert!(
            stdout.contains(&format!("Stata says its version is {expected}\n")),
            "{mode}: {stdout}"
        );
        assert!(
            stdout.contains(&fake.stata().display().to_string()),
            "{stdout}"
        );
        assert!(stdout.contains(&format!("mode:     {mode}")), "{stdout}");
        assert!(
            stdout.contains(&fake.log_dir().display().to_string()),
            "{stdout}"
        );
        assert!(
            stdout.contains("started"),
            "start-up time missing: {stdout}"
        );
    }
    assert!(
        fake.live_processes().is_empty(),
        "doctor left Stata running"
    );
}

#[test]
fn doctor_without_stata_lists_every_place_searched_and_how_to_set_stata_path() {
    let fake = FakeStata::new();
    let empty_bin = fake.dir.path().join("empty-bin");
    let roots = fake.dir.path().join("roots");
    std::fs::create_dir_all(&empty_bin).expect("mkdir");
    std::fs::create_dir_all(roots.join("not-stata")).expect("mkdir");
    let mut c = cmd(&fake);
    c.arg("doctor")
        .env("PATH", &empty_bin)
        .env("STATA_MCP_INSTALL_ROOTS", &roots);
    let (out, stdout, stderr) = run(c);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("Stata was not found"), "{stdout}");
    assert!(
        stdout.contains(&empty_bin.display().to_string()),
        "{stdout}"
    );
    assert!(stdout.contains(&roots.display().to_string()), "{stdout}");
    assert!(stdout.contains("STATA_PATH"), "{stdout}");
    assert!(stdout.contains("--stata-path"), "{stdout}");
    // Said once: stderr only points at the report.
    assert!(!stderr.contains("Stata was not found"), "{stderr}");
    assert!(
        stderr.contains("no Stata to run") && stderr.contains("report"),
        "{stderr}"
    );
}

#[test]
fn doctor_fails_with_the_licence_message_and_a_fix() {
    let fake = FakeStata::new();
    let mut c = with_stata(&fake);
    c.args(["doctor", "--mode", "batch"])
        .env("STATA_DOUBLE_LICENSE", "invalid");
    let (out, stdout, stderr) = run(c);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("License is invalid"), "{stdout}");
    assert!(stdout.contains("licence"), "{stdout}");
    // Once, with one fix.
    let all = format!("{stdout}{stderr}");
    assert_eq!(all.matches("did not start").count(), 1, "{all}");
    assert_eq!(all.matches("stinit").count(), 1, "{all}");
}

#[test]
fn doctor_fails_when_the_log_dir_is_not_writable() {
    let fake = FakeStata::new();
    let file = fake.write("a-file", "not a folder");
    let mut c = with_stata(&fake);
    c.args(["doctor", "--log-dir"]).arg(&file);
    let (out, stdout, stderr) = run(c);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("STATA_MCP_LOG_DIR"), "{stdout}");
    assert!(
        stderr.contains("log dir"),
        "stderr points at the problem: {stderr}"
    );
}

// ---- config ----

fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

#[test]
fn config_prints_json_naming_the_absolute_binary_and_chosen_options() {
    let fake = FakeStata::new();
    for client in ["claude-desktop", "cursor"] {
        let mut c = cmd(&fake);
        c.args(["config", client, "--mode", "batch", "--stata-path"])
            .arg(fake.stata());
        let (out, stdout, stderr) = run(c);
        assert!(out.status.success(), "{stderr}");
        let v = parse(&stdout);
        let server = &v["mcpServers"]["stata"];
        let command = PathBuf::from(server["command"].as_str().expect("command"));
        assert!(command.is_absolute());
        assert_eq!(command, this_binary());
        assert_eq!(server["env"]["STATA_PATH"], json!(fake.stata()));
        assert_eq!(server["env"]["STATA_MCP_MODE"], "batch");
    }
    // Options at their defaults are left out; options from the environment are carried.
    let mut c = cmd(&fake);
    c.args(["config", "cursor", "--name", "stata18"])
        .env_remove("STATA_MCP_LOG_DIR")
        .env("STATA_MCP_TIMEOUT", "600");
    let (_, stdout, _) = run(c);
    let v = parse(&stdout);
    assert_eq!(
        v["mcpServers"]["stata18"]["env"],
        json!({"STATA_MCP_TIMEOUT": "600"})
    );
}

#[test]
fn config_over_ssh_runs_the_server_on_the_login_node_in_slurm_mode() {
    let fake = FakeStata::new();
    let mut c = cmd(&fake);
    c.args([
        "config",
        "claude-desktop",
        "--ssh",
        "me@login.hpc.example",
        "--remote-binary",
        "/home/me/.cargo/bin/stata-mcp",
        "--slurm-partition",
        "short",
        "--slurm-setup",
        "module load stata/18",
        "--slurm-setup",
        "export STATATMP=$TMPDIR",
    ])
    .env_remove("STATA_MCP_LOG_DIR");
    let (out, stdout, stderr) = run(c);
    assert!(out.status.success(), "{stderr}");
    let server = &parse(&stdout)["mcpServers"]["stata"];
    assert_eq!(server["command"], "ssh", "{server}");
    assert_eq!(
        server["args"],
        json!([
            "-T",
            "-o",
            "BatchMode=yes",
            "me@login.hpc.example",
            "/home/me/.cargo/bin/stata-mcp --mode slurm --slurm-partition short --slurm-setup \
             'module load stata/18' --slurm-setup 'export STATATMP=$TMPDIR'"
        ]),
        "{server}"
    );
    assert!(
        !stderr.contains("no Stata was found"),
        "Stata is the host's: {stderr}"
    );
    let mut c = cmd(&fake);
    c.args(["config", "cursor", "--ssh", "two words"]);
    let (out, _, stderr) = run(c);
    assert!(!out.status.success());
    assert!(stderr.contains("is not a host name"), "{stderr}");
}

#[test]
fn config_makes_a_relative_stata_path_absolute() {
    let fake = FakeStata::new();
    let mut c = cmd(&fake);
    c.args([
        "config",
        "claude-desktop",
        "--stata-path",
        "../bin/stata-mp",
    ]);
    let (_, stdout, _) = run(c);
    let v = parse(&stdout);
    let given = PathBuf::from(
        v["mcpServers"]["stata"]["env"]["STATA_PATH"]
            .as_str()
            .expect("env"),
    );
    assert!(given.is_absolute(), "{given:?}");
    assert_eq!(
        std::fs::canonicalize(given).expect("exists"),
        std::fs::canonicalize(fake.stata()).expect("exists")
    );
}

#[test]
fn config_for_claude_code_prints_the_command_line_or_json() {
    let fake = FakeStata::new();
    let mut c = with_stata(&fake);
    c.args(["config", "claude-code"]);
    let (out, stdout, _) = run(c);
    assert!(out.status.success());
    assert!(stdout.starts_with("claude mcp add "), "{stdout}");
    assert!(
        stdout.contains(&format!("--env STATA_PATH={}", fake.stata().display())),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with(&format!("-- {}", this_binary().display())),
        "{stdout}"
    );

    let mut c = with_stata(&fake);
    c.args(["config", "claude-code", "--json"]);
    let (_, stdout, _) = run(c);
    let v = parse(&stdout);
    assert_eq!(v["mcpServers"]["stata"]["type"], "stdio");
    assert_eq!(v["mcpServers"]["stata"]["command"], json!(this_binary()));
}

fn backups(dir: &Path, file: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{file}.")) && n.ends_with(".bak"))
        })
        .collect()
}

#[test]
fn write_merges_keeping_other_servers_and_keys_and_backs_up_first() {
    let fake = FakeStata::new();
    let dir = fake.dir.path().join("client");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("claude_desktop_config.json");
    let original = r#"{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
    "stata": {"command": "/old/stata-mcp"}
  }
}"#;
    std::fs::write(&file, original).expect("write");

    let mut c = with_stata(&fake);
    c.args(["config", "claude-desktop", "--write", "--config-file"])
        .arg(&file);
    let (out, _, stderr) = run(c);
    assert!(out.status.success(), "{stderr}");

    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("valid JSON");
    assert_eq!(v["globalShortcut"], "Ctrl+Space");
    assert_eq!(v["mcpServers"]["filesystem"]["command"], "npx");
    assert_eq!(v["mcpServers"]["filesystem"]["args"][2], "/tmp");
    assert_eq!(v["mcpServers"]["stata"]["command"], json!(this_binary()));
    assert_eq!(
        v["mcpServers"]["stata"]["env"]["STATA_PATH"],
        json!(fake.stata())
    );

    let saved = backups(&dir, "claude_desktop_config.json");
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(std::fs::read_to_string(&saved[0]).expect("read"), original);
    // No temp file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn write_refuses_a_corrupt_file_and_leaves_it_untouched() {
    let fake = FakeStata::new();
    let dir = fake.dir.path().join("client");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("mcp.json");
    let corrupt = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n  // a comment\n";
    std::fs::write(&file, corrupt).expect("write");
    let mut c = with_stata(&fake);
    // The file can come from the environment too.
    c.args(["config", "cursor", "--write"])
        .env("STATA_MCP_CONFIG_FILE", &file);
    let (out, _, stderr) = run(c);
    assert!(!out.status.success());
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    assert!(stderr.contains("untouched"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), corrupt);
    assert!(backups(&dir, "mcp.json").is_empty());
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
}

#[cfg(target_os = "linux")]
#[test]
fn write_goes_to_each_clients_standard_place_under_home() {
    let fake = FakeStata::new();
    let home = fake.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    for (client, rel) in [
        ("cursor", ".cursor/mcp.json"),
        (
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
        ),
        ("claude-code", ".claude.json"),
    ] {
        let mut c = with_stata(&fake);
        c.args(["config", client, "--write"])
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME");
        let (out, _, stderr) = run(c);
        assert!(out.status.success(), "{client}: {stderr}");
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(home.join(rel)).expect("written"))
                .expect("JSON");
        assert_eq!(
            v["mcpServers"]["stata"]["command"],
            json!(this_binary()),
            "{client}"
        );
    }
}

// ---- run ----

#[test]
fn run_prints_the_output_and_exits_0() {
    let fake = FakeStata::new();
    fake.write(
        "good.do",
        "display \"hello from the do-file\"\ndisplay 6*7\n",
    );
    for mode in ["batch", "session"] {
        let mut c = with_stata(&fake);
        c.args(["run", "--mode", mode, "good.do"]);
        let (out, stdout, stderr) = run(c);
        assert_eq!(out.status.code(), Some(0), "{mode}: {stdout}\n{stderr}");
        assert!(stdout.contains("hello from the do-file\n"), "{stdout}");
        assert!(stdout.contains("\n42\n"), "{stdout}");
        assert!(stderr.contains("Stata run ok"), "{stderr}");
        // Piped: no progress line, no terminal control codes.
        assert!(
            !stdout.contains('\x1b') && !stderr.contains('\x1b'),
            "{stderr}"
        );
    }
    assert!(fake.live_processes().is_empty(), "run left Stata running");
}

#[test]
fn run_of_a_failing_do_file_exits_1_and_prints_the_error() {
    let fake = FakeStata::new();
    fake.write(
        "bad.do",
        "display \"before\"\nnosuchcommand x\ndisplay \"never printed\"\n",
    );
    for mode in ["batch", "session"] {
        let mut c = with_stata(&fake);
        c.args(["run", "bad.do", "--mode", mode]);
        let (out, stdout, stderr) = run(c);
        assert_eq!(out.status.code(), Some(1), "{mode}: {stdout}\n{stderr}");
        assert!(stdout.contains("before\n"), "{stdout}");
        assert!(
            stdout.contains("command nosuchcommand is unrecognized"),
            "{stdout}"
        );
        assert!(!stdout.contains("never printed\n"), "{stdout}");
        assert!(stderr.contains("Stata error r(199)"), "{stderr}");
        assert!(
            stderr.contains("r(199): command nosuchcommand is unrecognized"),
            "{stderr}"
        );
    }
}

#[test]
fn run_passes_arguments_and_runs_in_the_current_directory() {
    let fake = FakeStata::new();
    fake.write(
        "sub/args.do",
        "args a b\ndisplay \"a=`a' b=`b'\"\ndisplay c(pwd)\n",
    );
    let mut c = with_stata(&fake);
    c.args([
        "run",
        "--mode",
        "batch",
        "sub/args.do",
        "--",
        "-first",
        "second",
    ]);
    let (out, stdout, stderr) = run(c);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("a=-first b=second"), "{stdout}");
    let work = std::fs::canonicalize(fake.work()).expect("work");
    assert!(
        stdout
            .lines()
            .any(|l| Path::new(l.trim()) == work || Path::new(l.trim()) == fake.work()),
        "not run in {}: {stdout}",
        work.display()
    );
}

#[test]
fn run_exit_codes_for_missing_files_missing_stata_and_timeouts() {
    let fake = FakeStata::new();
    let mut c = with_stata(&fake);
    c.args(["run", "nope.do"]);
    let (out, _, stderr) = run(c);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("nope.do not found"), "{stderr}");

    fake.write("ok.do", "display 1\n");
    let mut c = cmd(&fake);
    c.args(["run", "ok.do"])
        .env("STATA_PATH", fake.dir.path().join("missing/stata-mp"));
    let (out, _, stderr) = run(c);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("does not exist"), "{stderr}");

    fake.write("slow.do", "display \"start\"\nsleep 20000\n");
    let mut c = with_stata(&fake);
    c.args(["run", "--mode", "batch", "--timeout", "1", "slow.do"]);
    let (out, stdout, stderr) = run(c);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("start\n"), "{stdout}");
    assert!(stderr.contains("Timed out"), "{stderr}");
    assert!(
        fake.live_processes().is_empty(),
        "the timed-out Stata is still running"
    );

    // Without --mode a one-shot run is a batch run: no talk of data kept in memory.
    let mut c = with_stata(&fake);
    c.env_remove("STATA_MCP_MODE")
        .args(["run", "--timeout", "1", "slow.do"]);
    let (out, _, stderr) = run(c);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("time limit"), "{stderr}");
    assert!(!stderr.contains("data in memory"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_stata_and_exits_130() {
    use std::time::{Duration, Instant};
    let fake = FakeStata::new();
    fake.write("long.do", "display \"started\"\nsleep 60000\n");
    for mode in ["batch", "session"] {
        let mut c = with_stata(&fake);
        c.args(["run", "--mode", mode, "long.do"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().expect("spawn");
        assert!(
            common::eventually(Duration::from_secs(10), || !fake
                .live_processes()
                .is_empty()),
            "Stata never started"
        );
        std::thread::sleep(Duration::from_millis(200));
        let pid = i32::try_from(child.id()).expect("pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        )
        .expect("signal");
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{mode}: did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(130), "{mode}");
        assert!(
            common::eventually(Duration::from_secs(2), || fake.live_processes().is_empty()),
            "{mode}: Stata still running after Ctrl-C"
        );
    }
}

#[test]
fn run_trims_old_runs_to_keep_runs_before_it_starts() {
    let fake = FakeStata::new();
    fake.write("ok.do", "display 1\n");
    for _ in 0..4 {
        let mut c = with_stata(&fake);
        c.args(["run", "--mode", "batch", "--keep-runs", "2", "ok.do"]);
        let (out, _, stderr) = run(c);
        assert!(out.status.success(), "{stderr}");
    }
    let runs = std::fs::read_dir(fake.log_dir().join("runs"))
        .expect("runs")
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    // The two kept from before, and the newest run.
    assert!(runs <= 3, "{runs} run folders kept");
}

#[test]
fn a_bad_value_names_where_it_came_from() {
    let fake = FakeStata::new();
    let mut c = cmd(&fake);
    c.env("STATA_MCP_MODE", "foo").arg("doctor");
    let (out, _, stderr) = run(c);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid value 'foo'"), "{stderr}");
    assert!(
        stderr.contains("environment variable STATA_MCP_MODE"),
        "{stderr}"
    );

    let mut c = cmd(&fake);
    c.env_remove("STATA_MCP_MODE")
        .args(["--mode", "foo", "doctor"]);
    let (out, _, stderr) = run(c);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains("environment variable"),
        "a flag is a flag: {stderr}"
    );
}

#[test]
fn run_without_a_file_asks_for_the_file_only() {
    let fake = FakeStata::new();
    let mut c = with_stata(&fake);
    c.arg("run");
    let (out, _, stderr) = run(c);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("<FILE>"), "{stderr}");
    // STATA_PATH is set, so --stata-path is not something to add.
    assert!(!stderr.contains("--stata-path"), "{stderr}");
}

#[test]
fn the_write_hint_repeats_every_option_the_user_gave() {
    let fake = FakeStata::new();
    let stata = fake.stata();
    let mut c = cmd(&fake);
    c.args(["config", "claude-desktop", "--stata-path"])
        .arg(&stata)
        .args(["--workdir", "/srv/my project"]);
    let (out, _, stderr) = run(c);
    assert!(out.status.success(), "{stderr}");
    let want = format!(
        "stata-mcp config claude-desktop --stata-path {} --workdir '/srv/my project' --write",
        stata.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn version_says_the_version_and_the_platform() {
    let fake = FakeStata::new();
    let mut c = cmd(&fake);
    c.arg("--version");
    let (out, stdout, _) = run(c);
    assert!(out.status.success());
    let want = format!(
        "stata-mcp {} ({}-{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    assert_eq!(stdout.trim(), want);
}

#[test]
fn a_setting_left_blank_is_unset_not_an_error() {
    // A Claude Desktop bundle passes a blank form field as an empty variable.
    let fake = FakeStata::new();
    fake.write("ok.do", "display 6*7\n");
    let mut c = with_stata(&fake);
    c.env("STATA_MCP_MODE", "")
        .env("STATA_MCP_SANDBOX", "")
        .args(["run", "ok.do"]);
    let (out, stdout, stderr) = run(c);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("42"), "{stdout}");
}
