//! A licence failure Stata prints before any command (`License is invalid`, a message about
//! `stata.lic`), gathered whole with what follows it.

use crate::text::cut::{contains_ignore_ascii_case, cut_bytes};

/// The licence message is kept up to this many characters.
const MAX_LICENSE_CHARS: usize = 1_000;

/// Adds `trimmed` (a line before any command echo) to `license` if it is, or continues, a
/// licence failure; returns whether it did.
pub(super) fn gather(license: &mut Option<String>, trimmed: &str) -> bool {
    if trimmed.is_empty() || trimmed == "." || trimmed.starts_with(". ") {
        return false;
    }
    let is_license = trimmed.eq_ignore_ascii_case("license is invalid")
        || contains_ignore_ascii_case(trimmed.as_bytes(), b"stata.lic");
    match license {
        None if is_license => {
            *license = Some(cut_bytes(trimmed, MAX_LICENSE_CHARS).to_owned());
            true
        }
        Some(text) => {
            // What Stata printed after the licence message belongs to it.
            if text.len() + trimmed.len() < MAX_LICENSE_CHARS {
                text.push('\n');
                text.push_str(trimmed);
            }
            true
        }
        None => false,
    }
}
