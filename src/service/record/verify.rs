//! Judging a replay: the replay's log cut at each step's mark, each step's estimates and
//! output compared with the record (run-dependent text set aside), and the likely causes of a
//! difference named (a data file changed since it was read, random draws without a seed).

use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use super::compare::num;
use super::export::STEP_MARK;
use super::step::Step;
use crate::run::RunSource;
use crate::service::background::summary_of;
use crate::stata::estimates::{Estimate, estimates};
use crate::stata::log_lines::{echo_text, rc_line};

/// Relative difference below which two printed numbers are the same number.
const TOLERANCE: f64 = 1e-6;

/// A step whose replay differs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct StepDiffJson {
    pub step: u32,
    /// What the step ran, in one short line.
    pub what: String,
    pub differences: Vec<String>,
    /// What probably made it differ, if something is known to have changed.
    pub likely_cause: Option<String>,
}

/// A step the replay did not run to its end.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct NotRunJson {
    pub step: u32,
    pub why: String,
}

/// A data file whose bytes differ from when a step read it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct ChangedFileJson {
    pub path: String,
    /// The first step that read it.
    pub step: u32,
    /// `changed` or `missing`.
    pub how: String,
}

/// The verdict on each replayed step.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub(crate) struct Verdicts {
    pub identical: Vec<u32>,
    pub differing: Vec<StepDiffJson>,
    pub not_run: Vec<NotRunJson>,
}

/// Each step's part of the replay's log, by the step marks' echoes.
fn segments<'a>(lines: &[&'a str]) -> Vec<(u32, Vec<&'a str>)> {
    let mut out: Vec<(u32, Vec<&'a str>)> = Vec::new();
    for line in lines {
        if let Some(rest) = echo_text(line).and_then(|e| e.strip_prefix(STEP_MARK)) {
            let n = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok());
            if let Some(n) = n {
                out.push((n, Vec::new()));
                continue;
            }
        }
        if let Some((_, seg)) = out.last_mut() {
            seg.push(line);
        }
    }
    out
}

/// The replayed `steps` (the record's, in order) judged against the replay's log `lines`;
/// `recorded_output(n)` is step n's output as recorded; `changed` the data files changed
/// since they were read.
pub(crate) fn judge(
    steps: &[Step],
    lines: &[&str],
    recorded_output: impl Fn(u32) -> Option<String>,
    changed: &[ChangedFileJson],
    project: &Path,
) -> Verdicts {
    let segs = segments(lines);
    let mut v = Verdicts::default();
    let mut stopped_at: Option<u32> = None;
    for step in steps.iter().filter(|s| s.ok()) {
        // In one short line, as a job's summary says what it runs.
        let what = summary_of(&RunSource::Code(step.body()));
        let Some((_, seg)) = segs.iter().find(|(n, _)| *n == step.number) else {
            v.not_run.push(NotRunJson {
                step: step.number,
                why: match stopped_at {
                    Some(n) => format!("not reached: the replay stopped at step {n}"),
                    None => "not reached: the replay ended before it".to_owned(),
                },
            });
            continue;
        };
        if let Some(rc) = seg
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| rc_line(l))
        {
            let message = seg
                .iter()
                .rev()
                .skip_while(|l| l.trim().is_empty() || rc_line(l).is_some())
                .find(|l| !l.trim().is_empty())
                .map_or(String::new(), |l| format!(": {}", l.trim()));
            v.not_run.push(NotRunJson {
                step: step.number,
                why: format!("stopped with r({rc}){message}"),
            });
            stopped_at = Some(step.number);
            continue;
        }
        let mut differences =
            estimate_differences(&step.estimates, &estimates(seg.iter().copied()));
        if differences.is_empty()
            && let Some(recorded) = recorded_output(step.number)
            && let Some(d) = output_difference(&recorded, seg, project)
        {
            differences.push(d);
        }
        if differences.is_empty() {
            v.identical.push(step.number);
            continue;
        }
        let read_before: Vec<&ChangedFileJson> =
            changed.iter().filter(|c| c.step <= step.number).collect();
        let likely_cause = if let Some(c) = read_before.first() {
            Some(format!(
                "the data file {} is {} since step {} read it",
                c.path,
                if c.how == "missing" {
                    "missing"
                } else {
                    "changed"
                },
                c.step
            ))
        } else if step.random && !step.seeded {
            Some("the step draws random numbers with no seed set before it".to_owned())
        } else {
            None
        };
        v.differing.push(StepDiffJson {
            step: step.number,
            what,
            differences,
            likely_cause,
        });
    }
    v
}

