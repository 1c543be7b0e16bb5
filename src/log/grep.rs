//! Finds the lines of a log that contain a text, ignoring ASCII case, streaming the file
//! with bounded memory however long it or its lines are.

use std::io::{self, BufRead};

use schemars::JsonSchema;
use serde::Serialize;

use super::decode::{decode_line, trim_eol};
use crate::text::cut::contains_ignore_ascii_case;

/// The most matching lines one `grep` returns (all are counted).
pub(crate) const MAX_MATCHES: usize = 200;
/// A matching line is shown up to this many characters.
const MATCH_TEXT_CHARS: usize = 500;
/// Only this much of each line is searched, so one enormous line cannot take memory.
const LINE_SCAN_BYTES: usize = 64 * 1024;

/// One line that matched `grep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub(crate) struct LineMatch {
    /// 1-based line number in the log.
    pub line: u64,
    /// Byte offset of the line's start (pass it as `offset` to read around it).
    pub offset: u64,
    /// The line (cut at 500 characters).
    pub text: String,
}

/// What a search found.
pub(crate) struct Found {
    /// The first [`MAX_MATCHES`] matching lines.
    pub matches: Vec<LineMatch>,
    /// Lines that matched, all of them.
    pub total: u64,
    /// Lines searched.
    pub lines: u64,
}

/// Streams `reader` line by line and collects the lines containing `needle`, ignoring case.
/// Memory stays bounded: at most `LINE_SCAN_BYTES` of a line is held, at most `MAX_MATCHES`
/// lines and `max_bytes` of their text are kept.
pub(crate) fn grep<R: BufRead>(mut reader: R, needle: &str, max_bytes: u64) -> io::Result<Found> {
    let needle_lower = needle.to_lowercase();
    let ascii = needle.is_ascii();
    let mut found = Found {
        matches: Vec::new(),
        total: 0,
        lines: 0,
    };
    let mut kept_bytes = 0u64;
    let mut line = Vec::with_capacity(1024);
    let mut offset = 0u64;
    loop {
        line.clear();
        let read = read_line_capped(&mut reader, &mut line, LINE_SCAN_BYTES)?;
        if read == 0 {
            break;
        }
        found.lines += 1;
        let text = decode_line(trim_eol(&line));
        let hit = if ascii {
            contains_ignore_ascii_case(text.as_bytes(), needle.as_bytes())
        } else {
            text.to_lowercase().contains(&needle_lower)
        };
        if hit {
            found.total += 1;
            let shown: String = text.chars().take(MATCH_TEXT_CHARS).collect();
            if found.matches.len() < MAX_MATCHES && kept_bytes + shown.len() as u64 <= max_bytes {
                kept_bytes += shown.len() as u64;
                found.matches.push(LineMatch {
                    line: found.lines,
                    offset,
                    text: shown,
                });
            }
        }
        offset += read;
    }
    Ok(found)
}

/// Reads one line (through its `\n`) keeping at most `cap` bytes of it; returns the bytes
/// consumed (0 at the end of the input).
fn read_line_capped<R: BufRead>(reader: &mut R, out: &mut Vec<u8>, cap: usize) -> io::Result<u64> {
    let mut consumed = 0u64;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(&buf[..take.min(room)]);
        reader.consume(take);
        consumed += take as u64;
        if done {
            return Ok(consumed);
        }
    }
}
