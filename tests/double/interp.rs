//! The interpreter core: do-files, echo, blocks (loops, `if`, programs), prefixes
//! (`capture`, `quietly`, `noisily`), macro expansion, and error trailers.
//!
//! Errors travel up as [`Flow::Err`]; the innermost do-file prints the message and
//! `r(N);`, and every enclosing do-file adds an empty line, `end of do-file` and its
//! own `r(N);`, which is exactly the shape of real nested-error logs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use crate::data::{Dataset, MISSING};
use crate::error::{Flow, R, StataErr, fail};
use crate::expr::{self, Val};
use crate::graph::Graphs;
use crate::numfmt;
use crate::output::Out;
use crate::signals;
use crate::source::{self, Cmd, Kind};
use crate::stats::Rng;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Edition {
    Mp,
    Se,
    Be,
}

impl Edition {
    pub(crate) fn short(self) -> &'static str {
        match self {
            Edition::Mp => "MP",
            Edition::Se => "SE",
            Edition::Be => "BE",
        }
    }
}

/// A user program (`program define name ... end`).
#[derive(Clone)]
pub(crate) struct Program {
    pub body: Vec<String>,
}

/// A matrix in `r()`/`e()`: row and column names and the values.
#[derive(Clone, Debug)]
pub(crate) struct Matrix {
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub v: Vec<Vec<f64>>,
}

/// Stored results (`r()` or `e()`), in the order Stata lists them.
#[derive(Clone, Default)]
pub(crate) struct Results {
    pub scalars: Vec<(String, f64)>,
    pub macros: Vec<(String, String)>,
    pub matrices: Vec<(String, Matrix)>,
}

impl Results {
    pub(crate) fn scalar(&mut self, k: &str, v: f64) {
        match self.scalars.iter_mut().find(|(n, _)| n == k) {
            Some(e) => e.1 = v,
            None => self.scalars.push((k.to_string(), v)),
        }
    }

    pub(crate) fn mac(&mut self, k: &str, v: &str) {
        match self.macros.iter_mut().find(|(n, _)| n == k) {
            Some(e) => e.1 = v.to_string(),
            None => self.macros.push((k.to_string(), v.to_string())),
        }
    }

    pub(crate) fn matrix(&mut self, k: &str, m: Matrix) {
        self.matrices.retain(|(n, _)| n != k);
        self.matrices.push((k.to_string(), m));
    }

    fn get(&self, k: &str) -> Val {
        if let Some((_, v)) = self.scalars.iter().find(|(n, _)| n == k) {
            return Val::Num(*v);
        }
        if let Some((_, v)) = self.macros.iter().find(|(n, _)| n == k) {
            return Val::Str(v.clone());
        }
        Val::Num(MISSING)
    }
}

pub(crate) struct Interp {
    pub out: Out,
    pub data: Dataset,
    pub globals: HashMap<String, String>,
    /// Local macro scopes: one per do-file and program call.
    pub frames: Vec<HashMap<String, String>>,
    pub programs: HashMap<String, Program>,
    pub scalars: HashMap<String, Val>,
    /// `_rc`: set by `capture`.
    pub rc: i32,
    /// `c(rc)`: the return code of the last command.
    pub last_rc: i32,
    pub rres: Results,
    pub eres: Results,
    /// `r()` sets put aside by `_return hold name`.
    pub held: HashMap<String, Results>,
    pub graphs: Graphs,
    pub trace: bool,
    /// Program nesting, for trace indentation and `exit` semantics.
    pub prog_depth: usize,
    /// Do-file nesting: `exit` ends a do-file rather than Stata when > 0.
    pub do_depth: usize,
    pub rng: RefCell<Rng>,
    pub version: f64,
    pub edition: Edition,
    pub batch: bool,
    /// Outcome of the last `if` command, for a following `else`.
    pub last_if: Option<bool>,
    pub preserved: Vec<Dataset>,
    pub temp_counter: usize,
    /// Stata's folders for packages and the ado-path (`sysdir`, `adopath`).
    pub ado: crate::packages::AdoPath,
}

