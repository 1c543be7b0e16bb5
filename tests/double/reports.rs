//! Listing commands: `return list`, `ereturn list`, `matrix list`, and `help`.

use crate::error::{R, StataErr, fail};
use crate::expr;
use crate::interp::{Interp, Matrix, Results, split_word};
use crate::numfmt;

pub fn return_cmd(it: &mut Interp, which: &str, rest: &str) -> R {
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
pub fn matrix(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    if sub != "list" && sub != "l" && sub != "li" {
        return Ok(());
    }
    let name = tail.trim();
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
    let head: String = m.cols.iter().map(|c| format!("{c:>11}")).collect();
    lines.push(format!("{:8}{}", "", head).trim_end().to_string());
    for (i, r) in m.rows.iter().enumerate() {
        let upto = if symmetric { i + 1 } else { m.cols.len() };
        let cells: String = m.v[i][..upto]
            .iter()
            .map(|x| format!("{:>11}", numfmt::g(*x, 9)))
            .collect();
        lines.push(format!("{r:<8}{cells}"));
    }
    for l in lines {
        it.out.line(&l);
    }
    Ok(())
}

/// `help topic`: a short text in the layout of Stata's plain-text help.
pub fn help(it: &mut Interp, rest: &str) -> R {
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
