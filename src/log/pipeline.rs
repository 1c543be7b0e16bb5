//! Feeds each raw log line through the runner filter to the live output, the error scanner
//! and the capped output of the result: one pass, bounded memory, whatever the log's size.

use std::sync::Arc;

use super::graphs::GraphExports;
use crate::log::decode::decode_line;
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::scan::{ErrorScanner, Scan};
use crate::run::output::CappedOutput;

/// Bytes of user lines gathered before they are handed to the live output.
const BATCH_LIMIT: usize = 64 * 1024;

pub struct LogPipeline {
    filter: RunnerFilter,
    scanner: ErrorScanner,
    output: CappedOutput,
    live: Arc<LiveOutput>,
    /// User lines read since the last `flush_live`, sent as one progress chunk.
    batch: String,
    /// Spots `graph export` messages, so the files can be shown as images.
    graphs: GraphExports,
}

/// What the log said, once the run is over.
pub struct LogSummary {
    pub scan: Scan,
    pub output: CappedOutput,
    /// Whether the user's code was reached (false: Stata failed before it, e.g. licence).
    pub started: bool,
    /// Non-blank lines Stata wrote before the user's code, for start-up failure reports.
    pub pre_start: Vec<String>,
    /// Graph files the output says were exported, as Stata printed their paths.
    pub graphs: Vec<std::path::PathBuf>,
}

impl LogPipeline {
    pub fn new(filter: RunnerFilter, live: Arc<LiveOutput>, max_output_chars: usize) -> Self {
        Self {
            filter,
            scanner: ErrorScanner::new(),
            output: CappedOutput::new(max_output_chars),
            live,
            batch: String::new(),
            graphs: GraphExports::new(),
        }
    }

    /// One raw line of log, without its newline.
    pub fn push_raw(&mut self, raw: &[u8]) {
        let line = decode_line(raw);
        let (scanner, output, batch) = (&mut self.scanner, &mut self.output, &mut self.batch);
        let graphs = &mut self.graphs;
        self.filter.push(&line, |l| {
            scanner.push_line(l);
            output.push_line(l);
            graphs.push_line(l);
            batch.push_str(l);
            batch.push('\n');
        });
        // One poll can read megabytes when Stata floods: hand them on in pieces so
        // memory stays bounded (the live output keeps only the newest text anyway).
        if self.batch.len() >= BATCH_LIMIT {
            self.flush_live();
        }
    }

    /// Session mode: the number the end sentinel printed, once it has run.
    pub fn ended_with(&self) -> Option<i32> {
        self.filter.ended_with()
    }

    /// Hands the lines read since the last call to the live output (one progress chunk).
    pub fn flush_live(&mut self) {
        if !self.batch.is_empty() {
            self.live.push_lines(&self.batch);
            self.batch.clear();
        }
    }

    /// The log is complete: releases held lines and returns what was found.
    pub fn finish(mut self) -> LogSummary {
        let (scanner, output, batch) = (&mut self.scanner, &mut self.output, &mut self.batch);
        let graphs = &mut self.graphs;
        self.filter.finish(|l| {
            scanner.push_line(l);
            output.push_line(l);
            graphs.push_line(l);
            batch.push_str(l);
            batch.push('\n');
        });
        self.flush_live();
        LogSummary {
            started: self.filter.started(),
            pre_start: self.filter.pre_start_lines().map(str::to_owned).collect(),
            scan: self.scanner.finish(),
            output: self.output,
            graphs: self.graphs.into_paths(),
        }
    }
}
