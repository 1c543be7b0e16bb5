//! Writing text as a Stata string literal: compound quotes, macro characters escaped.

use std::fmt;

/// A path or argument that cannot be written as a Stata string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unquotable(pub String);

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
pub(crate) fn stata_quote(s: &str) -> Result<String, Unquotable> {
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
}
