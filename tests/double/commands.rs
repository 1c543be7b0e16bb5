//! Command dispatch, and the commands about control flow, macros, display and the
//! system (`forvalues`, `local`, `display`, `sleep`, `cd`, `_double` ...).
//!
//! Data commands live in `datacmds.rs`, graphs in `graph.rs`, `log` in `logcmd.rs`,
//! and the listing commands (`return list`, `help`) in `reports.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::data::is_missing;
use crate::error::{Flow, R, StataErr, fail};
use crate::expr::{self, Val};
use crate::interp::{DoHow, Interp, Program, split_word, tokenize, unquote};
use crate::numfmt::{self, Fmt};
use crate::output::wrap;
use crate::{datacmds, graph, logcmd, reports, signals};

pub(crate) fn is_abbrev(word: &str, full: &str, min: usize) -> bool {
    word.len() >= min && full.starts_with(word)
}

/// Runs one expanded command line (prefixes already handled).
pub(crate) fn dispatch(it: &mut Interp, line: &str, raw: &str, body: Option<&[String]>) -> R {
    let line = line.trim();
    if line.is_empty() {
        return Ok(());
    }
    if let Some(rest) = line.strip_prefix('!') {
        return shell(it, rest);
    }
    let (w, rest) = split_word(line);
    let raw_rest = split_word(raw.trim()).1;
    let a = |full: &str, min: usize| is_abbrev(w, full, min);
    match w {
        _ if a("forvalues", 4) => forvalues(it, rest, body),
        "foreach" => foreach(it, rest, body),
        "while" => while_loop(it, raw_rest, body),
        "if" => if_cmd(it, rest, body),
        "else" => else_cmd(it, rest, body),
        _ if a("program", 2) => program(it, rest, body),
        "end" => Ok(()),
        "exit" => exit(it, rest),
        "error" => {
            let rc = expr::eval_str(it, rest)?.num()? as i32;
            if rc == 0 {
                Ok(())
            } else {
                Err(StataErr::code(rc).into())
            }
        }
        "do" => it.run_do(rest, DoHow::Do),
        "run" => it.run_do(rest, DoHow::Run),
        "include" => it.run_do(rest, DoHow::Include),
        "version" => Ok(()),
        "args" => {
            for (k, name) in rest.split_whitespace().enumerate() {
                let v = it.local(&(k + 1).to_string());
                it.set_local(name, &v);
            }
            Ok(())
        }
        _ if a("local", 3) => macro_define(it, rest, false),
        _ if a("global", 2) => macro_define(it, rest, true),
        "macro" => macro_cmd(it, rest),
        "tempvar" | "tempname" | "tempfile" => temp_names(it, w, rest),
        _ if a("scalar", 2) => scalar(it, rest),
        "return" | "ereturn" => reports::return_cmd(it, w, rest),
        "_return" => reports::hold_cmd(it, rest),
        _ if a("matrix", 3) => reports::matrix(it, rest),
        _ if a("display", 2) => display(it, rest),
        "sleep" => sleep(it, rest),
        "set" => set(it, rest),
        "cd" | "chdir" => cd(it, rest),
        "pwd" => {
            it.out.line(&cwd());
            Ok(())
        }
        "mkdir" => {
            let p = unquote(rest);
            std::fs::create_dir(p).or_else(|_| fail(693, format!("could not create directory {p}")))
        }
        "erase" | "rm" => {
            let p = unquote(rest);
            std::fs::remove_file(p).or_else(|_| fail(601, format!("file {p} not found")))
        }
        "shell" => shell(it, rest),
        _ if a("help", 1) => reports::help(it, rest),
        "log" => logcmd::log(it, rest),
        "more" | "pause" | "discard" | "timer" | "macro_drop" => Ok(()),
        "_double" => double(it, rest),
        "about" => {
            it.out.blank();
            it.out.line(&format!(
                "Stata/{} {}",
                it.edition.short(),
                crate::banner::version_text(it.version)
            ));
            Ok(())
        }
        _ => {
            if let Some(r) = datacmds::dispatch(it, w, rest, line)? {
                return Ok(r);
            }
            if graph::is_graph_command(w) {
                return graph::command(it, w, rest);
            }
            if it.programs.contains_key(w) {
                return it.call_program(w, rest);
            }
            if let Some(r) = crate::packages::command(it, w, rest) {
                return r;
            }
            fail(199, unrecognized(it, w))
        }
    }
}

