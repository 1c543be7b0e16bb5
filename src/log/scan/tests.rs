//! Tests of the error scanner on hand-made log excerpts.

use super::*;

fn scan(log: &str) -> Scan {
    let mut s = ErrorScanner::new();
    for l in log.lines() {
        s.push_line(l);
    }
    s.finish()
}

#[test]
fn simple_error_with_hint() {
    let s = scan(
        ". sysuse auto\n(1978 automobile data)\n\n. gen y = foo + 1\nfoo not found\nr(111);\n",
    );
    let e = s.error.unwrap();
    assert_eq!(e.code, Some(111));
    assert_eq!(e.message, "foo not found");
    assert_eq!(e.command.as_deref(), Some("gen y = foo + 1"));
    assert!(e.hint.unwrap().contains("stata_inspect_data"));
    assert!(s.warnings.is_empty());
}

#[test]
fn display_of_rc_text_is_not_an_error() {
    let s = scan(". display \"see r(198);\"\nsee r(198);\n\n. list\n  1. | r(198); |\n");
    assert_eq!(s.error, None);
    assert!(s.warnings.is_empty());
}

#[test]
fn capture_noisily_is_a_warning() {
    let s = scan(
        ". capture noisily confirm variable nope\nvariable nope not found\n\n. display 1\n1\n",
    );
    assert_eq!(s.error, None);
    assert_eq!(s.warnings.len(), 1);
    let w = &s.warnings[0];
    // The log does not show its code: it is not guessed from the message.
    assert_eq!(w.code, None);
    assert_eq!(w.message, "variable nope not found");
    assert_eq!(
        w.command.as_deref(),
        Some("capture noisily confirm variable nope")
    );
    // Abbreviated, and a weak message only counts under capture noisily.
    let s = scan(". cap n tab x\nno observations\n\n. tab x\nno observations\n");
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].code, None);
    assert_eq!(s.warnings[0].command.as_deref(), Some("cap n tab x"));
}

#[test]
fn a_captured_error_takes_the_code_the_log_shows() {
    // `display _rc` right after: its number is the code, whatever the message suggests.
    let s =
        scan(". capture noisily badprog\ninvalid syntax\n\n. display \"_rc = \" _rc\n_rc = 111\n");
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(
        (s.warnings[0].code, s.warnings[0].message.as_str()),
        (Some(111), "invalid syntax")
    );
    // _rc 0: the command printed the text but did not fail.
    let s = scan(". capture noisily di as err \"invalid syntax\"\ninvalid syntax\n\n. di _rc\n0\n");
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    // Mata prints its own code.
    let s = scan(
        ". capture noisily mata: x = y\n                 <istmt>:  3499  y not found\n\n. display 1\n1\n",
    );
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].code, Some(3499));
}

