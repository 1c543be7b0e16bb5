//! Splits do-file text into Stata statements with the line each starts on: `///`
//! continuations joined, comments dropped, `#delimit ;` followed.

/// Splits do-file text into statements with their first line number: joins `///`
/// continuations, drops `//` and `/* */` comments and `*` comment lines, and follows
/// `#delimit ;`.
pub(crate) fn statements(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut semicolon = false;
    let mut in_block_comment = false;
    let mut current = String::new();
    let mut start_line = 1;
    for (i, raw) in code.lines().enumerate() {
        let line_no = i + 1;
        let line = strip_comments(raw, &mut in_block_comment);
        let trimmed = line.trim();
        if current.is_empty() {
            start_line = line_no;
        }
        if let Some(rest) = trimmed
            .strip_prefix("#delimit")
            .or_else(|| trimmed.strip_prefix("#d "))
        {
            semicolon = rest.trim().starts_with(';');
            continue;
        }
        if semicolon {
            for (k, piece) in trimmed.split(';').enumerate() {
                if k > 0 {
                    out.push((start_line, std::mem::take(&mut current)));
                    start_line = line_no;
                }
                if !piece.trim().is_empty() {
                    if !current.is_empty() {
                        current.push(' ');
                    }
                    current.push_str(piece.trim());
                }
            }
            continue;
        }
        if let Some(head) = trimmed.strip_suffix("///") {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        if trimmed.starts_with('*') && current.is_empty() {
            continue;
        }
        current.push_str(trimmed);
        out.push((start_line, std::mem::take(&mut current)));
    }
    if !current.trim().is_empty() {
        out.push((start_line, current));
    }
    out
}

/// How many commands of `code` Stata echoes at its top level (`. cmd`): the statements
/// outside the bodies of `{ }` blocks, `program` definitions and `mata`/`python` blocks,
/// whose lines it echoes numbered or not at all.
pub(crate) fn top_level_commands(code: &str) -> usize {
    let mut count = 0;
    let mut braces = 0usize;
    let mut until_end = false;
    for (_, stmt) in statements(code) {
        let stmt = stmt.trim();
        if stmt.is_empty() {
            continue;
        }
        if until_end {
            until_end = stmt != "end";
            continue;
        }
        if braces == 0 {
            count += 1;
        }
        if stmt.ends_with('{') {
            braces += 1;
        } else if stmt.starts_with('}') {
            braces = braces.saturating_sub(1);
        } else if braces == 0 && opens_end_block(stmt) {
            until_end = true;
        }
    }
    count
}

/// `program define NAME`, `mata` / `mata:` and `python` / `python:` alone: blocks that run
/// until a line `end`.
fn opens_end_block(stmt: &str) -> bool {
    let mut words = stmt.split_whitespace();
    let first = words.next().unwrap_or("");
    let second = words.next();
    let (head, after_colon) = match first.split_once(':') {
        Some((h, rest)) => (h, !rest.is_empty() || second.is_some()),
        None => (first, false),
    };
    match head {
        "mata" | "python" => !after_colon && (second.is_none() || first.ends_with(':')),
        _ if super::command::is_abbrev(head, "program", 2) => {
            !matches!(second, Some("drop" | "dir" | "list")) && second.is_some()
        }
        _ => false,
    }
}

/// Removes `/* */` and `//` comments (not inside double quotes).
fn strip_comments(line: &str, in_block: &mut bool) -> String {
    let mut out = String::with_capacity(line.len());
    let b = line.as_bytes();
    let mut i = 0;
    let mut in_quote = false;
    while i < b.len() {
        if *in_block {
            if b[i..].starts_with(b"*/") {
                *in_block = false;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        if b[i] == b'"' {
            in_quote = !in_quote;
        } else if !in_quote && b[i..].starts_with(b"/*") {
            *in_block = true;
            i += 2;
            continue;
        } else if !in_quote
            && b[i..].starts_with(b"//")
            && !b[i..].starts_with(b"///")
            && (i == 0 || b[i - 1].is_ascii_whitespace())
        {
            break;
        }
        // Safe: we only split at ASCII bytes, so `i` is a char boundary here.
        let ch_len = line[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&line[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_carry_their_first_line() {
        let text = "* a comment\ndisplay 1 ///\n   + 2\n/* block\n comment */ gen x = 1 // note\n#delimit ;\nsum x;\n list\n x;\n#delimit cr\nexit\n";
        let got: Vec<(usize, String)> = statements(text)
            .into_iter()
            .map(|(n, s)| (n, s.split_whitespace().collect::<Vec<_>>().join(" ")))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "display 1 + 2".to_owned()),
                (5, "gen x = 1".to_owned()),
                (7, "sum x".to_owned()),
                (8, "list x".to_owned()),
                (11, "exit".to_owned()),
            ]
        );
    }

    #[test]
    fn top_level_commands_are_those_stata_echoes_with_a_dot() {
        let code = "sysuse auto\n\
                    foreach v in price mpg {\n  summarize `v'\n  display 1\n}\n\
                    program define hi\n  display \"hi\"\nend\n\
                    mata:\nx = 1\nend\n\
                    mata: y = 2\n\
                    * a comment\n\
                    regress price mpg ///\n  weight\n";
        // sysuse, foreach, program, mata:, mata: y, regress
        assert_eq!(top_level_commands(code), 6);
        assert_eq!(top_level_commands(""), 0);
    }
}