pub(crate) fn unrecognized(it: &Interp, w: &str) -> String {
    if it.version < 14.0 {
        format!("unrecognized command:  {w}")
    } else {
        format!("command {w} is unrecognized")
    }
}

pub(crate) fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Splits `name = from/to {` or `name in a b c {` into parts, dropping the brace.
fn header(rest: &str) -> &str {
    rest.trim().trim_end_matches('{').trim_end()
}

fn forvalues(it: &mut Interp, rest: &str, body: Option<&[String]>) -> R {
    let h = header(rest);
    let (name, range) = h
        .split_once('=')
        .ok_or_else(|| Flow::Err(StataErr::syntax()))?;
    let name = name.trim();
    let range = range.trim();
    let bad = || Flow::Err(StataErr::new(198, format!("invalid range: {range}")));
    let parse = |s: &str| -> R<f64> { expr::eval_str(it, s.trim())?.num() };
    let (from, step, to) = if let Some((a, b)) = range.split_once('/') {
        (parse(a)?, 1.0, parse(b)?)
    } else if let Some((a, rest)) = range.split_once('(') {
        let (d, b) = rest.split_once(')').ok_or_else(bad)?;
        let from = parse(a)?;
        (from, parse(d)?, parse(b)?)
    } else if let Some((a, b)) = range.split_once(" to ") {
        (parse(a)?, 1.0, parse(b)?)
    } else {
        return Err(bad());
    };
    if step == 0.0 || is_missing(step) {
        return Err(bad());
    }
    let body = body.unwrap_or(&[]);
    let mut x = from;
    while (step > 0.0 && x <= to + 1e-9) || (step < 0.0 && x >= to - 1e-9) {
        it.set_local(name, &numfmt::precise(x));
        it.iterate(body)?;
        x += step;
    }
    Ok(())
}

fn foreach(it: &mut Interp, rest: &str, body: Option<&[String]>) -> R {
    let h = header(rest);
    let (name, tail) = split_word(h);
    let (kind, list) = split_word(tail);
    let items: Vec<String> = match kind {
        "in" => tokenize(list),
        "of" => {
            let (what, names) = split_word(list);
            match what {
                "local" => tokenize(&it.local(names.trim())),
                "global" => tokenize(&it.globals.get(names.trim()).cloned().unwrap_or_default()),
                _ if is_abbrev(what, "varlist", 3) => {
                    let words: Vec<&str> = names.split_whitespace().collect();
                    let idx = it
                        .data
                        .varlist(&words)
                        .map_err(|m| Flow::Err(StataErr::new(111, m)))?;
                    idx.iter().map(|&i| it.data.vars[i].name.clone()).collect()
                }
                _ if is_abbrev(what, "newlist", 3) => tokenize(names),
                _ if is_abbrev(what, "numlist", 3) => numlist(names)?,
                _ => return Err(StataErr::syntax().into()),
            }
        }
        _ => return Err(StataErr::syntax().into()),
    };
    let body = body.unwrap_or(&[]);
    for item in items {
        it.set_local(name, &item);
        it.iterate(body)?;
    }
    Ok(())
}

