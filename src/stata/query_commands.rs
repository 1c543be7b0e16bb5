//! The Stata commands each session query sends, and how the marked lines they print are read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::query_output::{count_of, marked};
use super::stored::ResultClass;

/// Marks the `display` lines whose values a query reads back.
pub(crate) const NK_MARK: &str = "STATA_MCP_NK:";
pub(crate) const COUNT_MARK: &str = "STATA_MCP_COUNT:";
const VERSION_MARK: &str = "STATA_MCP_VER:";
const PWD_MARK: &str = "STATA_MCP_PWD:";
/// Full precision for matrix values (the default `%10.0g` keeps about 8 digits).
const MATRIX_FORMAT: &str = "%18.0g";

/// What `stata_inspect_data` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum InspectWhat {
    Describe,
    Summarize,
    List,
    Codebook,
}

/// The commands of one inspection, and which of them prints what the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InspectPlan {
    pub commands: Vec<String>,
    /// The command that shows the data (`summarize price`, `list ... if _n <= 20`).
    pub main: String,
    pub main_at: usize,
}

/// The commands that inspect the data: the observation and variable counts first, then
/// `what` of `vars` (checked names, space-separated; empty for all) where `cond` holds
/// (checked), `rows` rows at most for `list`.
pub(crate) fn inspect_plan(
    what: InspectWhat,
    vars: &str,
    cond: Option<&str>,
    rows: u32,
) -> Result<InspectPlan, String> {
    let if_part = cond.map(|c| format!(" if ({c})")).unwrap_or_default();
    let with_vars = |cmd: &str| {
        if vars.is_empty() {
            cmd.to_owned()
        } else {
            format!("{cmd} {vars}")
        }
    };
    let mut commands = vec![format!("display \"{NK_MARK}\" c(N) \" \" c(k)")];
    let main = match what {
        InspectWhat::Describe => {
            if cond.is_some() {
                return Err(
                    "if does not apply to describe (it describes variables, not observations)"
                        .into(),
                );
            }
            with_vars("describe")
        }
        InspectWhat::Summarize => format!("{}{if_part}", with_vars("summarize")),
        InspectWhat::Codebook => format!("{}{if_part}", with_vars("codebook")),
        InspectWhat::List => {
            if !vars.is_empty() {
                // Checked first so that a misspelt name fails before anything changes.
                commands.push(format!("confirm variable {vars}"));
            }
            if let Some(c) = cond {
                commands.push(format!("quietly count if ({c})"));
                commands.push(format!("display \"{COUNT_MARK}\" r(N)"));
                // The first n matching rows: keep them in a preserved copy, then restore.
                commands.push("preserve".into());
                commands.push(format!("quietly keep if ({c})"));
            }
            format!("{} if _n <= {rows}", with_vars("list"))
        }
    };
    commands.push(main.clone());
    let main_at = commands.len() - 1;
    if what == InspectWhat::List && cond.is_some() {
        commands.push("restore".into());
    }
    Ok(InspectPlan {
        commands,
        main,
        main_at,
    })
}

/// Observations and variables in memory, from the section of the counts command.
pub(crate) fn read_counts(section: &[String]) -> (Option<u64>, Option<u64>) {
    let nk = marked(section, NK_MARK).unwrap_or_default();
    let mut nk = nk.split_whitespace();
    (
        count_of(nk.next().map(str::to_owned)),
        count_of(nk.next().map(str::to_owned)),
    )
}

/// How many observations met the condition, from any section of an inspection.
pub(crate) fn read_matching(sections: &[Vec<String>]) -> Option<u64> {
    sections
        .iter()
        .find_map(|s| marked(s, COUNT_MARK))
        .and_then(|v| count_of(Some(v)))
}

/// Lists stored matrix `name` of `class` at full precision.
/// Captured, so one matrix that cannot be listed does not lose the others: its error is
/// printed in its own section instead.
pub(crate) fn matrix_list(class: ResultClass, name: &str) -> String {
    let c = class.letter();
    format!("capture noisily matrix list {c}({name}), format({MATRIX_FORMAT})")
}

/// Shows the help for `topic` (checked).
pub(crate) fn help_command(topic: &str) -> String {
    format!("help {topic}")
}

/// The commands of a status query: version, edition flags and counts, then the folder.
pub(crate) fn status_commands() -> Vec<String> {
    // Version and edition from flags every Stata since 11 has (c(edition) is newer).
    vec![
        format!(
            "display \"{VERSION_MARK}\" c(stata_version) \" \" c(MP) \" \" c(SE) \" \" \
             c(N) \" \" c(k)"
        ),
        format!("display \"{PWD_MARK}\" c(pwd)"),
    ]
}

/// What a status query found.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StatusFacts {
    pub version: Option<f64>,
    /// MP, SE, BE (IC before Stata 17).
    pub edition: Option<String>,
    pub observations: Option<u64>,
    pub variables: Option<u64>,
    pub pwd: Option<String>,
}

