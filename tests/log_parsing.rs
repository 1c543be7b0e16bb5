//! The error scanner and the capped output against real Stata logs (../shared/fixtures/stata-logs)
//! and hand-written samples of what real logs look like.

mod common;

use common::fixture;

use stata_mcp::CappedOutput;
use stata_mcp::{ErrorScanner, Scan};

fn scan_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Scan {
    let mut s = ErrorScanner::new();
    for l in lines {
        s.push_line(l);
    }
    s.finish()
}

/// Every line of the log, banner included.
fn scan_all(name: &str) -> Scan {
    scan_lines(fixture(name).lines())
}

/// The log from the first command echo on (what the runner passes after dropping the banner).
fn scan_user(name: &str) -> Scan {
    let text = fixture(name);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(". ") || *l == ".")
        .unwrap_or(lines.len());
    scan_lines(lines[start..].iter().copied())
}

fn both(name: &str) -> [Scan; 2] {
    [scan_all(name), scan_user(name)]
}

const SUCCESS_LOGS: &[&str] = &[
    "batch-15-display-command.log",
    "batch-15-e-wrapped-lines.log",
    "batch-17-success.log",
    "batch-18-be-hello.log",
    "batch-19-trace-excerpt-200-lines.log",
    "batch-q-e-display-version.log",
    "batch-q-nested-success.log",
];

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn success_logs_have_no_error_and_no_warning() {
    common::require_shared();
    for name in SUCCESS_LOGS {
        for s in both(name) {
            assert_eq!(s.error, None, "{name}");
            assert!(s.warnings.is_empty(), "{name}: {:?}", s.warnings);
            assert!(!s.interrupted, "{name}");
            assert_eq!(s.license, None, "{name}");
        }
    }
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn nested_error_r111() {
    common::require_shared();
    for s in both("batch-q-nested-error-r111.log") {
        let e = s.error.expect("an error");
        assert_eq!(e.code, Some(111));
        assert_eq!(e.message, "bad_var not found");
        assert_eq!(e.command.as_deref(), Some("gen y = bad_var + 1"));
        assert_eq!(e.stack, vec!["nested/helper_with_error.do"]);
        assert!(e.hint.unwrap().contains("stata_inspect_data"));
        assert!(s.warnings.is_empty());
        assert!(!s.interrupted);
    }
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn missing_do_file_r601() {
    common::require_shared();
    for s in both("batch-17-missing-dofile-r601.log") {
        let e = s.error.expect("an error");
        assert_eq!(e.code, Some(601));
        assert_eq!(e.message, "file main.do not found");
        assert_eq!(e.command.as_deref(), Some("do \"main.do\""));
        // The do-file never opened.
        assert!(e.stack.is_empty(), "{:?}", e.stack);
        assert!(e.hint.unwrap().contains("working directory"));
    }
    // As the runner sees it: its own `do` echo removed.
    let s = scan_lines(["file code.do not found", "r(601);"]);
    assert_eq!(s.error.unwrap().message, "file code.do not found");
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn invalid_licence() {
    common::require_shared();
    let s = scan_all("batch-license-invalid.log");
    assert_eq!(s.license.as_deref(), Some("License is invalid"));
    assert_eq!(s.error, None);
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn wrapped_echoes_are_joined_without_a_space() {
    common::require_shared();
    // Cut the wrapped-lines log after a wrapped command and make it fail there.
    let text = fixture("batch-15-e-wrapped-lines.log");
    let mut lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("> OP.TOTL\")"))
        .unwrap();
    lines.truncate(at + 1);
    lines.extend(["no observations", "r(2000);"]);
    let e = scan_lines(lines).error.unwrap();
    assert_eq!(e.code, Some(2000));
    assert_eq!(
        e.command.as_deref(),
        Some(
            "keep if inlist(indicatorcode, \"TG.VAL.TOTL.GD.ZS\", \"NY.GDP.PCAP.PP.KD\", \
             \"SP.POP.TOTL\")"
        )
    );
    assert_eq!(e.stack, vec!["code/read_wdi_variables.do"]);
}

#[test]
fn rc_text_in_output_is_not_an_error() {
    let log = r#"
. display "see r(198)"
see r(198)

. display "r(198);"
r(198);

. list

     +---------------+
     | make    rc    |
     |---------------|
  1. | r(111); 111   |
     +---------------+

. 
end of do-file
"#;
    // `display "r(198);"` prints a line that is exactly `r(198);`, right after its echo.
    let s = scan_lines(log.lines());
    assert_eq!(s.error, None, "{s:?}");
    assert!(s.warnings.is_empty(), "{s:?}");
    let log = ". display \"see r(198)\"\nsee r(198)\n\n. di 1\n1\n";
    let s = scan_lines(log.lines());
    assert_eq!(s.error, None);
    assert!(s.warnings.is_empty());
}

#[test]
fn capture_noisily_gives_a_warning_not_an_error() {
    let log = "
. sysuse auto
(1978 automobile data)

. capture noisily regress price nosuchvar
variable nosuchvar not found

. cap noi use missing.dta
file missing.dta not found

. display _rc
601

. 
end of do-file
";
    let s = scan_lines(log.lines());
    assert_eq!(s.error, None);
    let got: Vec<(Option<i32>, &str, Option<&str>)> = s
        .warnings
        .iter()
        .map(|w| (w.code, w.message.as_str(), w.command.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            // The log does not show this one's code (no `display _rc`): not guessed.
            (
                None,
                "variable nosuchvar not found",
                Some("capture noisily regress price nosuchvar")
            ),
            (
                Some(601),
                "file missing.dta not found",
                Some("cap noi use missing.dta")
            ),
        ]
    );
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn buried_capture_noisily_under_trace() {
    common::require_shared();
    // The shape of the buried error in the 75,882-line log the trace fixture comes from.
    let head = fixture("batch-19-trace-excerpt-200-lines.log");
    let mut lines: Vec<String> = head.lines().map(str::to_owned).collect();
    for l in [
        "  - if `n' == 2 {",
        "  = if 2 == 2 {",
        "  - display as error \">>> PRODUCING BURIED ERROR <<<\"",
        ">>> PRODUCING BURIED ERROR <<<",
        "  - capture noisily confirm variable __nonexist_xyz__",
        "    --------------------------------------------------------- begin confirm ---",
        "    - version 6",
        "    - error 111",
        "variable __nonexist_xyz__ not found",
        "    ----------------------------------------------------------- end confirm ---",
        "  - if _rc != 0 {",
        "  - display as error \"Caught rc=`_rc', continuing...\"",
        "  = display as error \"Caught rc=111, continuing...\"",
        "Caught rc=111, continuing...",
        "  - }",
        "  ------------------------------------------------------------------ end demo ---",
        "- }",
        "",
        ". display \"done\"",
        "done",
        "",
        ". ",
        "end of do-file",
    ] {
        lines.push(l.to_owned());
    }
    let s = scan_lines(lines.iter().map(String::as_str));
    assert_eq!(s.error, None);
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert_eq!(s.warnings[0].code, Some(111));
    assert_eq!(s.warnings[0].message, "variable __nonexist_xyz__ not found");
    assert_eq!(
        s.warnings[0].command.as_deref(),
        Some("capture noisily confirm variable __nonexist_xyz__")
    );
}

#[test]
fn break_is_interrupted() {
    let s = scan_lines([". sleep 60000", "--Break--", "r(1);"]);
    assert!(s.interrupted);
    let e = s.error.unwrap();
    assert_eq!(e.code, Some(1));
    assert_eq!(e.message, "--Break--");
    // Inside a do-file, with the per-level trailers.
    let log =
        ". do long.do\n\n. sleep 60000\n--Break--\nr(1);\n\nend of do-file\n--Break--\nr(1);\n";
    let s = scan_lines(log.lines());
    assert!(s.interrupted);
    assert_eq!(s.error.unwrap().stack, vec!["long.do"]);
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn trace_log_of_75k_lines_is_fast() {
    common::require_shared();
    // Repeat the trace excerpt's body (its lines after the header) to 75,000+ lines.
    let text = fixture("batch-19-trace-excerpt-200-lines.log");
    let lines: Vec<&str> = text.lines().collect();
    let body = &lines[20..];
    let mut all: Vec<&str> = Vec::with_capacity(76_000);
    all.extend(&lines[..20]);
    while all.len() < 75_000 {
        all.extend(body);
    }
    all.extend(["bad_var not found", "r(111);"]);
    let mut s = ErrorScanner::new();
    for l in &all {
        s.push_line(l);
    }
    let scan = s.finish();
    assert_eq!(scan.error.unwrap().code, Some(111));
    assert!(scan.warnings.is_empty());
}

#[test]
fn capped_output_of_a_million_lines_stays_bounded() {
    let mut out = CappedOutput::new(30_000);
    let mut line = String::new();
    for i in 0..1_000_000u32 {
        line.clear();
        use std::fmt::Write;
        write!(
            line,
            "  {i:>8} |  {:>12.4}  {:>12.4}",
            f64::from(i) * 0.5,
            -1.25
        )
        .unwrap();
        out.push_line(&line);
    }
    out.push_line("end of do-file");
    assert_eq!(out.total_lines(), 1_000_001);
    assert!(out.is_truncated());
    let text = out.render("/tmp/run.log");
    assert!(text.len() < 31_000);
    assert!(text.ends_with("end of do-file\n"));
    assert!(text.starts_with("         0 |        0.0000       -1.2500\n"));
    assert!(text.contains("omitted; read them with stata_read_log (/tmp/run.log)"));
    assert_eq!(
        text.lines().count() as u64 - 1 + out.omitted_lines(),
        out.total_lines()
    );
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn capped_output_is_byte_exact_on_real_logs() {
    common::require_shared();
    for name in SUCCESS_LOGS {
        let text = fixture(name);
        let mut out = CappedOutput::new(100_000);
        for l in text.lines() {
            out.push_line(l);
        }
        assert!(!out.is_truncated());
        let expected: String = text.lines().map(|l| format!("{l}\n")).collect();
        assert_eq!(out.render("x"), expected, "{name}");
    }
}

/// A small deterministic generator (xorshift), so the test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
#[ignore = "reads the real Stata logs in ../shared: tests/run.sh runs it when they are there"]
fn random_bytes_never_panic() {
    const PIECES: &[&str] = &[
        ". ",
        "> ",
        "  2. ",
        "r(",
        ");",
        "111",
        "- ",
        "= ",
        "--Break--",
        "end of do-file",
        "capture noisily ",
        "do ",
        "\"",
        "`\"",
        "not found",
        "variable ",
        "file ",
        "///",
        "{",
        " ",
        "é",
        "\u{FFFD}",
        "---- begin x ---",
        "License is invalid",
        "stata.lic",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut scanner = ErrorScanner::new();
    let mut out = CappedOutput::new(1_000);
    for _ in 0..20_000 {
        let mut bytes = Vec::new();
        let parts = rng.next() % 6;
        for _ in 0..parts {
            if rng.next().is_multiple_of(2) {
                let p = PIECES[(rng.next() % PIECES.len() as u64) as usize];
                bytes.extend_from_slice(p.as_bytes());
            } else {
                for _ in 0..rng.next() % 12 {
                    bytes.push((rng.next() & 0xFF) as u8);
                }
            }
        }
        let line = String::from_utf8_lossy(&bytes);
        let line = line.replace('\n', "");
        scanner.push_line(&line);
        out.push_line(&line);
    }
    let scan = scanner.finish();
    let _ = format!("{scan:?}");
    let _ = out.render("x");
    // Any single fixture line fed alone.
    common::require_shared();
    for name in SUCCESS_LOGS {
        for l in fixture(name).lines() {
            let _ = scan_lines([l]);
        }
    }
}
