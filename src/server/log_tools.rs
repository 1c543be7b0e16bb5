//! `stata_read_log`: pages through, tails or searches the full log of a past run, reading
//! only files inside the log dir and never more of a file than the answer needs.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::tools::{ServerState, parse_args, tool_error};
use crate::log::decode::{decode_line, trim_eol};
use crate::runner::wrapper::WRAPPER_LOG;
use crate::service::retention::RunId;

pub const NAMES: &[&str] = &["stata_read_log"];

/// Bytes returned when `max_bytes` is not given.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024;
/// The most bytes one call returns, whatever `max_bytes` asks: a tool result is read by a
/// model, and a larger page would only crowd its context.
pub const MAX_BYTES_LIMIT: u64 = 1024 * 1024;
/// The most matching lines one `grep` returns (all are counted).
pub const MAX_MATCHES: usize = 200;
/// A matching line is shown up to this many characters.
const MATCH_TEXT_CHARS: usize = 500;
/// Only this much of each line is searched, so one enormous line cannot take memory.
const LINE_SCAN_BYTES: usize = 64 * 1024;

/// Arguments of `stata_read_log`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadLogArgs {
    /// The run whose log to read: the `run_id` of a run result (e.g. `20250101-120000-4242-0`).
    #[serde(default)]
    pub run_id: Option<String>,
    /// Or a file under the log dir: absolute (a result's `log_path`) or relative to the log dir.
    #[serde(default)]
    pub path: Option<String>,
    /// Byte offset to start reading at (default 0); pass a result's `next_offset` to read on.
    #[serde(default)]
    pub offset: Option<u64>,
    /// Bytes to return at most (default 65536, at most 1048576). Pages end at a line end.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Return the last N lines instead of a byte range.
    #[serde(default)]
    pub tail_lines: Option<u64>,
    /// Return the lines containing this text (case-insensitive, plain text, not a regex),
    /// with their line numbers; at most 200 lines are returned, all are counted.
    #[serde(default)]
    pub grep: Option<String>,
}

/// How the log was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// A byte range: `offset` .. `end_offset`.
    Range,
    /// The last lines.
    Tail,
    /// The lines matching `grep`.
    Grep,
}

/// One line that matched `grep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LineMatch {
    /// 1-based line number in the log.
    pub line: u64,
    /// Byte offset of the line's start (pass it as `offset` to read around it).
    pub offset: u64,
    /// The line (cut at 500 characters).
    pub text: String,
}

/// The structured result of `stata_read_log` (the tool's `outputSchema`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReadLogJson {
    /// The file read (absolute).
    pub path: String,
    /// The run the file belongs to, when it is in a run directory.
    pub run_id: Option<String>,
    /// The file's size in bytes when it was read.
    pub total_bytes: u64,
    /// range, tail or grep.
    pub mode: ReadMode,
    /// Byte offset where `text` starts (range and tail; 0 for grep).
    pub offset: u64,
    /// Byte offset just after `text` (range and tail; the file size for grep).
    pub end_offset: u64,
    /// Where the next page starts (range only); null when the end of the file was reached.
    pub next_offset: Option<u64>,
    /// The text read, decoded (UTF-8, or Latin-1 for lines that are not UTF-8); empty for grep.
    pub text: String,
    /// Lines in `text` (range and tail), or lines scanned (grep).
    pub lines: u64,
    /// tail: whether fewer lines than asked came back because of `max_bytes` or the file's start.
    pub truncated: bool,
    /// grep: the matching lines, in order, at most 200.
    pub matches: Vec<LineMatch>,
    /// grep: how many lines matched in the whole file (may exceed `matches`).
    pub total_matches: u64,
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "stata_read_log",
            "Read the full log of a past run (its run_id is in every run result; the result \
             itself shows only the head and tail of long output). Give run_id (or path), then \
             one of: offset/max_bytes for a page (use next_offset to read on), tail_lines for \
             the last lines, or grep to find lines containing a text with their line numbers.",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<ReadLogArgs>()
        .with_output_schema::<ReadLogJson>()
        .with_annotations(
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
    ]
}

