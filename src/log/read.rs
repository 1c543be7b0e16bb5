//! Reads a finished (or growing) log: a page ending at a line end, its last lines, or the
//! lines matching a text, each bounded in memory whatever the log's size.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use super::decode::{decode_line, trim_eol};
use super::find::{find_log, open_found};
use super::grep::{LineMatch, grep};
use super::read_error::ReadError;
use crate::run::files::{REGION_FILE, WRAPPER_LOG, parse_region};

/// Bytes returned when `max_bytes` is not given.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 64 * 1024;
/// The most bytes one call returns, whatever `max_bytes` asks: a tool result is read by a
/// model, and a larger page would only crowd its context.
pub(crate) const MAX_BYTES_LIMIT: u64 = 1024 * 1024;

/// What to read of which log: the checked form of a `stata_read_log` call.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogQuery {
    /// The run whose log to read.
    pub run_id: Option<String>,
    /// Or a file under the log dir: absolute, or relative to the log dir.
    pub path: Option<String>,
    /// Byte offset to start a page at (default 0).
    pub offset: Option<u64>,
    /// Bytes to return at most (default and cap: [`DEFAULT_MAX_BYTES`], [`MAX_BYTES_LIMIT`]).
    pub max_bytes: Option<u64>,
    /// The last N lines instead of a page.
    pub tail_lines: Option<u64>,
    /// The lines containing this text (case-insensitive, plain text).
    pub grep: Option<String>,
    /// The whole file, the runner's own lines included, rather than the user's output.
    pub raw: bool,
}

/// How the log was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReadMode {
    /// A byte range: `offset` .. `end_offset`.
    Range,
    /// The last lines.
    Tail,
    /// The lines matching `grep`.
    Grep,
}

/// The structured result of `stata_read_log` (the tool's `outputSchema`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct LogPage {
    /// The file read (absolute).
    pub path: String,
    /// The run the file belongs to, when it is in a run directory.
    pub run_id: Option<String>,
    /// The file's size in bytes when it was read.
    pub total_bytes: u64,
    /// Whether only the user's output was read (bytes `region_start`..`region_end` of the
    /// file), without the runner's own lines; `raw: true` reads the whole file.
    pub user_output_only: bool,
    pub region_start: u64,
    pub region_end: u64,
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

/// What to read, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    /// `offset`: none means the start of what is read.
    Range {
        offset: Option<u64>,
        max_bytes: u64,
    },
    Tail {
        lines: u64,
        max_bytes: u64,
    },
    Grep {
        needle: String,
        max_bytes: u64,
    },
}

fn request(args: &LogQuery) -> Result<Request, ReadError> {
    let max_bytes = args.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if max_bytes == 0 {
        return Err(ReadError::Arguments("max_bytes must be at least 1"));
    }
    let max_bytes = max_bytes.min(MAX_BYTES_LIMIT);
    match (&args.grep, args.tail_lines, args.offset) {
        (Some(_), Some(_), _) => Err(ReadError::Arguments(
            "give either grep or tail_lines, not both",
        )),
        (Some(_), _, Some(_)) => Err(ReadError::Arguments(
            "grep searches the whole log and gives each match's offset; leave out offset",
        )),
        (Some(g), None, None) if g.is_empty() => Err(ReadError::Arguments(
            "grep is empty; give the text to search for",
        )),
        (Some(g), None, None) => Ok(Request::Grep {
            needle: g.clone(),
            max_bytes,
        }),
        (None, Some(_), Some(_)) => Err(ReadError::Arguments(
            "give either tail_lines (the end of the log) or offset (a page from there), not both",
        )),
        (None, Some(0), None) => Err(ReadError::Arguments("tail_lines must be at least 1")),
        (None, Some(n), None) => Ok(Request::Tail {
            lines: n,
            max_bytes,
        }),
        (None, None, offset) => Ok(Request::Range { offset, max_bytes }),
    }
}

