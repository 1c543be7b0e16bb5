//! One step of the research record as a file a person can read and Stata can run: a header
//! of `*| key: value` comment lines (time, session, folder, status, files, estimates), then
//! the code as it ran (a do-file step: the `do` line that runs it). `NNNN.log` beside it is
//! the step's output.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stata::estimates::Estimate;

/// The folder of the record in a project.
pub(crate) const RECORD_DIR: &str = "stata-record";
/// Its steps, one `NNNN.do` (and `NNNN.log`) each.
pub(crate) const STEPS_DIR: &str = "steps";

/// A data file a step read, with the SHA-256 of its bytes when the step read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataRead {
    pub path: PathBuf,
    /// None for a file that did not exist (or one an earlier step wrote: it is remade).
    pub sha256: Option<String>,
}

/// What a step ran.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StepSource {
    Code(String),
    File {
        path: PathBuf,
        args: Vec<String>,
        sha256: Option<String>,
    },
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub number: u32,
    /// UTC, `2026-12-07T21:14:03Z`.
    pub time: String,
    /// The session it ran in (`main`, ...), or `batch` for a fresh Stata.
    pub session: String,
    pub cwd: PathBuf,
    /// The run changed to `cwd` first (a session call naming no folder stays where its
    /// session's own `cd` left it).
    pub changed_dir: bool,
    pub duration_s: f64,
    pub source: StepSource,
    /// `ok`, `error`, `timeout`, `cancelled`, `failed_to_start`.
    pub status: String,
    pub rc: Option<i32>,
    pub error: Option<String>,
    pub run_id: Option<String>,
    pub reads: Vec<DataRead>,
    pub writes: Vec<PathBuf>,
    /// It drew random numbers; `seeded`: a seed was set before (in it or earlier in its session).
    pub random: bool,
    pub seeded: bool,
    pub installs: Vec<String>,
    pub estimates: Vec<Estimate>,
}

impl Step {
    pub(crate) fn ok(&self) -> bool {
        self.status == "ok"
    }

    /// The step's file name: `0007.do`.
    pub(crate) fn file_name(number: u32) -> String {
        format!("{number:04}.do")
    }

    /// The code the step ran, as a do-file would hold it.
    pub(crate) fn body(&self) -> String {
        match &self.source {
            StepSource::Code(code) => code.clone(),
            StepSource::File { path, args, .. } => do_line(path, args),
        }
    }

    /// The step as its file holds it.
    pub(crate) fn to_text(&self) -> String {
        let mut t = format!(
            "* stata-mcp research record, step {} ({})\n",
            self.number, self.status
        );
        let mut put = |k: &str, v: &str| {
            t.push_str("*| ");
            t.push_str(k);
            t.push_str(": ");
            t.push_str(&one_line(v));
            t.push('\n');
        };
        put("time", &self.time);
        put("session", &self.session);
        put("cwd", &self.cwd.display().to_string());
        put("cd", if self.changed_dir { "yes" } else { "no" });
        put("duration-s", &format!("{:.3}", self.duration_s));
        put("status", &self.status);
        if let Some(rc) = self.rc {
            put("rc", &rc.to_string());
        }
        if let Some(e) = &self.error {
            put("error", e);
        }
        if let Some(id) = &self.run_id {
            put("run", id);
        }
        if let StepSource::File { path, args, sha256 } = &self.source {
            put("do-file", &path.display().to_string());
            put("args", &json(args));
            if let Some(h) = sha256 {
                put("do-file-sha256", h);
            }
        }
        for r in &self.reads {
            put("reads", &json(r));
        }
        for w in &self.writes {
            put("writes", &w.display().to_string());
        }
        put("random", if self.random { "yes" } else { "no" });
        put("seeded", if self.seeded { "yes" } else { "no" });
        for i in &self.installs {
            put("installs", i);
        }
        for e in &self.estimates {
            put("estimate", &json(e));
        }
        t.push_str(&self.body());
        if !t.ends_with('\n') {
            t.push('\n');
        }
        t
    }