pub async fn call(
    state: &ServerState,
    name: &str,
    args: JsonObject,
    _context: &RequestContext<RoleServer>,
) -> CallToolResult {
    if name != "stata_read_log" {
        return tool_error(format!(
            "unknown tool {name:?}; the log tool is stata_read_log"
        ));
    }
    let args: ReadLogArgs = match parse_args(name, args) {
        Ok(a) => a,
        Err(e) => return tool_error(e),
    };
    let log_dir = state.log_dir.clone();
    // File I/O (a grep may read 100 MB): off the async threads.
    let answer = tokio::task::spawn_blocking(move || read_log(&log_dir, &args)).await;
    match answer {
        Ok(Ok(json)) => {
            let text = render_text(&json);
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = serde_json::to_value(&json).ok();
            result
        }
        Ok(Err(e)) => tool_error(e),
        Err(e) => tool_error(format!("reading the log failed: {e}")),
    }
}

/// What to read, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Range { offset: u64, max_bytes: u64 },
    Tail { lines: u64, max_bytes: u64 },
    Grep { needle: String, max_bytes: u64 },
}

fn request(args: &ReadLogArgs) -> Result<Request, String> {
    let max_bytes = args.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if max_bytes == 0 {
        return Err("max_bytes must be at least 1".into());
    }
    let max_bytes = max_bytes.min(MAX_BYTES_LIMIT);
    match (&args.grep, args.tail_lines, args.offset) {
        (Some(_), Some(_), _) => Err("give either grep or tail_lines, not both".into()),
        (Some(_), _, Some(_)) => Err(
            "grep searches the whole log and gives each match's offset; leave out offset".into(),
        ),
        (Some(g), None, None) if g.is_empty() => {
            Err("grep is empty; give the text to search for".into())
        }
        (Some(g), None, None) => Ok(Request::Grep {
            needle: g.clone(),
            max_bytes,
        }),
        (None, Some(_), Some(_)) => Err(
            "give either tail_lines (the end of the log) or offset (a page from there), not both"
                .into(),
        ),
        (None, Some(0), None) => Err("tail_lines must be at least 1".into()),
        (None, Some(n), None) => Ok(Request::Tail {
            lines: n,
            max_bytes,
        }),
        (None, None, offset) => Ok(Request::Range {
            offset: offset.unwrap_or(0),
            max_bytes,
        }),
    }
}

/// Answers a `stata_read_log` call against the logs under `log_dir`.
pub fn read_log(log_dir: &Path, args: &ReadLogArgs) -> Result<ReadLogJson, String> {
    let req = request(args)?;
    let (path, run_id) = locate(log_dir, args)?;
    let mut file =
        File::open(&path).map_err(|e| format!("could not open the log {}: {e}", path.display()))?;
    let total = file
        .metadata()
        .map_err(|e| format!("could not read the size of {}: {e}", path.display()))?
        .len();
    let mut json = ReadLogJson {
        path: path.to_string_lossy().into_owned(),
        run_id,
        total_bytes: total,
        mode: ReadMode::Range,
        offset: 0,
        end_offset: 0,
        next_offset: None,
        text: String::new(),
        lines: 0,
        truncated: false,
        matches: Vec::new(),
        total_matches: 0,
    };
    let io_err = |e: io::Error| format!("could not read the log {}: {e}", path.display());
    match req {
        Request::Range { offset, max_bytes } => {
            if offset > total {
                return Err(format!(
                    "offset {offset} is past the end of the log ({total} bytes); pass an offset \
                     between 0 and {total}"
                ));
            }
            let bytes = read_range(&mut file, offset, max_bytes, total).map_err(io_err)?;
            let end = offset + bytes.len() as u64;
            json.offset = offset;
            json.end_offset = end;
            json.next_offset = (end < total).then_some(end);
            (json.text, json.lines) = decode_lines(&bytes);
        }
        Request::Tail { lines, max_bytes } => {
            json.mode = ReadMode::Tail;
            let (start, bytes, complete) =
                read_tail(&mut file, lines, max_bytes, total).map_err(io_err)?;
            json.offset = start;
            json.end_offset = start + bytes.len() as u64;
            (json.text, json.lines) = decode_lines(&bytes);
            json.truncated = !complete;
        }
        Request::Grep { needle, max_bytes } => {
            json.mode = ReadMode::Grep;
            json.end_offset = total;
            let found = grep(
                BufReader::with_capacity(64 * 1024, file),
                &needle,
                max_bytes,
            )
            .map_err(io_err)?;
            json.lines = found.lines;
            json.total_matches = found.total;
            json.matches = found.matches;
        }
    }
    Ok(json)
}

