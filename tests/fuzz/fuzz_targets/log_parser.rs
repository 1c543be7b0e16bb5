//! Fuzzes the log path: arbitrary bytes as a Stata log, through the runner filter, the
//! error scanner and the capped output. Nothing may panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stata_mcp::{decode_line, trim_eol};
use stata_mcp::RunnerFilter;
use stata_mcp::ErrorScanner;
use stata_mcp::CappedOutput;
use stata_mcp::START_ECHO;

fuzz_target!(|data: &[u8]| {
    let mut filter = RunnerFilter::new(START_ECHO).with_end(". display \"END_\" c(rc)", "END_");
    let mut scanner = ErrorScanner::new();
    let mut output = CappedOutput::new(2_000);
    // Start inside the user's region half of the time, so the scanner sees the bytes.
    if data.first().is_some_and(|b| b & 1 == 1) {
        filter.push(START_ECHO, |_| {});
        filter.push("", |_| {});
    }
    for raw in data.split(|&b| b == b'\n') {
        let line = decode_line(trim_eol(raw));
        filter.push(&line, |l| {
            scanner.push_line(l);
            output.push_line(l);
        });
        // The scanner alone sees everything too (banner, trailers).
        scanner.push_line(&line);
    }
    filter.finish(|l| {
        scanner.push_line(l);
        output.push_line(l);
    });
    let scan = scanner.finish();
    if let Some(e) = &scan.error {
        assert!(e.message.len() <= 4_096, "error message is bounded");
    }
    let _ = output.render("stata_read_log");
});