/// How the replay's estimations differ from the recorded ones, one sentence each.
fn estimate_differences(recorded: &[Estimate], replayed: &[Estimate]) -> Vec<String> {
    let mut out = Vec::new();
    if recorded.len() != replayed.len() {
        out.push(format!(
            "{} estimation{} recorded, {} in the replay",
            recorded.len(),
            if recorded.len() == 1 { "" } else { "s" },
            replayed.len()
        ));
    }
    for (a, b) in recorded.iter().zip(replayed) {
        let label = format!("`{}`", a.command);
        if a.n != b.n {
            let n = |x: Option<u64>| x.map_or("?".to_owned(), |n| n.to_string());
            out.push(format!("{label}: N {} -> {}", n(a.n), n(b.n)));
        }
        if a.vce != b.vce || a.clusters != b.clusters {
            out.push(format!(
                "{label}: standard errors {}{} -> {}{}",
                a.vce,
                a.clusters
                    .map_or(String::new(), |k| format!(" ({k} clusters)")),
                b.vce,
                b.clusters
                    .map_or(String::new(), |k| format!(" ({k} clusters)"))
            ));
        }
        for c in &a.coefs {
            match b.coef(&c.name) {
                None => out.push(format!(
                    "{label}: no coefficient on {} in the replay",
                    c.name
                )),
                Some(d) => {
                    if !same(c.b, d.b) {
                        out.push(format!(
                            "{label}: coefficient on {} {} -> {}",
                            c.name,
                            num(c.b),
                            num(d.b)
                        ));
                    } else if !same(c.se, d.se) {
                        out.push(format!(
                            "{label}: standard error of {} {} -> {}",
                            c.name,
                            num(c.se),
                            num(d.se)
                        ));
                    }
                }
            }
        }
        for d in &b.coefs {
            if a.coef(&d.name).is_none() {
                out.push(format!(
                    "{label}: a coefficient on {} only in the replay",
                    d.name
                ));
            }
        }
    }
    out
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()).max(1e-12)
}

/// The first line where the outputs differ, run-dependent text set aside; none if the same.
fn output_difference(recorded: &str, replayed: &[&str], project: &Path) -> Option<String> {
    let a = comparable(recorded.lines(), project);
    let b = comparable(replayed.iter().copied(), project);
    if a == b {
        return None;
    }
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    Some(format!(
        "output differs at its line {}: recorded {:?}, replayed {:?}",
        at + 1,
        a.get(at).map_or("(end)", String::as_str),
        b.get(at).map_or("(end)", String::as_str)
    ))
}

/// Output lines as compared: blank lines, the replay's own lines (marks, `cd` and the folder
/// it prints, `clear all`, `do`, `end of do-file`), dates, times, log blocks, timers and
/// install chatter left out, the project's path written `<project>`.
fn comparable<'a>(lines: impl Iterator<Item = &'a str>, project: &Path) -> Vec<String> {
    let project = project.display().to_string();
    let mut out = Vec::new();
    let mut after_cd = false;
    // An echo of ours goes on in `> ` lines where Stata wrapped it.
    let mut in_ours = false;
    for l in lines.map(str::trim_end) {
        if in_ours && l.starts_with("> ") {
            continue;
        }
        in_ours = false;
        if let Some(echo) = echo_text(l).map(str::trim) {
            after_cd = echo.starts_with("cd ");
            in_ours = after_cd
                || echo.starts_with("* ")
                || echo == "clear all"
                || echo.starts_with("do ")
                || echo.is_empty();
            if in_ours {
                continue;
            }
        } else if after_cd || l.trim().is_empty() {
            continue;
        }
        if !run_dependent(l) {
            out.push(l.replace(&project, "<project>"));
        }
    }
    out
}

/// A line whose text changes from run to run, or from a first run to the next.
fn run_dependent(line: &str) -> bool {
    let t = line.trim();
    const SKIP: &[&str] = &[
        "end of do-file",
        "installing into",
        "installation complete",
        "all files already exist",
        "checking ",
        "opened on:",
        "closed on:",
        "log:",
        "log type:",
        "not found)",
    ];
    if SKIP.iter().any(|s| t.contains(s)) {
        return true;
    }
    // A clock time (hh:mm:ss) or a timer row (`1:  2.46 /  1 =  2.4600`).
    let b = t.as_bytes();
    let clock = b.windows(8).any(|w| {
        w[2] == b':' && w[5] == b':' && [0, 1, 3, 4, 6, 7].iter().all(|&i| w[i].is_ascii_digit())
    });
    clock
        || (t.contains(" / ")
            && t.contains(" = ")
            && t.split(':')
                .next()
                .is_some_and(|n| n.trim().parse::<u32>().is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dependent_lines_are_set_aside() {
        assert!(run_dependent(" opened on:  22 Nov 2023, 16:54:27"));
        assert!(run_dependent("   1:      2.46 /        1 =       2.4600"));
        assert!(run_dependent("installing into /home/u/ado/plus/..."));
        assert!(!run_dependent(
            "         mpg |  -238.8943   53.07669    -4.50   0.000"
        ));
        let p = Path::new("/w");
        assert_eq!(
            comparable(
                ". cd `\"/w\"'\n/w\n. display 1\n1\n\nend of do-file".lines(),
                p
            ),
            vec![". display 1", "1"]
        );
    }
}
