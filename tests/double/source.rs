//! Splits do-file text into commands the way Stata reads it: `///` continuations,
//! `/* */` and `//` comments, `*` comment lines, and `#delimit ;`.
//!
//! Each command keeps the physical lines it came from, because Stata echoes what was
//! written (`. cmd ///` then `> rest`), and separately the text it will execute.

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// An empty line: echoed `. ` with no blank line after.
    Blank,
    /// A comment-only command: echoed, no blank line after.
    Comment,
    /// `#delimit ;` or `#delimit cr` (true for `;`).
    Delimit(bool),
    Command,
}

#[derive(Clone, Debug)]
pub(crate) struct Cmd {
    /// The physical lines as written: echoed `. first` then `> next`.
    pub echo: Vec<String>,
    /// The command with comments removed and continuations joined.
    pub text: String,
    pub kind: Kind,
}

/// Scanner state that survives from one physical line to the next.
#[derive(Default)]
struct State {
    comment_depth: usize,
}

/// Removes comments from one physical line. Returns the code left and whether the
/// line ends in `///` (the command continues on the next line).
fn strip_line(line: &str, st: &mut State) -> (String, bool) {
    let b: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut in_quote = false;
    while i < b.len() {
        let at = |k: usize| b.get(i + k).copied();
        if st.comment_depth > 0 {
            if at(0) == Some('*') && at(1) == Some('/') {
                st.comment_depth -= 1;
                i += 2;
            } else if at(0) == Some('/') && at(1) == Some('*') {
                st.comment_depth += 1;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        let c = b[i];
        if c == '"' {
            in_quote = !in_quote;
        }
        if !in_quote {
            if c == '/' && at(1) == Some('*') {
                st.comment_depth += 1;
                i += 2;
                continue;
            }
            // `//` and `///` are comments only at the start or after a blank, so that
            // `http://x` survives.
            let after_space = i == 0 || b[i - 1].is_whitespace();
            if c == '/' && at(1) == Some('/') && after_space {
                let continued = at(2) == Some('/');
                return (out, continued);
            }
        }
        out.push(c);
        i += 1;
    }
    (out, false)
}

fn delimit_arg(text: &str) -> Option<bool> {
    let mut words = text.split_whitespace();
    let first = words.next()?;
    if !(first.len() >= 2 && "#delimit".starts_with(first)) {
        return None;
    }
    Some(words.next().is_some_and(|w| w.starts_with(';')))
}

fn classify(echo: Vec<String>, text: String) -> Cmd {
    let t = text.trim();
    let kind = if let Some(semi) = delimit_arg(t) {
        Kind::Delimit(semi)
    } else if t.is_empty() {
        if echo.iter().all(|l| l.trim().is_empty()) {
            Kind::Blank
        } else {
            Kind::Comment
        }
    } else if t.starts_with('*') {
        Kind::Comment
    } else {
        Kind::Command
    };
    Cmd {
        echo,
        text: t.to_string(),
        kind,
    }
}

/// Parses a whole do-file.
pub(crate) fn parse(src: &str) -> Vec<Cmd> {
    let lines: Vec<&str> = src
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut cmds = Vec::new();
    let mut st = State::default();
    let mut semicolon = false;
    let mut i = 0;
    while i < lines.len() {
        if semicolon {
            i = parse_semicolon(&lines, i, &mut st, &mut cmds, &mut semicolon);
            continue;
        }
        let mut echo = vec![lines[i].to_string()];
        let (mut text, mut cont) = strip_line(lines[i], &mut st);
        // A `*` comment line is a comment whatever follows on it.
        let star = text.trim_start().starts_with('*') && echo[0].trim_start().starts_with('*');
        i += 1;
        while (cont || st.comment_depth > 0) && i < lines.len() {
            echo.push(lines[i].to_string());
            let (more, c) = strip_line(lines[i], &mut st);
            text.push(' ');
            text.push_str(&more);
            cont = c;
            i += 1;
        }
        if star {
            text = format!("*{}", text.trim_start().trim_start_matches('*'));
        }
        let cmd = classify(echo, text);
        if let Kind::Delimit(semi) = cmd.kind {
            semicolon = semi;
        }
        cmds.push(cmd);
    }
    cmds
}

/// Reads one or more commands under `#delimit ;`, starting at physical line `i`.
/// Returns the index of the next unread line.
fn parse_semicolon(
    lines: &[&str],
    mut i: usize,
    st: &mut State,
    cmds: &mut Vec<Cmd>,
    semicolon: &mut bool,
) -> usize {
    let first = lines[i];
    // `#delimit cr` needs no semicolon.
    if let Some(semi) = delimit_arg(first.trim()) {
        cmds.push(classify(vec![first.to_string()], first.trim().to_string()));
        *semicolon = semi;
        return i + 1;
    }
    if first.trim().is_empty() && st.comment_depth == 0 {
        cmds.push(classify(vec![first.to_string()], String::new()));
        return i + 1;
    }
    let mut echo = Vec::new();
    let mut text = String::new();
    while i < lines.len() {
        let line = lines[i];
        echo.push(line.to_string());
        let (code, _) = strip_line(line, st);
        i += 1;
        if let Some(pos) = code.find(';') {
            text.push_str(&code[..pos]);
            let rest = code[pos + 1..].trim();
            cmds.push(classify(echo, text));
            // Further commands on the same line, each ended by its own `;`.
            for piece in rest.split_inclusive(';') {
                if let Some(p) = piece.strip_suffix(';') {
                    cmds.push(classify(vec![piece.trim().to_string()], p.to_string()));
                }
            }
            return i;
        }
        text.push_str(&code);
        text.push(' ');
    }
    cmds.push(classify(echo, text));
    i
}
