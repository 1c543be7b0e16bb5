//! Keeps a run's user-visible output within a character budget: the head and the tail, never the middle.
//!
//! Lines are pushed one at a time, as the log is read. The first ~40% of the budget keeps the
//! head (the first lines, up to the first one that does not fit); the rest keeps the tail, a
//! ring of the most recent lines. Everything else is only counted. Memory stays bounded by the
//! budget however much is pushed, and the text of the lines kept is never altered (Stata's
//! tables keep their spacing), except that a single absurdly long line is cut.

use std::collections::VecDeque;

use crate::text::human::{group, human_bytes};

/// Share of the budget given to the head, in percent; the tail gets the rest.
const HEAD_PERCENT: usize = 40;
/// A line longer than a quarter of the budget is cut (or than this many characters, when that is
/// less than half the budget), so that the last line always fits in the tail.
const MIN_LINE_CAP: usize = 2_000;

/// Output lines kept head-and-tail under a budget of characters.
#[derive(Debug, Clone, Default)]
pub struct CappedOutput {
    max_chars: usize,
    head_budget: usize,
    line_cap: usize,
    /// The first lines, each followed by `\n`.
    head: String,
    head_chars: usize,
    head_lines: u64,
    /// Set once a line did not fit in the head: later lines go to the tail only.
    head_closed: bool,
    /// The most recent lines (without `\n`) and their characters (each counted with its `\n`).
    tail: VecDeque<(String, usize)>,
    tail_chars: usize,
    /// Every line pushed, and their size (characters and bytes, each with its `\n`).
    total_lines: u64,
    total_chars: u64,
    total_bytes: u64,
    /// Lines dropped from the middle, and their bytes (each with its `\n`).
    omitted_lines: u64,
    omitted_bytes: u64,
    /// Lines cut because they alone were too long.
    cut_lines: u64,
}

impl CappedOutput {
    /// An empty output that keeps at most about `max_chars` characters of text.
    pub fn new(max_chars: usize) -> Self {
        let head_budget = max_chars / 100 * HEAD_PERCENT + max_chars % 100 * HEAD_PERCENT / 100;
        Self {
            max_chars,
            head_budget,
            line_cap: (max_chars / 4).max(MIN_LINE_CAP.min(max_chars / 2)),
            ..Self::default()
        }
    }

    /// Adds one line (without its newline).
    pub fn push_line(&mut self, line: &str) {
        self.total_lines += 1;
        self.total_bytes += line.len() as u64 + 1;

        // Cut an absurdly long line: its start is kept, with a note of how much is missing.
        let mut chars = char_count(line);
        self.total_chars += chars as u64 + 1;
        let mut cut: Option<(usize, usize)> = None;
        if chars > self.line_cap {
            let keep = self.line_cap.saturating_sub(40);
            let end = byte_index_of_char(line, keep);
            cut = Some((end, chars - keep));
            self.cut_lines += 1;
        }
        let text = match cut {
            Some((end, _)) => &line[..end],
            None => line,
        };
        let marker =
            cut.map(|(_, missing)| format!(" … [{} more characters]", group(missing as u64)));
        if let Some(m) = &marker {
            chars = char_count(text) + char_count(m);
        }
        let cost = chars + 1;

        if !self.head_closed {
            if self.head_chars + cost <= self.head_budget {
                self.head.push_str(text);
                if let Some(m) = &marker {
                    self.head.push_str(m);
                }
                self.head.push('\n');
                self.head_chars += cost;
                self.head_lines += 1;
                return;
            }
            self.head_closed = true;
        }

        // The tail may use whatever the head left of the budget.
        let tail_budget = self.max_chars.saturating_sub(self.head_chars);
        // Make room, recycling the oldest line's buffer.
        let mut recycled: Option<String> = None;
        while !self.tail.is_empty() && self.tail_chars + cost > tail_budget {
            let (old, old_cost) = self.tail.pop_front().expect("tail is not empty");
            self.tail_chars -= old_cost;
            self.omitted_lines += 1;
            self.omitted_bytes += old.len() as u64 + 1;
            recycled = Some(old);
        }
        if cost > tail_budget {
            // Not even this line fits (a tiny budget): count it as omitted.
            self.omitted_lines += 1;
            self.omitted_bytes += line.len() as u64 + 1;
            return;
        }
        let mut buf = recycled.unwrap_or_default();
        buf.clear();
        buf.push_str(text);
        if let Some(m) = &marker {
            buf.push_str(m);
        }
        self.tail.push_back((buf, cost));
        self.tail_chars += cost;
    }

    /// Whether anything pushed is missing from `render` (lines omitted or cut).
    pub fn is_truncated(&self) -> bool {
        self.omitted_lines > 0 || self.cut_lines > 0
    }

    /// Every line pushed.
    pub fn total_lines(&self) -> u64 {
        self.total_lines
    }

    /// Every byte pushed (UTF-8, each line counted with its newline).
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Every character pushed (each line counted with its newline).
    pub fn total_chars(&self) -> u64 {
        self.total_chars
    }

    /// Lines dropped from the middle.
    pub fn omitted_lines(&self) -> u64 {
        self.omitted_lines
    }

    /// Bytes of the lines dropped from the middle (each counted with its newline).
    pub fn omitted_bytes(&self) -> u64 {
        self.omitted_bytes
    }