/// How a do-file is run: `do` echoes, `run` is silent, `include` shares locals.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoHow {
    Do,
    Run,
    Include,
}

fn is_abbrev(word: &str, full: &str, min: usize) -> bool {
    word.len() >= min && full.starts_with(word)
}

/// Splits the first word (up to a blank, `,` or `:`) off a command line.
pub(crate) fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s
        .find(|c: char| c.is_whitespace() || c == ',' || c == ':' || c == '"')
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim_start())
}

/// Words of an argument list, honouring double and compound quotes.
pub(crate) fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_whitespace() {
            i += 1;
            continue;
        }
        if b[i] == '"' {
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += 1;
            }
            out.push(b[start..i.min(b.len())].iter().collect());
            i += 1;
        } else if b[i] == '`' && b.get(i + 1) == Some(&'"') {
            let start = i + 2;
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j] == '`' && b.get(j + 1) == Some(&'"') {
                    depth += 1;
                    j += 2;
                } else if b[j] == '"' && b.get(j + 1) == Some(&'\'') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            out.push(b[start..j.saturating_sub(2).max(start)].iter().collect());
            i = j;
        } else {
            let start = i;
            while i < b.len() && !b[i].is_whitespace() {
                i += 1;
            }
            out.push(b[start..i].iter().collect());
        }
    }
    out
}

/// Strips one level of surrounding quotes, as `local x "a b"` does.
pub(crate) fn unquote(s: &str) -> &str {
    let t = s.trim();
    if let Some(inner) = t.strip_prefix("`\"").and_then(|r| r.strip_suffix("\"'")) {
        return inner;
    }
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        return &t[1..t.len() - 1];
    }
    t
}

/// What kind of block a command line opens, if any.
#[derive(PartialEq, Eq, Debug)]
pub(crate) enum Block {
    Braces,
    Program,
}

fn strip_prefixes(mut s: &str) -> &str {
    loop {
        let (w, rest) = split_word(s);
        let w = w.trim_end_matches(':');
        let is_prefix =
            is_abbrev(w, "capture", 3) || is_abbrev(w, "quietly", 3) || is_abbrev(w, "noisily", 1);
        if !is_prefix || w.is_empty() {
            return s;
        }
        s = rest.trim_start_matches(':').trim_start();
    }
}

pub(crate) fn block_of(text: &str) -> Option<Block> {
    let core = strip_prefixes(text.trim());
    let (w, rest) = split_word(core);
    if is_abbrev(w, "program", 2) {
        let (sub, _) = split_word(rest);
        let defining = sub.is_empty()
            || is_abbrev(sub, "define", 2)
            || !(matches!(sub, "drop" | "dir" | "list") || is_abbrev(sub, "drop", 2));
        return defining.then_some(Block::Program);
    }
    text.trim_end().ends_with('{').then_some(Block::Braces)
}

/// Brace depth change of a body line: `}` closes, a trailing `{` opens.
pub(crate) fn brace_delta(text: &str) -> i32 {
    let t = text.trim();
    let mut d = 0;
    if t.starts_with('}') {
        d -= 1;
    }
    if t.ends_with('{') {
        d += 1;
    }
    d
}

impl Interp {
    pub(crate) fn new(version: f64, edition: Edition, batch: bool) -> Self {
        Interp {
            out: Out::new(),
            data: Dataset::default(),
            globals: HashMap::new(),
            frames: vec![HashMap::new()],
            programs: HashMap::new(),
            scalars: HashMap::new(),
            rc: 0,
            last_rc: 0,
            rres: Results::default(),
            eres: Results::default(),
            held: HashMap::new(),
            graphs: Graphs::default(),
            trace: false,
            prog_depth: 0,
            do_depth: 0,
            rng: RefCell::new(Rng::new(123_456_789)),
            version,
            edition,
            batch,
            last_if: None,
            preserved: Vec::new(),
            temp_counter: 0,
            ado: crate::packages::AdoPath::default(),
        }
    }

    // ----- macros -------------------------------------------------------------