/// The file to read, checked to be inside the log dir, and its run id when it has one.
fn locate(log_dir: &Path, args: &ReadLogArgs) -> Result<(PathBuf, Option<String>), String> {
    let root = log_dir.canonicalize().map_err(|e| {
        format!(
            "the log dir {} cannot be read ({e}); no run has written a log there yet",
            log_dir.display()
        )
    })?;
    let runs = root.join("runs");
    let wanted = match (&args.run_id, &args.path) {
        (Some(_), Some(_)) => return Err("give either run_id or path, not both".into()),
        (None, None) => {
            return Err(
                "give run_id (from a run's result) or path (a file under the log dir)".into(),
            );
        }
        (Some(id), None) => {
            if !is_plain_name(id) {
                return Err(format!(
                    "run_id {id:?} is not a run id: run ids are plain names such as \
                     20250101-120000-4242-0, as in a run's result"
                ));
            }
            runs.join(id).join(WRAPPER_LOG)
        }
        (None, Some(p)) => {
            let p = Path::new(p);
            if p.components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(format!(
                    "path {} contains `..`; give a path inside the log dir {} without `..`",
                    p.display(),
                    log_dir.display()
                ));
            }
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                log_dir.join(p)
            }
        }
    };
    let mut real = wanted.canonicalize().map_err(|e| match &args.run_id {
        Some(id) => format!(
            "no log for run {id} ({}: {e}); check the id, or the run may have been removed \
             by the retention rule (--keep-runs, --keep-mb)",
            wanted.display()
        ),
        None => format!("{} cannot be read: {e}", wanted.display()),
    })?;
    // Symlinks are resolved by canonicalize, so this also refuses a link pointing out.
    if !real.starts_with(&root) {
        return Err(format!(
            "{} is outside the log dir {}; stata_read_log only reads the logs of runs",
            wanted.display(),
            root.display()
        ));
    }
    if real.is_dir() {
        // A run directory: its log.
        real = real.join(WRAPPER_LOG);
        if !real.is_file() {
            return Err(format!("{} has no {WRAPPER_LOG}", wanted.display()));
        }
    }
    if !real.is_file() {
        return Err(format!("{} is not a file", wanted.display()));
    }
    let run_id = real
        .parent()
        .filter(|dir| dir.parent() == Some(runs.as_path()))
        .and_then(|dir| dir.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| RunId::parse(n).is_some());
    Ok((real, run_id))
}

/// A name with no path in it: letters, digits, `-`, `_`, `.`, not starting with a dot.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Up to `max_bytes` from `offset`, ending after a newline when more of the file follows
/// (so a page never splits a line), unless the page holds no newline at all.
fn read_range(file: &mut File, offset: u64, max_bytes: u64, total: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let want = max_bytes.min(total - offset);
    let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    file.take(want).read_to_end(&mut buf)?;
    if offset + (buf.len() as u64) < total {
        if let Some(nl) = buf.iter().rposition(|&b| b == b'\n') {
            buf.truncate(nl + 1);
        } else {
            // One line longer than the page: cut it, but not inside a UTF-8 character.
            buf.truncate(utf8_safe_len(&buf));
        }
    }
    Ok(buf)
}

/// `buf`'s length without a UTF-8 character cut off at its end (if the end is one; Latin-1
/// text, where every byte is a character, may lose one byte to this, read on the next page).
fn utf8_safe_len(buf: &[u8]) -> usize {
    let len = buf.len();
    // The start of the last character: back over at most 3 continuation bytes.
    let mut start = len;
    while start > 0 && len - start < 4 && (buf[start - 1] & 0xC0) == 0x80 {
        start -= 1;
    }
    if start == 0 {
        return len;
    }
    let lead = buf[start - 1];
    let needed = match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => return len,
    };
    let have = len - (start - 1);
    if have < needed && start - 1 > 0 {
        start - 1
    } else {
        len
    }
}

