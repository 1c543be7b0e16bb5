//! Refuses Stata code that would run operating-system commands (`shell`, `!`, `winexec`, ...)
//! unless the server was started with `--allow-shell`: directly, through a macro the same
//! code set to one (`local c shell` then `` `c' ls ``), from a `python` block (`os.system`,
//! `subprocess`, ...) or through Mata's `stata()`. A guard against accidents, not a sandbox:
//! a command word from a macro it cannot see stays allowed, and the sandbox is the defence.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::stata::command::{do_file_path, do_target, strip_prefixes};
use crate::stata::statements::statements;

/// Commands that hand a line to the operating system.
const SHELL_COMMANDS: &[&str] = &["shell", "winexec", "xshell", "unixcmd"];
/// How deep nested do-files are followed.
const MAX_DEPTH: usize = 16;

/// What Python code calls that starts programs; `true`: a prefix (`os.execv`, `os.spawnl`).
const PYTHON_ESCAPES: &[(&str, bool)] = &[
    ("os.system", false),
    ("os.popen", false),
    ("os.exec", true),
    ("os.spawn", true),
    ("os.posix_spawn", true),
    ("subprocess", false),
    ("pty", false),
    ("commands.getoutput", false),
];

/// Where a shell escape was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShellEscape {
    /// The do-file it is in (None: the code of the call itself).
    pub file: Option<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    pub text: String,
    /// Why it is one, when the text alone does not say (a macro, Python, Mata).
    pub how: Option<String>,
}

impl std::fmt::Display for ShellEscape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match &self.file {
            Some(p) => format!("{}, line {}", p.display(), self.line),
            None => format!("line {} of the code", self.line),
        };
        let how = self
            .how
            .as_deref()
            .map(|h| format!(", {h}"))
            .unwrap_or_default();
        write!(
            f,
            "refused: {place} runs an operating-system command ({}{how}). Shell escapes are off \
             by default so that code from a model cannot run programs on this machine by \
             accident; if you trust it, restart the server with --allow-shell (or \
             STATA_MCP_ALLOW_SHELL=1).",
            self.text.trim()
        )
    }
}

/// Looks for shell escapes in `code`, and in the do-files it runs with `do`, `run` or
/// `include` when their paths are literal and readable (relative to `cwd`).
pub(crate) fn find_shell_escape(
    code: &str,
    file: Option<&Path>,
    cwd: &Path,
) -> Option<ShellEscape> {
    let mut seen = HashSet::new();
    let mut globals = HashMap::new();
    scan(code, file, cwd, 0, &mut seen, &mut globals)
}

/// Which language the lines being read are in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Stata,
    Python,
    Mata,
}

fn scan(
    code: &str,
    file: Option<&Path>,
    cwd: &Path,
    depth: usize,
    seen: &mut HashSet<PathBuf>,
    globals: &mut HashMap<String, String>,
) -> Option<ShellEscape> {
    let mut locals: HashMap<String, String> = HashMap::new();
    let mut block = Block::Stata;
    for (line_no, stmt) in statements(code) {
        let found = |how: Option<String>| ShellEscape {
            file: file.map(Path::to_path_buf),
            line: line_no,
            text: stmt.clone(),
            how,
        };
        let cmd = strip_prefixes(&stmt).rest;
        if block != Block::Stata {
            if cmd.trim() == "end" {
                block = Block::Stata;
            } else if let Some(how) = foreign_escape(block, cmd) {
                return Some(found(Some(how)));
            }
            continue;
        }
        if let Some((lang, inline)) = opens_block(cmd) {
            match inline {
                Some(code) => {
                    if let Some(how) = foreign_escape(lang, code) {
                        return Some(found(Some(how)));
                    }
                }
                None => block = lang,
            }
            continue;
        }
        if is_shell(cmd) {
            return Some(found(None));
        }
        if let Some((name, value)) = macro_of(cmd, &locals, globals) {
            return Some(found(Some(format!("`{name}' is {value:?}"))));
        }
        remember_macro(cmd, &mut locals, globals);
        if depth < MAX_DEPTH
            && let Some(target) = do_target(cmd).and_then(|t| do_file_path(&t.name, &[cwd]))
            && seen.insert(target.clone())
            && let Ok(bytes) = std::fs::read(&target)
        {
            let text = String::from_utf8_lossy(&bytes);
            if let Some(found) = scan(&text, Some(&target), cwd, depth + 1, seen, globals) {
                return Some(found);
            }
        }
    }
    None
}

/// A `python` or `mata` block opening (`python:`, `mata`, `python, quietly:`), with the code
/// of a one-line one (`python: os.system("ls")`, `mata stata("shell ls")`).
fn opens_block(cmd: &str) -> Option<(Block, Option<&str>)> {
    let word_end = cmd
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(cmd.len());
    let lang = match &cmd[..word_end] {
        "python" => Block::Python,
        "mata" => Block::Mata,
        _ => return None,
    };
    let rest = cmd[word_end..].trim();
    let code = if let Some(after) = rest.strip_prefix(':') {
        after
    } else if rest.starts_with(',') {
        // Options, then the colon and the code, if any.
        rest.split_once(':').map_or("", |(_, c)| c)
    } else {
        rest
    };
    let code = code.trim();
    Some((lang, (!code.is_empty()).then_some(code)))
}

