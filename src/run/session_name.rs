//! A session's name: a short identifier a call gives (`session: "explore"`), `main` by default.

use std::fmt;

/// The longest name accepted: it appears in file names and in every status line.
const MAX_LEN: usize = 32;

/// The name of one console Stata of the server.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SessionName(String);

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "session names are short identifiers (a letter, then up to {max} letters, digits, `_` or \
     `-`), such as \"main\" or \"explore\"; {0:?} is not one",
    max = MAX_LEN - 1
)]
pub(crate) struct BadSessionName(pub String);

impl SessionName {
    /// The session every call uses unless it names another; the only one `--warm` starts
    /// and the only one never closed for being idle.
    pub(crate) const MAIN: &'static str = "main";

    pub(crate) fn main() -> Self {
        Self(Self::MAIN.to_owned())
    }

    pub(crate) fn parse(given: &str) -> Result<Self, BadSessionName> {
        let mut chars = given.chars();
        let ok = given.len() <= MAX_LEN
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(given.to_owned()))
        } else {
            Err(BadSessionName(given.to_owned()))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_main(&self) -> bool {
        self.0 == Self::MAIN
    }
}

impl Default for SessionName {
    fn default() -> Self {
        Self::main()
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_identifiers_are_names_and_nothing_else_is() {
        for good in [
            "main",
            "explore",
            "a",
            "boot_2",
            "robust-se",
            &"x".repeat(32),
        ] {
            assert_eq!(SessionName::parse(good).map(|n| n.0), Ok(good.to_owned()));
        }
        for bad in [
            "",
            "2nd",
            "_x",
            "a b",
            "../x",
            "a/b",
            "é",
            "main;",
            &"x".repeat(33),
        ] {
            assert!(SessionName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(SessionName::default().is_main());
    }
}