/// A numlist: `1 2 3`, `1/5`, `0(10)50`.
pub(crate) fn numlist(s: &str) -> R<Vec<String>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        let num = |t: &str| {
            t.parse::<f64>()
                .map_err(|_| Flow::Err(StataErr::new(121, "invalid numlist")))
        };
        if let Some((a, b)) = tok.split_once('/') {
            let (a, b) = (num(a)?, num(b)?);
            let mut x = a;
            while x <= b {
                out.push(numfmt::precise(x));
                x += 1.0;
            }
        } else if let Some((a, r)) = tok.split_once('(') {
            let (d, b) = r
                .split_once(')')
                .ok_or_else(|| Flow::Err(StataErr::new(121, "invalid numlist")))?;
            let (a, d, b) = (num(a)?, num(d)?, num(b)?);
            let mut x = a;
            while d > 0.0 && x <= b + 1e-9 {
                out.push(numfmt::precise(x));
                x += d;
            }
        } else {
            out.push(numfmt::precise(num(tok)?));
        }
    }
    Ok(out)
}

/// `while` re-expands its raw condition before every iteration.
fn while_loop(it: &mut Interp, raw_rest: &str, body: Option<&[String]>) -> R {
    let cond_raw = header(raw_rest).to_string();
    let body = body.unwrap_or(&[]);
    loop {
        if signals::take_break() {
            return Err(StataErr::brk().into());
        }
        let cond = it.expand(&cond_raw)?;
        if !expr::eval_str(it, &cond)?.truthy()? {
            return Ok(());
        }
        it.iterate(body)?;
    }
}

fn if_cmd(it: &mut Interp, rest: &str, body: Option<&[String]>) -> R {
    match body {
        Some(lines) => {
            let cond = header(rest);
            let taken = expr::eval_str(it, cond)?.truthy()?;
            run_if_chain(it, taken, lines)
        }
        None => {
            // One-line form: `if exp command`.
            let (e, used) = expr::parse_prefix(rest)?;
            let taken = expr::Ctx { it, obs: None }.eval(&e)?.truthy()?;
            it.last_if = Some(taken);
            if taken {
                let cmd = rest[used..].to_string();
                return it.exec_expanded(&cmd, &cmd, None);
            }
            Ok(())
        }
    }
}

/// Runs the branch of an `if` block whose body may hold `} else {` / `} else if c {`.
fn run_if_chain(it: &mut Interp, taken: bool, lines: &[String]) -> R {
    let mut depth = 0;
    let mut split = None;
    for (k, l) in lines.iter().enumerate() {
        let t = l.trim();
        if depth == 0 && t.starts_with('}') && t[1..].trim_start().starts_with("else") {
            split = Some(k);
            break;
        }
        if t.starts_with('}') {
            depth -= 1;
        }
        if t.ends_with('{') {
            depth += 1;
        }
    }
    let (then, rest) = match split {
        Some(k) => (&lines[..k], Some((&lines[k], &lines[k + 1..]))),
        None => (lines, None),
    };
    if taken {
        it.last_if = Some(true);
        return it.run_lines(then);
    }
    match rest {
        None => {
            it.last_if = Some(false);
            Ok(())
        }
        Some((else_line, tail)) => {
            let t = else_line.trim()[1..].trim_start();
            let after_else = t["else".len()..].trim();
            let after_else = it.expand(after_else)?;
            if let Some(cond) = after_else.strip_prefix("if ") {
                let taken = expr::eval_str(it, header(cond))?.truthy()?;
                run_if_chain(it, taken, tail)
            } else {
                it.last_if = Some(true);
                it.run_lines(tail)
            }
        }
    }
}

fn else_cmd(it: &mut Interp, rest: &str, body: Option<&[String]>) -> R {
    let prior = it.last_if.take().unwrap_or(true);
    let rest = rest.trim();
    if let Some(cond) = rest.strip_prefix("if ") {
        if prior {
            it.last_if = Some(true);
            return Ok(());
        }
        return if_cmd(it, cond, body);
    }
    it.last_if = Some(true);
    if prior {
        return Ok(());
    }
    match body {
        Some(lines) => it.run_lines(lines),
        None => it.exec_expanded(rest, rest, None),
    }
}