/// Reads the sections of [`status_commands`].
pub(crate) fn read_status(sections: &[Vec<String>]) -> StatusFacts {
    let mut facts = StatusFacts::default();
    if let Some(v) = sections.first().and_then(|s| marked(s, VERSION_MARK)) {
        let f: Vec<&str> = v.split_whitespace().collect();
        let num = |k: usize| f.get(k).and_then(|s| s.parse::<f64>().ok());
        facts.version = num(0);
        let flag = |k: usize| num(k) == Some(1.0);
        let edition = if flag(1) {
            "MP"
        } else if flag(2) {
            "SE"
        } else if facts.version.is_some_and(|v| v < 17.0) {
            "IC"
        } else {
            "BE"
        };
        facts.edition = Some(edition.to_owned());
        facts.observations = count_of(f.get(3).map(|s| (*s).to_owned()));
        facts.variables = count_of(f.get(4).map(|s| (*s).to_owned()));
    }
    facts.pwd = sections
        .get(1)
        .and_then(|s| marked(s, PWD_MARK))
        .map(|p| p.trim().to_owned());
    facts
}

/// Lists the graphs in memory (and `.gph` files on disk, which [`graph_names`] leaves out).
pub(crate) const GRAPH_DIR: &str = "graph dir";

/// Words that start a command drawing a graph (or running a do-file that may).
const DRAWING_WORDS: &[&str] = &[
    "graph",
    "gr",
    "gra",
    "twoway",
    "tw",
    "scatter",
    "sc",
    "line",
    "histogram",
    "hist",
    "histo",
    "kdensity",
    "lowess",
    "qnorm",
    "pnorm",
    "binscatter",
    "tsline",
    "xtline",
    "grc1leg",
    "do",
    "run",
    "include",
    "ru",
];

/// Whether `code` may draw a graph: it names a graph command (or runs a do-file) somewhere;
/// so do the `...plot` commands (`marginsplot`, `coefplot`, `rvfplot`, `avplot`).
pub(crate) fn may_draw(code: &str) -> bool {
    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| DRAWING_WORDS.contains(&w) || (w.len() > 4 && w.ends_with("plot")))
}

/// Exports the graph in memory called `name` as SVG to `path` (every edition can).
pub(crate) fn graph_export_svg(
    name: &str,
    path: &str,
) -> Result<String, crate::stata::quote::Unquotable> {
    let path = crate::stata::quote::stata_quote(path)?;
    Ok(format!(
        "quietly graph export {path}, name({name}) as(svg) replace"
    ))
}

/// The names of the graphs in memory in `graph dir`'s output.
pub(crate) fn graph_names(output: &str) -> Vec<String> {
    output
        .split_whitespace()
        .filter(|w| crate::stata::input::is_stata_name(w))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_that_may_draw_is_told_from_code_that_cannot() {
        for draws in [
            "sysuse auto\nscatter price mpg",
            "tw (lfit y x)",
            "marginsplot",
            "tsline gdp",
            "xtline y",
            "graph bar mpg, over(rep78)",
            "hist price",
            "do analysis.do",
            "grc1leg a b",
        ] {
            assert!(may_draw(draws), "{draws:?}");
        }
        for not in [
            "summarize price",
            "regress y x",
            "display 1",
            "gen group = 1",
            "egen g = group(x)",
        ] {
            assert!(!may_draw(not), "{not:?}");
        }
    }

    #[test]
    fn a_list_with_a_condition_keeps_and_restores() {
        let plan =
            inspect_plan(InspectWhat::List, "price mpg", Some("foreign == 1"), 5).expect("plan");
        assert_eq!(plan.main, "list price mpg if _n <= 5");
        assert_eq!(plan.commands[plan.main_at], plan.main);
        assert_eq!(plan.commands[1], "confirm variable price mpg");
        assert!(
            plan.commands
                .contains(&"quietly keep if (foreign == 1)".to_owned())
        );
        assert_eq!(plan.commands.last().map(String::as_str), Some("restore"));
        assert!(inspect_plan(InspectWhat::Describe, "", Some("x > 1"), 5).is_err());
        let plan = inspect_plan(InspectWhat::Summarize, "", Some("x > 1"), 5).expect("plan");
        assert_eq!(plan.main, "summarize if (x > 1)");
    }

    #[test]
    fn status_tells_the_edition_from_the_flags() {
        let sec = |l: &str| vec![l.to_owned()];
        let facts = read_status(&[
            sec("STATA_MCP_VER:18.5 0 1 74 12"),
            sec("STATA_MCP_PWD:/home/me/project "),
        ]);
        assert_eq!(facts.version, Some(18.5));
        assert_eq!(facts.edition.as_deref(), Some("SE"));
        assert_eq!((facts.observations, facts.variables), (Some(74), Some(12)));
        assert_eq!(facts.pwd.as_deref(), Some("/home/me/project"));
        let old = read_status(&[sec("STATA_MCP_VER:16 0 0 0 0")]);
        assert_eq!(old.edition.as_deref(), Some("IC"));
    }
}