    /// Lines kept but cut because they alone were too long.
    pub fn cut_lines(&self) -> u64 {
        self.cut_lines
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.total_lines == 0
    }

    /// The kept text, every line ending in `\n`. When lines were dropped, one line says how
    /// many and how to read them: `how_to_read_more` is put in it (e.g. the log's path).
    pub fn render(&self, how_to_read_more: &str) -> String {
        let tail_len: usize = self.tail.iter().map(|(l, _)| l.len() + 1).sum();
        let mut out = String::with_capacity(self.head.len() + tail_len + 160);
        out.push_str(&self.head);
        if self.omitted_lines > 0 {
            out.push_str(&self.elision_line(how_to_read_more));
            out.push('\n');
        }
        for (line, _) in &self.tail {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The line that stands for the omitted middle.
    pub fn elision_line(&self, how_to_read_more: &str) -> String {
        let lines = if self.omitted_lines == 1 {
            "1 line".to_owned()
        } else {
            format!("{} lines", group(self.omitted_lines))
        };
        let how = how_to_read_more.trim();
        if how.is_empty() {
            format!(
                "… {lines} ({}) omitted; read them with stata_read_log …",
                human_bytes(self.omitted_bytes)
            )
        } else {
            format!(
                "… {lines} ({}) omitted; read them with stata_read_log ({how}) …",
                human_bytes(self.omitted_bytes)
            )
        }
    }
}

fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// The byte index where the `n`-th character starts (or the end).
fn byte_index_of_char(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(max: usize, lines: &[&str]) -> CappedOutput {
        let mut o = CappedOutput::new(max);
        for l in lines {
            o.push_line(l);
        }
        o
    }

    #[test]
    fn everything_fits_and_is_byte_exact() {
        let lines = [
            "",
            "    Variable |        Obs        Mean    Std. dev.       Min        Max",
            "-------------+---------------------------------------------------------",
            "           x |        100   -.1445693    .9636993  -2.566291   2.436316",
            "  trailing spaces   ",
        ];
        let o = pushed(10_000, &lines);
        assert!(!o.is_truncated());
        assert_eq!(o.render("x.log"), lines.join("\n") + "\n");
        assert_eq!(o.total_lines(), 5);
        assert_eq!(o.omitted_lines(), 0);
    }

    #[test]
    fn fits_exactly_at_the_budget() {
        // 10 lines of 9 characters + newline = 100 characters.
        let lines: Vec<String> = (0..10).map(|i| format!("line {i:04}")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let o = pushed(100, &refs);
        assert!(!o.is_truncated(), "{o:?}");
        let o = pushed(99, &refs);
        assert!(o.is_truncated());
    }

    #[test]
    fn keeps_head_and_tail_and_says_what_is_missing() {
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let o = pushed(500, &refs);
        assert!(o.is_truncated());
        let text = o.render("/tmp/run/run.log");
        assert!(text.starts_with("line 0\nline 1\n"));
        assert!(text.ends_with("line 998\nline 999\n"));
        assert!(text.contains("lines ("), "{text}");
        assert!(text.contains("omitted; read them with stata_read_log (/tmp/run/run.log) …"));
        let kept = text.lines().count() as u64 - 1;
        assert_eq!(kept + o.omitted_lines(), 1000);
        assert!(text.chars().count() < 500 + 120);
    }

    #[test]
    fn a_million_lines_stay_bounded_and_keep_the_last() {
        let mut o = CappedOutput::new(20_000);
        let mut line = String::new();
        for i in 0..1_000_000u32 {
            line.clear();
            use std::fmt::Write;
            write!(line, "{i:>10} | some table row with text").unwrap();
            o.push_line(&line);
        }
        assert_eq!(o.total_lines(), 1_000_000);
        assert!(o.tail.len() < 20_000);
        assert!(o.head.len() <= 8_000);
        let text = o.render("log");
        assert!(text.len() < 21_000);
        assert!(text.ends_with("    999999 | some table row with text\n"));
        assert!(text.starts_with("         0 | some table row"));
        assert!(text.contains("omitted"));
    }

    #[test]
    fn an_absurdly_long_line_is_cut() {
        let long = "x".repeat(5_000_000);
        let o = pushed(10_000, &["first", &long, "last"]);
        assert!(o.is_truncated());
        let text = o.render("log");
        assert!(text.len() < 12_000);
        assert!(text.contains("more characters]"));
        assert!(text.ends_with("last\n"));
        assert!(text.starts_with("first\n"));
    }

    #[test]
    fn multibyte_lines_are_cut_on_character_boundaries() {
        let long = "é—".repeat(10_000);
        let o = pushed(3_000, &[&long, "end"]);
        let text = o.render("");
        assert!(text.ends_with("end\n"));
        assert!(
            text.contains("omitted; read them with stata_read_log …") || o.omitted_lines() == 0
        );
    }

    #[test]
    fn zero_budget_never_panics() {
        let o = pushed(0, &["a", "b"]);
        assert!(o.is_truncated());
        assert_eq!(o.omitted_lines(), 2);
        assert!(o.render("p").contains("2 lines"));
        let e = CappedOutput::new(0);
        assert_eq!(e.render("p"), "");
    }
}