fn program(it: &mut Interp, rest: &str, body: Option<&[String]>) -> R {
    let (sub, tail) = split_word(rest);
    if is_abbrev(sub, "drop", 2) {
        for name in tail.split_whitespace() {
            if name == "_all" {
                it.programs.clear();
            } else if it.programs.remove(name).is_none() {
                return fail(111, format!("program {name} not found"));
            }
        }
        return Ok(());
    }
    if sub == "dir" || sub == "list" {
        let mut names: Vec<&String> = it.programs.keys().collect();
        names.sort();
        let lines: Vec<String> = names.iter().map(|n| format!("  ado      {n}")).collect();
        for l in lines {
            it.out.line(&l);
        }
        return Ok(());
    }
    let spec = if is_abbrev(sub, "define", 2) {
        tail
    } else {
        rest
    };
    let name = spec
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return Err(StataErr::syntax().into());
    }
    if it.programs.contains_key(&name) {
        return fail(110, format!("program {name} already defined"));
    }
    it.programs.insert(
        name,
        Program {
            body: body.unwrap_or(&[]).to_vec(),
        },
    );
    Ok(())
}

fn exit(it: &mut Interp, rest: &str) -> R {
    let (code, opts) = match rest.split_once(',') {
        Some((c, o)) => (c.trim(), o.trim()),
        None => (rest.trim(), ""),
    };
    let clear = opts.split_whitespace().any(|o| o == "clear");
    let rc = if code.is_empty() {
        0
    } else {
        expr::eval_str(it, code)?.num()? as i32
    };
    if clear {
        return Err(Flow::ExitStata);
    }
    if it.do_depth > 0 || it.prog_depth > 0 {
        return if rc == 0 {
            Err(Flow::ExitDo)
        } else {
            Err(StataErr::silent(rc).into())
        };
    }
    if it.data.changed {
        return fail(4, "no; data in memory would be lost");
    }
    Err(Flow::ExitStata)
}

fn macro_define(it: &mut Interp, rest: &str, global: bool) -> R {
    let rest = rest.trim();
    if let Some(name) = rest.strip_prefix("++").or_else(|| rest.strip_prefix("--")) {
        let delta = if rest.starts_with("++") { 1.0 } else { -1.0 };
        let name = name.trim();
        let cur = if global {
            it.globals.get(name).cloned().unwrap_or_default()
        } else {
            it.local(name)
        };
        let v = cur.trim().parse::<f64>().unwrap_or(0.0) + delta;
        return store_macro(it, name, &numfmt::precise(v), global);
    }
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '=' || c == ':' || c == '"' || c == '`')
        .unwrap_or(rest.len());
    let name = &rest[..end];
    if name.is_empty() {
        return Err(StataErr::syntax().into());
    }
    let value = rest[end..].trim_start();
    let v = if let Some(e) = value.strip_prefix('=') {
        match expr::eval_str(it, e)? {
            Val::Num(x) => numfmt::precise(x),
            Val::Str(s) => s,
        }
    } else if let Some(f) = value.strip_prefix(':') {
        it.extended(f.trim())?
    } else {
        unquote(value).to_string()
    };
    store_macro(it, name, &v, global)
}

fn store_macro(it: &mut Interp, name: &str, v: &str, global: bool) -> R {
    if global {
        it.globals.insert(name.to_string(), v.to_string());
    } else {
        it.set_local(name, v);
    }
    Ok(())
}

fn macro_cmd(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    match sub {
        "drop" => {
            for n in tail.split_whitespace() {
                if n == "_all" {
                    it.globals.clear();
                } else if let Some(l) = n.strip_prefix('_') {
                    if let Some(f) = it.frames.last_mut() {
                        f.remove(l);
                    }
                } else {
                    it.globals.remove(n);
                }
            }
            Ok(())
        }
        "list" | "dir" => {
            let mut g: Vec<(String, String)> = it
                .globals
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            g.sort();
            for (k, v) in g {
                it.out.line(&format!("{:<12}  {}", format!("{k}:"), v));
            }
            let mut l: Vec<(String, String)> = it
                .frames
                .last()
                .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            l.sort();
            for (k, v) in l {
                it.out.line(&format!("{:<12}  {}", format!("_{k}:"), v));
            }
            Ok(())
        }
        _ => Err(StataErr::syntax().into()),
    }
}

