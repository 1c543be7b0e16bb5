//! Checks the Stata test double itself (`tests/double/`) against the behaviour of
//! real Stata described in the spec and shown by the fixture logs.

#![cfg(unix)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::{double_path, fixture};

/// A temp dir holding a `stata-mp` symlink to the double (the edition comes from
/// the name, as with real Stata binaries).
fn sandbox() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("stata-mp");
    std::os::unix::fs::symlink(double_path(), &link).expect("symlink");
    (dir, link)
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, text).expect("write do-file");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn wait_for(path: &Path, needle: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = read(path);
        if text.contains(needle) || start.elapsed() > limit {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn batch_success_has_banner_echo_and_end_of_do_file() {
    let (dir, stata) = sandbox();
    write(dir.path(), "main.do", "disp 21+21\n");
    let out = Command::new(&stata)
        .args(["-b", "do", "main.do"])
        .current_dir(dir.path())
        .output()
        .expect("run double");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let log = read(&dir.path().join("main.log"));
    assert!(log.starts_with("\n  ___  ____"), "{log}");
    assert!(log.contains("      1. Stata is running in batch mode.\n"));
    assert!(
        log.ends_with("\n. do main.do \n\n. disp 21+21\n42\n\n. \nend of do-file\n"),
        "{log}"
    );
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn nested_error_log_matches_real_fixture_and_exit_code_is_zero() {
    common::require_shared();
    let (dir, stata) = sandbox();
    write(
        dir.path(),
        "main.do",
        "* Test nested do-files (error in nested file)\nclear all\nset obs 100\n\
         gen x = rnormal()\n\ndisplay \"=== Main script: About to call helper with error ===\"\n\n\
         * Call nested do-file that will fail\ndo nested/helper_with_error.do\n",
    );
    write(
        dir.path(),
        "nested/helper_with_error.do",
        "* Helper script with error\ndisplay \"=== Inside helper_with_error.do ===\"\n\n\
         * This will fail - bad_var doesn't exist\ngen y = bad_var + 1\n",
    );
    let status = Command::new(&stata)
        .args(["-b", "-q", "do", "main.do"])
        .current_dir(dir.path())
        .status()
        .expect("run double");
    assert_eq!(status.code(), Some(0), "batch Stata exits 0 even on error");
    assert_eq!(
        read(&dir.path().join("main.log")),
        fixture("batch-q-nested-error-r111.log")
    );
}

#[test]
fn log_is_named_after_do_file_up_to_first_space_and_missing_file_is_r601() {
    let (dir, stata) = sandbox();
    write(dir.path(), "foo bar.do", "display \"hi\"\n");
    Command::new(&stata)
        .args(["-b", "do", "foo bar.do"])
        .current_dir(dir.path())
        .status()
        .expect("run double");
    assert!(read(&dir.path().join("foo.log")).contains("\n. display \"hi\"\nhi\n"));

    Command::new(&stata)
        .args(["-b", "missing.do"])
        .current_dir(dir.path())
        .status()
        .expect("run double");
    let log = read(&dir.path().join("missing.log"));
    assert!(
        log.ends_with(". do \"missing.do\" \nfile missing.do not found\nr(601);\n"),
        "{log}"
    );
    assert!(!log.contains("end of do-file"));
}

#[test]
fn batch_log_grows_while_running() {
    let (dir, stata) = sandbox();
    write(
        dir.path(),
        "slow.do",
        "display \"first\"\nsleep 1500\ndisplay \"second\"\n",
    );
    let mut child = Command::new(&stata)
        .args(["-b", "-q", "do", "slow.do"])
        .current_dir(dir.path())
        .spawn()
        .expect("spawn double");
    let log_path = dir.path().join("slow.log");
    let mid = wait_for(&log_path, ". sleep 1500", Duration::from_secs(3));
    assert!(
        mid.contains("first\n") && mid.contains(". sleep 1500"),
        "{mid}"
    );
    assert!(!mid.contains("second"), "log must be read mid-run: {mid}");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert!(read(&log_path).ends_with("second\n\n. \nend of do-file\n"));
}

/// Spawns console mode with piped stdio; stdout is collected on a thread.
fn console(dir: &Path, stata: &Path) -> (Child, mpsc::Receiver<Vec<u8>>) {
    let mut child = Command::new(stata)
        .arg("-q")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn console double");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn collect(rx: &mpsc::Receiver<Vec<u8>>) -> String {
    let mut all = Vec::new();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(5)) {
        all.extend(chunk);
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn console_prompts_buffers_stdout_and_writes_named_log() {
    let (dir, stata) = sandbox();
    let (mut child, rx) = console(dir.path(), &stata);
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "log using \"f.log\", text replace name(mcp)\ndisplay 2+2\nfoo"
    )
    .expect("write stdin");
    let log_path = dir.path().join("f.log");
    let log = wait_for(&log_path, "r(199);", Duration::from_secs(3));
    assert!(log.contains("      name:  mcp\n"), "{log}");
    assert!(log.contains("\n. display 2+2\n4\n\n. foo\ncommand foo is unrecognized\nr(199);\n"));
    // Piped stdout is block-buffered: nothing has arrived although the log has it all.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    drop(stdin);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    let out = collect(&rx);
    assert!(out.starts_with(". log using"), "{out}");
    assert!(out.contains("\n. display 2+2\n4\n\n. foo\n"), "{out}");
}

#[test]
fn sigint_in_console_breaks_command_and_keeps_data() {
    let (dir, stata) = sandbox();
    let (mut child, rx) = console(dir.path(), &stata);
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "sysuse auto\nlog using s.log, text name(t)\nsleep 20000"
    )
    .expect("stdin");
    let log_path = dir.path().join("s.log");
    wait_for(&log_path, ". sleep 20000", Duration::from_secs(3));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("kill");
    let log = wait_for(&log_path, "r(1);", Duration::from_secs(3));
    assert!(log.contains(". sleep 20000\n--Break--\nr(1);\n"), "{log}");
    writeln!(stdin, "count\nexit, clear").expect("stdin");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert!(read(&log_path).contains("\n. count\n  74\n"));
    drop(collect(&rx));
}