    pub(crate) fn local(&self, name: &str) -> String {
        self.frames
            .last()
            .and_then(|f| f.get(name))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn set_local(&mut self, name: &str, value: &str) {
        if let Some(f) = self.frames.last_mut() {
            f.insert(name.to_string(), value.to_string());
        }
    }

    /// Expands `` `local' ``, `$global`, `${global}`, `` `=exp' `` and `` `:fn' ``.
    pub(crate) fn expand(&self, s: &str) -> R<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let mut compound = 0;
        self.expand_until(&chars, &mut i, false, &mut compound)
    }

    fn expand_until(
        &self,
        c: &[char],
        i: &mut usize,
        inside: bool,
        compound: &mut usize,
    ) -> R<String> {
        let mut out = String::new();
        while *i < c.len() {
            let ch = c[*i];
            let next = c.get(*i + 1).copied();
            if ch == '`' && next == Some('"') {
                *compound += 1;
                out.push_str("`\"");
                *i += 2;
            } else if ch == '"' && next == Some('\'') && *compound > 0 {
                *compound -= 1;
                out.push_str("\"'");
                *i += 2;
            } else if ch == '`' {
                *i += 1;
                let inner = self.expand_until(c, i, true, compound)?;
                out.push_str(&self.macro_value(&inner)?);
            } else if ch == '\'' && inside {
                *i += 1;
                return Ok(out);
            } else if ch == '$' {
                *i += 1;
                out.push_str(&self.global_ref(c, i));
            } else {
                out.push(ch);
                *i += 1;
            }
        }
        Ok(out)
    }

    /// After a `$`: reads `{name}` or `name` and returns the global's value; a `$`
    /// not followed by a name stays as it is (`$5` in prose).
    fn global_ref(&self, c: &[char], i: &mut usize) -> String {
        if c.get(*i) == Some(&'{') {
            if let Some(len) = c[*i + 1..].iter().position(|&x| x == '}') {
                let name: String = c[*i + 1..*i + 1 + len].iter().collect();
                *i += len + 2;
                return self.globals.get(&name).cloned().unwrap_or_default();
            }
            return "$".into();
        }
        let start = *i;
        if !c
            .get(start)
            .is_some_and(|x| x.is_ascii_alphabetic() || *x == '_')
        {
            return "$".into();
        }
        while *i < c.len() && (c[*i].is_ascii_alphanumeric() || c[*i] == '_') && *i - start < 32 {
            *i += 1;
        }
        let name: String = c[start..*i].iter().collect();
        self.globals.get(&name).cloned().unwrap_or_default()
    }

    fn macro_value(&self, inner: &str) -> R<String> {
        if let Some(e) = inner.strip_prefix('=') {
            return Ok(expr::eval_str(self, e)?.show());
        }
        if let Some(f) = inner.strip_prefix(':') {
            return self.extended(f.trim());
        }
        for class in ['c', 'r', 'e'] {
            if let Some(name) = inner
                .strip_prefix(class)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
            {
                return Ok(match self.class_value(class, name.trim()) {
                    Val::Num(x) => numfmt::precise(x),
                    Val::Str(s) => s,
                });
            }
        }
        Ok(self.local(inner))
    }

    /// Macro extended functions (`local n : word count ...`).
    pub(crate) fn extended(&self, f: &str) -> R<String> {
        let (w, rest) = split_word(f);
        match w {
            "word" => {
                let (second, tail) = split_word(rest);
                if second == "count" {
                    return Ok(tokenize(tail).len().to_string());
                }
                let k: usize = second.parse().map_err(|_| Flow::Err(StataErr::syntax()))?;
                let tail = tail.strip_prefix("of").unwrap_or(tail);
                Ok(tokenize(tail)
                    .get(k.wrapping_sub(1))
                    .cloned()
                    .unwrap_or_default())
            }
            "di" | "display" => {
                let mut parts = String::new();
                for seg in crate::commands::display_segments(self, rest)? {
                    parts.push_str(&seg);
                }
                Ok(parts)
            }
            "list" => {
                let (op, tail) = split_word(rest);
                let items = tokenize(&self.local(tail.trim()));
                match op {
                    "sizeof" => Ok(items.len().to_string()),
                    "uniq" => {
                        let mut seen: Vec<String> = Vec::new();
                        for it in items {
                            if !seen.contains(&it) {
                                seen.push(it);
                            }
                        }
                        Ok(seen.join(" "))
                    }
                    "sort" => {
                        let mut v = items;
                        v.sort();
                        Ok(v.join(" "))
                    }
                    _ => Err(StataErr::syntax().into()),
                }
            }
            "variable" | "var" => {
                let (what, name) = split_word(rest);
                match self.data.var(name.trim()) {
                    Some(v) if what == "label" => Ok(v.label.clone()),
                    Some(_) => Ok(String::new()),
                    None => fail(111, format!("variable {} not found", name.trim())),
                }
            }
            "type" => Ok(self
                .data
                .var(rest.trim())
                .map(|v| v.storage.clone())
                .unwrap_or_default()),
            "format" => Ok(self
                .data
                .var(rest.trim())
                .map(|v| v.format.clone())
                .unwrap_or_default()),
            _ => Err(StataErr::syntax().into()),
        }
    }

