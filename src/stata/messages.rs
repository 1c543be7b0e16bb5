//! What Stata's error messages mean: the table of common messages and their return codes,
//! and the short hints given for some of them.

use super::command::strip_prefixes;

/// A Stata error message from the table of common ones: its code, and whether the text is
/// unmistakable (a weak one, like `no observations`, is also printed by commands that
/// succeed, so it only counts under `capture noisily`).
pub(crate) fn known_message(line: &str) -> Option<(i32, bool)> {
    // Error messages start at column 0 and are short.
    if line.is_empty() || line.starts_with([' ', '(']) || line.len() > 300 {
        return None;
    }
    let exact = match line {
        "--Break--" => Some(1),
        "no; data in memory would be lost" => Some(4),
        "assertion is false" => Some(9),
        "varlist required" => Some(100),
        "type mismatch" => Some(109),
        "invalid syntax" => Some(198),
        "no variables defined" => Some(111),
        _ => None,
    };
    if let Some(code) = exact {
        return Some((code, true));
    }
    if line == "no observations" {
        return Some((2000, false));
    }
    let between = |prefix: &str, suffix: &str| -> Option<&str> {
        line.strip_prefix(prefix)?
            .strip_suffix(suffix)
            .filter(|m| !m.trim().is_empty())
    };
    let one_word = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    if between("file ", " not found").is_some() {
        return Some((601, true));
    }
    if between("file ", " already exists").is_some() {
        return Some((602, true));
    }
    if between("file ", " could not be opened").is_some() {
        return Some((603, true));
    }
    if between("variable ", " already defined").is_some_and(one_word) {
        return Some((110, true));
    }
    if between("variable ", " not found").is_some_and(one_word)
        || between("translator ", " not found").is_some_and(one_word)
    {
        return Some((111, true));
    }
    if let Some(name) = line.strip_suffix(" not found")
        && one_word(name)
    {
        return Some((111, true));
    }
    if between("option ", " not allowed").is_some_and(|m| m.len() < 80) {
        return Some((198, true));
    }
    if between("invalid '", "'").is_some_and(|m| m.len() < 80) {
        return Some((198, true));
    }
    if between("command ", " is unrecognized").is_some_and(one_word) {
        return Some((199, true));
    }
    if line
        .strip_prefix("unrecognized command:")
        .is_some_and(|m| one_word(m.trim()))
    {
        return Some((199, true));
    }
    None
}

/// A code a message's own text does not tell: the message is matched with whatever `r(N);`
/// follows it, and reported with no code when none does.
pub(crate) const ANY_CODE: i32 = -1;

/// Whether `line` reads like one of Stata's error messages that the table does not know,
/// by their grammar (`'test' found where number expected`, `linesize must be between 40
/// and 255`, `too many variables specified`...): weak, so it counts only where the command
/// was `capture noisily`, which prints the message and no `r(N);`.
pub(crate) fn error_grammar(line: &str) -> bool {
    if line.is_empty() || line.starts_with([' ', '(', '.', '>']) || line.len() > 120 {
        return false;
    }
    let words = line.split_whitespace().count();
    (line.contains(" found where ") && line.ends_with(" expected"))
        || line.contains(" must be between ")
        || ((line.starts_with("too many ") || line.starts_with("too few "))
            && line.ends_with(" specified"))
        || line.ends_with(" out of range")
        || (line.ends_with(" not allowed") && words <= 8)
        || (line.ends_with(" required") && words <= 6)
        || (line.starts_with("invalid ") && words <= 6)
}

/// The code of a Mata error line, `<istmt>:  3499  y not found` or `myfunc():  3301
/// subscript invalid`: Mata prints its own code between the function and the message.
pub(crate) fn mata_error(line: &str) -> Option<i32> {
    let (place, rest) = line.trim().split_once(':')?;
    if !(place == "<istmt>" || (place.ends_with("()") && !place.contains(' '))) {
        return None;
    }
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits != 4 || !rest[digits..].starts_with("  ") || rest[digits..].trim().is_empty() {
        return None;
    }
    rest[..digits]
        .parse()
        .ok()
        .filter(|c| (3000..4000).contains(c))
}

/// Who reads a hint: a model, which has the MCP tools, or a person at a terminal, who
/// types Stata commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    Model,
    Terminal,
}

/// A short hint for an error with `code`, its `message` and failing `command`, only where
/// it is certain, worded for `audience`. `working_dir` is Stata's, when known, for the hint
/// of a missing file.
pub(crate) fn hint(
    code: i32,
    message: &str,
    command: Option<&str>,
    working_dir: Option<&str>,
    audience: Audience,
) -> Option<String> {
    let terminal = audience == Audience::Terminal;
    let msg = message.lines().next().unwrap_or("").trim_end();
    match code {
        111 => {
            if let Some(name) = msg
                .strip_prefix("variable ")
                .and_then(|m| m.strip_suffix(" not found"))
                .or_else(|| msg.strip_suffix(" not found").filter(|m| !m.contains(' ')))
            {
                let how = if terminal {
                    "`describe`"
                } else {
                    "stata_inspect_data (describe)"
                };
                Some(format!(
                    "no variable {name} in the data in memory; list the variables with {how}"
                ))
            } else if msg.starts_with("translator ") {
                Some(
                    "this Stata cannot export this graph format from the console; export SVG \
                     instead (graph export file.svg)"
                        .to_owned(),
                )
            } else {
                None
            }
        }
        199 => {
            let name = msg
                .strip_prefix("command ")
                .and_then(|m| m.strip_suffix(" is unrecognized"))
                .or_else(|| msg.strip_prefix("unrecognized command:").map(str::trim))?;
            Some(format!(
                "{name} is not a Stata command: check the spelling; if it comes from a \
                 user-written package, install the package (often: ssc install {name})"
            ))
        }
        601 => {
            let file = msg.strip_prefix("file ")?.strip_suffix(" not found")?;
            let absolute = file.starts_with('/')
                || file.starts_with('\\')
                || file.starts_with('~')
                || file.as_bytes().get(1) == Some(&b':');
            if absolute {
                None
            } else {
                Some(match working_dir {
                    Some(dir) => format!(
                        "{file} is a relative path, looked for in the working directory {dir}"
                    ),
                    None => format!(
                        "{file} is a relative path, looked for in Stata's working directory"
                    ),
                })
            }
        }
        198 => {
            let cmd = command.map(|c| strip_prefixes(c).rest);
            match cmd.and_then(|c| c.split_whitespace().next()) {
                Some(name)
                    if !command.unwrap_or("").trim_end().ends_with('{')
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    Some(if terminal {
                        format!("check the syntax of {name} with `help {name}`")
                    } else {
                        format!("check the syntax of {name} with stata_help")
                    })
                }
                _ if terminal => Some("check the command's syntax with `help`".to_owned()),
                _ => Some("check the command's syntax with stata_help".to_owned()),
            }
        }
        2000 => Some(
            "no observations matched: check the if/in conditions and missing values".to_owned(),
        ),
        _ => None,
    }
}
