//! The text block of a `stata_read_log` answer: a header saying what was read, then the
//! text or the matching lines.

use std::fmt::Write as _;

use crate::log::read::{LogPage, ReadMode};

/// The text block: a header line saying what was read, then the text or the matches.
pub(crate) fn render_log_page(j: &LogPage) -> String {
    let mut t = String::with_capacity(j.text.len() + 256);
    if j.user_output_only {
        let _ = writeln!(
            t,
            "(the user's output only: bytes {}-{} of the log; raw: true reads the runner's lines too)",
            j.region_start, j.region_end
        );
    }
    match j.mode {
        ReadMode::Range => {
            let _ = write!(
                t,
                "{}: bytes {}-{} of {}",
                j.path, j.offset, j.end_offset, j.total_bytes
            );
            match j.next_offset {
                Some(n) => {
                    let _ = writeln!(t, "; more follows: read on with offset {n}");
                }
                None => t.push_str("; end of log\n"),
            }
            t.push_str(&j.text);
        }
        ReadMode::Tail => {
            let _ = writeln!(
                t,
                "{}: last {} line{} (bytes {}-{} of {}){}",
                j.path,
                j.lines,
                if j.lines == 1 { "" } else { "s" },
                j.offset,
                j.end_offset,
                j.total_bytes,
                if j.truncated {
                    "; fewer than asked fit in max_bytes: read before this with offset"
                } else {
                    ""
                }
            );
            t.push_str(&j.text);
        }
        ReadMode::Grep => {
            let _ = writeln!(
                t,
                "{}: {} of {} line{} match{}",
                j.path,
                j.total_matches,
                j.lines,
                if j.lines == 1 { "" } else { "s" },
                if (j.matches.len() as u64) < j.total_matches {
                    format!(
                        " (the first {} shown; narrow the search to see others)",
                        j.matches.len()
                    )
                } else {
                    String::new()
                }
            );
            for m in &j.matches {
                let _ = writeln!(t, "{:>7}: {}", m.line, m.text);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::grep::LineMatch;

    #[test]
    fn grep_matches_are_numbered() {
        let page = LogPage {
            path: "/l/run.log".into(),
            run_id: None,
            total_bytes: 40,
            user_output_only: false,
            region_start: 0,
            region_end: 40,
            mode: ReadMode::Grep,
            offset: 0,
            end_offset: 40,
            next_offset: None,
            text: String::new(),
            lines: 5,
            truncated: false,
            matches: vec![LineMatch {
                line: 2,
                offset: 8,
                text: "variable foo not found".into(),
            }],
            total_matches: 1,
        };
        let text = render_log_page(&page);
        assert!(
            text.starts_with("/l/run.log: 1 of 5 lines match\n"),
            "{text}"
        );
        assert!(text.contains("      2: variable foo not found"), "{text}");
    }
}
