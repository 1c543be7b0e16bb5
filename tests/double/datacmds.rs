//! Data commands: loading and saving, `describe`, `summarize`, `list`, `generate`,
//! `replace`, `drop`/`keep`, `count`, `tabulate`, `regress`, `predict`, `codebook`.
//!
//! Output layouts are copied from real Stata 17/18 output so that a runner's
//! parser meets the same column structure it will meet in real logs.

use crate::data::{Col, Dataset, MISSING, Var, is_missing};
use crate::error::{Flow, R, StataErr, fail};
use crate::expr::{self, Ctx, Val};
use crate::interp::{Interp, Matrix, Results, split_word, unquote};
use crate::numfmt::{self, Fmt, commas};
use crate::stats;
use std::fmt::Write as _;

fn a(w: &str, full: &str, min: usize) -> bool {
    w.len() >= min && full.starts_with(w)
}

/// Runs a data command; Ok(None) when `w` is not one.
pub(crate) fn dispatch(it: &mut Interp, w: &str, rest: &str, line: &str) -> R<Option<()>> {
    let r = match w {
        "sysuse" => sysuse(it, rest),
        _ if a(w, "use", 1) => use_cmd(it, rest),
        _ if a(w, "save", 2) => save(it, rest),
        "clear" => {
            clear(it, rest);
            Ok(())
        }
        _ if a(w, "describe", 1) => describe(it, rest),
        _ if a(w, "summarize", 2) => summarize(it, rest),
        _ if a(w, "list", 1) => list(it, rest),
        _ if a(w, "generate", 1) => generate(it, rest),
        "replace" => replace(it, rest),
        "drop" => drop_keep(it, rest, true),
        "keep" => drop_keep(it, rest, false),
        _ if a(w, "rename", 3) => rename(it, rest),
        _ if a(w, "sort", 3) => sort(it, rest),
        _ if a(w, "count", 3) => count(it, rest),
        _ if a(w, "tabulate", 2) => tabulate(it, rest),
        _ if a(w, "regress", 3) => regress(it, rest, line),
        "predict" => predict(it, rest),
        "codebook" => codebook(it, rest),
        "assert" => assert(it, rest),
        "confirm" => confirm(it, rest),
        _ if a(w, "label", 2) => label(it, rest),
        "format" => format(it, rest),
        "preserve" => {
            it.preserved.push(it.data.clone());
            Ok(())
        }
        "restore" => match it.preserved.pop() {
            Some(d) => {
                it.data = d;
                Ok(())
            }
            None => fail(622, "nothing to restore"),
        },
        _ => return Ok(None),
    };
    r.map(Some)
}

/// A command's arguments split into the main part, `if`, `in` and options.
pub(crate) struct Qual {
    pub main: String,
    pub if_expr: Option<String>,
    pub range: Option<String>,
    pub opts: String,
}

/// Finds the top-level (outside quotes and parentheses) positions in `s`.
fn top_level(s: &str, mut f: impl FnMut(usize, char) -> bool) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quote = !quote,
            '(' | '[' if !quote => depth += 1,
            ')' | ']' if !quote => depth -= 1,
            _ => {}
        }
        if !quote && depth == 0 && f(i, c) {
            return Some(i);
        }
    }
    None
}

pub(crate) fn qualifiers(s: &str) -> Qual {
    let (body, opts) = match top_level(s, |_, c| c == ',') {
        Some(i) => (&s[..i], s[i + 1..].trim().to_string()),
        None => (s, String::new()),
    };
    let padded = format!(" {body} ");
    let find_kw = |kw: &str| {
        top_level(&padded, |i, _| {
            padded[i..].starts_with(&format!(" {kw} "))
                || padded[i..].starts_with(&format!(" {kw}\t"))
        })
    };
    let pif = find_kw("if");
    let pin = find_kw("in");
    let cut = [pif, pin]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(padded.len());
    let main = padded[..cut].trim().to_string();
    let part = |start: Option<usize>, other: Option<usize>| {
        start.map(|p| {
            let end = match other {
                Some(o) if o > p => o,
                _ => padded.len(),
            };
            padded[p + 4..end].trim().to_string()
        })
    };
    Qual {
        main,
        if_expr: part(pif, pin),
        range: part(pin, pif),
        opts,
    }
}

/// Which observations a command applies to.
pub(crate) fn touse(it: &Interp, q: &Qual) -> R<Vec<bool>> {
    let n = it.data.nobs;
    let mut keep = vec![true; n];
    if let Some(r) = &q.range {
        let pos = |t: &str| -> R<usize> {
            match t.trim() {
                "f" | "F" => Ok(1),
                "l" | "L" => Ok(n),
                t => {
                    let k: i64 = t.parse().map_err(|_| Flow::Err(StataErr::syntax()))?;
                    Ok(if k < 0 {
                        (n as i64 + 1 + k).max(0) as usize
                    } else {
                        k as usize
                    })
                }
            }
        };
        let (lo, hi) = match r.split_once('/') {
            Some((x, y)) => (pos(x)?, pos(y)?),
            None => {
                let k = pos(r)?;
                (k, k)
            }
        };
        if lo == 0 || hi > n || lo > hi {
            return fail(198, "Obs. nos. out of range");
        }
        for (i, k) in keep.iter_mut().enumerate() {
            *k = i + 1 >= lo && i < hi;
        }
    }
    if let Some(cond) = &q.if_expr {
        let e = expr::parse(cond)?;
        for (i, k) in keep.iter_mut().enumerate() {
            if *k {
                *k = Ctx { it, obs: Some(i) }.eval(&e)?.truthy()?;
            }
        }
    }
    Ok(keep)
}

fn varlist(it: &Interp, s: &str) -> R<Vec<usize>> {
    let words: Vec<&str> = s.split_whitespace().collect();
    it.data
        .varlist(&words)
        .map_err(|m| Flow::Err(StataErr::new(111, m)))
}

