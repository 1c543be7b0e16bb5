//! Which of the lines printed before `r(N);` are the error's message: only those Stata
//! prints for the error itself, or none (an `exit 198` prints nothing, and the output before
//! it, a table or a log-close block, is not a message).

use crate::stata::command::strip_prefixes;
use crate::stata::messages::{known_message, mata_error};

/// The message of an error with `code`, from the output lines printed since the failing
/// command's echo (`window`, oldest first; an empty string marks a blank line). `command` is
/// the failing command, whose own output may begin the message's line (`display "x = " y`
/// prints `x = ` before `y not found`).
pub(crate) fn error_message(window: &[String], code: i32, command: Option<&str>) -> String {
    let mut lines = logical_lines(window);
    if let Some(cmd) = command
        && let Some(first) = lines.first_mut()
    {
        *first = strip_display_output(first, cmd).to_owned();
    }
    pick(&lines, code).join("\n").trim().to_owned()
}

/// The window with Stata's wrapping undone: a `    > ` line continues the one before (a
/// word cut in two), and a one-word line (`file`, `(file`) followed by an indented line is
/// one line that Stata broke before a long path.
fn logical_lines(window: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut join_next = false;
    for line in window {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("> ")
            && line.len() > t.len()
            && let Some(last) = out.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if join_next
            && line.starts_with("    ")
            && !t.is_empty()
            && let Some(last) = out.last_mut()
        {
            last.push(' ');
            last.push_str(t);
            join_next = false;
            continue;
        }
        join_next =
            !line.is_empty() && !line.starts_with(' ') && !line.contains(' ') && line.len() <= 12;
        out.push(line.clone());
    }
    out
}

/// The message lines among `lines`.
fn pick(lines: &[String], code: i32) -> Vec<String> {
    // Mata names its own code: `<istmt>:  3499  y not found`.
    if let Some(i) = lines.iter().rposition(|l| mata_error(l).is_some()) {
        return vec![lines[i].trim().to_owned()];
    }
    // Python's own error, which Stata reports as r(7102) after the traceback.
    if code == 7102
        && let Some(l) = lines.iter().rev().find(|l| is_python_error(l))
    {
        return vec![l.trim().to_owned()];
    }
    // A message Stata is known to print for this code: it and its indented explanation.
    if let Some(i) = lines
        .iter()
        .rposition(|l| known_message(l).is_some_and(|(c, _)| c == code))
    {
        return with_explanation(&lines[i..]);
    }
    // Otherwise the last line at column 0, with the indented lines after it, if they
    // reach the end and look like a message rather than output.
    let Some(i) = lines
        .iter()
        .rposition(|l| !l.starts_with([' ', '\t']) && !l.is_empty())
    else {
        return Vec::new();
    };
    let msg = with_explanation(&lines[i..]);
    let rest_blank = lines[i + msg.len()..].iter().all(String::is_empty);
    if !rest_blank || msg.iter().any(|l| is_output_like(l)) {
        return Vec::new();
    }
    msg
}

/// `lines[0]` and the indented lines after it, blank lines between them included (Stata's
/// explanation of some errors, in paragraphs).
fn with_explanation(lines: &[String]) -> Vec<String> {
    let mut end = 1;
    for (i, l) in lines.iter().enumerate().skip(1) {
        if l.starts_with("    ") && !is_output_like(l) {
            end = i + 1;
        } else if !l.is_empty() {
            break;
        }
    }
    lines[..end].to_vec()
}

/// A line no error message looks like: a table row or rule, a note in parentheses.
fn is_output_like(line: &str) -> bool {
    let t = line.trim();
    t.contains(" | ")
        || t.ends_with(" |")
        || t.starts_with('|')
        || t.starts_with('+')
        || (t.len() >= 3 && t.chars().all(|c| matches!(c, '-' | '=' | '+' | '#' | '*')))
        || (t.starts_with('(') && t.ends_with(')'))
}

/// `IndentationError: unexpected indent`, `KeyError: 'x'`, `ValueError`.
fn is_python_error(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or("").trim_end();
    !line.starts_with(' ')
        && !name.contains(' ')
        && (name.ends_with("Error") || name.ends_with("Exception") || name == "KeyboardInterrupt")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// `line` without what a failing `display` printed before its error: the text of the
/// string literals that lead its arguments, as far as the line repeats them.
fn strip_display_output<'a>(line: &'a str, command: &str) -> &'a str {
    let rest = strip_prefixes(command).rest;
    let mut words = rest.splitn(2, char::is_whitespace);
    let verb = words.next().unwrap_or("");
    if !matches!(verb, "di" | "dis" | "disp" | "displ" | "displa" | "display") {
        return line;
    }
    let printed = leading_literals(words.next().unwrap_or(""));
    if printed.is_empty() {
        return line;
    }
    let common = line
        .char_indices()
        .zip(printed.chars())
        .take_while(|((_, a), b)| a == b)
        .last()
        .map_or(0, |((i, a), _)| i + a.len_utf8());
    // The whole literal was printed, or it was cut where a macro was expanded in it.
    let at_macro = printed[common..].starts_with(['`', '$']);
    if common > 0 && (common == printed.len() || at_macro) && common < line.len() {
        &line[common..]
    } else {
        line
    }
}

