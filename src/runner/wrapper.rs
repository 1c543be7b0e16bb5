//! The wrapper do-file a batch run starts with: it changes to the user's working directory
//! and runs the user's do-file, and its last line's echo marks where the user's output begins.

use std::path::Path;

use crate::stata::quote::{Unquotable, stata_quote};

/// The echo of the wrapper's last command. Stata echoes commands before expanding macros,
/// so this line is the same for every run, whatever the paths, and short enough never
/// to wrap at Stata's 79 columns.
pub const START_ECHO: &str = ". do `\"`STATA_MCP_do'\"' `STATA_MCP_args'";

/// Stata wants forward slashes or doubled backslashes; forward slashes work on every OS.
fn path_text(p: &Path) -> String {
    let s = p.to_string_lossy();
    if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    }
}

/// The lines that make `packages` Stata's PLUS folder (where `ssc install` and `net install`
/// put packages, searched first), keeping the user's own PLUS on the ado-path to read from.
pub(crate) fn packages_lines(packages: Option<&Path>) -> Result<String, Unquotable> {
    let Some(dir) = packages else {
        return Ok(String::new());
    };
    Ok(format!(
        "local STATA_MCP_plus `\"`c(sysdir_plus)'\"'\n\
         quietly capture sysdir set PLUS {dir}\n\
         quietly capture adopath + `\"`STATA_MCP_plus'\"'\n",
        dir = stata_quote(&format!("{}/", path_text(dir)))?,
    ))
}

/// The wrapper's text: the project's package folder, `cd` to `cwd`, then `do` the user's
/// file with its arguments.
pub(crate) fn batch_wrapper(
    cwd: &Path,
    do_file: &Path,
    args: &[String],
    packages: Option<&Path>,
) -> Result<String, Unquotable> {
    let quoted_args = args
        .iter()
        .map(|a| stata_quote(a))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    Ok(format!(
        "{packages}\
         quietly cd {cwd}\n\
         local STATA_MCP_do {file}\n\
         local STATA_MCP_args `\" {quoted_args} \"'\n\
         {do_line}\n",
        packages = packages_lines(packages)?,
        cwd = stata_quote(&path_text(cwd))?,
        file = stata_quote(&path_text(do_file))?,
        do_line = &START_ECHO[2..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_ends_with_the_start_echo_command() {
        let w = batch_wrapper(
            Path::new("/w d"),
            Path::new("/r/code.do"),
            &["x y".into()],
            None,
        )
        .expect("quotable");
        let last = w.lines().last().expect("lines");
        assert_eq!(format!(". {last}"), START_ECHO);
        assert!(w.starts_with("quietly cd `\"/w d\"'\n"));
        assert!(w.contains("local STATA_MCP_args `\" `\"x y\"' \"'"));
    }
}
