//! The shapes of lines in Stata's text log: `r(N);`, command echoes, numbered loop and
//! program bodies, `set trace on` lines.

/// `N` when the line is `r(N);` alone (white space around allowed): Stata's report of an
/// uncaptured error. Line-anchored, so `display "see r(198);"` does not count.
pub(crate) fn rc_line(line: &str) -> Option<i32> {
    let inner = line.trim().strip_prefix("r(")?.strip_suffix(");")?;
    if inner.is_empty() || inner.len() > 9 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    inner.parse().ok()
}

/// The command of an echo line: `. cmd` (or a bare `.`).
pub(crate) fn echo_text(line: &str) -> Option<&str> {
    if line == "." {
        return Some("");
    }
    line.strip_prefix(". ")
}

/// `N` for a numbered body echo, `  N. text` or `  N.`: spaces, digits, a dot, then a space
/// or nothing. `list` rows (`  1. | make ...`) are not body lines.
pub(crate) fn body_number(line: &str) -> Option<u32> {
    let t = line.trim_start_matches(' ');
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 6 {
        return None;
    }
    let rest = t[digits..].strip_prefix('.')?;
    if !(rest.is_empty() || rest.starts_with(' ')) || rest.trim_start().starts_with('|') {
        return None;
    }
    t[..digits].parse().ok()
}

/// The command of a `set trace on` line: `  - cmd` or `  = cmd` (indented by depth).
pub(crate) fn trace_command(line: &str) -> Option<&str> {
    let t = line.trim_start_matches(' ');
    if t == "-" || t == "=" {
        return Some("");
    }
    t.strip_prefix("- ").or_else(|| t.strip_prefix("= "))
}

/// A trace rule: `---- begin prog ---` / `---- end prog ---`.
pub(crate) fn is_trace_rule(trimmed: &str) -> bool {
    trimmed.starts_with("---")
        && trimmed.ends_with("---")
        && (trimmed.contains(" begin ") || trimmed.contains(" end "))
}

#[cfg(test)]
mod tests {
    use super::*;

    // `log/filter.rs` and the scanner had one copy each; only the scanner capped the digits.
    #[test]
    fn rc_lines_are_anchored_and_bounded() {
        assert_eq!(rc_line("r(111);"), Some(111));
        assert_eq!(rc_line("  r(198);  "), Some(198));
        assert_eq!(rc_line("  r(1); "), Some(1));
        assert_eq!(rc_line("see r(198);"), None);
        assert_eq!(rc_line("r(198)"), None);
        assert_eq!(rc_line("r();"), None);
        assert_eq!(rc_line("r(abc);"), None);
        assert_eq!(rc_line("r(99999999999999);"), None);
    }

    #[test]
    fn echoes_bodies_and_traces() {
        assert_eq!(echo_text(". display 1"), Some("display 1"));
        assert_eq!(echo_text("."), Some(""));
        assert_eq!(echo_text("display"), None);
        assert_eq!(body_number("  2.     display \"x\""), Some(2));
        assert_eq!(body_number(" 10."), Some(10));
        assert_eq!(body_number("  1. | make"), None);
        assert_eq!(body_number("1.5"), None);
        assert_eq!(trace_command("  - regress y x"), Some("regress y x"));
        assert_eq!(trace_command("  = regress y x"), Some("regress y x"));
        assert_eq!(trace_command("-"), Some(""));
        assert!(is_trace_rule("---- begin myprog ---"));
        assert!(!is_trace_rule("-----------"));
    }
}