/// The text of the string literals at the start of a `display`'s arguments, skipping the
/// directives that print nothing visible on the line (`as text`, `_col(5)`, `%9.2f`).
fn leading_literals(args: &str) -> String {
    let mut out = String::new();
    let mut s = args.trim_start();
    loop {
        if let Some(r) = s.strip_prefix('"') {
            let Some(end) = r.find('"') else { break };
            out.push_str(&r[..end]);
            s = r[end + 1..].trim_start();
        } else if let Some(r) = [
            "as text",
            "as txt",
            "as result",
            "as res",
            "as error",
            "as err",
            "as input",
        ]
        .iter()
        .find_map(|d| s.strip_prefix(d))
        {
            s = r.trim_start();
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(lines: &[&str], code: i32, command: Option<&str>) -> String {
        let window: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        error_message(&window, code, command)
    }

    #[test]
    fn a_table_or_a_rule_before_a_silent_exit_is_no_message() {
        let table = [
            "Compare pctile",
            "     - opts:  nq(10)",
            "    pctile | gquantiles",
            "      7.52 |  1.8",
        ];
        assert_eq!(msg(&table, 17999, Some("main")), "");
        let close = [
            "End: 00:13",
            "      name:  t",
            "  log type:  text",
            "-------------------",
        ];
        assert_eq!(msg(&close, 198, Some("main, `0'")), "");
    }

    #[test]
    fn progress_lines_and_tables_before_the_message_are_left_out() {
        let lines = [
            "checking reghdfe consistency and verifying not already installed...",
            "installing into /home/k/ado/plus/...",
            "insufficient disk space",
        ];
        assert_eq!(msg(&lines, 699, None), "insufficient disk space");
        let lines = [
            "    event_m4 |  -.03   .02",
            "---------------",
            "_est_x invalid name",
        ];
        assert_eq!(msg(&lines, 7, None), "_est_x invalid name");
    }

    #[test]
    fn an_explanation_indented_under_the_message_belongs_to_it() {
        let lines = [
            "(note: x)",
            "unable to allocate matrix;",
            "    You have attempted to create",
            "    a matrix.",
        ];
        assert_eq!(
            msg(&lines, 915, None),
            "unable to allocate matrix;\n    You have attempted to create\n    a matrix."
        );
    }

    #[test]
    fn a_wrapped_note_and_a_wrapped_message_are_told_apart() {
        let lines = [
            "(file",
            "    /home/t/qa/test_gcomp.l",
            "    > og not found)",
            "file",
            "    /home/t/qa/test_gcomp.l",
            "    > og could not be opened",
        ];
        assert_eq!(
            msg(&lines, 603, None),
            "file /home/t/qa/test_gcomp.log could not be opened"
        );
    }

    #[test]
    fn what_a_failing_display_printed_first_is_not_the_message() {
        let cmd = r#"display "  Sparsity = " %12.4f cqreg_sparsity"#;
        assert_eq!(
            msg(&["  Sparsity = cqreg_sparsity not found"], 111, Some(cmd)),
            "cqreg_sparsity not found"
        );
        let cmd = r#"di as text "Maximum absolute difference: " as result %g `max_diff'"#;
        assert_eq!(
            msg(
                &["Maximum absolute difference: invalid %format"],
                120,
                Some(cmd)
            ),
            "invalid %format"
        );
        let cmd = r#"di as error "  FAIL: not quoted (line2=`line2')""#;
        assert_eq!(
            msg(&["  FAIL: not quoted (line2=AMC not found"], 111, Some(cmd)),
            "AMC not found"
        );
        // A display that printed nothing of its own leaves the line alone.
        assert_eq!(msg(&["x not found"], 111, Some("display x")), "x not found");
    }

    #[test]
    fn mata_and_python_name_their_own_errors() {
        assert_eq!(
            msg(
                &["                 <istmt>:  3499  y not found"],
                3499,
                None
            ),
            "<istmt>:  3499  y not found"
        );
        let tb = [
            "  File \"<stdin>\", line 2",
            "IndentationError: unexpected indent",
            "(0 lines skipped)",
            "------",
        ];
        assert_eq!(
            msg(&tb, 7102, Some("python:")),
            "IndentationError: unexpected indent"
        );
    }

    #[test]
    fn the_last_paragraph_holds_the_message() {
        let lines = ["desc", "su", "", "use is not a valid command name"];
        assert_eq!(msg(&lines, 199, None), "use is not a valid command name");
    }
}