fn temp_names(it: &mut Interp, kind: &str, rest: &str) -> R {
    for name in rest.split_whitespace() {
        let t = it.new_temp_name();
        let v = if kind == "tempfile" {
            format!("/tmp/St{}.{}", std::process::id(), &t[2..])
        } else {
            t
        };
        it.set_local(name, &v);
    }
    Ok(())
}

fn scalar(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    match sub {
        "drop" => {
            for n in tail.split_whitespace() {
                if n == "_all" {
                    it.scalars.clear();
                } else {
                    it.scalars.remove(n);
                }
            }
            Ok(())
        }
        "list" | "dir" => {
            let mut v: Vec<(String, Val)> = it
                .scalars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, x) in v {
                it.out.line(&format!("{k:>12} = {:>10}", x.show()));
            }
            Ok(())
        }
        _ => {
            let def = if is_abbrev(sub, "define", 2) {
                tail
            } else {
                rest
            };
            let (name, e) = def
                .split_once('=')
                .ok_or_else(|| Flow::Err(StataErr::syntax()))?;
            let v = expr::eval_str(it, e)?;
            it.scalars.insert(name.trim().to_string(), v);
            Ok(())
        }
    }
}

/// Interprets `display`'s arguments into output lines.
pub(crate) fn display_lines(it: &Interp, args: &str) -> R<Vec<String>> {
    let mut lines = vec![String::new()];
    let s = args;
    let mut p = 0;
    let mut fmt: Option<Fmt> = None;
    let mut dup = 1usize;
    let b = s.as_bytes();
    let num_arg = |p: &mut usize| -> R<usize> {
        // `(n)` right after a directive.
        let rest = &s[*p..];
        if let Some(r) = rest.strip_prefix('(') {
            let close = r.find(')').ok_or_else(|| Flow::Err(StataErr::syntax()))?;
            let v = expr::eval_str(it, &r[..close])?.num()?;
            *p += close + 2;
            Ok(v.max(0.0) as usize)
        } else {
            Ok(1)
        }
    };
    while p < s.len() {
        if b[p].is_ascii_whitespace() || b[p] == b',' {
            p += 1;
            continue;
        }
        let rest = &s[p..];
        let (word, _) = split_word(rest);
        let word_end = p + word.len();
        let ident_end = p + rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let ident = &s[p..ident_end];
        match ident {
            "_n" | "_newline" => {
                p = ident_end;
                let n = num_arg(&mut p)?;
                for _ in 0..n {
                    lines.push(String::new());
                }
                continue;
            }
            "_col" | "_column" => {
                p = ident_end;
                let n = num_arg(&mut p)?;
                let cur = lines
                    .last_mut()
                    .ok_or_else(|| Flow::Err(StataErr::syntax()))?;
                while cur.chars().count() + 1 < n {
                    cur.push(' ');
                }
                continue;
            }
            "_skip" => {
                p = ident_end;
                let n = num_arg(&mut p)?;
                if let Some(cur) = lines.last_mut() {
                    cur.push_str(&" ".repeat(n));
                }
                continue;
            }
            "_dup" => {
                p = ident_end;
                dup = num_arg(&mut p)?;
                continue;
            }
            "_char" => {
                p = ident_end;
                let n = num_arg(&mut p)?;
                if let (Some(cur), Some(c)) = (lines.last_mut(), char::from_u32(n as u32)) {
                    cur.push(c);
                }
                continue;
            }
            "_continue" | "_request" => {
                p = ident_end;
                continue;
            }
            "as" | "in" => {
                // `as text`, `as result`, `as error`, `in smcl`, `in red`: colours only.
                let (_, after) = split_word(&s[ident_end..]);
                let (_, after2) = split_word(after);
                p = s.len() - after2.len();
                continue;
            }
            _ => {}
        }
        if b[p] == b'%' {
            fmt = Fmt::parse(word);
            if fmt.is_none() {
                return fail(198, format!("invalid format {word}"));
            }
            p = word_end;
            continue;
        }
        let (e, used) = expr::parse_prefix(rest)?;
        if used == 0 {
            return Err(StataErr::syntax().into());
        }
        let v = expr::Ctx { it, obs: None }.eval(&e)?;
        let text = match (&v, &fmt) {
            (Val::Num(x), Some(f)) => f.num(*x),
            (Val::Str(t), Some(f)) if f.kind == 's' => f.pad(t),
            _ => v.show(),
        };
        fmt = None;
        if let Some(cur) = lines.last_mut() {
            cur.push_str(&text.repeat(dup));
        }
        dup = 1;
        p += used;
    }
    Ok(lines)
}

