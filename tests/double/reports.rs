//! Listing commands: `return list`, `ereturn list`, `matrix list`, and `help`.

use crate::error::{R, StataErr, fail};
use crate::expr;
use crate::interp::{Interp, Matrix, Results, split_word};
use crate::numfmt;

pub(crate) fn return_cmd(it: &mut Interp, which: &str, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    let class = if which == "ereturn" { 'e' } else { 'r' };
    match sub {
        "list" => {
            let res = if class == 'e' {
                it.eres.clone()
            } else {
                it.rres.clone()
            };
            list(it, class, &res);
            Ok(())
        }
        "clear" => {
            if class == 'e' {
                it.eres = Results::default();
            } else {
                it.rres = Results::default();
            }
            Ok(())
        }
        "scalar" => {
            let (name, e) = tail.split_once('=').ok_or_else(StataErr::syntax)?;
            let v = expr::eval_str(it, e)?.num()?;
            it.rres.scalar(name.trim(), v);
            Ok(())
        }
        "local" => {
            let (name, v) = split_word(tail);
            let v = crate::interp::unquote(v).to_string();
            it.rres.mac(name, &v);
            Ok(())
        }
        _ => Err(StataErr::syntax().into()),
    }
}

/// `_return hold name`, `_return restore name [, hold]`, `_return drop name|_all`:
/// programs park `r()` while they run other r-class commands.
pub(crate) fn hold_cmd(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    let (name, opts) = match tail.split_once(',') {
        Some((n, o)) => (n.trim(), o.trim()),
        None => (tail.trim(), ""),
    };
    if name.is_empty() {
        return Err(StataErr::syntax().into());
    }
    match sub {
        "hold" => {
            if it.held.contains_key(name) {
                return fail(110, format!("{name} already exists"));
            }
            let r = std::mem::take(&mut it.rres);
            it.held.insert(name.to_string(), r);
            Ok(())
        }
        "restore" => match it.held.get(name).cloned() {
            Some(r) => {
                if opts != "hold" {
                    it.held.remove(name);
                }
                it.rres = r;
                Ok(())
            }
            None => fail(111, format!("{name} not found")),
        },
        "drop" => {
            if name == "_all" {
                it.held.clear();
                Ok(())
            } else if it.held.remove(name).is_some() {
                Ok(())
            } else {
                fail(111, format!("{name} not found"))
            }
        }
        _ => Err(StataErr::syntax().into()),
    }
}

fn list(it: &mut Interp, class: char, res: &Results) {
    let mut lines = Vec::new();
    if !res.scalars.is_empty() {
        lines.push(String::new());
        lines.push("scalars:".to_string());
        for (k, v) in &res.scalars {
            lines.push(format!(
                "{:>22} =  {}",
                format!("{class}({k})"),
                numfmt::precise(*v)
            ));
        }
    }
    if !res.macros.is_empty() {
        lines.push(String::new());
        lines.push("macros:".to_string());
        for (k, v) in &res.macros {
            lines.push(format!("{:>22} : \"{v}\"", format!("{class}({k})")));
        }
    }
    if !res.matrices.is_empty() {
        lines.push(String::new());
        lines.push("matrices:".to_string());
        for (k, m) in &res.matrices {
            lines.push(format!(
                "{:>22} :  {} x {}",
                format!("{class}({k})"),
                m.rows.len(),
                m.cols.len()
            ));
        }
    }
    if class == 'e' && !res.scalars.is_empty() {
        lines.push(String::new());
        lines.push("functions:".to_string());
        lines.push(format!("{:>22}   ", "e(sample)"));
    }
    for l in lines {
        it.out.line(&l);
    }
}

