//! The research record in words: its steps, the package written, a verification's table of
//! steps identical, differing and not run, and two estimations side by side.

use std::fmt::Write as _;

use crate::service::record::answers::{ExportJson, ShowJson, VerifyJson};
use crate::service::record::compare::{ComparisonJson, num};
use crate::service::record::export::join;
use crate::stata::estimates::Estimate;

/// One estimation in one line: `regress price mpg: N 74, ols; mpg -238.9 (53.08), ...`.
fn estimate_line(e: &Estimate) -> String {
    let coefs: Vec<String> = e
        .coefs
        .iter()
        .map(|c| format!("{} {} ({})", c.name, num(c.b), num(c.se)))
        .collect();
    let n = e.n.map_or(String::new(), |n| format!("N {n}, "));
    let clusters = match (&e.cluster_var, e.clusters) {
        (Some(v), Some(k)) => format!(" by {v} ({k} clusters)"),
        _ => String::new(),
    };
    format!(
        "{}: {n}{}{clusters}; {}",
        e.command,
        e.vce,
        coefs.join(", ")
    )
}

pub(crate) fn show_text(j: &ShowJson) -> String {
    let mut t = format!(
        "Research record {}: {} step{}",
        j.record,
        j.total,
        if j.total == 1 { "" } else { "s" }
    );
    if j.pages > 1 {
        let _ = write!(
            t,
            " (page {} of {}; pass page to see another)",
            j.page, j.pages
        );
    }
    t.push_str(".\n");
    for s in &j.steps {
        let status = match s.rc {
            Some(rc) if s.status != "ok" => format!("{} r({rc})", s.status),
            _ => s.status.clone(),
        };
        let _ = writeln!(
            t,
            "\nstep {} · {} · {} · {status}",
            s.step, s.time, s.session
        );
        for line in s.code.lines().take(12) {
            let _ = writeln!(t, "    {line}");
        }
        if s.code.lines().count() > 12 {
            let _ = writeln!(t, "    … ({} lines)", s.code.lines().count());
        }
        if let Some(e) = &s.error {
            let _ = writeln!(t, "  error: {e}");
        }
        for e in &s.estimates {
            let _ = writeln!(t, "  estimates: {}", estimate_line(e));
        }
        if s.random_without_seed {
            t.push_str("  draws random numbers with no seed set before it\n");
        }
    }
    t
}

pub(crate) fn export_text(j: &ExportJson) -> String {
    let mut t = format!(
        "Wrote {} (steps {} of session {}{}) and {}.\n",
        j.master_do,
        join(&j.replayed),
        j.session,
        if j.commented.is_empty() {
            String::new()
        } else {
            format!("; failed steps {} kept as comments", join(&j.commented))
        },
        j.readme
    );
    let _ = writeln!(
        t,
        "Stata {}; packages: {}; data files: {}.",
        j.stata_version.as_deref().unwrap_or("(version unknown)"),
        if j.packages.is_empty() {
            "none".to_owned()
        } else {
            j.packages.join(", ")
        },
        if j.data_files.is_empty() {
            "none".to_owned()
        } else {
            j.data_files.join(", ")
        }
    );
    if !j.random_without_seed.is_empty() {
        let _ = writeln!(
            t,
            "Steps {} draw random numbers with no seed set before them: set one (set seed) for \
             results that repeat.",
            join(&j.random_without_seed)
        );
    }
    t.push_str("stata_record verify re-runs it in a fresh Stata and compares every step.\n");
    t
}

pub(crate) fn verify_text(j: &VerifyJson) -> String {
    let total = j.identical.len() + j.differing.len() + j.not_run.len();
    let mut t = if j.differing.is_empty() && j.not_run.is_empty() {
        format!(
            "Verified: all {total} steps reproduce (re-run of {}).\n",
            j.master_do
        )
    } else {
        format!(
            "Not reproduced: {} of {total} steps identical, {} differ, {} did not run (re-run of {}).\n",
            j.identical.len(),
            j.differing.len(),
            j.not_run.len(),
            j.master_do
        )
    };
    if !j.identical.is_empty() {
        let _ = writeln!(t, "identical: steps {}", join(&j.identical));
    }
    for d in &j.differing {
        let _ = writeln!(t, "step {} `{}` differs:", d.step, d.what);
        for x in &d.differences {
            let _ = writeln!(t, "  - {x}");
        }
        if let Some(c) = &d.likely_cause {
            let _ = writeln!(t, "  likely cause: {c}");
        }
    }
    for n in &j.not_run {
        let _ = writeln!(t, "step {} did not run: {}", n.step, n.why);
    }
    for c in &j.changed_files {
        let _ = writeln!(
            t,
            "data file {} is {} since step {} read it",
            c.path, c.how, c.step
        );
    }
    if !j.random_without_seed.is_empty() {
        let _ = writeln!(
            t,
            "steps {} draw random numbers with no seed set before them",
            join(&j.random_without_seed)
        );
    }
    if let Some(log) = &j.log_path {
        let _ = writeln!(t, "the replay's full log: {log}");
    }
    t
}

/// A verification that outlasted the call: it goes on, and how to get its verdict.
pub(crate) fn verify_running_text(since: std::time::Duration) -> String {
    format!(
        "The replay of master.do is still running ({} so far) and goes on in the background; \
         call stata_record {{\"action\": \"verify\"}} again for its verdict (that call waits \
         for the same replay, it does not start another).\n",
        crate::text::human::human_duration(since)
    )
}

pub(crate) fn compare_text(c: &ComparisonJson) -> String {
    let mut t = format!(
        "step {}: {}\nstep {}: {}\n\n",
        c.step1, c.command1, c.step2, c.command2
    );
    let n = |x: Option<u64>| x.map_or("?".to_owned(), |n| n.to_string());
    let _ = writeln!(
        t,
        "{:<16} {:>24} {:>24}",
        "",
        format!("step {}", c.step1),
        format!("step {}", c.step2)
    );
    for term in &c.terms {
        let cell = |b: Option<f64>, se: Option<f64>| match (b, se) {
            (Some(b), Some(se)) => format!("{} ({})", num(b), num(se)),
            _ => "—".to_owned(),
        };
        let _ = writeln!(
            t,
            "{:<16} {:>24} {:>24}",
            term.name,
            cell(term.b1, term.se1),
            cell(term.b2, term.se2)
        );
    }
    let _ = writeln!(t, "{:<16} {:>24} {:>24}", "N", n(c.n1), n(c.n2));
    let _ = writeln!(t, "{:<16} {:>24} {:>24}", "std. errors", c.vce1, c.vce2);
    if c.changes.is_empty() {
        t.push_str("\nNothing changed beyond the estimates' own digits.\n");
    } else {
        t.push_str("\nWhat changed:\n");
        for ch in &c.changes {
            let _ = writeln!(t, "  - {ch}");
        }
    }
    t
}
