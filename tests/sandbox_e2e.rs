//! End to end, the sandbox: Stata (the project's double) started by the real server under
//! Landlock writes only in the project and its run folder (its temp folder is there too);
//! `strict` also limits reads and refuses TCP connections. Linux only; where the kernel has
//! no Landlock the tests say so and return.

#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Client, FakeStata, result_text, structured};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);

/// A server whose Stata sees a home, a temp folder and a folder outside the project of its
/// own, so that nothing the test checks is allowed because the system's /tmp is.
struct Setup {
    fake: FakeStata,
    home: PathBuf,
    outside: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let fake = FakeStata::new();
        let root = fake.work().parent().expect("root").to_path_buf();
        let (home, outside, temp) = (root.join("home"), root.join("outside"), root.join("stmp"));
        for d in [&home, &outside, &temp] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        Setup {
            fake,
            home,
            outside,
        }
    }

    fn server(&self, extra: &[&str]) -> Client {
        let temp = self.home.parent().expect("root").join("stmp");
        let temp = temp.to_string_lossy().into_owned();
        let home = self.home.to_string_lossy().into_owned();
        let mut c = Client::start_with_env(
            &self.fake,
            extra,
            &[("HOME", &home), ("STATATMP", &temp), ("TMPDIR", &temp)],
        );
        c.initialize();
        c
    }
}

fn available() -> bool {
    common::landlock_available("sandbox")
}

fn run(c: &mut Client, code: &str) -> Value {
    c.call("stata_run_code", json!({ "code": code }), LONG)
}

fn q(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn a_shell_command_cannot_write_outside_the_project() {
    if !available() {
        return;
    }
    let s = Setup::new();
    let mut c = s.server(&["--mode", "batch", "--allow-shell"]);
    let target = s.outside.join("x");
    let r = run(&mut c, &format!("shell touch {}", q(&target)));
    assert!(
        !target.exists(),
        "the sandbox let the shell write {target:?}"
    );
    let text = result_text(&r);
    assert!(text.contains("Permission denied"), "{text}");
    assert!(
        text.contains("--sandbox-allow-write"),
        "the result says why: {text}"
    );
    // Inside the project it may.
    let inside = s.fake.work().join("y");
    run(&mut c, &format!("shell touch {}", q(&inside)));
    assert!(inside.exists());

    // With the sandbox off, as before.
    let mut off = s.server(&["--mode", "batch", "--allow-shell", "--sandbox", "off"]);
    run(&mut off, &format!("shell touch {}", q(&target)));
    assert!(target.exists(), "--sandbox off confines nothing");
}

#[test]
fn save_works_in_the_project_and_fails_outside_and_in_the_users_ado() {
    if !available() {
        return;
    }
    let s = Setup::new();
    for mode in ["batch", "session"] {
        let mut c = s.server(&["--mode", mode]);
        let r = run(&mut c, "sysuse auto\nsave inside.dta, replace");
        assert_eq!(structured(&r)["status"], "ok", "{mode}: {r}");
        assert!(s.fake.work().join("inside.dta").exists());

        // The user's own ado folders are run by their own, unconfined Stata later.
        let ado = s.home.join("ado/personal/mine.dta");
        std::fs::create_dir_all(ado.parent().expect("dir")).expect("mkdir");
        let r = run(
            &mut c,
            &format!("sysuse auto\nsave \"{}\", replace", q(&ado)),
        );
        assert_eq!(
            structured(&r)["rc"],
            603,
            "{mode}: ~/ado is not writable: {r}"
        );
        assert!(!ado.exists());

        let outside = s.outside.join(format!("{mode}.dta"));
        let r = run(&mut c, &format!("sysuse auto\nsave \"{}\"", q(&outside)));
        assert_eq!(structured(&r)["rc"], 603, "{mode}: {r}");
        assert!(!outside.exists());
        let text = result_text(&r);
        assert!(
            text.contains("the sandbox (--sandbox write) lets Stata write only in"),
            "{mode}: {text}"
        );
    }
}

#[test]
fn strict_refuses_tcp_and_reads_outside_unless_allowed() {
    if !available() {
        return;
    }
    let s = Setup::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("addr").to_string();
    // A dataset outside every allowed folder, written before the sandbox is in play.
    let mut off = s.server(&["--mode", "batch", "--sandbox", "off"]);
    let data = s.outside.join("d.dta");
    run(&mut off, &format!("sysuse auto\nsave \"{}\"", q(&data)));
    assert!(data.exists());

    let mut c = s.server(&["--mode", "batch", "--sandbox", "strict"]);
    let r = run(&mut c, &format!("_double connect {addr}"));
    assert_eq!(structured(&r)["rc"], 677, "no TCP under strict: {r}");
    let r = run(&mut c, &format!("use \"{}\", clear", q(&data)));
    assert_eq!(structured(&r)["status"], "error", "no read outside: {r}");
    let r = run(&mut c, "sysuse auto\nsummarize price");
    assert_eq!(
        structured(&r)["status"],
        "ok",
        "Stata itself still runs: {r}"
    );

    let data_dir = q(&s.outside);
    let mut open = s.server(&[
        "--mode",
        "batch",
        "--sandbox",
        "strict",
        "--allow-network",
        "--sandbox-allow-read",
        &data_dir,
    ]);
    let r = run(&mut open, &format!("_double connect {addr}"));
    assert!(result_text(&r).contains("connected to"), "{r}");
    let r = run(&mut open, &format!("use \"{}\", clear", q(&data)));
    assert_eq!(structured(&r)["status"], "ok", "{r}");
}