    /// `c()`, `r()` and `e()` values.
    pub(crate) fn class_value(&self, class: char, name: &str) -> Val {
        match class {
            'r' => self.rres.get(name),
            'e' => self.eres.get(name),
            _ => self.c_value(name),
        }
    }

    fn c_value(&self, name: &str) -> Val {
        let s = |x: &str| Val::Str(x.to_string());
        let n = Val::Num;
        match name {
            "stata_version" | "version" => n(self.version),
            "pwd" => s(&std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default()),
            "rc" => n(self.last_rc as f64),
            "current_date" => s(&crate::output::local_date_time().0),
            "current_time" => s(&crate::output::local_date_time().1),
            "os" => s("Unix"),
            "osdtl" | "machine_type" => s("PC (64-bit x86-64)"),
            "dirsep" => s("/"),
            "tmpdir" => s("/tmp"),
            "N" => n(self.data.nobs as f64),
            "k" => n(self.data.vars.len() as f64),
            "edition" => s(self.edition.short()),
            "edition_real" => s(self.edition.short()),
            "MP" => n((self.edition == Edition::Mp) as i32 as f64),
            "SE" => n((self.edition != Edition::Be) as i32 as f64),
            "processors" | "processors_lic" => n(if self.edition == Edition::Mp {
                2.0
            } else {
                1.0
            }),
            "linesize" => n(self.out.linesize as f64),
            "more" => s(if self.out.more { "on" } else { "off" }),
            "trace" => s(if self.trace { "on" } else { "off" }),
            "mode" => s(if self.batch { "batch" } else { "" }),
            "console" => s("console"),
            "changed" => n(self.data.changed as i32 as f64),
            "pi" => n(std::f64::consts::PI),
            "maxvar" => n(if self.edition == Edition::Be {
                2048.0
            } else {
                5000.0
            }),
            "username" => s(&std::env::var("USER").unwrap_or_default()),
            "filename" => s(self.data.source.as_deref().unwrap_or("")),
            "seed" => s("X075bcd151f123bb5159a55e50022865700043e55"),
            "sysdir_plus" => s(&self.ado.plus()),
            "sysdir_personal" => s(&self.ado.personal()),
            _ => Val::Num(MISSING),
        }
    }

    /// `_b[name]` and `_se[name]` from the last estimates.
    pub(crate) fn coef(&self, kind: &str, name: &str) -> f64 {
        let b = self
            .eres
            .matrices
            .iter()
            .find(|(n, _)| n == "b")
            .map(|(_, m)| m);
        let v = self
            .eres
            .matrices
            .iter()
            .find(|(n, _)| n == "V")
            .map(|(_, m)| m);
        let Some(b) = b else { return MISSING };
        let Some(j) = b.cols.iter().position(|c| c == name) else {
            return MISSING;
        };
        if kind == "_b" {
            return b.v[0][j];
        }
        v.map_or(MISSING, |v| v.v[j][j].sqrt())
    }

    // ----- echo and error trailers -------------------------------------------