    /// A step read back from its file's text; none for a file that is not one.
    pub(crate) fn parse(number: u32, text: &str) -> Option<Step> {
        let mut lines = text.lines().peekable();
        lines.next_if(|l| l.starts_with("* stata-mcp research record"))?;
        let mut step = Step {
            number,
            time: String::new(),
            session: String::new(),
            cwd: PathBuf::new(),
            changed_dir: false,
            duration_s: 0.0,
            source: StepSource::Code(String::new()),
            status: String::new(),
            rc: None,
            error: None,
            run_id: None,
            reads: Vec::new(),
            writes: Vec::new(),
            random: false,
            seeded: false,
            installs: Vec::new(),
            estimates: Vec::new(),
        };
        let mut file: Option<(PathBuf, Vec<String>, Option<String>)> = None;
        while let Some(line) = lines.next_if(|l| l.starts_with("*| ")) {
            let Some((key, value)) = line[3..].split_once(": ") else {
                continue;
            };
            let value = value.to_owned();
            match key {
                "time" => step.time = value,
                "session" => step.session = value,
                "cwd" => step.cwd = PathBuf::from(value),
                "cd" => step.changed_dir = value == "yes",
                "duration-s" => step.duration_s = value.parse().unwrap_or(0.0),
                "status" => step.status = value,
                "rc" => step.rc = value.parse().ok(),
                "error" => step.error = Some(value),
                "run" => step.run_id = Some(value),
                "do-file" => file.get_or_insert_default().0 = PathBuf::from(value),
                "args" => file.get_or_insert_default().1 = from_json(&value).unwrap_or_default(),
                "do-file-sha256" => file.get_or_insert_default().2 = Some(value),
                "reads" => step.reads.extend(from_json(&value)),
                "writes" => step.writes.push(PathBuf::from(value)),
                "random" => step.random = value == "yes",
                "seeded" => step.seeded = value == "yes",
                "installs" => step.installs.push(value),
                "estimate" => step.estimates.extend(from_json(&value)),
                _ => {}
            }
        }
        step.source = match file {
            Some((path, args, sha256)) => StepSource::File { path, args, sha256 },
            None => StepSource::Code(lines.collect::<Vec<_>>().join("\n") + "\n"),
        };
        Some(step)
    }
}

/// `do "path" args`, quoted so any path and argument reach Stata as they are.
pub(crate) fn do_line(path: &Path, args: &[String]) -> String {
    let quote =
        |s: &str| crate::stata::quote::stata_quote(s).unwrap_or_else(|_| format!("\"{s}\""));
    let mut line = format!("do {}", quote(&path.display().to_string()));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line.push('\n');
    line
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn from_json<T: for<'de> Deserialize<'de>>(s: &str) -> Option<T> {
    serde_json::from_str(s).ok()
}

/// A header value on one line (an error message may hold several).
fn one_line(v: &str) -> String {
    v.replace('\r', "").replace('\n', " / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stata::estimates::Coef;

    fn step(source: StepSource) -> Step {
        Step {
            number: 3,
            time: "2026-12-07T21:14:03Z".into(),
            session: "main".into(),
            cwd: "/w".into(),
            changed_dir: true,
            duration_s: 1.5,
            source,
            status: "error".into(),
            rc: Some(111),
            error: Some("variable pricee not found\nr(111);".into()),
            run_id: Some("20261207-211403-1-0".into()),
            reads: vec![DataRead {
                path: "/w/auto.dta".into(),
                sha256: Some("ab".into()),
            }],
            writes: vec!["/w/out.dta".into()],
            random: true,
            seeded: false,
            installs: vec!["reghdfe".into()],
            estimates: vec![Estimate {
                command: "regress price mpg".into(),
                depvar: "price".into(),
                n: Some(74),
                vce: "ols".into(),
                clusters: None,
                cluster_var: None,
                coefs: vec![Coef {
                    name: "mpg".into(),
                    b: -238.8943,
                    se: 53.07669,
                }],
                omitted: vec![],
            }],
        }
    }

    #[test]
    fn a_step_reads_back_as_written() {
        let code = step(StepSource::Code("sysuse auto\nregress pricee mpg\n".into()));
        let text = code.to_text();
        assert!(
            text.ends_with("sysuse auto\nregress pricee mpg\n"),
            "{text}"
        );
        assert!(
            text.contains("*| error: variable pricee not found / r(111);"),
            "{text}"
        );
        let back = Step::parse(3, &text).expect("parsed");
        assert_eq!(
            back.error.as_deref(),
            Some("variable pricee not found / r(111);")
        );
        assert_eq!(
            Step {
                error: code.error.clone(),
                ..back
            },
            code
        );
        let file = step(StepSource::File {
            path: "/w/a b.do".into(),
            args: vec!["2024".into(), "x y".into()],
            sha256: Some("cd".into()),
        });
        let text = file.to_text();
        assert!(
            text.contains("do `\"/w/a b.do\"' `\"2024\"' `\"x y\"'"),
            "{text}"
        );
        let back = Step::parse(3, &text).expect("parsed");
        assert_eq!(back.source, file.source);
        assert!(Step::parse(1, "display 1\n").is_none());
    }
}