fn no_data_loss(it: &Interp, opts: &str) -> R {
    let clear = opts.split_whitespace().any(|o| o == "clear");
    if it.data.changed && !clear {
        return fail(4, "no; data in memory would be lost");
    }
    Ok(())
}

fn sysuse(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let name = unquote(&q.main).trim_end_matches(".dta").to_string();
    if name == "dir" {
        it.out.line("  auto.dta");
        return Ok(());
    }
    if name != "auto" {
        return fail(601, format!("file \"{name}.dta\" not found"));
    }
    no_data_loss(it, &q.opts)?;
    let source = format!("{}/a/auto.dta", it.ado_base());
    it.data = crate::data::auto(it.version, source);
    let label = it.data.label.clone();
    it.out.line(&format!("({label})"));
    Ok(())
}

pub(crate) fn clear(it: &mut Interp, rest: &str) {
    it.data = Dataset::default();
    let all = matches!(rest.trim(), "all" | "*");
    if all {
        it.programs.clear();
        it.graphs = Default::default();
        it.scalars.clear();
        it.rres = Results::default();
        it.eres = Results::default();
        it.preserved.clear();
    }
}

/// The file `save` writes: not a real .dta, but our own tab-separated text that
/// `use` reads back. Good enough for round trips inside one test.
const DTA_MAGIC: &str = "stata-double dataset v1";

fn dta_path(name: &str) -> String {
    let n = unquote(name).to_string();
    if std::path::Path::new(&n).extension().is_none() {
        format!("{n}.dta")
    } else {
        n
    }
}

fn save(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let path = dta_path(&q.main);
    let replace = q.opts.split_whitespace().any(|o| o == "replace");
    let exists = std::path::Path::new(&path).exists();
    if exists && !replace {
        return fail(602, format!("file {path} already exists"));
    }
    let mut text = format!("{DTA_MAGIC}\n{}\n", it.data.label);
    for v in &it.data.vars {
        let values: Vec<String> = (0..it.data.nobs)
            .map(|i| {
                if v.is_str() {
                    v.str_at(i).replace('\t', " ")
                } else {
                    numfmt::precise(v.num(i))
                }
            })
            .collect();
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}",
            v.name,
            v.storage,
            v.format,
            v.label,
            values.join("\t")
        );
    }
    if std::fs::write(&path, text).is_err() {
        return fail(603, format!("file {path} could not be opened"));
    }
    if replace && !exists && it.version >= 17.0 {
        it.out.line(&format!("(file {path} not found)"));
    }
    it.out.line(&format!("file {path} saved"));
    it.data.changed = false;
    Ok(())
}

fn use_cmd(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let path = dta_path(&q.main);
    no_data_loss(it, &q.opts)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        // A file that is there but may not be read (permissions, a sandbox).
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return fail(603, format!("file {path} could not be opened"));
        }
        Err(_) => return fail(601, format!("file {path} not found")),
    };
    let mut lines = text.lines();
    if lines.next() != Some(DTA_MAGIC) {
        return fail(610, format!("file {path} not Stata format"));
    }
    let mut d = Dataset {
        label: lines.next().unwrap_or("").to_string(),
        source: Some(path.clone()),
        ..Dataset::default()
    };
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 4 {
            continue;
        }
        let values = &f[4..];
        d.nobs = values.len();
        let col = if f[1].starts_with("str") {
            Col::Str(values.iter().map(|s| s.to_string()).collect())
        } else {
            Col::Num(
                values
                    .iter()
                    .map(|s| s.parse().unwrap_or(MISSING))
                    .collect(),
            )
        };
        d.vars.push(Var {
            name: f[0].into(),
            col,
            storage: f[1].into(),
            format: f[2].into(),
            label: f[3].into(),
            value_label: None,
        });
    }
    it.data = d;
    Ok(())
}

fn describe(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let idx = if q.main.is_empty() {
        (0..it.data.vars.len()).collect()
    } else {
        varlist(it, &q.main)?
    };
    let d = &it.data;
    let mut lines = vec![String::new()];
    match &d.source {
        Some(s) => lines.push(format!("Contains data from {s}")),
        None => lines.push("Contains data".into()),
    }
    let obs = if it.version >= 17.0 {
        commas(&d.nobs.to_string())
    } else {
        d.nobs.to_string()
    };
    lines.push(
        format!(" Observations:{obs:>14}{:18}{}", "", d.label)
            .trim_end()
            .to_string(),
    );
    lines.push(
        format!("    Variables:{:>14}{:18}{}", d.vars.len(), "", d.timestamp)
            .trim_end()
            .to_string(),
    );
    if d.has_notes {
        lines.push(format!("{:46}(_dta has notes)", ""));
    }
    let rule = "-".repeat(79);
    lines.push(rule.clone());
    lines.push("Variable      Storage   Display    Value".into());
    lines.push("    name         type    format    label      Variable label".into());
    lines.push(rule.clone());
    for &i in &idx {
        let v = &d.vars[i];
        let vl = v.value_label.clone().unwrap_or_default();
        lines.push(
            format!(
                "{:<16}{:<8}{:<11}{:<11}{}",
                v.name, v.storage, v.format, vl, v.label
            )
            .trim_end()
            .to_string(),
        );
    }
    lines.push(rule);
    if d.sorted_by.is_empty() {
        lines.push("Sorted by: ".into());
    } else {
        lines.push(format!("Sorted by: {}", d.sorted_by.join(" ")));
    }
    if d.changed {
        lines.push("     Note: Dataset has changed since last saved.".into());
    }
    for l in lines {
        it.out.line(&l);
    }
    Ok(())
}

/// Mean, sd, min, max of the selected non-missing values.
fn moments(v: &Var, keep: &[bool]) -> (usize, f64, f64, f64, f64, f64) {
    let xs: Vec<f64> = (0..keep.len())
        .filter(|&i| keep[i])
        .map(|i| v.num(i))
        .filter(|x| !is_missing(*x))
        .collect();
    let n = xs.len();
    if n == 0 {
        return (0, MISSING, MISSING, MISSING, MISSING, 0.0);
    }
    let sum: f64 = xs.iter().sum();
    let mean = sum / n as f64;
    let var = if n > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        MISSING
    };
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (n, mean, var, min, max, sum)
}

