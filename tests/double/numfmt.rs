//! Number formatting the way Stata prints numbers: `%9.0g`-style general formats,
//! `%w.df`, comma formats, and the default of `display`.

use crate::data::is_missing;

/// General format squeezed into `budget` characters, not counting a minus sign:
/// Stata's `%9.0g` gives `6165.257`, `.0086769`, `-2.452077` (budget 8); `display`
/// gives `.33333333` (budget 9).
pub(crate) fn g(x: f64, budget: usize) -> String {
    if is_missing(x) {
        return ".".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    let int_digits = if a < 1.0 {
        0
    } else {
        a.log10().floor() as usize + 1
    };
    if a.fract() == 0.0 && int_digits <= budget {
        return format!("{sign}{a:.0}");
    }
    if int_digits > budget || a < 1e-5 {
        return exp_form(x, budget.saturating_sub(6).max(1));
    }
    let decimals = budget.saturating_sub(int_digits + 1);
    let mut s = format!("{a:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if let Some(rest) = s.strip_prefix("0.") {
        s = format!(".{rest}");
    }
    if s.is_empty() || s == "0" {
        return "0".into();
    }
    format!("{sign}{s}")
}

/// `1.235e+08`: Rust writes `1.235e8`, Stata pads the exponent to two digits.
pub(crate) fn exp_form(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// What `display` shows for a bare number.
pub(crate) fn display(x: f64) -> String {
    g(x, 9)
}

/// Full-precision form used by `return list` and macro expansion of `r()` values.
pub(crate) fn precise(x: f64) -> String {
    if is_missing(x) {
        return ".".into();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let s = format!("{x}");

    if let Some(r) = s.strip_prefix("0.") {
        format!(".{r}")
    } else if let Some(r) = s.strip_prefix("-0.") {
        format!("-.{r}")
    } else {
        s
    }
}

/// Inserts thousands separators into the integer part of a formatted number.
pub(crate) fn commas(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return s.to_string();
    }
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}{frac}")
}

/// A parsed display format such as `%9.2f`, `%-18s`, `%8.0gc`.
#[derive(Clone, Debug)]
pub(crate) struct Fmt {
    pub left: bool,
    pub width: usize,
    pub decimals: usize,
    pub kind: char,
    pub comma: bool,
}

impl Fmt {
    pub(crate) fn parse(s: &str) -> Option<Fmt> {
        let body = s.strip_prefix('%')?;
        let (left, body) = match body.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let body = body.trim_start_matches('~');
        let digits_end = body
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(body.len());
        let (num, tail) = body.split_at(digits_end);
        let (w, d) = match num.split_once('.') {
            Some((w, d)) => (w, d),
            None => (num, "0"),
        };
        let mut chars = tail.chars();
        let kind = chars.next()?;
        if !"gfesd".contains(kind) {
            return None;
        }
        let comma = chars.next() == Some('c');
        Some(Fmt {
            left,
            width: w.parse().unwrap_or(9),
            decimals: d.parse().unwrap_or(0),
            kind,
            comma,
        })
    }

    /// Formats a number, padded to the width (right-aligned unless `%-`).
    pub(crate) fn num(&self, x: f64) -> String {
        let body = self.num_bare(x);
        self.pad(&body)
    }

    /// Formats a number without padding.
    pub(crate) fn num_bare(&self, x: f64) -> String {
        if is_missing(x) {
            return ".".into();
        }
        let s = match self.kind {
            'f' => format!("{:.*}", self.decimals, x),
            'e' => exp_form(x, self.decimals),
            _ if self.decimals > 0 => {
                let digits = self.decimals;
                let a = x.abs();
                let int_digits = if a < 1.0 {
                    0
                } else {
                    a.log10().floor() as usize + 1
                };
                let dec = digits.saturating_sub(int_digits);
                let s = format!("{x:.dec$}");
                if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    s
                }
            }
            _ => g(x, self.width.saturating_sub(1).max(1)),
        };
        if self.comma { commas(&s) } else { s }
    }

    pub(crate) fn pad(&self, s: &str) -> String {
        if self.left {
            format!("{s:<w$}", w = self.width)
        } else {
            format!("{s:>w$}", w = self.width)
        }
    }
}
