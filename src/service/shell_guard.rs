//! Refuses Stata code that would run operating-system commands (`shell`, `!`, `winexec`, ...)
//! unless the server was started with `--allow-shell`. A guard against accidents, not a sandbox.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::stata::command::{do_file_path, do_target, strip_prefixes};
use crate::stata::statements::statements;

/// Commands that hand a line to the operating system.
const SHELL_COMMANDS: &[&str] = &["shell", "winexec", "xshell", "unixcmd"];
/// How deep nested do-files are followed.
const MAX_DEPTH: usize = 16;

/// Where a shell escape was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellEscape {
    /// The do-file it is in (None: the code of the call itself).
    pub file: Option<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    pub text: String,
}

impl std::fmt::Display for ShellEscape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match &self.file {
            Some(p) => format!("{}, line {}", p.display(), self.line),
            None => format!("line {} of the code", self.line),
        };
        write!(
            f,
            "refused: {place} runs an operating-system command ({}). Shell escapes are off by \
             default so that code from a model cannot run programs on this machine by accident; \
             if you trust it, restart the server with --allow-shell (or STATA_MCP_ALLOW_SHELL=1).",
            self.text.trim()
        )
    }
}

/// Looks for shell escapes in `code`, and in the do-files it runs with `do`, `run` or
/// `include` when their paths are literal and readable (relative to `cwd`).
pub fn find_shell_escape(code: &str, file: Option<&Path>, cwd: &Path) -> Option<ShellEscape> {
    let mut seen = HashSet::new();
    scan(code, file, cwd, 0, &mut seen)
}

fn scan(
    code: &str,
    file: Option<&Path>,
    cwd: &Path,
    depth: usize,
    seen: &mut HashSet<PathBuf>,
) -> Option<ShellEscape> {
    for (line_no, stmt) in statements(code) {
        let cmd = strip_prefixes(&stmt).rest;
        if is_shell(cmd) {
            return Some(ShellEscape {
                file: file.map(Path::to_path_buf),
                line: line_no,
                text: stmt.clone(),
            });
        }
        if depth < MAX_DEPTH
            && let Some(target) = do_target(cmd).and_then(|t| do_file_path(&t.name, &[cwd]))
            && seen.insert(target.clone())
            && let Ok(bytes) = std::fs::read(&target)
        {
            let text = String::from_utf8_lossy(&bytes);
            if let Some(found) = scan(&text, Some(&target), cwd, depth + 1, seen) {
                return Some(found);
            }
        }
    }
    None
}

fn is_shell(cmd: &str) -> bool {
    if cmd.starts_with('!') {
        return true;
    }
    let word_end = cmd
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(cmd.len());
    let word = &cmd[..word_end];
    // `shell` may be abbreviated to `sh`.
    SHELL_COMMANDS.contains(&word) || (word.len() >= 2 && "shell".starts_with(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(code: &str) -> Option<usize> {
        find_shell_escape(code, None, Path::new("/nonexistent")).map(|e| e.line)
    }

    #[test]
    fn finds_each_form() {
        assert_eq!(found("display 1\nshell ls"), Some(2));
        assert_eq!(found("!rm -rf x"), Some(1));
        assert_eq!(found("  !!ls"), Some(1));
        assert_eq!(found("winexec notepad"), Some(1));
        assert_eq!(found("xshell ls"), Some(1));
        assert_eq!(found("unixcmd ls"), Some(1));
        assert_eq!(found("sh ls"), Some(1));
        assert_eq!(found("quietly shell ls"), Some(1));
        assert_eq!(found("capture noisily: shell ls"), Some(1));
        assert_eq!(found("forvalues i=1/2 {\n    shell echo `i'\n}"), Some(2));
        assert_eq!(
            found("#delimit ;\ndisplay 1; shell ls;\n#delimit cr"),
            Some(2)
        );
        assert_eq!(found("display 1 ///\n  + 2\nshell ls"), Some(3));
    }

    #[test]
    fn ignores_what_is_not_a_command() {
        assert_eq!(found("display \"shell\""), None);
        assert_eq!(found("* shell ls in a comment"), None);
        assert_eq!(found("// shell ls"), None);
        assert_eq!(found("/* shell ls */ display 1"), None);
        assert_eq!(found("/*\nshell ls\n*/"), None);
        assert_eq!(found("gen shelled = 1"), None);
        assert_eq!(found("display 3 != 4"), None);
        assert_eq!(found("summarize shell_size"), None);
    }

    #[test]
    fn follows_nested_do_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("inner.do"), "display 1\n!ls\n").expect("write");
        std::fs::write(dir.path().join("outer.do"), "do inner\n").expect("write");
        let e = find_shell_escape("do \"outer.do\"", None, dir.path()).expect("found");
        assert_eq!(
            e.file.as_deref(),
            Some(dir.path().join("inner.do").as_path())
        );
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("--allow-shell"));
    }

    #[test]
    fn nested_cycles_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.do"), "do b.do\n").expect("write");
        std::fs::write(dir.path().join("b.do"), "do a.do\n").expect("write");
        assert_eq!(find_shell_escape("do a.do", None, dir.path()), None);
    }
}
