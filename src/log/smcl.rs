//! SMCL, Stata's markup, made plain text: a log opened with `log using x.smcl` (or its
//! lines replayed) reads like the text log Stata would have written.

use std::borrow::Cow;

/// The width Stata draws rules (`{hline}`, `{.-}`) at in a default log.
const RULE_WIDTH: usize = 78;

/// Whether `line` shows the log is SMCL: its header, or a line that opens with a mode tag
/// (`{com}. regress`, `{txt}`, `{err}`). A text log never starts a line so: Stata renders
/// the markup of what it prints there, and echoes start with `. `.
pub(crate) fn is_smcl_line(line: &str) -> bool {
    ["{smcl}", "{com}", "{txt}", "{res}", "{err}", "{inp}"]
        .iter()
        .any(|t| line.starts_with(t))
}

/// `line` without SMCL tags: styles dropped, `{bf:text}` and links reduced to their text,
/// rules drawn, `{search r(111), local:r(111);}` back to `r(111);`.
pub(crate) fn to_text(line: &str) -> Cow<'_, str> {
    if !line.contains('{') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = matching_close(after) else {
            out.push_str(&rest[open..]);
            return Cow::Owned(out);
        };
        tag(&after[..close], &mut out);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Where the `}` closing a tag is (tags nest: `{bf:{it:x}}`).
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The text of one tag (`inner` is what lies between its braces), appended to `out`.
fn tag(inner: &str, out: &mut String) {
    // `{name args:text}`: the text, itself possibly marked up.
    if let Some(text) = text_of(inner) {
        out.push_str(&to_text(text));
        return;
    }
    let mut words = inner.split_whitespace();
    let name = words.next().unwrap_or("");
    let arg = words.next();
    match name {
        "hline" | ".-" => {
            let n = arg.and_then(|a| a.parse().ok()).unwrap_or(RULE_WIDTH);
            out.extend(std::iter::repeat_n('-', n));
        }
        "space" => out.extend(std::iter::repeat_n(
            ' ',
            arg.and_then(|a| a.parse().ok()).unwrap_or(1),
        )),
        "col" | "column" => {
            let want: usize = arg.and_then(|a| a.parse().ok()).unwrap_or(1);
            let at = out.rsplit('\n').next().map_or(0, |l| l.chars().count());
            out.extend(std::iter::repeat_n(' ', want.saturating_sub(at + 1)));
        }
        "c" | "char" => out.push_str(match arg.unwrap_or("") {
            "|" => "|",
            "-" => "-",
            "+" | "TT" | "BT" | "LT" | "RT" | "TLC" | "TRC" | "BLC" | "BRC" => "+",
            "-(" => "{",
            ")-" => "}",
            "S|" => "$",
            "'g" => "`",
            other => other,
        }),
        // Styles, modes and paragraph settings print nothing.
        _ => {}
    }
}

/// The text of a tag that carries one after a colon (`bf:x`, `search r(1), local:r(1);`).
fn text_of(inner: &str) -> Option<&str> {
    let colon = inner.find(':')?;
    let head = &inner[..colon];
    // The head is the tag's name and arguments, with nothing nested in it.
    (!head.contains('{') && !head.is_empty()).then(|| &inner[colon + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_smcl_log_reads_as_the_text_log() {
        assert_eq!(
            to_text("{com}. regress y z_nonexistent"),
            ". regress y z_nonexistent"
        );
        assert_eq!(
            to_text("{err}variable {bf}y{sf} not found"),
            "variable y not found"
        );
        assert_eq!(to_text("{txt}{search r(111), local:r(111);}"), "r(111);");
        assert_eq!(to_text("{search r(111), local:r(111);}"), "r(111);");
        assert_eq!(
            to_text("      name:  {res}<unnamed>"),
            "      name:  <unnamed>"
        );
        assert_eq!(to_text("{txt}{sf}{ul off}{.-}"), "-".repeat(78));
        assert_eq!(to_text("{hline 5}{c +}{hline 2}"), "-----+--");
        assert_eq!(to_text("{res}{bf:{it:x}} {c -(}a{c )-}"), "x {a}");
        assert_eq!(to_text("no tags at all"), "no tags at all");
        assert!(is_smcl_line("{smcl}"));
        assert!(is_smcl_line("{com}. sysuse auto, clear"));
        assert!(!is_smcl_line(". display \"{txt}x\""));
    }
}