/// `display` output joined, for the `: di` macro function.
pub(crate) fn display_segments(it: &Interp, args: &str) -> R<Vec<String>> {
    display_lines(it, args)
}

fn display(it: &mut Interp, rest: &str) -> R {
    for l in display_lines(it, rest)? {
        it.out.line(&l);
    }
    Ok(())
}

/// Waits in 10 ms slices so that SIGINT breaks the wait promptly.
pub(crate) fn sleep(_it: &mut Interp, rest: &str) -> R {
    let ms: u64 = rest
        .trim()
        .parse()
        .map_err(|_| Flow::Err(StataErr::syntax()))?;
    let end = Instant::now() + Duration::from_millis(ms);
    loop {
        if signals::take_break() {
            return Err(StataErr::brk().into());
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(10)));
    }
}

fn set(it: &mut Interp, rest: &str) -> R {
    let (what, val) = split_word(rest);
    let val = val.trim();
    let on = || matches!(val.split_whitespace().next(), Some("on"));
    match what {
        "obs" => datacmds::set_obs(it, val),
        "more" => {
            it.out.more = on();
            Ok(())
        }
        "trace" => {
            it.trace = on();
            Ok(())
        }
        "seed" => {
            let seed = val.parse::<u64>().unwrap_or(0);
            *it.rng.borrow_mut() = crate::stats::Rng::new(seed);
            Ok(())
        }
        "linesize" => {
            it.out.linesize = val.parse::<usize>().unwrap_or(79).clamp(40, 255);
            Ok(())
        }
        "" => Err(StataErr::syntax().into()),
        _ => Ok(()),
    }
}

fn cd(it: &mut Interp, rest: &str) -> R {
    let target = unquote(rest);
    if target.is_empty() {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
        if std::env::set_current_dir(&home).is_err() {
            return fail(170, format!("unable to change to directory {home}"));
        }
    } else if std::env::set_current_dir(target).is_err() {
        return fail(170, format!("unable to change to directory {target}"));
    }
    it.out.line(&cwd());
    Ok(())
}

fn shell(it: &mut Interp, cmd: &str) -> R {
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .output()
    {
        Ok(o) => {
            show_output(it, &o);
            Ok(())
        }
        Err(e) => fail(198, format!("shell failed: {e}")),
    }
}

/// What a program printed (stdout, then stderr), as Stata shows a shell command's output.
pub(crate) fn show_output(it: &mut Interp, o: &std::process::Output) {
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    for l in text.lines() {
        it.out.line(l);
    }
}