fn summarize(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let idx = if q.main.is_empty() {
        (0..it.data.vars.len()).collect()
    } else {
        varlist(it, &q.main)?
    };
    let keep = touse(it, &q)?;
    let g = |x: f64| numfmt::g(x, 8);
    let sd_word = if it.version >= 17.0 {
        "Std. dev."
    } else {
        "Std. Dev."
    };
    let mut lines = vec![
        String::new(),
        format!("    Variable |        Obs        Mean {sd_word:>12}       Min        Max"),
        format!("{}+{}", "-".repeat(13), "-".repeat(57)),
    ];
    let mut r = Results::default();
    for (k, &i) in idx.iter().enumerate() {
        let v = &it.data.vars[i];
        if k > 0 && k % 5 == 0 {
            lines.push(format!("{}+{}", "-".repeat(13), "-".repeat(57)));
        }
        let name = abbrev(&v.name, 12);
        if v.is_str() {
            lines.push(format!("{name:>12} |          0"));
            r = Results::default();
            r.scalar("N", 0.0);
            r.scalar("sum_w", 0.0);
            r.scalar("sum", 0.0);
            continue;
        }
        let (n, mean, var, min, max, sum) = moments(v, &keep);
        let sd = var.sqrt();
        lines.push(
            format!(
                "{name:>12} |{:>11}{:>12}{:>12}{:>11}{:>11}",
                commas(&n.to_string()),
                if n > 0 { g(mean) } else { String::new() },
                if n > 1 { g(sd) } else { String::new() },
                if n > 0 { g(min) } else { String::new() },
                if n > 0 { g(max) } else { String::new() },
            )
            .trim_end()
            .to_string(),
        );
        r = Results::default();
        r.scalar("N", n as f64);
        r.scalar("sum_w", n as f64);
        r.scalar("mean", mean);
        r.scalar("Var", var);
        r.scalar("sd", sd);
        r.scalar("min", min);
        r.scalar("max", max);
        r.scalar("sum", sum);
    }
    for l in lines {
        it.out.line(&l);
    }
    it.rres = r;
    Ok(())
}

/// Stata's abbreviation of a long name: `displacement` in 8 columns is `displa~t`.
pub(crate) fn abbrev(name: &str, width: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= width {
        return name.to_string();
    }
    let head: String = chars[..width - 2].iter().collect();
    format!("{head}~{}", chars[chars.len() - 1])
}

fn cell(d: &Dataset, v: &Var, i: usize) -> String {
    if v.is_str() {
        return v.str_at(i);
    }
    let x = v.num(i);
    if let Some(l) = d.labelled(v, x) {
        return l;
    }
    match Fmt::parse(&v.format) {
        Some(f) => f.num_bare(x),
        None => numfmt::g(x, 8),
    }
}

fn list(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let idx = if q.main.is_empty() {
        (0..it.data.vars.len()).collect()
    } else {
        varlist(it, &q.main)?
    };
    let keep = touse(it, &q)?;
    let d = &it.data;
    let rows: Vec<usize> = (0..d.nobs).filter(|&i| keep[i]).collect();
    if rows.is_empty() || idx.is_empty() {
        return Ok(());
    }
    let cols: Vec<(String, Vec<String>, bool)> = idx
        .iter()
        .map(|&j| {
            let v = &d.vars[j];
            let cells: Vec<String> = rows.iter().map(|&i| cell(d, v, i)).collect();
            let data_w = cells.iter().map(|c| c.chars().count()).max().unwrap_or(1);
            let w = data_w.max(v.name.chars().count().min(8.max(data_w)));
            let left = v.is_str() || v.value_label.is_some();
            (
                abbrev(&v.name, w),
                cells.into_iter().map(|c| pad(&c, w, left)).collect(),
                left,
            )
        })
        .collect();
    let digits = rows.last().map_or(1, |r| (r + 1).to_string().len());
    let indent = (digits + 2).max(5);
    let header: Vec<String> = cols
        .iter()
        .map(|(h, cells, left)| pad(h, cells[0].chars().count(), *left))
        .collect();
    let inner = header.join("   ");
    let width = inner.chars().count() + 2;
    let sp = " ".repeat(indent);
    let mut lines = vec![String::new(), format!("{sp}+{}+", "-".repeat(width))];
    lines.push(format!("{sp}| {inner} |"));
    lines.push(format!("{sp}|{}|", "-".repeat(width)));
    for (k, &i) in rows.iter().enumerate() {
        if k > 0 && k % 5 == 0 {
            lines.push(format!("{sp}|{}|", "-".repeat(width)));
        }
        let row: Vec<String> = cols.iter().map(|(_, cells, _)| cells[k].clone()).collect();
        lines.push(format!(
            "{:>w$}. | {} |",
            i + 1,
            row.join("   "),
            w = indent - 2
        ));
    }
    lines.push(format!("{sp}+{}+", "-".repeat(width)));
    for l in lines {
        it.out.line(&l);
    }
    Ok(())
}

fn pad(s: &str, w: usize, left: bool) -> String {
    if left {
        format!("{s:<w$}")
    } else {
        format!("{s:>w$}")
    }
}

/// `[type] name = exp`: the storage type (if given), the name and the expression.
fn assignment(s: &str) -> R<(Option<String>, String, String)> {
    let (lhs, rhs) = s
        .split_once('=')
        .ok_or_else(|| Flow::Err(StataErr::new(198, "= expected")))?;
    let words: Vec<&str> = lhs.split_whitespace().collect();
    match words.as_slice() {
        [name] => Ok((None, name.to_string(), rhs.trim().to_string())),
        [ty, name] => Ok((
            Some(ty.to_string()),
            name.to_string(),
            rhs.trim().to_string(),
        )),
        _ => Err(StataErr::syntax().into()),
    }
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|x| x.is_ascii_alphabetic() || x == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && n.len() <= 32
}

