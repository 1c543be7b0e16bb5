//! Stata expressions: parsing (`price/1000 + (mpg > 20)`, `"a" + "b"`,
//! `c(stata_version)`, `_b[mpg]`) and evaluation, per observation for `generate`.
//!
//! The parser is greedy and reports how much text it consumed, because `display`
//! mixes expressions with strings and directives on one line.

use crate::data::{MISSING, is_missing};
use crate::error::{R, StataErr, fail};
use crate::interp::Interp;
use crate::numfmt;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Num(f64),
    Str(String),
}

impl Val {
    pub(crate) fn num(&self) -> R<f64> {
        match self {
            Val::Num(x) => Ok(*x),
            Val::Str(_) => fail(109, "type mismatch"),
        }
    }

    /// Stata's truth: any non-zero number, missing included.
    pub(crate) fn truthy(&self) -> R<bool> {
        Ok(self.num()? != 0.0)
    }

    /// How `display` and macro evaluation (`` `=expr' ``) show a value.
    pub(crate) fn show(&self) -> String {
        match self {
            Val::Num(x) => numfmt::display(*x),
            Val::Str(s) => s.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Num(f64),
    Str(String),
    /// A name: a variable, scalar or system value (`_N`, `_pi`); optional `[index]`.
    Name(String, Option<Box<Expr>>),
    Unary(char, Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    /// `c(name)`, `r(name)`, `e(name)`.
    Class(char, String),
    /// `_b[name]`, `_se[name]`.
    Coef(String, String),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
    Bad,
}

const OPS: [&str; 16] = [
    "==", "!=", "~=", "<=", ">=", "&", "|", "<", ">", "+", "-", "*", "/", "^", "!", "~",
];

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// The token at `pos` and where it ends.
    fn peek_at(&self, pos: usize) -> (Tok, usize, usize) {
        let b = self.s.as_bytes();
        let mut i = pos;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        if i >= b.len() {
            return (Tok::End, start, i);
        }
        let c = b[i];
        let rest = &self.s[i..];
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                let mut k = j + 1;
                if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                    k += 1;
                }
                if k < b.len() && b[k].is_ascii_digit() {
                    while k < b.len() && b[k].is_ascii_digit() {
                        k += 1;
                    }
                    j = k;
                }
            }
            return match self.s[i..j].parse::<f64>() {
                Ok(x) => (Tok::Num(x), start, j),
                Err(_) => (Tok::Bad, start, j),
            };
        }
        if c == b'.' {
            // `.` and the extended missing values `.a` ... `.z`.
            let j = if b.get(i + 1).is_some_and(|d| d.is_ascii_lowercase())
                && !b
                    .get(i + 2)
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == b'_')
            {
                i + 2
            } else {
                i + 1
            };
            return (Tok::Num(MISSING), start, j);
        }
        if c == b'"' {
            return match rest[1..].find('"') {
                Some(k) => (Tok::Str(rest[1..1 + k].to_string()), start, i + k + 2),
                None => (Tok::Bad, start, b.len()),
            };
        }
        if rest.starts_with("`\"") {
            // Compound quotes nest: `"a "b" c"'.
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if self.s[j..].starts_with("`\"") {
                    depth += 1;
                    j += 2;
                } else if self.s[j..].starts_with("\"'") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        return (Tok::Str(self.s[i + 2..j - 2].to_string()), start, j);
                    }
                } else {
                    j += 1;
                }
            }
            return (Tok::Bad, start, b.len());
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            return (Tok::Ident(self.s[i..j].to_string()), start, j);
        }
        let single = match c {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            return (t, start, i + 1);
        }
        for op in OPS {
            if rest.starts_with(op) {
                return (Tok::Op(op), start, i + op.len());
            }
        }
        (Tok::Bad, start, i + 1)
    }

    fn peek(&self) -> Tok {
        self.peek_at(self.pos).0
    }

    fn bump(&mut self) -> Tok {
        let (t, _, end) = self.peek_at(self.pos);
        self.pos = end;
        t
    }

    fn expect(&mut self, t: Tok) -> R {
        if self.bump() == t {
            Ok(())
        } else {
            Err(StataErr::syntax().into())
        }
    }

    fn binary(&mut self, ops: &[&'static str], next: fn(&mut Self) -> R<Expr>) -> R<Expr> {
        let mut left = next(self)?;
        loop {
            match self.peek() {
                Tok::Op(op) if ops.contains(&op) => {
                    self.bump();
                    let right = next(self)?;
                    left = Expr::Bin(op, Box::new(left), Box::new(right));
                }
                _ => return Ok(left),
            }
        }
    }

    fn or(&mut self) -> R<Expr> {
        self.binary(&["|"], Self::and)
    }
    fn and(&mut self) -> R<Expr> {
        self.binary(&["&"], Self::cmp)
    }
    fn cmp(&mut self) -> R<Expr> {
        self.binary(&["==", "!=", "~=", "<", "<=", ">", ">="], Self::add)
    }
    fn add(&mut self) -> R<Expr> {
        self.binary(&["+", "-"], Self::mul)
    }
    fn mul(&mut self) -> R<Expr> {
        self.binary(&["*", "/"], Self::unary)
    }

    fn unary(&mut self) -> R<Expr> {
        match self.peek() {
            Tok::Op("-") => {
                self.bump();
                Ok(Expr::Unary('-', Box::new(self.unary()?)))
            }
            Tok::Op("!") | Tok::Op("~") => {
                self.bump();
                Ok(Expr::Unary('!', Box::new(self.unary()?)))
            }
            Tok::Op("+") => {
                self.bump();
                self.unary()
            }
            _ => self.pow(),
        }
    }

    fn pow(&mut self) -> R<Expr> {
        let base = self.atom()?;
        if self.peek() == Tok::Op("^") {
            self.bump();
            let exp = self.unary()?;
            return Ok(Expr::Bin("^", Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> R<Expr> {
        match self.bump() {
            Tok::Num(x) => Ok(Expr::Num(x)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::LParen => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Tok::Ident(name) => self.after_ident(name),
            _ => Err(StataErr::syntax().into()),
        }
    }

    fn after_ident(&mut self, name: String) -> R<Expr> {
        let (next, start, _) = self.peek_at(self.pos);
        // A function call needs the parenthesis right after its name.
        if next == Tok::LParen && start == self.pos {
            self.bump();
            if matches!(name.as_str(), "c" | "r" | "e") {
                let inner = match self.bump() {
                    Tok::Ident(s) => s,
                    _ => return Err(StataErr::syntax().into()),
                };
                self.expect(Tok::RParen)?;
                let class = name.chars().next().unwrap_or('c');
                return Ok(Expr::Class(class, inner));
            }
            let mut args = Vec::new();
            if self.peek() == Tok::RParen {
                self.bump();
            } else {
                loop {
                    args.push(self.or()?);
                    match self.bump() {
                        Tok::Comma => continue,
                        Tok::RParen => break,
                        _ => return Err(StataErr::syntax().into()),
                    }
                }
            }
            return Ok(Expr::Call(name, args));
        }
        if next == Tok::LBracket && start == self.pos {
            self.bump();
            if name == "_b" || name == "_se" {
                let inner = match self.bump() {
                    Tok::Ident(s) => s,
                    _ => return Err(StataErr::syntax().into()),
                };
                self.expect(Tok::RBracket)?;
                return Ok(Expr::Coef(name, inner));
            }
            let idx = self.or()?;
            self.expect(Tok::RBracket)?;
            return Ok(Expr::Name(name, Some(Box::new(idx))));
        }
        Ok(Expr::Name(name, None))
    }
}

/// Parses the longest expression at the start of `s`; returns it and the bytes used.
pub(crate) fn parse_prefix(s: &str) -> R<(Expr, usize)> {
    let mut p = Parser { s, pos: 0 };
    let e = p.or()?;
    Ok((e, p.pos))
}

/// Parses all of `s` as one expression.
pub(crate) fn parse(s: &str) -> R<Expr> {
    let (e, used) = parse_prefix(s)?;
    if !s[used..].trim().is_empty() {
        let p = Parser { s, pos: used };
        return match p.peek() {
            Tok::Op(_) | Tok::Bad => Err(StataErr::syntax().into()),
            _ => fail(198, format!("invalid '{}'", s[used..].trim())),
        };
    }
    Ok(e)
}

/// Evaluation context: the interpreter and, for `generate`, the observation.
pub(crate) struct Ctx<'a> {
    pub it: &'a Interp,
    pub obs: Option<usize>,
}

impl Ctx<'_> {
    pub(crate) fn eval(&self, e: &Expr) -> R<Val> {
        match e {
            Expr::Num(x) => Ok(Val::Num(*x)),
            Expr::Str(s) => Ok(Val::Str(s.clone())),
            Expr::Name(name, idx) => self.name(name, idx.as_deref()),
            Expr::Unary('-', a) => Ok(Val::Num(-self.eval(a)?.num()?)),
            Expr::Unary(_, a) => Ok(Val::Num(if self.eval(a)?.truthy()? { 0.0 } else { 1.0 })),
            Expr::Bin(op, a, b) => self.binary(op, a, b),
            Expr::Call(f, args) => self.call(f, args),
            Expr::Class(c, name) => Ok(self.it.class_value(*c, name)),
            Expr::Coef(kind, name) => Ok(Val::Num(self.it.coef(kind, name))),
        }
    }

    fn name(&self, name: &str, idx: Option<&Expr>) -> R<Val> {
        let d = &self.it.data;
        match name {
            "_N" => return Ok(Val::Num(d.nobs as f64)),
            "_n" => return Ok(Val::Num(self.obs.map_or(1.0, |i| i as f64 + 1.0))),
            "_pi" => return Ok(Val::Num(std::f64::consts::PI)),
            "_rc" => return Ok(Val::Num(self.it.rc as f64)),
            _ => {}
        }
        if let Some(v) = d.var(name) {
            let i = match idx {
                Some(e) => {
                    let k = self.eval(e)?.num()?;
                    if is_missing(k) || k < 1.0 || k as usize > d.nobs {
                        return Ok(if v.is_str() {
                            Val::Str(String::new())
                        } else {
                            Val::Num(MISSING)
                        });
                    }
                    k as usize - 1
                }
                None => self.obs.unwrap_or(0),
            };
            return Ok(if v.is_str() {
                Val::Str(v.str_at(i))
            } else {
                Val::Num(v.num(i))
            });
        }
        if let Some(x) = self.it.scalars.get(name) {
            return Ok(x.clone());
        }
        fail(111, format!("{name} not found"))
    }

    fn binary(&self, op: &str, a: &Expr, b: &Expr) -> R<Val> {
        // `&` and `|` in Stata evaluate both sides; no short-circuit needed.
        let (x, y) = (self.eval(a)?, self.eval(b)?);
        if let (Val::Str(s), Val::Str(t)) = (&x, &y) {
            let r = match op {
                "+" => return Ok(Val::Str(format!("{s}{t}"))),
                "==" => s == t,
                "!=" | "~=" => s != t,
                "<" => s < t,
                ">" => s > t,
                "<=" => s <= t,
                ">=" => s >= t,
                _ => return fail(109, "type mismatch"),
            };
            return Ok(Val::Num(r as i32 as f64));
        }
        let (x, y) = (x.num()?, y.num()?);
        // Missing is larger than every number in comparisons.
        let key = |v: f64| if is_missing(v) { f64::INFINITY } else { v };
        let bool_num = |b: bool| Val::Num(if b { 1.0 } else { 0.0 });
        Ok(match op {
            "+" => Val::Num(x + y),
            "-" => Val::Num(x - y),
            "*" => Val::Num(x * y),
            "/" => Val::Num(if y == 0.0 { MISSING } else { x / y }),
            "^" => Val::Num(x.powf(y)),
            "==" => bool_num(key(x) == key(y)),
            "!=" | "~=" => bool_num(key(x) != key(y)),
            "<" => bool_num(key(x) < key(y)),
            ">" => bool_num(key(x) > key(y)),
            "<=" => bool_num(key(x) <= key(y)),
            ">=" => bool_num(key(x) >= key(y)),
            "&" => bool_num(x != 0.0 && y != 0.0),
            "|" => bool_num(x != 0.0 || y != 0.0),
            _ => return Err(StataErr::syntax().into()),
        })
    }

    fn call(&self, f: &str, args: &[Expr]) -> R<Val> {
        let vals = args.iter().map(|a| self.eval(a)).collect::<R<Vec<Val>>>()?;
        let n = |i: usize| -> R<f64> {
            vals.get(i)
                .ok_or_else(|| StataErr::syntax().into())
                .and_then(Val::num)
        };
        let s = |i: usize| -> R<String> {
            match vals.get(i) {
                Some(Val::Str(s)) => Ok(s.clone()),
                Some(Val::Num(_)) => fail(109, "type mismatch"),
                None => Err(StataErr::syntax().into()),
            }
        };
        let num = |x: f64| Ok(Val::Num(if x.is_finite() { x } else { MISSING }));
        match f {
            "abs" => num(n(0)?.abs()),
            "sqrt" => num(n(0)?.sqrt()),
            "exp" => num(n(0)?.exp()),
            "ln" | "log" => num(n(0)?.ln()),
            "log10" => num(n(0)?.log10()),
            "floor" => num(n(0)?.floor()),
            "ceil" => num(n(0)?.ceil()),
            "int" | "trunc" => num(n(0)?.trunc()),
            "round" => {
                let unit = if vals.len() > 1 { n(1)? } else { 1.0 };
                num((n(0)? / unit).round() * unit)
            }
            "mod" => num(n(0)? - n(1)? * (n(0)? / n(1)?).floor()),
            "min" | "max" => {
                let xs: Vec<f64> = vals
                    .iter()
                    .filter_map(|v| v.num().ok())
                    .filter(|x| !is_missing(*x))
                    .collect();
                let r = if f == "min" {
                    xs.iter().copied().fold(f64::INFINITY, f64::min)
                } else {
                    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                };
                num(r)
            }
            "missing" | "mi" => Ok(Val::Num(vals.iter().any(|v| match v {
                Val::Num(x) => is_missing(*x),
                Val::Str(s) => s.is_empty(),
            }) as i32 as f64)),
            "cond" => {
                if vals.len() < 3 {
                    return Err(StataErr::syntax().into());
                }
                Ok(if vals[0].truthy()? {
                    vals[1].clone()
                } else {
                    vals[2].clone()
                })
            }
            "inlist" => Ok(Val::Num(
                vals.iter().skip(1).any(|v| Some(v) == vals.first()) as i32 as f64,
            )),
            "inrange" => {
                let (x, lo, hi) = (n(0)?, n(1)?, n(2)?);
                Ok(Val::Num((x >= lo && x <= hi) as i32 as f64))
            }
            "runiform" => num(self.it.rng.borrow_mut().uniform()),
            "rnormal" => {
                let (m, sd) = (
                    if vals.is_empty() { 0.0 } else { n(0)? },
                    if vals.len() > 1 { n(1)? } else { 1.0 },
                );
                num(m + sd * self.it.rng.borrow_mut().normal())
            }
            "string" => Ok(Val::Str(numfmt::display(n(0)?))),
            "real" => num(s(0)?.trim().parse().unwrap_or(MISSING)),
            "strlen" | "length" | "ustrlen" => Ok(Val::Num(s(0)?.chars().count() as f64)),
            "upper" | "strupper" | "ustrupper" => Ok(Val::Str(s(0)?.to_uppercase())),
            "lower" | "strlower" | "ustrlower" => Ok(Val::Str(s(0)?.to_lowercase())),
            "trim" | "strtrim" | "ustrtrim" => Ok(Val::Str(s(0)?.trim().to_string())),
            "substr" | "usubstr" => {
                let text: Vec<char> = s(0)?.chars().collect();
                let (start, len) = (n(1)?, if vals.len() > 2 { n(2)? } else { MISSING });
                let start = if start < 0.0 {
                    text.len() as f64 + start
                } else {
                    start - 1.0
                }
                .max(0.0) as usize;
                let len = if is_missing(len) {
                    text.len()
                } else {
                    len.max(0.0) as usize
                };
                Ok(Val::Str(text.iter().skip(start).take(len).collect()))
            }
            "word" => {
                let text = s(0)?;
                let k = n(1)?;
                Ok(Val::Str(
                    text.split_whitespace()
                        .nth((k as usize).saturating_sub(1))
                        .unwrap_or("")
                        .to_string(),
                ))
            }
            "wordcount" => Ok(Val::Num(s(0)?.split_whitespace().count() as f64)),
            "strpos" => Ok(Val::Num(s(0)?.find(&s(1)?).map_or(0.0, |p| p as f64 + 1.0))),
            "subinstr" => Ok(Val::Str(s(0)?.replace(&s(1)?, &s(2)?))),
            "normal" => num(0.5 * (1.0 + erf(n(0)? / std::f64::consts::SQRT_2))),
            "scalar" => vals
                .first()
                .cloned()
                .ok_or_else(|| StataErr::syntax().into()),
            _ => fail(133, format!("unknown function {f}()")),
        }
    }
}

/// Error function (Abramowitz and Stegun 7.1.26), enough for `normal()`.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

/// Evaluates `s` once, outside any observation (what `display` and `local x = ` do).
pub(crate) fn eval_str(it: &Interp, s: &str) -> R<Val> {
    let e = parse(s)?;
    Ctx { it, obs: None }.eval(&e)
}
