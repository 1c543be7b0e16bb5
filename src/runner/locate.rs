//! Finds where a failing command is in the user's do-file (or code): the file and line number.

use std::path::Path;

use crate::run::{RunOutcome, RunSource, RunStatus};
use crate::stata::command::do_file_path;
use crate::stata::statements::statements;

/// Do-files larger than this are not searched.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Sets the error's `file` and `line` when the failing command appears exactly once in the
/// innermost do-file that was running (or in the call's own code). Stata's log names the
/// command but not where it is; a command found twice is left unlocated rather than guessed.
pub(crate) fn locate_error(outcome: &mut RunOutcome, source: &RunSource, cwd: &Path) {
    let Some(err) = outcome.error.as_mut() else {
        return;
    };
    let Some(command) = err.command.as_deref() else {
        return;
    };
    let (label, text) = match err.stack.last() {
        Some(inner) if !inner.starts_with('…') => {
            let mut bases = vec![cwd];
            if let RunSource::File { path, .. } = source
                && let Some(dir) = path.parent()
            {
                bases.push(dir);
            }
            let Some(path) = do_file_path(inner, &bases) else {
                return;
            };
            match read_bounded(&path) {
                Some(t) => (path.display().to_string(), t),
                None => return,
            }
        }
        Some(_) => return,
        None => match source {
            RunSource::Code(code) => ("the code".to_owned(), code.clone()),
            RunSource::File { path, .. } => match read_bounded(path) {
                Some(t) => (path.display().to_string(), t),
                None => return,
            },
        },
    };
    if let Some(line) = unique_line(&text, command) {
        err.file = Some(label);
        err.line = Some(line);
    }
}

/// Puts the user's do-file at the bottom of the error's stack: the runner's own `do` of it
/// is not in the output the scanner reads, so the log alone shows only the files it runs.
pub(crate) fn add_outermost(outcome: &mut RunOutcome, source: &RunSource, cwd: &Path) {
    // Only Stata's own errors: a run that did not start or died had no do-file running.
    if outcome.status != RunStatus::Error {
        return;
    }
    let (Some(err), RunSource::File { path, .. }) = (outcome.error.as_mut(), source) else {
        return;
    };
    if err.code.is_none() {
        return;
    }
    let bases: Vec<&Path> = [Some(cwd), path.parent()].into_iter().flatten().collect();
    let already = err
        .stack
        .first()
        .and_then(|first| do_file_path(first, &bases))
        .is_some_and(|p| same_file(&p, path));
    if !already {
        err.stack.insert(0, path.display().to_string());
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The line on which `command` starts, if exactly one statement of `text` is that command.
pub(crate) fn unique_line(text: &str, command: &str) -> Option<usize> {
    let want = squash(command);
    if want.is_empty() {
        return None;
    }
    let mut found = statements(text)
        .into_iter()
        .filter(|(_, stmt)| squash(stmt) == want)
        .map(|(line, _)| line);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The text without white space: Stata's echo re-wraps long lines and joins `///` lines.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn read_bounded(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::error::ErrorInfo;
    use crate::run::output::CappedOutput;

    fn failed(command: &str, stack: &[&str]) -> RunOutcome {
        let mut o = RunOutcome::from_log(Vec::new(), 0, CappedOutput::new(100), Vec::new());
        o.status = RunStatus::Error;
        let mut e = ErrorInfo::new(111, "bad_var not found");
        e.command = Some(command.to_owned());
        e.stack = stack.iter().map(|s| (*s).to_owned()).collect();
        o.error = Some(e);
        o
    }

    #[test]
    fn a_command_in_the_code_gets_its_line() {
        let code = "sysuse auto\nsummarize price ///\n    mpg\ngen y = bad_var + 1\n";
        let mut o = failed("gen y = bad_var + 1", &[]);
        locate_error(&mut o, &RunSource::Code(code.into()), Path::new("/"));
        let e = o.error.expect("error");
        assert_eq!((e.file.as_deref(), e.line), (Some("the code"), Some(4)));
    }

    #[test]
    fn a_command_in_a_nested_do_file_is_found_relative_to_the_main_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("nested")).expect("mkdir");
        let main = dir.path().join("main.do");
        std::fs::write(&main, "do nested/helper\n").expect("write");
        std::fs::write(
            dir.path().join("nested/helper.do"),
            "* helper\ndisplay 1\n\ngen y =   bad_var + 1\n",
        )
        .expect("write");
        let mut o = failed("gen y = bad_var + 1", &["nested/helper"]);
        let source = RunSource::File {
            path: main,
            args: Vec::new(),
        };
        locate_error(&mut o, &source, Path::new("/nonexistent"));
        let e = o.error.expect("error");
        assert!(
            e.file
                .as_deref()
                .is_some_and(|f| f.ends_with("nested/helper.do")),
            "{e:?}"
        );
        assert_eq!(e.line, Some(4));
    }

    #[test]
    fn the_users_do_file_is_the_outermost_of_the_stack() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("main.do");
        std::fs::write(&main, "do helper\n").expect("write");
        std::fs::write(dir.path().join("helper.do"), "gen y = x\n").expect("write");
        let source = RunSource::File {
            path: main.clone(),
            args: Vec::new(),
        };
        let mut o = failed("gen y = x", &["helper"]);
        add_outermost(&mut o, &source, dir.path());
        let stack = o.error.expect("error").stack;
        assert_eq!(stack, vec![main.display().to_string(), "helper".to_owned()]);
        // Named by the log already (a session's own `do` shows): not twice.
        let mut o = failed("gen y = x", &["main.do"]);
        add_outermost(&mut o, &source, dir.path());
        assert_eq!(o.error.expect("error").stack, vec!["main.do"]);
        // The code of stata_run_code is no do-file of the user's.
        let mut o = failed("gen y = x", &[]);
        add_outermost(&mut o, &RunSource::Code("gen y = x".into()), dir.path());
        assert!(o.error.expect("error").stack.is_empty());
    }

    #[test]
    fn a_command_found_twice_is_not_guessed() {
        assert_eq!(unique_line("gen x = 1\ngen x = 1\n", "gen x = 1"), None);
        assert_eq!(unique_line("display 1\n", "gen x = 1"), None);
        assert_eq!(unique_line("a\n  gen  x=1 \n", "gen x=1"), Some(2));
    }
}