/// The last `lines` lines within the last `max_bytes` of the file: their start offset, their
/// bytes, and whether all `lines` were found (or the file holds fewer).
fn read_tail(
    file: &mut File,
    lines: u64,
    max_bytes: u64,
    total: u64,
) -> io::Result<(u64, Vec<u8>, bool)> {
    let window = max_bytes.min(total);
    let start = total - window;
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(usize::try_from(window).unwrap_or(0));
    file.take(window).read_to_end(&mut buf)?;
    // The final newline ends the last line; it does not start another.
    let body_end = if buf.last() == Some(&b'\n') {
        buf.len() - 1
    } else {
        buf.len()
    };
    let mut cut = 0;
    let mut found = 0u64;
    let mut complete = false;
    for i in (0..body_end).rev() {
        if buf[i] == b'\n' {
            found += 1;
            if found == lines {
                cut = i + 1;
                complete = true;
                break;
            }
        }
    }
    if !complete {
        if start == 0 {
            // The whole file has fewer lines than asked: all of it, and that is complete.
            complete = true;
        } else {
            // The window starts inside a line: drop that partial line.
            cut = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |p| p + 1);
        }
    }
    Ok((start + cut as u64, buf.split_off(cut), complete))
}

/// Decodes whole lines (lossily: Latin-1 lines are not UTF-8) and counts them.
fn decode_lines(bytes: &[u8]) -> (String, u64) {
    let mut text = String::with_capacity(bytes.len());
    let mut lines = 0;
    for raw in bytes.split_inclusive(|&b| b == b'\n') {
        text.push_str(&decode_line(trim_eol(raw)));
        if raw.ends_with(b"\n") {
            text.push('\n');
        }
        lines += 1;
    }
    (text, lines)
}

struct Found {
    matches: Vec<LineMatch>,
    total: u64,
    lines: u64,
}