    /// Echoes a command's physical lines: the prompt on the first, `> ` on the rest.
    fn echo_lines(&mut self, prompt: &str, lines: &[String]) {
        for (k, l) in lines.iter().enumerate() {
            if k == 0 {
                self.out.echo(&format!("{prompt}{l}"));
            } else {
                self.out.echo(&format!("> {l}"));
            }
        }
    }

    /// Prints an uncaught error: the message unless already shown, then `r(N);`.
    pub(crate) fn report(&mut self, e: &mut StataErr) {
        if !e.shown {
            if let Some(m) = e.msg.clone() {
                for l in m.lines() {
                    self.out.line(l);
                }
            }
            e.shown = true;
        }
        self.out.line(&format!("r({});", e.rc));
    }

    /// A trace line (`- cmd`, `= expanded`), shown even under `quietly` as Stata does.
    fn trace_out(&mut self, text: &str) {
        let q = std::mem::replace(&mut self.out.quiet, false);
        self.out
            .line(&format!("{}{}", "  ".repeat(self.prog_depth), text));
        self.out.quiet = q;
    }

    fn trace_cmd(&mut self, raw: &str, expanded: &str) {
        if !self.trace {
            return;
        }
        let raw = raw.trim();
        self.trace_out(&format!("- {raw}"));
        if expanded.trim() != raw {
            self.trace_out(&format!("= {}", expanded.trim()));
        }
    }

    // ----- do-files ------------------------------------------------------------

    /// Resolves a do-file name: `main` means `main.do`.
    pub(crate) fn do_path(name: &str) -> PathBuf {
        let p = PathBuf::from(name);
        if p.extension().is_none() && !p.exists() {
            PathBuf::from(format!("{name}.do"))
        } else {
            p
        }
    }

