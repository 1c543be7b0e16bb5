//! `stata-mcp __sandbox [--server-pid N] [--confine [--strict] [--network] [--allow-exec]
//! [--exec P].. [--write DIR].. [--read DIR]..] -- PROGRAM ARGS`: on Linux, supervises PROGRAM
//! (see `supervise.rs`) confined to the plan; elsewhere, runs it confined to nothing.

use std::ffi::OsString;
use std::path::PathBuf;

use super::plan::{LAUNCHER, Plan};

/// What the launcher was asked to do.
#[derive(Debug, PartialEq, Eq)]
struct Launch {
    /// The server whose death stops the run.
    server: Option<i32>,
    plan: Option<Plan>,
    program: Vec<OsString>,
}

/// Runs the launcher with its arguments (after `__sandbox`); returns the exit code to end with.
pub fn launch(args: Vec<OsString>) -> i32 {
    let launch = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stata-mcp {LAUNCHER}: {e}");
            return 2;
        }
    };
    let Some((program, rest)) = launch.program.split_first() else {
        eprintln!("stata-mcp {LAUNCHER}: no program to run after --");
        return 2;
    };
    #[cfg(target_os = "linux")]
    {
        super::supervise::supervise(launch.plan.as_ref(), launch.server, program, rest)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (&launch.plan, launch.server);
        match std::process::Command::new(program).args(rest).status() {
            Ok(s) => s.code().unwrap_or(1),
            Err(e) => {
                eprintln!(
                    "stata-mcp: could not start {}: {e}",
                    PathBuf::from(program).display()
                );
                127
            }
        }
    }
}

fn parse(args: Vec<OsString>) -> Result<Launch, String> {
    let mut plan = Plan {
        strict: false,
        network: false,
        write: Vec::new(),
        read: Vec::new(),
        exec: Some(Vec::new()),
        packages: None,
    };
    let mut confine = false;
    let mut server = None;
    let mut it = args.into_iter();
    let path = |it: &mut std::vec::IntoIter<OsString>, what: &str| -> Result<PathBuf, String> {
        it.next()
            .map(PathBuf::from)
            .ok_or(format!("{what} needs a path"))
    };
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--server-pid") => {
                let pid = it.next().and_then(|p| p.to_str()?.parse::<i32>().ok());
                server = Some(pid.ok_or("--server-pid needs a process id")?);
            }
            Some("--confine") => confine = true,
            Some("--strict") => plan.strict = true,
            Some("--network") => plan.network = true,
            Some("--allow-exec") => plan.exec = None,
            Some("--exec") => {
                let p = path(&mut it, "--exec")?;
                if let Some(exec) = plan.exec.as_mut() {
                    exec.push(p);
                }
            }
            Some("--write") => plan.write.push(path(&mut it, "--write")?),
            Some("--read") => plan.read.push(path(&mut it, "--read")?),
            Some("--") => {
                return Ok(Launch {
                    server,
                    plan: confine.then_some(plan),
                    program: it.collect(),
                });
            }
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    Err("missing -- before the program".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::plan::launcher_args;

    #[test]
    fn the_launcher_reads_back_the_plan_it_was_given() {
        let plan = Plan {
            strict: true,
            network: false,
            write: vec![PathBuf::from("/w/a b"), PathBuf::from("/tmp")],
            read: vec![PathBuf::from("/usr")],
            exec: Some(vec![PathBuf::from("/opt/stata")]),
            packages: None,
        };
        let program = std::path::Path::new("/opt/stata/stata-mp");
        let args = launcher_args(Some(&plan), 42, program, &["-q".into(), "-b".into()]);
        assert_eq!(args[0], LAUNCHER);
        let back = parse(args[1..].to_vec()).expect("parses");
        assert_eq!(back.plan.as_ref(), Some(&plan));
        assert_eq!(back.server, Some(42));
        assert_eq!(
            back.program,
            vec![
                OsString::from("/opt/stata/stata-mp"),
                "-q".into(),
                "-b".into()
            ]
        );
        let shell = Plan { exec: None, ..plan };
        let args = launcher_args(Some(&shell), 42, program, &[]);
        assert_eq!(parse(args[1..].to_vec()).expect("parses").plan, Some(shell));
        let bare = launcher_args(None, 7, program, &[]);
        assert_eq!(parse(bare[1..].to_vec()).expect("parses").plan, None);
        assert!(parse(vec!["--write".into()]).is_err());
        assert!(parse(vec!["--bogus".into(), "--".into()]).is_err());
    }
}