/// Reads what `args` asks of a log under `log_dir`.
pub(crate) fn read_log(log_dir: &Path, args: &LogQuery) -> Result<LogPage, ReadError> {
    let req = request(args)?;
    let (path, run_id) = find_log(log_dir, args.run_id.as_deref(), args.path.as_deref())?;
    let io_err = |what: &'static str| {
        let path = path.clone();
        move |source| ReadError::Io { what, path, source }
    };
    // Opened again without following any link: the file checked is the file read.
    let mut file = open_found(log_dir, &path).map_err(io_err("open the log"))?;
    let total = file.metadata().map_err(io_err("read the size of"))?.len();
    let region = if args.raw {
        None
    } else {
        user_region(log_dir, &path, total)
    };
    let (lo, hi) = region.as_ref().map_or((0, total), |r| (r.start, r.end));
    let mut json = LogPage {
        path: path.to_string_lossy().into_owned(),
        run_id,
        total_bytes: total,
        user_output_only: region.is_some(),
        region_start: lo,
        region_end: hi,
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
    match req {
        Request::Range { offset, max_bytes } => {
            let offset = offset.unwrap_or(lo).max(lo);
            if offset > hi {
                return Err(ReadError::PastEnd { offset, total: hi });
            }
            let bytes =
                read_range(&mut file, offset, max_bytes, hi).map_err(io_err("read the log"))?;
            let end = offset + bytes.len() as u64;
            json.offset = offset;
            json.end_offset = end;
            json.next_offset = (end < hi).then_some(end);
            (json.text, json.lines) = decode_lines(&bytes);
        }
        Request::Tail { lines, max_bytes } => {
            json.mode = ReadMode::Tail;
            let (start, bytes, complete) =
                read_tail(&mut file, lines, max_bytes, lo..hi).map_err(io_err("read the log"))?;
            json.offset = start;
            json.end_offset = start + bytes.len() as u64;
            (json.text, json.lines) = decode_lines(&bytes);
            json.truncated = !complete;
        }
        Request::Grep { needle, max_bytes } => {
            json.mode = ReadMode::Grep;
            json.offset = lo;
            json.end_offset = hi;
            let lines_before = count_lines(&mut file, lo).map_err(io_err("read the log"))?;
            file.seek(SeekFrom::Start(lo))
                .map_err(io_err("read the log"))?;
            let found = grep(
                BufReader::with_capacity(64 * 1024, file.take(hi - lo)),
                &needle,
                max_bytes,
            )
            .map_err(io_err("read the log"))?;
            json.lines = found.lines;
            json.total_matches = found.total;
            json.matches = found.matches;
            // Line numbers and offsets are the file's, so a page can be read around a match.
            for m in &mut json.matches {
                m.line += lines_before;
                m.offset += lo;
            }
        }
    }
    Ok(json)
}

/// The user's region of a run's log (from its region file), within the file's `total` bytes;
/// none for any other file, or a run that recorded none.
fn user_region(log_dir: &Path, path: &Path, total: u64) -> Option<std::ops::Range<u64>> {
    if path.file_name()? != WRAPPER_LOG {
        return None;
    }
    let mut text = String::new();
    open_found(log_dir, &path.with_file_name(REGION_FILE))
        .ok()?
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    let r = parse_region(&text)?;
    Some(r.start.min(total)..r.end.min(total))
}

/// The newlines in the first `upto` bytes of `file`.
fn count_lines(file: &mut File, upto: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file.take(upto));
    let mut n = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(n);
        }
        n += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let len = buf.len();
        reader.consume(len);
    }
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

/// The last `lines` lines within the last `max_bytes` of the bytes `within` of the file: their
/// start offset, their bytes, and whether all `lines` were found (or the range holds fewer).
fn read_tail(
    file: &mut File,
    lines: u64,
    max_bytes: u64,
    within: std::ops::Range<u64>,
) -> io::Result<(u64, Vec<u8>, bool)> {
    let (lo, total) = (within.start, within.end);
    let window = max_bytes.min(total - lo);
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
        if start == lo {
            // What is read has fewer lines than asked: all of it, and that is complete.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::find::tests::log_dir_with;
    use crate::log::grep::MAX_MATCHES;

    fn args(run_id: &str) -> LogQuery {
        LogQuery {
            run_id: Some(run_id.to_owned()),
            ..LogQuery::default()
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
                &LogQuery {
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
            &LogQuery {
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
            &LogQuery {
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
            &LogQuery {
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
            &LogQuery {
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
            &LogQuery {
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
    }

    #[test]
    fn grep_keeps_a_bounded_number_of_matches() {
        let log: String = (0..1000).map(|i| format!("hit {i}\n")).collect();
        let (tmp, id) = log_dir_with(log.as_bytes());
        let j = read_log(
            tmp.path(),
            &LogQuery {
                grep: Some("HIT".into()),
                ..args(&id)
            },
        )
        .expect("grep");
        assert_eq!(j.total_matches, 1000);
        assert_eq!(j.matches.len(), MAX_MATCHES);
    }

    #[test]
    fn conflicting_arguments_are_refused() {
        let (tmp, id) = log_dir_with(b"x\n");
        for (a, why) in [
            (
                LogQuery {
                    grep: Some("x".into()),
                    tail_lines: Some(1),
                    ..args(&id)
                },
                "not both",
            ),
            (
                LogQuery {
                    tail_lines: Some(1),
                    offset: Some(0),
                    ..args(&id)
                },
                "not both",
            ),
            (
                LogQuery {
                    offset: Some(100),
                    ..args(&id)
                },
                "past the end",
            ),
            (
                LogQuery {
                    path: Some("runs".into()),
                    ..args(&id)
                },
                "not both",
            ),
            (LogQuery::default(), "give run_id"),
            (args("20990101-000000-1-0"), "no log for run"),
        ] {
            let err = read_log(tmp.path(), &a).expect_err(why).to_string();
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
            &LogQuery {
                grep: Some("needle".into()),
                ..args(id)
            },
        )
        .expect("grep");
        assert_eq!(j.total_matches, 1);
        assert_eq!(j.matches[0].line, 400_001);
        let j = read_log(
            tmp.path(),
            &LogQuery {
                tail_lines: Some(1),
                ..args(id)
            },
        )
        .expect("tail");
        assert_eq!(j.text, "needle at the end\n");
    }
}