#[test]
fn warning_then_error_in_the_same_loop() {
    let log = "\
. forvalues i = 1/2 {
  2.     capture noisily confirm variable a`i'
  3.     gen z = nothere
  4. }
variable a1 not found
nothere not found
r(111);
";
    let s = scan(log);
    let e = s.error.unwrap();
    assert_eq!(e.message, "nothere not found");
    assert_eq!(e.command.as_deref(), Some("forvalues i = 1/2 {"));
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].message, "variable a1 not found");
}

#[test]
fn break_is_an_interruption() {
    let s = scan(". sleep 100000\n--Break--\nr(1);\n");
    assert!(s.interrupted);
    let e = s.error.unwrap();
    assert_eq!((e.code, e.message.as_str()), (Some(1), "--Break--"));
    assert_eq!(e.command.as_deref(), Some("sleep 100000"));
    // Killed before `r(1);` reached the log.
    let s = scan(". sleep 100000\n--Break--\n");
    assert!(s.interrupted);
    assert_eq!(s.error.unwrap().code, Some(1));
}

#[test]
fn wrapped_and_continued_commands_are_joined() {
    let l1 = format!(". gen {} = 1 +", "a".repeat(WRAP_WIDTH - 12));
    assert_eq!(l1.len(), WRAP_WIDTH);
    let log = format!("{l1}\n> 2 + bad\nbad not found\nr(111);\n");
    let e = scan(&log).error.unwrap();
    assert_eq!(
        e.command.unwrap(),
        format!("gen {} = 1 +2 + bad", "a".repeat(WRAP_WIDTH - 12))
    );
    let e = scan(". regress y x1 ///\n>     x2, robustt\noption robustt not allowed\nr(198);\n")
        .error
        .unwrap();
    assert_eq!(e.command.as_deref(), Some("regress y x1 x2, robustt"));
    assert_eq!(
        e.hint.as_deref(),
        Some("check the syntax of regress with stata_help")
    );
}

#[test]
fn do_file_stack_and_missing_do_file() {
    let log = "\
. do a.do

. do \"sub dir/b.do\"

. run quiet.do

. use nothing
file nothing.dta not found
r(601);

end of do-file
r(601);
";
    let e = scan(log).error.unwrap();
    assert_eq!(e.code, Some(601));
    assert_eq!(e.stack, vec!["a.do", "sub dir/b.do"]);
    assert!(e.hint.unwrap().contains("relative path"));

    let e = scan(". do missing.do\nfile missing.do not found\nr(601);\n")
        .error
        .unwrap();
    assert!(e.stack.is_empty());
    assert_eq!(e.command.as_deref(), Some("do missing.do"));

    let log =
        ". do a.do\n\n. display 1\n1\n\n. \nend of do-file\n\n. gen x = y\ny not found\nr(111);\n";
    assert!(scan(log).error.unwrap().stack.is_empty());
}

#[test]
fn an_error_followed_by_more_commands_was_captured() {
    let log = "\
. capture noisily do sub.do

. gen x = y
y not found
r(111);

end of do-file

. display 2
2
";
    let s = scan(log);
    assert_eq!(s.error, None);
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].code, Some(111));
}

#[test]
fn license() {
    let s = scan("License is invalid\n");
    assert_eq!(s.license.as_deref(), Some("License is invalid"));
    assert_eq!(s.error, None);
    let s = scan("Cannot find license file /usr/local/stata/stata.lic\n");
    assert!(s.license.unwrap().contains("stata.lic"));
    // A user's output mentioning it is not a licence failure.
    let s = scan(". display \"stata.lic\"\nstata.lic\n");
    assert_eq!(s.license, None);
}

#[test]
fn hints() {
    let e = scan(". foo x\ncommand foo is unrecognized\nr(199);\n")
        .error
        .unwrap();
    assert!(e.hint.unwrap().contains("ssc install foo"));
    let e = scan(". use /data/x.dta\nfile /data/x.dta not found\nr(601);\n")
        .error
        .unwrap();
    assert_eq!(e.hint, None);
    let e = scan(". graph export a.png\ntranslator Graph2png not found\nr(111);\n")
        .error
        .unwrap();
    assert!(e.hint.unwrap().contains("SVG"));
    let e = scan(". reg y x if 0\nno observations\nr(2000);\n")
        .error
        .unwrap();
    assert!(e.hint.is_some());
    let e = scan(". mystery\nsomething odd\nr(459);\n").error.unwrap();
    assert_eq!((e.message.as_str(), e.hint), ("something odd", None));
}

#[test]
fn trace_lines_are_not_messages() {
    let log = "\
. demo 2
  ---------------------------------------------------------------- begin demo ---
  - capture noisily confirm variable __x__
    ------------------------------------------------------------- begin confirm ---
    - error 111
variable __x__ not found
    --------------------------------------------------------------- end confirm ---
  - display \"go on\"
go on
  - gen y = bad
bad not found
  ------------------------------------------------------------------ end demo ---
r(111);
";
    let s = scan(log);
    let e = s.error.unwrap();
    assert_eq!(e.message, "bad not found");
    assert_eq!(e.command.as_deref(), Some("demo 2"));
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(
        s.warnings[0].command.as_deref(),
        Some("capture noisily confirm variable __x__")
    );
}

#[test]
fn bounded_in_memory() {
    let mut s = ErrorScanner::new();
    s.push_line(". forvalues i = 1/1000000 {");
    s.push_line("  2.     capture noisily confirm variable v`i'");
    s.push_line("  3. }");
    for i in 0..200_000 {
        s.push_line(&format!("variable v{i} not found"));
        s.push_line(&"x".repeat(100));
    }
    assert!(s.message.len() <= MAX_MESSAGE_LINES);
    assert!(s.captured.held() <= crate::log::captured::MAX_PENDING);
    let scan = s.finish();
    assert_eq!(scan.warnings.len(), crate::log::captured::MAX_WARNINGS);
    assert!(scan.warnings_omitted > 0);
}

