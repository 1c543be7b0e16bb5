//! Feeds each raw log line through the runner filter to the live output, the error scanner
//! and the capped output of the result: one pass, bounded memory, whatever the log's size.

use std::ops::Range;
use std::sync::Arc;

use super::exports::GraphExports;
use crate::log::decode::LineDecoder;
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::scan::{ErrorScanner, Scan};
use crate::run::output::CappedOutput;

/// Bytes of user lines gathered before they are handed to the live output.
const BATCH_LIMIT: usize = 64 * 1024;

pub(crate) struct LogPipeline {
    decoder: LineDecoder,
    filter: RunnerFilter,
    sinks: Sinks,
    live: Arc<LiveOutput>,
    /// Bytes of log read so far (each line with its newline).
    read: u64,
}

/// Where each user line goes.
struct Sinks {
    scanner: ErrorScanner,
    output: CappedOutput,
    /// User lines read since the last `flush_live`, sent as one progress chunk.
    batch: String,
    /// Spots `graph export` messages, so the files can be shown as images.
    graphs: GraphExports,
    /// Where the user's output lies in the log: from just after the start echo to the end
    /// of the last line shown to the user.
    region: Option<Range<u64>>,
}

impl Sinks {
    /// One line the user should see, which ends at `end` in the log.
    fn line(&mut self, l: &str, end: u64) {
        self.scanner.push_line(l);
        self.output.push_line(l);
        self.graphs.push_line(l);
        self.batch.push_str(l);
        self.batch.push('\n');
        if let Some(r) = &mut self.region {
            r.end = end;
        }
    }
}

/// What the log said, once the run is over.
pub(crate) struct LogSummary {
    pub scan: Scan,
    pub output: CappedOutput,
    /// Whether the user's code was reached (false: Stata failed before it, e.g. licence).
    pub started: bool,
    /// Non-blank lines Stata wrote before the user's code, for start-up failure reports.
    pub pre_start: Vec<String>,
    /// Graph files the output says were exported, as Stata printed their paths.
    pub graphs: Vec<std::path::PathBuf>,
    /// The byte range of the log that holds the user's output (none if the code never ran).
    pub region: Option<Range<u64>>,
}

impl LogPipeline {
    pub(crate) fn new(
        filter: RunnerFilter,
        live: Arc<LiveOutput>,
        max_output_chars: usize,
    ) -> Self {
        Self {
            decoder: LineDecoder::default(),
            filter,
            sinks: Sinks {
                scanner: ErrorScanner::new(),
                output: CappedOutput::new(max_output_chars),
                batch: String::new(),
                graphs: GraphExports::new(),
                region: None,
            },
            live,
            read: 0,
        }
    }

    /// One raw line of log, with its newline (`\n` or `\r\n`) unless the log ends without one.
    pub(crate) fn push_raw(&mut self, raw: &[u8]) {
        let mut decoder = std::mem::take(&mut self.decoder);
        decoder.push(raw, &mut |line, len| self.push_line(line, len));
        self.decoder = decoder;
    }

    /// Hands on a line the decoder held back (the caller's next line is not the log's).
    fn release_held(&mut self) {
        let mut decoder = std::mem::take(&mut self.decoder);
        decoder.finish(&mut |line, len| self.push_line(line, len));
        self.decoder = decoder;
    }

    /// One decoded line, which stands for `len` bytes of the log.
    fn push_line(&mut self, line: &str, len: usize) {
        let started = self.filter.started();
        let first_after_start = self
            .sinks
            .region
            .as_ref()
            .is_some_and(|r| r.start == self.read && r.end == self.read);
        self.read += len as u64;
        if first_after_start && line.trim().is_empty() {
            // The blank line Stata prints after the start echo is the runner's (the filter
            // drops it too): the user's region starts after it.
            self.sinks.region = Some(self.read..self.read);
        }
        let sinks = &mut self.sinks;
        self.filter
            .push_at(line, self.read, |l, end| sinks.line(l, end));
        if !started && self.filter.started() {
            self.sinks.region = Some(self.read..self.read);
        }
        // One poll can read megabytes when Stata floods: hand them on in pieces so
        // memory stays bounded (the live output keeps only the newest text anyway).
        if self.sinks.batch.len() >= BATCH_LIMIT {
            self.flush_live();
        }
    }

    /// A raw line of log the caller kept from the filter (it still counts for offsets).
    pub(crate) fn skip_raw(&mut self, raw: &[u8]) {
        self.release_held();
        self.read += raw.len() as u64;
    }

    /// A line that is not in the log (the caller stands it in for one), taking no bytes.
    pub(crate) fn push_stand_in(&mut self, line: &str) {
        self.release_held();
        let end = self.read;
        let sinks = &mut self.sinks;
        self.filter.push_at(line, end, |l, end| sinks.line(l, end));
    }

    /// Session mode: the number the end sentinel printed, once it has run.
    pub(crate) fn ended_with(&self) -> Option<i32> {
        self.filter.ended_with()
    }

    /// Hands the lines read since the last call to the live output (one progress chunk).
    pub(crate) fn flush_live(&mut self) {
        if !self.sinks.batch.is_empty() {
            self.live.push_lines(&self.sinks.batch);
            self.sinks.batch.clear();
        }
    }

    /// The log is complete: releases held lines and returns what was found.
    pub(crate) fn finish(mut self) -> LogSummary {
        self.release_held();
        let sinks = &mut self.sinks;
        self.filter.finish_at(|l, end| sinks.line(l, end));
        self.flush_live();
        LogSummary {
            started: self.filter.started(),
            pre_start: self.filter.pre_start_lines().map(str::to_owned).collect(),
            scan: self.sinks.scanner.finish(),
            output: self.sinks.output,
            graphs: self.sinks.graphs.into_paths(),
            region: self.sinks.region,
        }
    }
}