/// `matrix list e(b)` (other `matrix` subcommands are accepted and ignored).
pub(crate) fn matrix(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    if sub != "list" && sub != "l" && sub != "li" {
        return Ok(());
    }
    // `matrix list name, format(%fmt)`: other options are accepted and ignored.
    let (name, opts) = match tail.split_once(',') {
        Some((n, o)) => (n.trim(), o.trim()),
        None => (tail.trim(), ""),
    };
    let fmt = opts
        .split_once("format(")
        .and_then(|(_, r)| r.split_once(')'))
        .and_then(|(f, _)| numfmt::Fmt::parse(f.trim()));
    let lookup = |res: &Results, k: &str| {
        res.matrices
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, m)| m.clone())
    };
    let m: Option<Matrix> =
        if let Some(inner) = name.strip_prefix("e(").and_then(|r| r.strip_suffix(')')) {
            lookup(&it.eres, inner)
        } else if let Some(inner) = name.strip_prefix("r(").and_then(|r| r.strip_suffix(')')) {
            lookup(&it.rres, inner)
        } else {
            None
        };
    let Some(m) = m else {
        return fail(111, format!("matrix {name} not found"));
    };
    let mut lines = vec![String::new()];
    let symmetric = m.rows == m.cols;
    lines.push(format!(
        "{}{name}[{},{}]",
        if symmetric { "symmetric " } else { "" },
        m.rows.len(),
        m.cols.len()
    ));
    let w = fmt.as_ref().map_or(10, |f| f.width).max(8) + 1;
    let cell = |x: f64| match &fmt {
        Some(f) => format!("{:>w$}", f.num_bare(x)),
        None => format!("{:>w$}", numfmt::g(x, 9)),
    };
    // Like Stata, columns that do not fit in the line size go to further blocks, each
    // with its own header; a symmetric matrix shows only the lower triangle.
    let per_block = (it.out.linesize.saturating_sub(8) / w).max(1);
    let mut start = 0;
    while start < m.cols.len() {
        let end = (start + per_block).min(m.cols.len());
        if start > 0 {
            lines.push(String::new());
        }
        let head: String = m.cols[start..end]
            .iter()
            .map(|c| format!("{c:>w$}"))
            .collect();
        lines.push(format!("{:8}{}", "", head).trim_end().to_string());
        for (i, r) in m.rows.iter().enumerate() {
            let upto = if symmetric { (i + 1).min(end) } else { end };
            if upto <= start {
                continue;
            }
            let cells: String = m.v[i][start..upto].iter().map(|x| cell(*x)).collect();
            lines.push(format!("{r:<8}{cells}"));
        }
        start = end;
    }
    for l in lines {
        it.out.line(&l);
    }
    Ok(())
}

/// `help topic`: a short text in the layout of Stata's plain-text help.
pub(crate) fn help(it: &mut Interp, rest: &str) -> R {
    let topic = rest.trim();
    let body: &[&str] = match topic {
        "regress" | "reg" => &[
            "[R] regress -- Linear regression",
            "",
            "Syntax",
            "",
            "        regress depvar [indepvars] [if] [in] [weight] [, options]",
            "",
            "Description",
            "",
            "    regress performs ordinary least-squares linear regression.  regress can",
            "    also perform weighted estimation, compute robust and cluster-robust",
            "    standard errors, and adjust results for complex survey designs.",
            "",
            "Example",
            "",
            "        . sysuse auto",
            "        . regress price mpg",
        ],
        "summarize" | "sum" | "su" => &[
            "[R] summarize -- Summary statistics",
            "",
            "Syntax",
            "",
            "        summarize [varlist] [if] [in] [weight] [, options]",
            "",
            "Description",
            "",
            "    summarize calculates and displays a variety of univariate summary",
            "    statistics.  If no varlist is specified, summary statistics are",
            "    calculated for all the variables in the dataset.",
        ],
        "display" | "di" => &[
            "[P] display -- Display strings and values of scalar expressions",
            "",
            "Syntax",
            "",
            "        display [display_directive [display_directive [...]]]",
            "",
            "Description",
            "",
            "    display displays strings and values of scalar expressions.  display",
            "    produces output from the programs that you write.",
        ],
        "" => &[
            "help -- Display help in the Viewer",
            "",
            "    Type help followed by a command name, e.g. help regress.",
        ],
        _ => return fail(111, format!("help for {topic} not found")),
    };
    it.out.blank();
    for l in body {
        it.out.line(l);
    }
    Ok(())
}