/// Streams `reader` line by line and collects the lines containing `needle`, ignoring case.
/// Memory stays bounded: at most `LINE_SCAN_BYTES` of a line is held, at most `MAX_MATCHES`
/// lines and `max_bytes` of their text are kept.
fn grep<R: BufRead>(mut reader: R, needle: &str, max_bytes: u64) -> io::Result<Found> {
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

fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The text block: a header line saying what was read, then the text or the matches.
fn render_text(j: &ReadLogJson) -> String {
    let mut t = String::with_capacity(j.text.len() + 256);
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

    /// A log dir with one run whose log is `log`.
    fn log_dir_with(log: &[u8]) -> (tempfile::TempDir, String) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let id = "20250101-120000-4242-0".to_owned();
        let run = tmp.path().join("runs").join(&id);
        std::fs::create_dir_all(&run).expect("mkdir");
        std::fs::write(run.join("run.log"), log).expect("write");
        (tmp, id)
    }

    fn args(run_id: &str) -> ReadLogArgs {
        ReadLogArgs {
            run_id: Some(run_id.to_owned()),
            ..ReadLogArgs::default()
        }
    }

    #[test]
    fn pages_end_at_line_ends_and_chain_to_the_whole_file() {
        let log: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let (tmp, id) = log_dir_with(log.as_bytes());
        let mut offset = 0;
        let mut all = String::new();
        let mut pages = 0;
        loop {
            let j = read_log(
                tmp.path(),
                &ReadLogArgs {
                    offset: Some(offset),
                    max_bytes: Some(50),
                    ..args(&id)
                },
            )
            .expect("read");
            assert_eq!(j.total_bytes, log.len() as u64);
            assert_eq!(j.run_id.as_deref(), Some(id.as_str()));
            assert!(
                j.text.ends_with('\n'),
                "page ends at a line end: {:?}",
                j.text
            );
            assert!(j.text.len() <= 50);
            all.push_str(&j.text);
            pages += 1;
            match j.next_offset {
                Some(n) => offset = n,
                None => break,
            }
        }
        assert_eq!(all, log);
        assert!(pages > 10);
    }

    #[test]
    fn latin1_is_decoded_and_a_long_line_is_cut() {
        let (tmp, id) = log_dir_with(b"caf\xe9\n");
        let j = read_log(tmp.path(), &args(&id)).expect("read");
        assert_eq!(j.text, "café\n");
        let (tmp, id) = log_dir_with("ééééé\n".as_bytes());
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                max_bytes: Some(5),
                ..args(&id)
            },
        )
        .expect("read");
        assert_eq!(j.text, "éé", "cut on a character boundary");
        assert_eq!(j.next_offset, Some(4));
        assert_eq!(utf8_safe_len("aé".as_bytes()), 3, "a whole character stays");
        assert_eq!(utf8_safe_len(b"ab\xe2\x82"), 2, "a partial one goes");
        // A Latin-1 é looks like the start of a UTF-8 character: it waits for the next page.
        assert_eq!(utf8_safe_len(b"caf\xe9"), 3);
        assert_eq!(utf8_safe_len(b"\xe9"), 1, "never an empty page");
    }

    #[test]
    fn tail_returns_the_last_lines() {
        let log: String = (1..=1000).map(|i| format!("row {i}\n")).collect();
        let (tmp, id) = log_dir_with(log.as_bytes());
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                tail_lines: Some(3),
                ..args(&id)
            },
        )
        .expect("tail");
        assert_eq!(j.text, "row 998\nrow 999\nrow 1000\n");
        assert_eq!(j.lines, 3);
        assert!(!j.truncated);
        assert_eq!(j.end_offset, log.len() as u64);
        // Too many lines for max_bytes: whole lines only, flagged.
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                tail_lines: Some(500),
                max_bytes: Some(20),
                ..args(&id)
            },
        )
        .expect("tail");
        assert_eq!(j.text, "row 999\nrow 1000\n");
        assert!(j.truncated);
        // More lines than the file has: all of it.
        let (tmp, id) = log_dir_with(b"a\nb");
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                tail_lines: Some(10),
                ..args(&id)
            },
        )
        .expect("tail");
        assert_eq!(j.text, "a\nb");
        assert!(!j.truncated);
    }

    #[test]
    fn grep_finds_lines_with_numbers_and_offsets() {
        let log = ". use x\nvariable foo not found\nr(111);\nok\nVARIABLE bar NOT FOUND\n";
        let (tmp, id) = log_dir_with(log.as_bytes());
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                grep: Some("not found".into()),
                ..args(&id)
            },
        )
        .expect("grep");
        assert_eq!(j.total_matches, 2);
        assert_eq!(j.lines, 5);
        assert_eq!(j.matches[0].line, 2);
        assert_eq!(j.matches[0].offset, 8);
        assert_eq!(j.matches[0].text, "variable foo not found");
        assert_eq!(j.matches[1].line, 5);
        let text = render_text(&j);
        assert!(text.contains("      2: variable foo not found"), "{text}");
    }

    #[test]
    fn grep_keeps_a_bounded_number_of_matches() {
        let log: String = (0..1000).map(|i| format!("hit {i}\n")).collect();
        let (tmp, id) = log_dir_with(log.as_bytes());
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                grep: Some("HIT".into()),
                ..args(&id)
            },
        )
        .expect("grep");
        assert_eq!(j.total_matches, 1000);
        assert_eq!(j.matches.len(), MAX_MATCHES);
    }

    #[test]
    fn refuses_what_is_not_a_log_of_a_run() {
        let (tmp, id) = log_dir_with(b"x\n");
        let outside = tmp
            .path()
            .parent()
            .expect("parent")
            .join("secret-test-file");
        for bad in ["../x", "..", "a/b", "/etc", ".hidden", ""] {
            let err = read_log(tmp.path(), &args(bad)).expect_err(bad);
            assert!(err.contains("not a run id"), "{bad}: {err}");
        }
        for bad in ["/etc/passwd", "runs/../../x", "../secret-test-file"] {
            let err = read_log(
                tmp.path(),
                &ReadLogArgs {
                    path: Some(bad.into()),
                    ..ReadLogArgs::default()
                },
            )
            .expect_err(bad);
            assert!(
                err.contains("outside the log dir") || err.contains("`..`"),
                "{bad}: {err}"
            );
        }
        #[cfg(unix)]
        {
            std::fs::write(&outside, "secret").expect("write");
            let link = tmp.path().join("runs").join(&id).join("link.log");
            std::os::unix::fs::symlink(&outside, &link).expect("symlink");
            let err = read_log(
                tmp.path(),
                &ReadLogArgs {
                    path: Some(link.to_string_lossy().into_owned()),
                    ..ReadLogArgs::default()
                },
            )
            .expect_err("symlink out");
            assert!(err.contains("outside the log dir"), "{err}");
            let _ = std::fs::remove_file(&outside);
        }
        // Inside is fine, by absolute path, relative path or run directory.
        let abs = tmp.path().join("runs").join(&id).join("run.log");
        for ok in [
            abs.to_string_lossy().into_owned(),
            format!("runs/{id}/run.log"),
            format!("runs/{id}"),
        ] {
            let j = read_log(
                tmp.path(),
                &ReadLogArgs {
                    path: Some(ok.clone()),
                    ..ReadLogArgs::default()
                },
            )
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(j.text, "x\n");
            assert_eq!(j.run_id.as_deref(), Some(id.as_str()));
        }
    }

    #[test]
    fn conflicting_arguments_are_refused() {
        let (tmp, id) = log_dir_with(b"x\n");
        for (a, why) in [
            (
                ReadLogArgs {
                    grep: Some("x".into()),
                    tail_lines: Some(1),
                    ..args(&id)
                },
                "not both",
            ),
            (
                ReadLogArgs {
                    tail_lines: Some(1),
                    offset: Some(0),
                    ..args(&id)
                },
                "not both",
            ),
            (
                ReadLogArgs {
                    offset: Some(100),
                    ..args(&id)
                },
                "past the end",
            ),
            (
                ReadLogArgs {
                    path: Some("runs".into()),
                    ..args(&id)
                },
                "not both",
            ),
            (ReadLogArgs::default(), "give run_id"),
            (args("20990101-000000-1-0"), "no log for run"),
        ] {
            let err = read_log(tmp.path(), &a).expect_err(why);
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn a_large_log_is_read_in_bounded_pieces() {
        // 20 MB of log: a page and a tail read only what they return; grep streams.
        let tmp = tempfile::tempdir().expect("tempdir");
        let id = "20250101-120000-4242-1";
        let run = tmp.path().join("runs").join(id);
        std::fs::create_dir_all(&run).expect("mkdir");
        {
            use std::io::Write;
            let mut f = io::BufWriter::new(File::create(run.join("run.log")).expect("create"));
            for i in 0..400_000 {
                writeln!(
                    f,
                    "{i:>10} some output of a long loop with padding text ..."
                )
                .expect("w");
            }
            writeln!(f, "needle at the end").expect("w");
        }
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                grep: Some("needle".into()),
                ..args(id)
            },
        )
        .expect("grep");
        assert_eq!(j.total_matches, 1);
        assert_eq!(j.matches[0].line, 400_001);
        let j = read_log(
            tmp.path(),
            &ReadLogArgs {
                tail_lines: Some(1),
                ..args(id)
            },
        )
        .expect("tail");
        assert_eq!(j.text, "needle at the end\n");
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn the_tool_lists_with_object_schemas() {
        let tools = tools();
        assert_eq!(tools.len(), 1);
        let t = &tools[0];
        assert_eq!(t.name, NAMES[0]);
        let out =
            serde_json::to_value(t.output_schema.as_ref().expect("output schema")).expect("json");
        assert_eq!(out["type"], "object");
        let input = serde_json::to_value(&*t.input_schema).expect("json");
        assert_eq!(input["type"], "object");
        assert!(input["properties"]["grep"].is_object());
    }
}