/// Evaluates an expression for every selected observation.
fn eval_column(it: &Interp, e: &str, keep: &[bool]) -> R<Vec<Option<Val>>> {
    let ex = expr::parse(e)?;
    (0..keep.len())
        .map(|i| {
            if keep[i] {
                Ctx { it, obs: Some(i) }.eval(&ex).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect()
}

fn generate(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let (ty, name, e) = assignment(&q.main)?;
    if !valid_name(&name) {
        return fail(198, format!("{name} invalid name"));
    }
    if it.data.vars.iter().any(|v| v.name == name) {
        return fail(110, format!("variable {name} already defined"));
    }
    let keep = touse(it, &q)?;
    let vals = eval_column(it, &e, &keep)?;
    let is_str = vals
        .iter()
        .flatten()
        .next()
        .map_or(ty.as_deref().is_some_and(|t| t.starts_with("str")), |v| {
            matches!(v, Val::Str(_))
        });
    if let Some(t) = &ty
        && t.starts_with("str") != is_str
    {
        return fail(109, "type mismatch");
    }
    if is_str {
        let col: Vec<String> = vals
            .into_iter()
            .map(|v| match v {
                Some(Val::Str(s)) => s,
                _ => String::new(),
            })
            .collect();
        let missing = col.iter().filter(|s| s.is_empty()).count();
        it.data.add_str(&name, col);
        if missing > 0 {
            it.out.line(&format!(
                "({} missing values generated)",
                commas(&missing.to_string())
            ));
        }
    } else {
        let storage = ty.unwrap_or_else(|| "float".into());
        let col: Vec<f64> = vals
            .into_iter()
            .map(|v| match v {
                Some(Val::Num(x)) => store(x, &storage),
                _ => MISSING,
            })
            .collect();
        let missing = col.iter().filter(|x| is_missing(**x)).count();
        it.data.add_num(&name, &storage, col);
        if missing > 0 {
            it.out.line(&format!(
                "({} missing value{} generated)",
                commas(&missing.to_string()),
                if missing == 1 { "" } else { "s" }
            ));
        }
    }
    it.data.changed = true;
    Ok(())
}

/// Rounds a value to what the storage type can hold.
fn store(x: f64, storage: &str) -> f64 {
    if is_missing(x) {
        return MISSING;
    }
    match storage {
        "float" => x as f32 as f64,
        "byte" | "int" | "long" => x.trunc(),
        _ => x,
    }
}

fn replace(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let (_, name, e) = assignment(&q.main)?;
    let Some(j) = it.data.vars.iter().position(|v| v.name == name) else {
        return fail(111, format!("variable {name} not found"));
    };
    let keep = touse(it, &q)?;
    let vals = eval_column(it, &e, &keep)?;
    let mut changes = 0usize;
    let mut to_missing = 0usize;
    let mut promote = None;
    let var = &mut it.data.vars[j];
    match &mut var.col {
        Col::Num(col) => {
            for (i, v) in vals.into_iter().enumerate() {
                let Some(v) = v else { continue };
                let x = match v {
                    Val::Num(x) => x,
                    Val::Str(_) => return fail(109, "type mismatch"),
                };
                if matches!(var.storage.as_str(), "byte" | "int" | "long")
                    && !is_missing(x)
                    && x.fract() != 0.0
                {
                    promote = Some(var.storage.clone());
                    var.storage = "float".into();
                }
                let x = store(x, &var.storage);
                let old = col[i];
                let same = (is_missing(old) && is_missing(x)) || old == x;
                if !same {
                    changes += 1;
                    if is_missing(x) {
                        to_missing += 1;
                    }
                }
                col[i] = x;
            }
        }
        Col::Str(col) => {
            for (i, v) in vals.into_iter().enumerate() {
                let Some(v) = v else { continue };
                let s = match v {
                    Val::Str(s) => s,
                    Val::Num(_) => return fail(109, "type mismatch"),
                };
                if col[i] != s {
                    changes += 1;
                }
                col[i] = s;
            }
            let width = col
                .iter()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(1)
                .max(1);
            let old_w: usize = var.storage.trim_start_matches("str").parse().unwrap_or(1);
            if width > old_w {
                promote = Some(var.storage.clone());
                var.storage = format!("str{width}");
            }
        }
    }
    if let Some(old) = promote {
        let new = it.data.vars[j].storage.clone();
        it.out.line(&format!("variable {name} was {old} now {new}"));
    }
    let mut msg = format!(
        "({} real change{} made",
        commas(&changes.to_string()),
        if changes == 1 { "" } else { "s" }
    );
    if to_missing > 0 {
        let _ = write!(msg, ", {} to missing", commas(&to_missing.to_string()));
    }
    msg.push(')');
    it.out.line(&msg);
    if changes > 0 {
        it.data.changed = true;
    }
    Ok(())
}

fn drop_keep(it: &mut Interp, rest: &str, drop: bool) -> R {
    let q = qualifiers(rest);
    if q.if_expr.is_some() || q.range.is_some() {
        let sel = touse(it, &q)?;
        let keep: Vec<bool> = sel.iter().map(|s| if drop { !s } else { *s }).collect();
        let deleted = keep.iter().filter(|k| !**k).count();
        it.data.keep_obs(&keep);
        it.out.line(&format!(
            "({} observation{} deleted)",
            commas(&deleted.to_string()),
            if deleted == 1 { "" } else { "s" }
        ));
        it.data.changed |= deleted > 0;
        return Ok(());
    }
    if q.main.is_empty() {
        return fail(100, "varlist required");
    }
    let idx = varlist(it, &q.main)?;
    let mut k = 0;
    it.data.vars.retain(|_| {
        let hit = idx.contains(&k);
        k += 1;
        if drop { !hit } else { hit }
    });
    if it.data.vars.is_empty() {
        it.data.nobs = 0;
    }
    it.data.changed = true;
    Ok(())
}

fn rename(it: &mut Interp, rest: &str) -> R {
    let w: Vec<&str> = rest.split_whitespace().collect();
    let [old, new] = w.as_slice() else {
        return Err(StataErr::syntax().into());
    };
    if it.data.vars.iter().any(|v| v.name == *new) {
        return fail(110, format!("variable {new} already defined"));
    }
    let j = varlist(it, old)?[0];
    it.data.vars[j].name = new.to_string();
    it.data.changed = true;
    Ok(())
}

fn sort(it: &mut Interp, rest: &str) -> R {
    let idx = varlist(it, rest)?;
    let d = &it.data;
    let mut order: Vec<usize> = (0..d.nobs).collect();
    order.sort_by(|&x, &y| {
        for &j in &idx {
            let v = &d.vars[j];
            let o = if v.is_str() {
                v.str_at(x).cmp(&v.str_at(y))
            } else {
                let k = |t: f64| if is_missing(t) { f64::INFINITY } else { t };
                k(v.num(x)).total_cmp(&k(v.num(y)))
            };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    it.data.permute(&order);
    it.data.sorted_by = idx.iter().map(|&j| it.data.vars[j].name.clone()).collect();
    Ok(())
}

fn count(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let n = touse(it, &q)?.iter().filter(|k| **k).count();
    it.out.line(&format!("  {}", commas(&n.to_string())));
    it.rres = Results::default();
    it.rres.scalar("N", n as f64);
    Ok(())
}

fn tabulate(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let idx = varlist(it, &q.main)?;
    let Some(&j) = idx.first() else {
        return fail(100, "varlist required");
    };
    let keep = touse(it, &q)?;
    let d = &it.data;
    let v = &d.vars[j];
    // Distinct values in sort order with their counts.
    let mut counts: Vec<(String, f64, usize)> = Vec::new();
    for i in (0..d.nobs).filter(|&i| keep[i]) {
        let (key, num) = if v.is_str() {
            (v.str_at(i), 0.0)
        } else {
            let x = v.num(i);
            if is_missing(x) {
                continue;
            }
            (cell(d, v, i), x)
        };
        if v.is_str() && key.is_empty() {
            continue;
        }
        match counts.iter_mut().find(|(k, _, _)| *k == key) {
            Some(e) => e.2 += 1,
            None => counts.push((key, num, 1)),
        }
    }
    if counts.is_empty() {
        return fail(2000, "no observations");
    }
    if v.is_str() {
        counts.sort_by(|a, b| a.0.cmp(&b.0));
    } else {
        counts.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    let total: usize = counts.iter().map(|c| c.2).sum();
    let title = if v.label.is_empty() {
        v.name.clone()
    } else {
        v.label.clone()
    };
    let w = counts
        .iter()
        .map(|c| c.0.chars().count())
        .chain([title.chars().count(), 5])
        .max()
        .unwrap_or(5)
        .max(10)
        + 1;
    let mut lines = vec![
        String::new(),
        format!("{title:>w$} |      Freq.     Percent        Cum."),
        format!("{}+{}", "-".repeat(w + 1), "-".repeat(35)),
    ];
    let mut cum = 0usize;
    for (key, _, n) in &counts {
        cum += n;
        lines.push(format!(
            "{key:>w$} |{:>11}{:>12.2}{:>12.2}",
            commas(&n.to_string()),
            100.0 * *n as f64 / total as f64,
            100.0 * cum as f64 / total as f64
        ));
    }
    lines.push(format!("{}+{}", "-".repeat(w + 1), "-".repeat(35)));
    lines.push(format!(
        "{:>w$} |{:>11}{:>12}",
        "Total",
        commas(&total.to_string()),
        "100.00"
    ));
    for l in lines {
        it.out.line(&l);
    }
    it.rres = Results::default();
    it.rres.scalar("N", total as f64);
    it.rres.scalar("r", counts.len() as f64);
    Ok(())
}

fn regress(it: &mut Interp, rest: &str, line: &str) -> R {
    let q = qualifiers(rest);
    let idx = varlist(it, &q.main)?;
    if idx.is_empty() {
        return fail(100, "varlist required");
    }
    let keep = touse(it, &q)?;
    let vce = match crate::vce::parse(&q.opts) {
        Ok(v) => v,
        Err(msg) => return fail(198, msg),
    };
    let d = &it.data;
    if idx.iter().any(|&j| d.vars[j].is_str()) {
        return fail(109, "type mismatch");
    }
    let cluster = match &vce {
        crate::vce::Vce::Cluster(name) => match d.varlist(&[name.as_str()]) {
            Ok(v) if v.len() == 1 => Some(v[0]),
            _ => return fail(111, format!("variable {name} not found")),
        },
        _ => None,
    };
    let rows: Vec<usize> = (0..d.nobs)
        .filter(|&i| keep[i] && idx.iter().all(|&j| !is_missing(d.vars[j].num(i))))
        .filter(|&i| cluster.is_none_or(|c| !is_missing(d.vars[c].num(i))))
        .collect();
    if rows.is_empty() {
        return fail(2000, "no observations");
    }
    let y: Vec<f64> = rows.iter().map(|&i| d.vars[idx[0]].num(i)).collect();
    let xs: Vec<Vec<f64>> = idx[1..]
        .iter()
        .map(|&j| rows.iter().map(|&i| d.vars[j].num(i)).collect())
        .collect();
    let Some(mut fit) = stats::ols(&y, &xs) else {
        return fail(2001, "insufficient observations");
    };
    // Robust or clustered: the sandwich replaces the OLS variance; the F test and t tests
    // then use the clusters' degrees of freedom.
    let mut n_clust = None;
    if vce != crate::vce::Vce::Ols {
        let s2 = fit.rss / fit.df_r as f64;
        let bread: Vec<Vec<f64>> = fit
            .v
            .iter()
            .map(|r| r.iter().map(|x| x / s2).collect())
            .collect();
        let xrows: Vec<Vec<f64>> = (0..y.len())
            .map(|i| xs.iter().map(|c| c[i]).chain([1.0]).collect())
            .collect();
        let resid: Vec<f64> = xrows
            .iter()
            .zip(&y)
            .map(|(r, yi)| yi - r.iter().zip(&fit.b).map(|(a, b)| a * b).sum::<f64>())
            .collect();
        let groups: Option<Vec<f64>> =
            cluster.map(|c| rows.iter().map(|&i| d.vars[c].num(i)).collect());
        let (v, g) = crate::vce::sandwich(&xrows, &resid, &bread, groups.as_deref());
        fit.v = v;
        if groups.is_some() {
            n_clust = Some(g);
        }
    }
    let names: Vec<String> = idx[1..]
        .iter()
        .map(|&j| d.vars[j].name.clone())
        .chain(["_cons".to_string()])
        .collect();
    let depvar = d.vars[idx[0]].name.clone();
    let n = fit.n as f64;
    let (dfm, dfr) = (fit.df_m as f64, fit.df_r as f64);
    let tss = fit.mss + fit.rss;
    let r2 = fit.mss / tss;
    let r2a = 1.0 - (1.0 - r2) * (n - 1.0) / dfr;
    let f = (fit.mss / dfm) / (fit.rss / dfr);
    let pf = stats::f_tail(f, dfm, dfr);
    let rmse = (fit.rss / dfr).sqrt();
    let ss = |x: f64| numfmt::g(x, 10);
    let new17 = it.version >= 17.0;
    let robust = vce != crate::vce::Vce::Ols;
    let mut lines = vec![String::new()];
    if robust {
        let dfr_t = n_clust.map_or(dfr, |g| (g - 1) as f64);
        // The Wald F of all slopes with the robust variance (one slope: t squared).
        let kk = fit.b.len() - 1;
        let fw = if kk == 1 {
            (fit.b[0] * fit.b[0]) / fit.v[0][0]
        } else {
            (0..kk)
                .map(|j| fit.b[j] * fit.b[j] / fit.v[j][j])
                .sum::<f64>()
                / kk as f64
        };
        let right = |label: &str, value: String| format!("{:48}{label:<18}={value:>11}", "");
        lines.push(format!(
            "{:<48}{:<18}={:>11}",
            "Linear regression",
            "Number of obs",
            commas(&fit.n.to_string())
        ));
        lines.push(right(
            &format!("F({}, {})", fit.df_m, dfr_t as usize),
            format!("{fw:.2}"),
        ));
        lines.push(right(
            "Prob > F",
            format!("{:.4}", stats::f_tail(fw, dfm, dfr_t)),
        ));
        lines.push(right(
            "R-squared",
            format!("{:.4}", fit.mss / (fit.mss + fit.rss)),
        ));
        lines.push(right("Root MSE", sig5((fit.rss / dfr).sqrt())));
        lines.push(String::new());
        if let (Some(g), crate::vce::Vce::Cluster(var)) = (n_clust, &vce) {
            let note = if new17 {
                format!("(Std. err. adjusted for {g} clusters in {var})")
            } else {
                format!("(Std. Err. adjusted for {g} clusters in {var})")
            };
            lines.push(format!("{note:>78}"));
        }
    }
    if !robust {
        let right = |label: &str, value: String| format!("   {label:<16}={value:>10}");
        lines.push(format!(
            "{:>12} |{:>9}{:>13}{:>9}   {}",
            "Source",
            "SS",
            "df",
            "MS",
            right("Number of obs", commas(&fit.n.to_string()))
        ));
        lines.push(format!(
            "{}+{}{}",
            "-".repeat(13),
            "-".repeat(34),
            right(&format!("F({}, {})", fit.df_m, fit.df_r), format!("{f:.2}"))
        ));
        lines.push(format!(
            "{:>12} |{:>12}{:>10}{:>12}{}",
            "Model",
            ss(fit.mss),
            fit.df_m,
            ss(fit.mss / dfm),
            right("Prob > F", format!("{pf:.4}"))
        ));
        lines.push(format!(
            "{:>12} |{:>12}{:>10}{:>12}{}",
            "Residual",
            ss(fit.rss),
            fit.df_r,
            ss(fit.rss / dfr),
            right("R-squared", format!("{r2:.4}"))
        ));
        lines.push(format!(
            "{}+{}{}",
            "-".repeat(13),
            "-".repeat(34),
            right("Adj R-squared", format!("{r2a:.4}"))
        ));
        lines.push(format!(
            "{:>12} |{:>12}{:>10}{:>12}{}",
            "Total",
            ss(tss),
            fit.n - 1,
            ss(tss / (n - 1.0)),
            right("Root MSE", sig5(rmse))
        ));
        lines.push(String::new());
    }
    lines.push("-".repeat(78));
    if robust {
        lines.push(format!("{:>12} |{:>21}", "", "Robust"));
    }
    lines.push(if new17 && robust {
        format!("{depvar:>12} | Coefficient  std. err.      t    P>|t|     [95% conf. interval]")
    } else if new17 {
        format!("{depvar:>12} | Coefficient  Std. err.      t    P>|t|     [95% conf. interval]")
    } else {
        format!("{depvar:>12} |      Coef.   Std. Err.      t    P>|t|     [95% Conf. Interval]")
    });
    lines.push(format!("{}+{}", "-".repeat(13), "-".repeat(64)));
    // Clustered: the t tests have the clusters' degrees of freedom.
    let dfr = n_clust.map_or(dfr, |g| (g - 1) as f64);
    let tcrit = stats::inv_t_upper(0.025, dfr);
    let g = |x: f64| numfmt::g(x, 8);
    for (k, name) in names.iter().enumerate() {
        let b = fit.b[k];
        let se = fit.v[k][k].sqrt();
        let t = b / se;
        let p = stats::t_two_sided(t, dfr);
        lines.push(format!(
            "{:>12} |{:>11}{:>11}{:>9.2}{:>8.3}{:>13}{:>12}",
            abbrev(name, 12),
            g(b),
            g(se),
            t,
            p,
            g(b - tcrit * se),
            g(b + tcrit * se)
        ));
    }
    lines.push("-".repeat(78));
    for l in lines {
        it.out.line(&l);
    }
    // e() as regress leaves it; b and V in Stata's order (regressors, then _cons).
    let mut e = Results::default();
    let ll = |rss: f64| -0.5 * n * ((2.0 * std::f64::consts::PI).ln() + (rss / n).ln() + 1.0);
    for (k, v) in [
        ("N", n),
        ("df_m", dfm),
        ("df_r", dfr),
        ("F", f),
        ("r2", r2),
        ("rmse", rmse),
        ("mss", fit.mss),
        ("rss", fit.rss),
        ("r2_a", r2a),
        ("ll", ll(fit.rss)),
        ("ll_0", ll(tss)),
        ("rank", names.len() as f64),
    ] {
        e.scalar(k, v);
    }
    let cmdline = line.trim().to_string();
    for (k, v) in [
        ("cmdline", cmdline.as_str()),
        ("title", "Linear regression"),
        ("marginsok", "XB default"),
        (
            "vce",
            match &vce {
                crate::vce::Vce::Ols => "ols",
                crate::vce::Vce::Robust => "robust",
                crate::vce::Vce::Cluster(_) => "cluster",
            },
        ),
        ("depvar", depvar.as_str()),
        ("cmd", "regress"),
        ("properties", "b V"),
        ("predict", "regres_p"),
        ("model", "ols"),
        ("estat_cmd", "regress_estat"),
    ] {
        e.mac(k, v);
    }
    e.matrix(
        "b",
        Matrix {
            rows: vec!["y1".into()],
            cols: names.clone(),
            v: vec![fit.b.clone()],
        },
    );
    e.matrix(
        "V",
        Matrix {
            rows: names.clone(),
            cols: names,
            v: fit.v.clone(),
        },
    );
    it.eres = e;
    Ok(())
}

/// Five significant digits, as `Root MSE` is shown.
fn sig5(x: f64) -> String {
    if is_missing(x) || x == 0.0 {
        return numfmt::g(x, 8);
    }
    let digits = x.abs().log10().floor() as i32 + 1;
    let dec = (5 - digits).max(0) as usize;
    let s = format!("{x:.dec$}");
    if let Some(r) = s.strip_prefix("0.") {
        format!(".{r}")
    } else {
        s
    }
}

fn predict(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let words: Vec<&str> = q.main.split_whitespace().collect();
    let name = match words.as_slice() {
        [n] | [_, n] => n.to_string(),
        _ => return Err(StataErr::syntax().into()),
    };
    let Some((_, b)) = it.eres.matrices.iter().find(|(n, _)| n == "b").cloned() else {
        return fail(301, "last estimates not found");
    };
    if it.data.vars.iter().any(|v| v.name == name) {
        return fail(110, format!("variable {name} already defined"));
    }
    let resid = q.opts.split_whitespace().any(|o| a(o, "residuals", 1));
    let depvar = match it.eres.get_mac("depvar") {
        Some(d) => d,
        None => return fail(301, "last estimates not found"),
    };
    let d = &it.data;
    let mut col = Vec::with_capacity(d.nobs);
    for i in 0..d.nobs {
        let mut fit = 0.0;
        for (k, c) in b.cols.iter().enumerate() {
            let x = if c == "_cons" {
                1.0
            } else {
                d.var(c).map_or(MISSING, |v| v.num(i))
            };
            fit += b.v[0][k] * x;
        }
        let y = d.var(&depvar).map_or(MISSING, |v| v.num(i));
        col.push(store(if resid { y - fit } else { fit }, "float"));
    }
    let missing = col.iter().filter(|x| is_missing(**x)).count();
    if !resid {
        it.out.line("(option xb assumed; fitted values)");
    }
    if missing > 0 {
        it.out.line(&format!(
            "({} missing values generated)",
            commas(&missing.to_string())
        ));
    }
    it.data.add_num(&name, "float", col);
    it.data.changed = true;
    Ok(())
}

impl Results {
    pub(crate) fn get_mac(&self, k: &str) -> Option<String> {
        self.macros
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    }
}

fn codebook(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let idx = if q.main.is_empty() {
        (0..it.data.vars.len()).collect()
    } else {
        varlist(it, &q.main)?
    };
    let keep = vec![true; it.data.nobs];
    let mut lines = Vec::new();
    let rule = "-".repeat(79);
    for j in idx {
        let d = &it.data;
        let v = &d.vars[j];
        lines.push(String::new());
        lines.push(rule.clone());
        let lab = if v.label.is_empty() {
            "(unlabeled)".to_string()
        } else {
            v.label.clone()
        };
        lines.push(format!("{}{:>w$}", v.name, lab, w = 79 - v.name.len()));
        lines.push(rule.clone());
        lines.push(String::new());
        if v.is_str() {
            lines.push(format!("{:>22}: String ({})", "Type", v.storage));
            let mut uniq: Vec<String> = (0..d.nobs).map(|i| v.str_at(i)).collect();
            uniq.sort();
            uniq.dedup();
            lines.push(String::new());
            lines.push(format!(
                "{:>22}: {:<24}Missing \"\": {}/{}",
                "Unique values",
                uniq.len(),
                (0..d.nobs).filter(|&i| v.str_at(i).is_empty()).count(),
                d.nobs
            ));
            continue;
        }
        let (n, mean, var, min, max, _) = moments(v, &keep);
        let mut xs: Vec<f64> = (0..d.nobs)
            .map(|i| v.num(i))
            .filter(|x| !is_missing(*x))
            .collect();
        xs.sort_by(|a, b| a.total_cmp(b));
        let mut uniq = xs.clone();
        uniq.dedup();
        lines.push(format!("{:>22}: Numeric ({})", "Type", v.storage));
        if let Some(l) = &v.value_label {
            lines.push(format!("{:>22}: {l}", "Label"));
        }
        lines.push(String::new());
        lines.push(format!(
            "{:>22}: {:<28}Units: 1",
            "Range",
            format!("[{},{}]", numfmt::g(min, 8), numfmt::g(max, 8))
        ));
        lines.push(format!(
            "{:>22}: {:<24}Missing .: {}/{}",
            "Unique values",
            uniq.len(),
            d.nobs - n,
            d.nobs
        ));
        lines.push(String::new());
        lines.push(format!("{:>22}: {}", "Mean", sig5(mean).trim_start()));
        lines.push(format!("{:>22}: {}", "Std. dev.", sig5(var.sqrt())));
        lines.push(String::new());
        let pct = |p: f64| -> String {
            if xs.is_empty() {
                return ".".into();
            }
            let pos = p * xs.len() as f64;
            let k = pos.ceil() as usize;
            let x = if pos.fract() == 0.0 && k < xs.len() && k > 0 {
                (xs[k - 1] + xs[k]) / 2.0
            } else {
                xs[k.clamp(1, xs.len()) - 1]
            };
            numfmt::g(x, 8)
        };
        lines.push(format!(
            "{:>22}:     10%       25%       50%       75%       90%",
            "Percentiles"
        ));
        lines.push(format!(
            "{:24}{:>8}{:>10}{:>10}{:>10}{:>10}",
            "",
            pct(0.10),
            pct(0.25),
            pct(0.5),
            pct(0.75),
            pct(0.9)
        ));
    }
    for l in lines {
        it.out.line(&l);
    }
    Ok(())
}

fn assert(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let mut sel = touse(
        it,
        &Qual {
            main: String::new(),
            if_expr: q.if_expr.clone(),
            range: q.range.clone(),
            opts: String::new(),
        },
    )?;
    if it.data.nobs == 0 {
        sel = vec![true];
    }
    let e = expr::parse(&q.main)?;
    let mut bad = 0;
    let total = sel.iter().filter(|s| **s).count();
    for (i, s) in sel.iter().enumerate() {
        if *s && !(Ctx { it, obs: Some(i) }).eval(&e)?.truthy()? {
            bad += 1;
        }
    }
    if bad > 0 {
        let plural = |n: usize, w: &str| {
            format!(
                "{} {w}{}",
                commas(&n.to_string()),
                if n == 1 { "" } else { "s" }
            )
        };
        return fail(
            9,
            format!(
                "{} in {}\nassertion is false",
                plural(bad, "contradiction"),
                plural(total, "observation")
            ),
        );
    }
    Ok(())
}

fn confirm(it: &mut Interp, rest: &str) -> R {
    let (what, tail) = split_word(rest);
    let tail = tail.trim();
    match what {
        "new" => {
            let (_, names) = split_word(tail);
            for n in names.split_whitespace() {
                if it.data.vars.iter().any(|v| v.name == n) {
                    return fail(110, format!("variable {n} already defined"));
                }
            }
            Ok(())
        }
        _ if a(what, "variable", 1) => varlist(it, tail).map(|_| ()),
        "file" => {
            let p = unquote(tail);
            if std::path::Path::new(p).is_file() {
                Ok(())
            } else {
                fail(601, format!("file {p} not found"))
            }
        }
        _ if a(what, "number", 3) => {
            if tail.parse::<f64>().is_ok() {
                Ok(())
            } else {
                fail(7, format!("{tail} found where number expected"))
            }
        }
        "existence" => {
            if tail.is_empty() {
                fail(6, "'' found where something expected")
            } else {
                Ok(())
            }
        }
        _ => Err(StataErr::syntax().into()),
    }
}

fn label(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    match sub {
        _ if a(sub, "variable", 3) => {
            let (name, text) = split_word(tail);
            let j = varlist(it, name)?[0];
            it.data.vars[j].label = unquote(text).to_string();
            Ok(())
        }
        _ if a(sub, "data", 1) => {
            it.data.label = unquote(tail).to_string();
            Ok(())
        }
        _ if a(sub, "define", 3) => {
            let (name, pairs) = split_word(tail);
            let toks = crate::interp::tokenize(pairs.split(',').next().unwrap_or(""));
            let map = it.data.value_labels.entry(name.to_string()).or_default();
            for pair in toks.chunks(2) {
                if let [k, v] = pair {
                    let k: i64 = k.parse().map_err(|_| Flow::Err(StataErr::syntax()))?;
                    map.insert(k, v.clone());
                }
            }
            Ok(())
        }
        _ if a(sub, "values", 3) => {
            let words: Vec<&str> = tail.split_whitespace().collect();
            let (vars, lab) = match words.split_last() {
                Some((l, v)) if !v.is_empty() => (v.to_vec(), Some(l.to_string())),
                _ => (words.clone(), None),
            };
            for j in it
                .data
                .varlist(&vars)
                .map_err(|m| Flow::Err(StataErr::new(111, m)))?
            {
                it.data.vars[j].value_label = lab.clone();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn format(it: &mut Interp, rest: &str) -> R {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let Some((fmt, vars)) = words.split_last() else {
        return Err(StataErr::syntax().into());
    };
    if Fmt::parse(fmt).is_none() {
        return fail(198, format!("invalid format {fmt}"));
    }
    for j in it
        .data
        .varlist(vars)
        .map_err(|m| Flow::Err(StataErr::new(111, m)))?
    {
        it.data.vars[j].format = fmt.to_string();
    }
    Ok(())
}

/// `set obs N`.
pub(crate) fn set_obs(it: &mut Interp, val: &str) -> R {
    let n = expr::eval_str(it, val)?.num()?;
    if is_missing(n) || n < 0.0 {
        return Err(StataErr::syntax().into());
    }
    let n = n as usize;
    let old = it.data.nobs;
    if n < old {
        return fail(198, format!("observations must be greater than {old}"));
    }
    it.data.set_obs(n);
    it.data.changed = true;
    if it.version >= 17.0 {
        it.out.line(&format!(
            "Number of observations (_N) was {}, now {}.",
            commas(&old.to_string()),
            commas(&n.to_string())
        ));
    } else {
        it.out
            .line(&format!("number of observations (_N) was {old}, now {n}"));
    }
    Ok(())
}
