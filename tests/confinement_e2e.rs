//! End to end, what a model cannot do with tool arguments and Stata code alone (Linux, the
//! project's double as Stata): name a folder outside the user's, start a program however it
//! spells it, signal or connect outside, write in another run's folder or the user's `~/ado`,
//! or leave a process running after its run or its server. Where the kernel has no Landlock
//! the tests say so and return.

#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Client, FakeStata, eventually, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);

fn available() -> bool {
    common::landlock_available("confinement")
}

fn code(c: &mut Client, code: &str) -> Value {
    c.call("stata_run_code", json!({ "code": code }), LONG)
}

fn q(p: &Path) -> String {
    p.display().to_string()
}

/// A folder beside the project, outside every folder the user chose.
fn outside(fake: &FakeStata) -> std::path::PathBuf {
    let d = fake.work().parent().expect("root").join("outside");
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn a_folder_outside_the_users_is_refused_however_it_is_spelled() {
    if !available() {
        return;
    }
    let fake = FakeStata::new();
    let out = outside(&fake);
    std::os::unix::fs::symlink(&out, fake.work().join("link")).expect("link");
    let ssh = fake.home().join(".ssh");
    std::fs::create_dir_all(&ssh).expect("ssh");
    for mode in ["batch", "session"] {
        let mut c = Client::start(&fake, &["--mode", mode]);
        c.initialize();
        let work = q(&fake.work());
        for cwd in [
            "/proc/self/root".to_owned(),
            "/".to_owned(),
            format!("{work}/../.."),
            format!("{work}/link"),
            q(&ssh),
            format!("/proc/self/root{}", q(&out)),
        ] {
            let r = c.call(
                "stata_run_code",
                json!({"code": "display \"ran\"", "cwd": cwd}),
                LONG,
            );
            let text = result_text(&r);
            assert!(!text.contains("\nran"), "{mode} {cwd}: Stata ran: {text}");
            assert_eq!(
                structured(&r)["status"],
                "failed_to_start",
                "{mode} {cwd}: {r}"
            );
            assert!(text.contains("outside the folders"), "{mode} {cwd}: {text}");
            assert!(text.contains(&work), "names the allowed folder: {text}");
            assert!(text.contains("--sandbox-allow-write"), "{text}");
            assert!(
                text.starts_with("Refused by the server before Stata started"),
                "said as a refusal, not as Stata failing: {text}"
            );
        }
        std::fs::write(out.join("x.do"), "display \"ran\"\n").expect("do");
        let r = c.call(
            "stata_run_file",
            json!({"path": q(&out.join("x.do"))}),
            LONG,
        );
        let text = result_text(&r);
        assert!(
            text.contains("refused: the") && text.contains("outside the folders"),
            "{text}"
        );
        // Inside, through a name with `..` that stays in, is fine.
        let r = c.call(
            "stata_run_code",
            json!({"code": "display \"ran\"", "cwd": format!("{work}/../work")}),
            LONG,
        );
        assert_eq!(structured(&r)["status"], "ok", "{mode}: {r}");
    }
}

#[test]
fn no_program_starts_whatever_its_spelling_and_the_result_says_why() {
    if !available() {
        return;
    }
    let fake = FakeStata::new();
    let out = outside(&fake);
    let inside = fake.work().join("made-by-shell");
    for mode in ["batch", "session"] {
        let mut c = Client::start(&fake, &["--mode", mode]);
        c.initialize();
        // Spellings the guard may not see; whatever gets past it, the kernel refuses.
        for attempt in [
            format!("local x\n`x'shell touch {}", q(&inside)),
            format!("local c sh\nlocal d ell\n`c'`d' touch {}", q(&inside)),
            format!("_double exec /usr/bin/touch {}", q(&inside)),
        ] {
            let r = code(&mut c, &attempt);
            let text = result_text(&r);
            assert!(!inside.exists(), "{mode}: a program ran: {attempt}\n{text}");
            // The guard's friendly refusal where it sees the command, else the kernel's.
            let kernel = text.contains("Permission denied");
            assert!(kernel || text.contains("refused:"), "{mode}: {text}");
            assert!(
                text.contains("--allow-shell"),
                "{mode}: how to allow: {text}"
            );
            if attempt.starts_with("_double exec") {
                assert!(kernel, "{mode}: the kernel refused it: {text}");
            }
        }
    }
    // --allow-shell lets programs start, and the file limits still hold for them.
    let mut c = Client::start(&fake, &["--mode", "batch", "--allow-shell"]);
    c.initialize();
    code(&mut c, &format!("shell touch {}", q(&inside)));
    assert!(inside.exists(), "--allow-shell runs the command");
    code(&mut c, &format!("shell touch {}", q(&out.join("x"))));
    assert!(!out.join("x").exists(), "but writes nothing outside");
}

#[test]
fn signals_sockets_and_terminals_outside_are_refused() {
    if !available() {
        return;
    }
    let fake = FakeStata::new();
    let out = outside(&fake);
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    let sock = out.join("outside.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("unix listener");
    let mut c = Client::start(&fake, &["--mode", "batch"]);
    c.initialize();
    let server = c.child.id();
    for target in [server, sleeper.id()] {
        let r = code(&mut c, &format!("_double signal {target} KILL"));
        assert!(result_text(&r).contains("could not signal"), "{r}");
    }
    assert!(
        alive(i32::try_from(sleeper.id()).expect("pid")),
        "the outside process lives"
    );
    let r = code(&mut c, "display \"server alive\"");
    assert!(result_text(&r).contains("server alive"));
    for probe in [
        format!("_double unix {}", q(&sock)),
        "_double tiocsti /dev/ptmx".to_owned(),
        "_double tiocsti /dev/tty".to_owned(),
    ] {
        let r = code(&mut c, &probe);
        assert!(result_text(&r).contains("refused"), "{probe}: {r}");
    }
    // strict: no network at all.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let addr = udp.local_addr().expect("addr").to_string();
    let mut s = Client::start(&fake, &["--mode", "batch", "--sandbox", "strict"]);
    s.initialize();
    for probe in [
        format!("_double udp {addr}"),
        "_double listen 127.0.0.1:0".to_owned(),
        "_double abstract stata-mcp-test".to_owned(),
    ] {
        let r = code(&mut s, &probe);
        assert!(result_text(&r).contains("refused"), "strict {probe}: {r}");
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn a_run_writes_in_its_own_folder_not_another_runs_and_files_are_private() {
    if !available() {
        return;
    }
    let fake = FakeStata::new();
    for mode in ["batch", "session"] {
        let mut c = Client::start(&fake, &["--mode", mode]);
        c.initialize();
        let first = code(&mut c, "display 1");
        let log = std::path::PathBuf::from(structured(&first)["log_path"].as_str().expect("log"));
        let before = std::fs::read(&log).expect("log");
        for attempt in [
            format!(
                "sysuse auto\nsave \"{}\", replace",
                q(&log.with_file_name("x.dta"))
            ),
            format!("sysuse auto\nsave \"{}\", replace", q(&log)),
        ] {
            let r = code(&mut c, &attempt);
            assert_eq!(
                structured(&r)["rc"],
                603,
                "{mode}: another run's folder: {r}"
            );
        }
        assert_eq!(std::fs::read(&log).expect("log"), before, "{mode}");
        // Its own log and result are whole, and in its run folder.
        let r = code(&mut c, "display \"mine\"");
        let own = std::path::PathBuf::from(structured(&r)["log_path"].as_str().expect("log"));
        assert_eq!(
            own.parent().and_then(Path::parent),
            log.parent().and_then(Path::parent)
        );
        assert!(
            std::fs::read_to_string(&own)
                .expect("own log")
                .contains("mine")
        );
        use std::os::unix::fs::PermissionsExt;
        let mode_of = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        for e in std::fs::read_dir(own.parent().expect("run"))
            .expect("run")
            .flatten()
        {
            let want = if e.path().is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode_of(&e.path()), want, "{mode}: {}", e.path().display());
        }
    }
}

#[test]
fn packages_install_into_the_project_and_a_later_run_finds_them() {
    if !available() {
        return;
    }
    let fake = FakeStata::new();
    let ssc = fake.ssc_with_hello();
    let ssc_dir = q(&ssc);
    for mode in ["batch", "session"] {
        let mut c =
            Client::start_with_env(&fake, &["--mode", mode], &[("STATA_DOUBLE_SSC", &ssc_dir)]);
        c.initialize();
        let r = code(&mut c, "ssc install hello");
        assert_eq!(structured(&r)["status"], "ok", "{mode}: {r}");
        let installed = fake.work().join("ado/plus/h/hello.ado");
        assert!(installed.is_file(), "{mode}: into the project: {r}");
        assert!(
            result_text(&r).contains("packages go into the project's own folder"),
            "{r}"
        );
        assert!(!fake.home().join("ado/plus/h/hello.ado").exists());
        drop(c);
        let mut later =
            Client::start_with_env(&fake, &["--mode", mode], &[("STATA_DOUBLE_SSC", &ssc_dir)]);
        later.initialize();
        let r = code(&mut later, "which hello\nhello");
        let text = result_text(&r);
        assert!(text.contains("version 1.2.0"), "{mode}: {text}");
        assert!(text.contains("hello from the package"), "{mode}: {text}");
        std::fs::remove_dir_all(fake.work().join("ado")).expect("clean");
    }
}

#[test]
fn nothing_outlives_its_run_or_its_server() {
    if !available() {
        return;
    }
    let fake = FakeStata::new();
    let pid_in = |text: &str| -> i32 {
        text.split("daemon ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no daemon pid in {text}"))
    };
    // A child that left Stata's session is stopped when the batch run ends.
    let mut c = Client::start(&fake, &["--mode", "batch"]);
    c.initialize();
    let r = code(&mut c, "_double daemon 300");
    let pid = pid_in(&result_text(&r));
    assert!(
        eventually(Duration::from_secs(2), || !alive(pid)),
        "daemon {pid} outlived its run"
    );

    // The server killed with SIGKILL mid-run: Stata and its daemon are stopped within 2 s.
    for mode in ["batch", "session"] {
        let mut c = Client::start(&fake, &["--mode", mode, "--sandbox", "off"]);
        c.initialize();
        let id = c.call_tool(
            "stata_run_code",
            json!({"code": "_double daemon 300\nsleep 60000"}),
            Some("t"),
        );
        let _ = id;
        assert!(
            eventually(LONG, || fake.live_processes().len() >= 2),
            "{mode}: Stata and its daemon started"
        );
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(c.child.id()).expect("pid")),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = c.child.wait();
        assert!(
            eventually(Duration::from_secs(2), || fake.live_processes().is_empty()),
            "{mode}: left running: {:?}",
            fake.live_processes()
        );
        // The next server on the same log dir says which run was cut off.
        let mut next = Client::start(&fake, &["--mode", mode]);
        next.initialize();
        let r = next.call("stata_job", json!({}), LONG);
        let text = result_text(&r);
        assert!(text.contains("cut off"), "{mode}: {text}");
        assert_eq!(
            structured(&r)["cut_off"].as_array().map(Vec::len),
            Some(1),
            "{r}"
        );
        let run = structured(&r)["cut_off"][0]["run_id"]
            .as_str()
            .expect("id")
            .to_owned();
        // Its log is in its run folder, even for a session call cut off mid-way.
        assert!(
            fake.log_dir()
                .join("runs")
                .join(&run)
                .join("run.log")
                .is_file(),
            "{mode}"
        );
        let log = next.call("stata_read_log", json!({"run_id": run}), LONG);
        assert!(
            result_text(&log).contains("_double daemon"),
            "{mode}: {log}"
        );
        std::fs::remove_dir_all(fake.log_dir()).expect("clean");
    }
}

#[test]
fn the_terminals_run_is_confined_like_a_clients_and_its_folder_sealed() {
    if !available() {
        return;
    }
    let fake = FakeStata::new();
    let out = outside(&fake);
    fake.write(
        "escape.do",
        &format!("sysuse auto\nsave \"{}\", replace\n", q(&out.join("x.dta"))),
    );
    fake.write("inside.do", "sysuse auto\nsave \"results.dta\", replace\n");
    let run = |file: &str| {
        let mut c = std::process::Command::new(common::server_path());
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("STATA_MCP_") || key.starts_with("STATA_DOUBLE_") {
                c.env_remove(&key);
            }
        }
        let o = c
            .args(["run", "--mode", "batch", file])
            .env("STATA_PATH", fake.stata())
            .env("STATA_MCP_LOG_DIR", fake.log_dir())
            .env("RUST_LOG", "error")
            .current_dir(fake.work())
            .output()
            .expect("stata-mcp run");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        (o.status.code(), stderr)
    };
    let (code, stderr) = run("escape.do");
    assert_eq!(code, Some(1), "writing outside fails: {stderr}");
    assert!(stderr.contains("r(603)"), "{stderr}");
    assert!(!out.join("x.dta").exists(), "nothing written outside");
    let (code, stderr) = run("inside.do");
    assert_eq!(
        code,
        Some(0),
        "the current folder is the person's: {stderr}"
    );
    assert!(fake.work().join("results.dta").exists());
    // The run folder is the user's only, as a server's runs are.
    let log = stderr
        .lines()
        .find_map(|l| l.strip_prefix("log: "))
        .map(std::path::PathBuf::from)
        .expect("the log's path");
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(log.parent().expect("run folder"))
        .expect("run folder")
        .flatten()
    {
        let mode = std::fs::metadata(e.path())
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        let want = if e.path().is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{}", e.path().display());
    }
}
