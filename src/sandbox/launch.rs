//! `stata-mcp __sandbox [--strict] [--network] [--write DIR].. [--read DIR].. -- PROGRAM ARGS`:
//! confines itself to the plan, then becomes PROGRAM (same process, same process group).

use std::ffi::OsString;
use std::path::PathBuf;

use super::plan::{LAUNCHER, Plan};

/// Runs the launcher with its arguments (after `__sandbox`); returns only on failure, with
/// the exit code to end with.
pub fn launch(args: Vec<OsString>) -> i32 {
    let (plan, program) = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stata-mcp {}: {e}", LAUNCHER);
            return 2;
        }
    };
    let Some((program, rest)) = program.split_first() else {
        eprintln!("stata-mcp {}: no program to run after --", LAUNCHER);
        return 2;
    };
    #[cfg(target_os = "linux")]
    if let Err(e) = super::landlock::apply(&plan) {
        eprintln!("stata-mcp: {e}");
        return 126;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = &plan;
    exec(program, rest)
}

#[cfg(unix)]
fn exec(program: &OsString, args: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(program).args(args).exec();
    eprintln!(
        "stata-mcp: could not start {}: {err}",
        PathBuf::from(program).display()
    );
    127
}

#[cfg(not(unix))]
fn exec(program: &OsString, args: &[OsString]) -> i32 {
    match std::process::Command::new(program).args(args).status() {
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

fn parse(args: Vec<OsString>) -> Result<(Plan, Vec<OsString>), String> {
    let mut plan = Plan {
        strict: false,
        network: false,
        write: Vec::new(),
        read: Vec::new(),
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--strict") => plan.strict = true,
            Some("--network") => plan.network = true,
            Some("--write") => plan
                .write
                .push(it.next().ok_or("--write needs a folder")?.into()),
            Some("--read") => plan
                .read
                .push(it.next().ok_or("--read needs a folder")?.into()),
            Some("--") => return Ok((plan, it.collect())),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    Err("missing -- before the program".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launcher_reads_back_the_plan_it_was_given() {
        let plan = Plan {
            strict: true,
            network: false,
            write: vec![PathBuf::from("/w/a b"), PathBuf::from("/tmp")],
            read: vec![PathBuf::from("/usr")],
        };
        let args = plan.launcher_args(
            std::path::Path::new("/opt/stata/stata-mp"),
            &["-q".into(), "-b".into()],
        );
        assert_eq!(args[0], LAUNCHER);
        let (back, program) = parse(args[1..].to_vec()).expect("parses");
        assert_eq!(back, plan);
        assert_eq!(
            program,
            vec![
                OsString::from("/opt/stata/stata-mp"),
                "-q".into(),
                "-b".into()
            ]
        );
        assert!(parse(vec!["--write".into()]).is_err());
        assert!(parse(vec!["--bogus".into(), "--".into()]).is_err());
    }
}
