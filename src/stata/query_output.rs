//! Reads what a query printed: its output cut at each command's echo, the values of marked
//! `display` lines, and `summarize`'s table as numbers.

use schemars::JsonSchema;
use serde::Serialize;

use super::log_lines::echo_text;
use super::stored::parse_number;

/// One row of `summarize`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub(crate) struct SummaryRow {
    pub variable: String,
    pub obs: Option<f64>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Splits a query's output at the echo of each command (`. cmd`, wrapped or not).
pub(crate) fn split_sections(text: &str, commands: &[String]) -> Vec<Vec<String>> {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let wanted: Vec<String> = commands.iter().map(|c| squash(c)).collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut sections: Vec<Vec<String>> = vec![Vec::new(); commands.len()];
    let mut current: Option<usize> = None;
    let mut next = 0;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if next < commands.len()
            && let Some(first) = echo_text(l)
        {
            // Join the echo's continuation lines while they still match the command.
            let mut joined = squash(first);
            let mut j = i + 1;
            while joined.len() < wanted[next].len()
                && wanted[next].starts_with(&joined)
                && let Some(more) = lines.get(j).and_then(|m| m.strip_prefix("> "))
            {
                joined.push_str(&squash(more));
                j += 1;
            }
            if joined == wanted[next] {
                current = Some(next);
                next += 1;
                i = j;
                continue;
            }
        }
        if let Some(k) = current {
            sections[k].push(l.to_owned());
        }
        i += 1;
    }
    for s in &mut sections {
        while s.last().is_some_and(|l| l.trim().is_empty()) {
            s.pop();
        }
        while s.first().is_some_and(|l| l.trim().is_empty()) {
            s.remove(0);
        }
    }
    sections
}

/// The value a `display "MARK:" ...` line printed, joining wrapped continuation lines.
pub(crate) fn marked(section: &[String], mark: &str) -> Option<String> {
    let k = section.iter().position(|l| l.starts_with(mark))?;
    let mut v = section[k][mark.len()..].to_owned();
    for l in &section[k + 1..] {
        match l.strip_prefix("> ") {
            Some(more) => v.push_str(more),
            None => break,
        }
    }
    Some(v)
}

pub(crate) fn count_of(s: Option<String>) -> Option<u64> {
    let x: f64 = s?.trim().parse().ok()?;
    (x.is_finite() && x >= 0.0).then_some(x as u64)
}

/// Reads `summarize`'s table: `   price |   74   6165.257   2949.496   3291   15906`.
pub(crate) fn parse_summary(lines: &[String]) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for l in lines {
        let Some((name, rest)) = l.split_once('|') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name == "Variable" || name.starts_with('-') {
            continue;
        }
        let nums: Vec<Option<f64>> = rest.split_whitespace().map(parse_number).collect();
        let get = |k: usize| nums.get(k).copied().flatten();
        rows.push(SummaryRow {
            variable: name.to_owned(),
            obs: get(0),
            mean: get(1),
            sd: get(2),
            min: get(3),
            max: get(4),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_at_echoes_even_when_wrapped() {
        let cmds = vec![
            "display \"M:\" c(N)".to_owned(),
            format!("summarize {}", "averyveryverylongname ".repeat(5).trim()),
        ];
        let text = format!(
            ". display \"M:\" c(N)\nM:74\n\n. {}\n> {}\n\n    Variable |   Obs\n",
            &format!("summarize {}", "averyveryverylongname ".repeat(5).trim())[..60],
            &format!("summarize {}", "averyveryverylongname ".repeat(5).trim())[60..],
        );
        let s = split_sections(&text, &cmds);
        assert_eq!(s[0], vec!["M:74"]);
        assert_eq!(s[1], vec!["    Variable |   Obs"]);
    }

    #[test]
    fn summary_rows_are_numbers() {
        let lines: Vec<String> =
            "    Variable |        Obs        Mean    Std. dev.       Min        Max
-------------+---------------------------------------------------------
       price |         74    6165.257    2949.496       3291      15906
        make |          0"
                .lines()
                .map(str::to_owned)
                .collect();
        let rows = parse_summary(&lines);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].variable, "price");
        assert_eq!(rows[0].max, Some(15906.0));
        assert_eq!(rows[1].obs, Some(0.0));
        assert_eq!(rows[1].mean, None);
    }
}
