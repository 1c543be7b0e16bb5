//! The wrapper do-file a batch run starts with: it changes to the user's working directory
//! and runs the user's do-file, and its last line's echo marks where the user's output begins.

use std::fmt;
use std::path::Path;

/// File name of the wrapper in the run directory; batch Stata names its log after it (`run.log`).
pub const WRAPPER_FILE: &str = "run.do";
/// The log batch Stata writes for [`WRAPPER_FILE`].
pub const WRAPPER_LOG: &str = "run.log";
/// Where `stata_run_code` puts the user's code.
pub const CODE_FILE: &str = "code.do";

/// The echo of the wrapper's last command. Stata echoes commands before expanding macros,
/// so this line is the same for every run, whatever the paths, and short enough never
/// to wrap at Stata's 79 columns.
pub const START_ECHO: &str = ". do `\"`STATA_MCP_do'\"' `STATA_MCP_args'";

/// A path or argument that cannot be written as a Stata string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unquotable(pub String);

impl fmt::Display for Unquotable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} contains the characters \"' (a double quote followed by an apostrophe), \
             which cannot appear inside a Stata string; rename it",
            self.0
        )
    }
}

/// Writes `s` as a Stata compound-quoted string, `` `"..."' ``, which may itself contain
/// double quotes and apostrophes (`O'Brien`). `$` and `` ` `` are escaped so Stata does
/// not expand them as macros.
pub fn stata_quote(s: &str) -> Result<String, Unquotable> {
    if s.contains("\"'") || s.contains('\n') || s.contains('\r') {
        return Err(Unquotable(s.to_owned()));
    }
    let mut out = String::with_capacity(s.len() + 4);
    out.push_str("`\"");
    for c in s.chars() {
        if c == '$' || c == '`' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\"'");
    Ok(out)
}

/// Stata wants forward slashes or doubled backslashes; forward slashes work on every OS.
fn path_text(p: &Path) -> String {
    let s = p.to_string_lossy();
    if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    }
}

/// The wrapper's text: `cd` to `cwd`, then `do` the user's file with its arguments.
pub fn batch_wrapper(cwd: &Path, do_file: &Path, args: &[String]) -> Result<String, Unquotable> {
    let quoted_args = args
        .iter()
        .map(|a| stata_quote(a))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    Ok(format!(
        "quietly cd {cwd}\n\
         local STATA_MCP_do {file}\n\
         local STATA_MCP_args `\" {quoted_args} \"'\n\
         {do_line}\n",
        cwd = stata_quote(&path_text(cwd))?,
        file = stata_quote(&path_text(do_file))?,
        do_line = &START_ECHO[2..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_apostrophes_and_spaces() {
        assert_eq!(
            stata_quote("/home/O'Brien/my data").as_deref(),
            Ok("`\"/home/O'Brien/my data\"'")
        );
    }

    #[test]
    fn escapes_macro_characters() {
        assert_eq!(stata_quote("a$b`c").as_deref(), Ok("`\"a\\$b\\`c\"'"));
    }

    #[test]
    fn refuses_what_cannot_be_quoted() {
        assert!(stata_quote("bad\"'name").is_err());
        assert!(stata_quote("two\nlines").is_err());
    }

    #[test]
    fn wrapper_ends_with_the_start_echo_command() {
        let w = batch_wrapper(Path::new("/w d"), Path::new("/r/code.do"), &["x y".into()])
            .expect("quotable");
        let last = w.lines().last().expect("lines");
        assert_eq!(format!(". {last}"), START_ECHO);
        assert!(w.starts_with("quietly cd `\"/w d\"'\n"));
        assert!(w.contains("local STATA_MCP_args `\" `\"x y\"' \"'"));
    }
}