    /// `do file [args]`, `run file`, `include file`.
    pub(crate) fn run_do(&mut self, args: &str, how: DoHow) -> R {
        let words = tokenize(args);
        let Some(name) = words.first() else {
            return Err(StataErr::syntax().into());
        };
        let path = Self::do_path(name);
        let shown = path.display().to_string();
        let text = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(_) => return fail(601, format!("file {shown} not found")),
        };
        let cmds = source::parse(&text);
        let rest_args = args.trim_start();
        let after_name = if let Some(quoted) = rest_args.strip_prefix('"') {
            quoted.split_once('"').map_or("", |(_, r)| r)
        } else {
            rest_args
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r)
        };
        if how != DoHow::Include {
            let mut frame = HashMap::new();
            frame.insert("0".to_string(), after_name.trim().to_string());
            for (k, w) in words.iter().skip(1).enumerate() {
                frame.insert((k + 1).to_string(), w.clone());
            }
            self.frames.push(frame);
        }
        let quiet_before = self.out.quiet;
        if how == DoHow::Run {
            self.out.quiet = true;
        }
        self.do_depth += 1;
        self.out.blank();
        let result = self.run_cmds(&cmds);
        let result = match result {
            Ok(()) => {
                self.out.echo(". ");
                Ok(())
            }
            Err(Flow::ExitDo) => {
                self.out.blank();
                Ok(())
            }
            Err(other) => {
                if matches!(other, Flow::Err(_)) {
                    self.out.blank();
                }
                Err(other)
            }
        };
        if !matches!(result, Err(Flow::ExitStata)) {
            self.out.line("end of do-file");
        }
        self.do_depth -= 1;
        self.out.quiet = quiet_before;
        if how != DoHow::Include {
            self.frames.pop();
        }
        result
    }

    /// Runs the commands of a do-file with their echo; gathers and echoes block
    /// bodies with numbered prompts before running them.
    fn run_cmds(&mut self, cmds: &[Cmd]) -> R {
        let mut i = 0;
        while i < cmds.len() {
            let c = &cmds[i];
            i += 1;
            self.echo_lines(". ", &c.echo);
            match c.kind {
                Kind::Blank | Kind::Comment => continue,
                Kind::Delimit(semi) => {
                    self.out.line(if semi {
                        "delimiter now ;"
                    } else {
                        "delimiter now cr"
                    });
                    continue;
                }
                Kind::Command => {}
            }
            // Loop and `if` headers are traced even at do-file level; a program
            // definition is not (it runs nothing).
            let mut traced = false;
            let body = match block_of(&c.text) {
                Some(kind) => {
                    let (body, used) = self.gather_echoed(&cmds[i..], &kind);
                    i += used;
                    traced = kind == Block::Braces;
                    Some(body)
                }
                None => None,
            };
            let result = self.exec_line(&c.text, body.as_deref(), traced);
            if let Some(e) = self.settle(result)? {
                return Err(Flow::Err(e));
            }
        }
        Ok(())
    }

    /// After a command at do-file or prompt level: updates `c(rc)`, prints the blank
    /// line or the error trailer. Returns the error to pass up, if any.
    pub(crate) fn settle(&mut self, result: R) -> R<Option<StataErr>> {
        match result {
            Ok(()) => {
                self.last_rc = 0;
                self.out.blank();
                Ok(None)
            }
            Err(Flow::Err(mut e)) => {
                self.last_rc = e.rc;
                self.report(&mut e);
                Ok(Some(e))
            }
            Err(other) => Err(other),
        }
    }

    /// Reads a block body from the following commands, echoing each line with the
    /// numbered prompt. A blank or comment line is echoed but not stored, and the
    /// line after it gets a plain `. ` prompt, as real Stata does.
    fn gather_echoed(&mut self, rest: &[Cmd], kind: &Block) -> (Vec<String>, usize) {
        let mut body = Vec::new();
        let mut n = if *kind == Block::Program { 1 } else { 2 };
        let mut numbered = true;
        let mut depth = 1;
        for (k, c) in rest.iter().enumerate() {
            let prompt = if numbered {
                format!("{n:>3}. ")
            } else {
                ". ".to_string()
            };
            self.echo_lines(&prompt, &c.echo);
            if c.kind != Kind::Command {
                numbered = false;
                continue;
            }
            numbered = true;
            n += 1;
            let done = match kind {
                Block::Program => c.text.trim() == "end",
                Block::Braces => {
                    depth += brace_delta(&c.text);
                    depth == 0
                }
            };
            if done {
                return (body, k + 1);
            }
            body.push(c.text.clone());
        }
        (body, rest.len())
    }

    /// Runs stored lines (a loop or program body): no echo, trace when on.
    pub(crate) fn run_lines(&mut self, lines: &[String]) -> R {
        let mut i = 0;
        while i < lines.len() {
            let line = &lines[i];
            i += 1;
            if line.trim().is_empty() || line.trim_start().starts_with('*') {
                continue;
            }
            let body = match block_of(line) {
                Some(kind) => {
                    let mut depth = 1;
                    let start = i;
                    while i < lines.len() {
                        let l = &lines[i];
                        i += 1;
                        let done = match kind {
                            Block::Program => l.trim() == "end",
                            Block::Braces => {
                                depth += brace_delta(l);
                                depth == 0
                            }
                        };
                        if done {
                            break;
                        }
                    }
                    let end = if i > start { i - 1 } else { i };
                    Some(lines[start..end.max(start)].to_vec())
                }
                None => None,
            };
            self.exec_line(line, body.as_deref(), true)?;
        }
        Ok(())
    }

    /// Expands and runs one command line (with its block body, if any).
    pub(crate) fn exec_line(&mut self, raw: &str, body: Option<&[String]>, traced: bool) -> R {
        if signals::take_break() {
            return Err(StataErr::brk().into());
        }
        let line = self.expand(raw)?;
        if traced {
            self.trace_cmd(raw, &line);
        }
        self.exec_expanded(&line, raw, body)
    }

    /// Runs an expanded line: prefixes first, then the command itself.
    pub(crate) fn exec_expanded(&mut self, line: &str, raw: &str, body: Option<&[String]>) -> R {
        let (w, rest) = split_word(line);
        let word = w.trim_end_matches(':');
        let rest = rest.trim_start_matches(':').trim_start();
        let raw_rest = strip_first_word(raw);
        if !word.is_empty() && is_abbrev(word, "capture", 3) {
            return self.capture(rest, raw_rest, body);
        }
        if !word.is_empty() && is_abbrev(word, "quietly", 3) {
            return self.with_quiet(true, rest, raw_rest, body);
        }
        if !word.is_empty() && is_abbrev(word, "noisily", 1) {
            return self.with_quiet(false, rest, raw_rest, body);
        }
        if word == "{" {
            return self.run_lines(body.unwrap_or(&[]));
        }
        crate::commands::dispatch(self, line, raw, body)
    }

    fn with_quiet(&mut self, quiet: bool, rest: &str, raw: &str, body: Option<&[String]>) -> R {
        let saved = std::mem::replace(&mut self.out.quiet, quiet);
        let r = self.exec_expanded(rest, raw, body);
        self.out.quiet = saved;
        r
    }

    fn capture(&mut self, rest: &str, raw: &str, body: Option<&[String]>) -> R {
        let (next, _) = split_word(rest);
        let noisy = is_abbrev(next.trim_end_matches(':'), "noisily", 1);
        let saved = std::mem::replace(&mut self.out.quiet, true);
        let r = self.exec_expanded(rest, raw, body);
        self.out.quiet = saved;
        match r {
            Ok(()) => {
                self.rc = 0;
                Ok(())
            }
            Err(Flow::Err(e)) => {
                // capture noisily shows the message but never the `r(N);` line.
                if noisy
                    && !e.shown
                    && let Some(m) = &e.msg
                {
                    let q = std::mem::replace(&mut self.out.quiet, false);
                    for l in m.lines() {
                        self.out.line(l);
                    }
                    self.out.quiet = q;
                }
                self.rc = e.rc;
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    // ----- blocks --------------------------------------------------------------

    /// Runs a loop body once; with trace on, closes the iteration with `- }`.
    pub(crate) fn iterate(&mut self, body: &[String]) -> R {
        if signals::take_break() {
            return Err(StataErr::brk().into());
        }
        self.run_lines(body)?;
        if self.trace {
            self.trace_out("- }");
        }
        Ok(())
    }

    /// Calls a user program: new local scope with `0`, `1`, ... set from the arguments.
    pub(crate) fn call_program(&mut self, name: &str, args: &str) -> R {
        let Some(prog) = self.programs.get(name).cloned() else {
            return fail(199, format!("command {name} is unrecognized"));
        };
        let mut frame = HashMap::new();
        frame.insert("0".to_string(), args.trim().to_string());
        for (k, w) in tokenize(args).into_iter().enumerate() {
            frame.insert((k + 1).to_string(), w);
        }
        self.frames.push(frame);
        self.prog_depth += 1;
        let rule = |indent: usize, what: &str| {
            let tail = format!(" {what} {name} ---");
            let dashes = crate::output::LINESIZE.saturating_sub(indent + tail.len());
            format!("{}{}{}", " ".repeat(indent), "-".repeat(dashes), tail)
        };
        if self.trace {
            let l = rule(2 * self.prog_depth, "begin");
            let q = std::mem::replace(&mut self.out.quiet, false);
            self.out.line(&l);
            self.out.quiet = q;
        }
        let r = self.run_lines(&prog.body);
        if self.trace {
            let l = rule(2 * self.prog_depth, "end");
            let q = std::mem::replace(&mut self.out.quiet, false);
            self.out.line(&l);
            self.out.quiet = q;
        }
        self.prog_depth -= 1;
        self.frames.pop();
        match r {
            Err(Flow::ExitDo) => Ok(()),
            other => other,
        }
    }

    pub(crate) fn new_temp_name(&mut self) -> String {
        let n = self.temp_counter;
        self.temp_counter += 1;
        format!("__{n:06}")
    }

    /// Directory where `sysuse` pretends the ado base lives, for `describe`.
    pub(crate) fn ado_base(&self) -> String {
        format!("/usr/local/stata{}/ado/base", self.version.trunc() as i64)
    }
}

/// The raw text after its first word (so loop headers can be re-expanded).
fn strip_first_word(raw: &str) -> &str {
    let (_, rest) = split_word(raw);
    rest.trim_start_matches(':').trim_start()
}