#[test]
fn captured_errors_the_table_does_not_know_are_read_by_their_grammar() {
    let s = scan(
        ". capture noisily local n = `test' + 1\n'test' found where number expected\n\n\
         . capture noisily set linesize 300\nlinesize must be between 40 and 255\n\n\
         . display \"done\"\ndone\n",
    );
    assert_eq!(s.error, None);
    let got: Vec<(Option<i32>, &str)> = s
        .warnings
        .iter()
        .map(|w| (w.code, w.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (None, "'test' found where number expected"),
            (None, "linesize must be between 40 and 255"),
        ]
    );
    // Not under capture noisily, the same text is output, not an error.
    let s = scan(". display \"x must be between 1 and 2\"\nx must be between 1 and 2\n");
    assert!(s.warnings.is_empty() && s.error.is_none());
    // An uncaptured one with its r(N) is the run's error, not a warning too.
    let s = scan(". set linesize 300\nlinesize must be between 40 and 255\nr(198);\n");
    assert_eq!(s.error.as_ref().map(|e| e.code), Some(Some(198)));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn a_do_files_long_path_wrapped_by_stata_is_whole_in_the_stack() {
    let s = scan(
        ". do \"/home/ana/projects/replication-package-2026/code/02_analysis/estimate_mai\n\
         > n_models.do\"\n\n. regress y x\nvariable y not found\nr(111);\n\nend of do-file\nr(111);\n",
    );
    let e = s.error.expect("error");
    assert_eq!(
        e.stack,
        vec![
            "/home/ana/projects/replication-package-2026/code/02_analysis/estimate_main_models.do"
        ]
    );
}

#[test]
fn a_command_holding_line_breaks_keeps_its_last_line_after_a_bare_wrap() {
    // As Stata 17 echoes a multi-line command sent as one (rzhang's log): its lines, a blank,
    // the last one after `> `, a blank, then the error.
    let s = scan(
        ". \nuse data.dta, clear\nlist category if inlist(category, \"a\",\n>  \"b\"), noobs\n\n\
         > restore\n \n\nuse is not a valid command name\nr(199);\n",
    );
    let e = s.error.expect("error");
    assert_eq!(e.message, "use is not a valid command name");
    assert_eq!(
        e.command.as_deref(),
        Some(
            "use data.dta, clear\nlist category if inlist(category, \"a\", \"b\"), noobs\nrestore"
        )
    );
}

#[test]
fn an_included_file_does_not_take_the_end_of_the_do_file_that_included_it() {
    // main runs sub.do, which includes config.do (no `end of do-file` of its own); sub ends;
    // a later error in main has main alone on its stack, not sub.
    let s = scan(
        ". do \"main.do\" \n\n. do \"sub.do\"\n\n. include \"config.do\"\n\n. global x 1\n\n. \n\
         end of do-file\n\n. gen y = nosuch\nnosuch not found\nr(111);\n\nend of do-file\nr(111);\n",
    );
    let e = s.error.expect("error");
    assert_eq!(e.stack, vec!["main.do"]);
}