/// Test-control commands. They are not Stata's; tests use them to provoke floods,
/// crashes and signal handling.
fn double(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    match sub {
        "burst" => {
            let mut nums = tail.split_whitespace().map(|t| t.parse::<usize>());
            let n = match nums.next() {
                Some(Ok(n)) => n,
                _ => return Err(StataErr::syntax().into()),
            };
            let width = match nums.next() {
                Some(Ok(w)) => w.max(12),
                _ => 60,
            };
            burst(it, n, width)
        }
        "stamp" => {
            let mut nums = tail.split_whitespace().map(|t| t.parse::<u64>());
            match (nums.next(), nums.next()) {
                (Some(Ok(n)), Some(Ok(interval_ms))) => stamp(it, n, interval_ms),
                _ => Err(StataErr::syntax().into()),
            }
        }
        "crash" => {
            it.out.flush_console();
            signals::crash()
        }
        "ignore_sigint" => {
            signals::ignore();
            Ok(())
        }
        "stdout" => {
            use std::io::Write;
            let mut so = std::io::stdout();
            let _ = writeln!(so, "{}", unquote(tail));
            let _ = so.flush();
            Ok(())
        }
        "stderr" => {
            eprintln!("{}", unquote(tail));
            Ok(())
        }
        "replay" => replay(it, unquote(tail.trim())),
        // A TCP connection, as `copy http://...` or `net install` would open one.
        "connect" => {
            let addr = tail.trim();
            match std::net::TcpStream::connect(addr) {
                Ok(_) => {
                    it.out.line(&format!("connected to {addr}"));
                    Ok(())
                }
                Err(e) => fail(677, format!("could not connect to {addr}: {e}")),
            }
        }
        _ => crate::system::probe(it, sub, tail)
            .unwrap_or_else(|| fail(199, format!("command _double {sub} is unrecognized"))),
    }
}

/// Writes a real Stata log's lines, from its first command echo on, into the logs as they
/// are (bytes, CRLF and all): a test's way to put what real Stata wrote in front of the runner.
fn replay(it: &mut Interp, path: &str) -> R {
    let bytes =
        std::fs::read(path).map_err(|_| StataErr::new(601, format!("file {path} not found")))?;
    let mut start = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_start_matches("{com}");
        if text.starts_with(". ") || text.trim_end() == "." {
            break;
        }
        start += line.len();
    }
    let mut body = bytes[start..].to_vec();
    if !body.ends_with(b"\n") {
        body.push(b'\n');
    }
    it.out.bulk_bytes(&body);
    Ok(())
}

/// Writes `n` numbered lines of `width` characters in large blocks.
fn burst(it: &mut Interp, n: usize, width: usize) -> R {
    const BLOCK: usize = 1 << 16;
    let mut block = String::with_capacity(BLOCK + 512);
    let filler: String = "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(width)
        .collect();
    for i in 1..=n {
        let head = format!("burst {i:>9} ");
        let line = format!("{head}{}", &filler[..width.saturating_sub(head.len())]);
        if width > it.out.linesize {
            for piece in wrap(&line, it.out.linesize) {
                block.push_str(&piece);
                block.push('\n');
            }
        } else {
            block.push_str(&line);
            block.push('\n');
        }
        if block.len() >= BLOCK {
            it.out.bulk(&block);
            block.clear();
            if signals::take_break() {
                return Err(StataErr::brk().into());
            }
        }
    }
    if !block.is_empty() {
        it.out.bulk(&block);
    }
    Ok(())
}

/// Writes `n` lines `stamp <i> <unix time in ns>`, `interval_ms` apart, the time taken
/// just before the line goes to the (unbuffered) log, so a reader can tell how late it
/// saw each line. Waits in 10 ms slices so that SIGINT breaks it promptly, like `sleep`.
fn stamp(it: &mut Interp, n: u64, interval_ms: u64) -> R {
    let start = Instant::now();
    for i in 1..=n {
        let due = start + Duration::from_millis(interval_ms.saturating_mul(i - 1));
        loop {
            if signals::take_break() {
                return Err(StataErr::brk().into());
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(10)));
        }
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        it.out.line(&format!("stamp {i} {ns}"));
    }
    Ok(())
}

/// Options after a comma: `replace name(g, replace) width(800)` → name → argument.
pub(crate) fn parse_options(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_whitespace() && b[i] != '(' {
            i += 1;
        }
        let name: String = b[start..i].iter().collect();
        let mut arg = String::new();
        if i < b.len() && b[i] == '(' {
            let mut depth = 0;
            let s2 = i;
            while i < b.len() {
                if b[i] == '(' {
                    depth += 1;
                } else if b[i] == ')' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                i += 1;
            }
            arg = b[s2 + 1..i.min(b.len())].iter().collect();
            i += 1;
        }
        if !name.is_empty() {
            out.insert(name.to_lowercase(), arg);
        }
    }
    out
}
