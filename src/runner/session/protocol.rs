//! What the session runner sends Stata for each call (the named log, `r()` parked, the
//! user's code by `include` or `do`, the sentinel), and the runner's own lines it must
//! recognise in the log.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::run::RunSource;
use crate::run::files::WRAPPER_LOG;
use crate::runner::request::RunRequest;
use crate::runner::rundir::RunDir;
use crate::runner::wrapper::START_ECHO;
use crate::stata::quote::stata_quote;

/// The name of the log the runner opens for each call. Named, so the user's own
/// (unnamed) `log using` / `log close` leave it alone.
pub(super) const LOG_NAME: &str = "stata_mcp";
/// Where `r()` is parked while the runner's own `log` commands run: `log` stores its own
/// `r()` results, which would otherwise wipe the user's between calls.
const HOLD_NAME: &str = "STATA_MCP_r";
/// The echo that opens the user's region when code runs with `include`: its locals are
/// the prompt's, so they persist across calls like everything else.
const INCLUDE_ECHO: &str = ". include `\"`STATA_MCP_do'\"'";
/// The first runner command after the user's code; its echo closes the user's region.
/// Short, so it never wraps even at Stata's smallest line size.
pub(super) const RC_SAVE: &str = "local STATA_MCP_rc = c(rc)";
/// Reopens the runner's log if the user's code closed it (`log close _all`), so the
/// sentinel still reaches the file being tailed; harmless (captured) when it is open.
pub(super) const REOPEN: &str =
    "quietly capture log using `\"`STATA_MCP_l'\"', text append name(stata_mcp)";
/// Who a call is for: the user's code, or a session tool's own commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// `stata_run_code` / `stata_run_file`: counted, streamed, `r()` left as the code leaves it.
    User,
    /// A session tool's query: not counted, run in its own local scope. With `park_r`,
    /// the user's `r()` is set aside while it runs and put back after, so a `summarize`
    /// run for `stata_inspect_data` leaves the user's stored results alone.
    Query { park_r: bool },
}

impl CallKind {
    pub(crate) fn parks_r(self) -> bool {
        matches!(self, CallKind::Query { park_r: true })
    }
}

/// What is sent to Stata for one call, and the pieces the call's wait needs.
pub(super) struct CallPlan {
    pub input: String,
    /// The echo that opens the user's region (`do` or `include`).
    pub start_echo: &'static str,
    /// The sentinel command (its echo is one of the region's possible ends).
    pub sentinel: String,
    /// The runner's lines after the user's code, resent after a break.
    pub end_lines: String,
}