/// Why a line of Python or Mata starts a program, if it does.
fn foreign_escape(block: Block, line: &str) -> Option<String> {
    let code = line.split('#').next().unwrap_or("");
    if block == Block::Python
        && let Some((call, _)) = PYTHON_ESCAPES
            .iter()
            .find(|(name, prefix)| has_name(code, name, *prefix))
    {
        return Some(format!("Python's {call}"));
    }
    // Both can hand Stata a command: Mata's `stata("shell ...")`, Python's `SFIToolkit.stata`.
    let mut rest = line;
    while let Some(at) = rest.find("stata(") {
        let arg = rest[at + 6..].trim_start();
        let text = arg
            .strip_prefix('"')
            .and_then(|a| a.split_once('"'))
            .map(|(t, _)| t);
        if let Some(t) = text
            && is_shell(strip_prefixes(t.trim()).rest)
        {
            let via = if block == Block::Mata {
                "Mata's stata()"
            } else {
                "SFIToolkit.stata()"
            };
            return Some(format!("{via} of {t:?}"));
        }
        rest = &rest[at + 6..];
    }
    None
}

/// Whether `name` occurs in `code` as a name of its own (not inside a longer identifier;
/// with `prefix`, it may go on: `os.exec` in `os.execv`).
fn has_name(code: &str, name: &str, prefix: bool) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + name.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == '.') && (prefix || !after.is_some_and(ident))
    })
}

/// The macro a command word comes from, when the code set it to a guarded command.
fn macro_of(
    cmd: &str,
    locals: &HashMap<String, String>,
    globals: &HashMap<String, String>,
) -> Option<(String, String)> {
    let (name, value) = if let Some(rest) = cmd.strip_prefix('`') {
        let name = rest.split('\'').next()?;
        (name.to_owned(), locals.get(name)?)
    } else if let Some(rest) = cmd.strip_prefix('$') {
        let name = match rest.strip_prefix('{') {
            Some(r) => r.split('}').next()?,
            None => rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()?,
        };
        (name.to_owned(), globals.get(name)?)
    } else {
        return None;
    };
    is_shell(value).then(|| (name, value.clone()))
}

/// Notes `local c shell`, `global c "!"`, `local c = "winexec"`: what a later command word
/// from that macro is.
fn remember_macro(
    cmd: &str,
    locals: &mut HashMap<String, String>,
    globals: &mut HashMap<String, String>,
) {
    let mut words = cmd.splitn(3, char::is_whitespace);
    let kind = words.next().unwrap_or("");
    let table = match kind {
        "local" | "loc" | "loca" => locals,
        "global" | "gl" | "glo" | "glob" | "globa" => globals,
        _ => return,
    };
    let (Some(name), Some(value)) = (words.next(), words.next()) else {
        return;
    };
    let value = value.trim();
    let value = value.strip_prefix('=').map_or(value, str::trim);
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    table.insert(name.to_owned(), value.trim().to_owned());
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
    fn a_command_word_from_a_macro_set_to_a_shell_command_is_refused() {
        assert_eq!(found("local c shell\n`c' echo hi"), Some(2));
        assert_eq!(found("global c shell\n$c echo hi"), Some(2));
        assert_eq!(found("global c \"!\"\n${c}ls"), Some(2));
        assert_eq!(
            found("local c = \"winexec\"\ndisplay 1\n`c' notepad"),
            Some(3)
        );
        let e = find_shell_escape("local c sh\n`c' ls", None, Path::new("/")).expect("found");
        assert!(e.to_string().contains("`c' is \"sh\""), "{e}");
        // A macro the guard cannot see, or one set to something else, stays allowed.
        assert_eq!(found("foreach m in regress probit {\n    `m' y x\n}"), None);
        assert_eq!(found("local m regress\n`m' y x"), None);
        assert_eq!(found("`cmd' y x"), None);
        assert_eq!(found("$estimator y x"), None);
    }

    #[test]
    fn python_and_mata_that_start_programs_are_refused() {
        assert_eq!(found("python:\nimport os\nos.system(\"ls\")\nend"), Some(3));
        assert_eq!(found("python\nimport subprocess\nend"), Some(2));
        assert_eq!(found("python: import pty; pty.spawn(\"/bin/sh\")"), Some(1));
        assert_eq!(
            found("python, quietly:\n    os.execv(\"/bin/ls\", [])\nend"),
            Some(2)
        );
        assert_eq!(found("mata:\nstata(\"shell ls\")\nend"), Some(2));
        assert_eq!(found("mata: stata(\"!ls\")"), Some(1));
        assert_eq!(
            found("python:\nfrom sfi import SFIToolkit\nSFIToolkit.stata(\"shell ls\")\nend"),
            Some(3)
        );
        // What merely looks alike is not.
        assert_eq!(
            found("python:\nimport numpy\nx = \"os.system\" # os.system\nempty = 1\nend"),
            Some(3),
            "a string naming it is refused: the guard is not a parser"
        );
        assert_eq!(found("python:\nmypty = 1\nsubprocessed = 2\nend"), None);
        assert_eq!(found("mata:\nstata(\"display 1\")\nend\ndisplay 2"), None);
        // After the block, Stata again.
        assert_eq!(found("python:\nprint(1)\nend\nshell ls"), Some(4));
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