/// The lines sent to Stata's stdin for one call.
pub(super) fn call_input(
    dir: &RunDir,
    req: &RunRequest,
    kind: CallKind,
    marker: &str,
) -> Result<CallPlan, String> {
    let (do_file, args, include): (PathBuf, &[String], bool) = match &req.source {
        RunSource::Code(code) => {
            let path = dir.write_code(code).map_err(|e| e.to_string())?;
            // The user's code shares the prompt's locals (as if typed there); a query keeps
            // its own, so it never touches the user's.
            (path, &[], kind == CallKind::User)
        }
        RunSource::File { path, args } => (path.clone(), args.as_slice(), false),
    };
    let q = |p: &Path| stata_quote(&p.to_string_lossy()).map_err(|e| e.to_string());
    let args = args
        .iter()
        .map(|a| stata_quote(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?
        .join(" ");
    let log = q(&dir.path.join(WRAPPER_LOG))?;
    // `more` would stop console output at a screenful and wait for a key that never comes;
    // it is set on every call since the user's code may turn it on.
    let mut input = format!(
        "set more off\n\
         capture _return drop {HOLD_NAME}\n\
         _return hold {HOLD_NAME}\n\
         capture log close {LOG_NAME}\n\
         log using {log}, text replace name({LOG_NAME})\n\
         local STATA_MCP_l {log}\n"
    );
    if req.change_dir {
        let _ = writeln!(input, "quietly cd {}", q(&req.cwd)?);
    }
    let _ = writeln!(input, "local STATA_MCP_do {}", q(&do_file)?);
    let start_echo = if include {
        INCLUDE_ECHO
    } else {
        let _ = writeln!(input, "local STATA_MCP_args `\" {args} \"'");
        START_ECHO
    };
    if !kind.parks_r() {
        let _ = writeln!(input, "_return restore {HOLD_NAME}");
    }
    input.push_str(&start_echo[2..]);
    input.push('\n');

    let sentinel = format!("display \"{marker}\" `STATA_MCP_rc'");
    let mut end_lines = format!("{RC_SAVE}\n");
    if !kind.parks_r() {
        let _ = writeln!(end_lines, "_return hold {HOLD_NAME}");
    }
    let _ = writeln!(
        end_lines,
        "{REOPEN}\n\
         {sentinel}\n\
         capture log close {LOG_NAME}\n\
         _return restore {HOLD_NAME}"
    );
    input.push_str(&end_lines);
    Ok(CallPlan {
        input,
        start_echo,
        sentinel,
        end_lines,
    })
}

/// Spots the block Stata prints when the runner's named log opens or closes inside the
/// user's code (`log close _all`, `log query`): its name, path and times are the runner's.
#[derive(Default)]
pub(super) struct OwnLogBlock {
    /// Lines of the block still expected after its `name:` line.
    left: u8,
    /// Set after a `closed on:` line: a rule of dashes follows.
    rule_next: bool,
    /// The last line was the block's: a long path it held goes on after `> `.
    inside: bool,
}

impl OwnLogBlock {
    pub(super) fn swallows(&mut self, line: &str) -> bool {
        let wrapped = self.inside && line.starts_with("> ");
        self.inside = wrapped || self.block_line(line);
        self.inside
    }

    fn block_line(&mut self, line: &str) -> bool {
        let t = line.trim();
        if self.rule_next {
            self.rule_next = false;
            if !t.is_empty() && t.bytes().all(|b| b == b'-') {
                return true;
            }
        }
        if self.left > 0 {
            let ours = t.starts_with("log:")
                || t.starts_with("log type:")
                || t.starts_with("opened on:")
                || t.starts_with("closed on:");
            if ours {
                self.left -= 1;
                self.rule_next = t.starts_with("closed on:");
                return true;
            }
            self.left = 0;
        }
        if t.strip_prefix("name:").map(str::trim) == Some(LOG_NAME) {
            self.left = 3;
            return true;
        }
        false
    }
}

/// A number no user code can predict, for the end-of-call sentinel.
pub(super) fn nonce() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::files::CODE_FILE;
    use crate::runner::rundir::RunDirs;
    use std::time::Duration;

    fn req(source: RunSource, change_dir: bool) -> RunRequest {
        RunRequest {
            stata: PathBuf::from("/x/stata-mp"),
            source,
            cwd: PathBuf::from("/w d"),
            change_dir,
            run_dir: None,
            turn: None,
            timeout: Duration::from_secs(5),
            session: Default::default(),
            label: String::new(),
            sandbox: None,
            detach: Default::default(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn user_code_is_included_between_the_runner_lines() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = RunDirs::new(tmp.path());
        let dir = dirs.create().expect("dir");
        let plan = call_input(
            &dir,
            &req(RunSource::Code("display 1".into()), true),
            CallKind::User,
            "STATA_MCP_END_ab_",
        )
        .expect("plan");
        let lines: Vec<&str> = plan.input.lines().collect();
        let start = lines
            .iter()
            .position(|l| format!(". {l}") == INCLUDE_ECHO)
            .expect("include line");
        assert_eq!(lines[start + 1], RC_SAVE, "the region closes at once");
        assert!(lines[..start].contains(&"quietly cd `\"/w d\"'"));
        // r() is parked around every runner `log` command and put back for the user.
        assert_eq!(lines[start - 1], "_return restore STATA_MCP_r");
        assert_eq!(lines.last(), Some(&"_return restore STATA_MCP_r"));
        assert!(plan.end_lines.contains(&plan.sentinel));
        assert_eq!(plan.start_echo, INCLUDE_ECHO);
        // Runner lines whose echo the filter must recognise never wrap at 40 columns.
        assert!(INCLUDE_ECHO.len() < 40 && RC_SAVE.len() + 2 < 40);
        assert!(std::fs::read_to_string(dir.path.join(CODE_FILE)).is_ok());
    }

    #[test]
    fn the_runner_logs_header_and_footer_are_swallowed() {
        let mut b = OwnLogBlock::default();
        let lines = [
            ". log close _all",
            "      name:  stata_mcp",
            "       log:  /home/ana/.local/state/stata-mcp/sessions/calls-4242-main/20261207-1",
            "> 94022-10002-1/run.log",
            "  log type:  text",
            " closed on:  22 Nov 2026, 06:37:56",
            "-------------------------------------------------------------------------------",
            "      name:  <unnamed>",
            "       log:  /w/mine.log",
        ];
        let kept: Vec<&str> = lines.into_iter().filter(|l| !b.swallows(l)).collect();
        assert_eq!(
            kept,
            vec![
                ". log close _all",
                "      name:  <unnamed>",
                "       log:  /w/mine.log"
            ]
        );
    }

    #[test]
    fn a_query_keeps_r_parked_and_uses_its_own_locals() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = RunDirs::new(tmp.path());
        let dir = dirs.create().expect("dir");
        let plan = call_input(
            &dir,
            &req(RunSource::Code("summarize".into()), false),
            CallKind::Query { park_r: true },
            "M_",
        )
        .expect("plan");
        assert_eq!(plan.start_echo, START_ECHO);
        assert_eq!(plan.input.matches("_return hold").count(), 1);
        assert_eq!(plan.input.matches("_return restore").count(), 1);
        assert!(!plan.input.contains("quietly cd"));
    }
}
