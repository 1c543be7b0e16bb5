//! Reads Stata's stored results (`return list`, `ereturn list`, `matrix list`) into typed JSON.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `r()` or `e()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ResultClass {
    R,
    E,
}

impl ResultClass {
    pub(crate) fn letter(self) -> char {
        match self {
            ResultClass::R => 'r',
            ResultClass::E => 'e',
        }
    }

    /// The command that lists this class: `return list` or `ereturn list`.
    pub(crate) fn list_command(self) -> &'static str {
        match self {
            ResultClass::R => "return list",
            ResultClass::E => "ereturn list",
        }
    }
}

/// A stored matrix: names and values, row by row. Missing values are null.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub(crate) struct StoredMatrix {
    pub rows: usize,
    pub cols: usize,
    pub rownames: Vec<String>,
    pub colnames: Vec<String>,
    pub values: Vec<Vec<Option<f64>>>,
}

/// What `return list` / `ereturn list` shows, before the matrices are read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub(crate) struct ResultList {
    /// Scalars by name (without the `r(` `)`); Stata's missing values are null.
    pub scalars: BTreeMap<String, Option<f64>>,
    /// Macros by name, their text without the surrounding quotes.
    pub macros: BTreeMap<String, String>,
    /// Matrices by name, with their dimensions as listed (rows, columns).
    #[serde(skip)]
    pub matrix_dims: Vec<(String, usize, usize)>,
    /// Functions such as `e(sample)`.
    pub functions: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Scalars,
    Macros,
    Matrices,
    Functions,
}

/// Parses the text of `return list` or `ereturn list` (echo lines, if any, are skipped).
pub(crate) fn parse_list(text: &str, class: ResultClass) -> ResultList {
    let mut out = ResultList::default();
    let mut section = Section::None;
    let prefix = format!("{}(", class.letter());
    // A macro whose closing quote has not been seen yet: its name and text so far.
    let mut open_macro: Option<(String, String)> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some((name, mut value)) = open_macro.take() {
            // Stata wraps a long macro onto indented continuation lines.
            value.push(' ');
            value.push_str(t);
            finish_macro(&mut out, name, value, &mut open_macro);
            continue;
        }
        match t {
            "scalars:" => section = Section::Scalars,
            "macros:" => section = Section::Macros,
            "matrices:" => section = Section::Matrices,
            "functions:" => section = Section::Functions,
            _ => {}
        }
        if t.ends_with(':') && !t.contains('(') {
            continue;
        }
        let Some(rest) = t.strip_prefix(&prefix) else {
            continue;
        };
        let Some(close) = rest.find(')') else {
            continue;
        };
        let name = rest[..close].to_owned();
        let after = rest[close + 1..].trim_start();
        match section {
            Section::Scalars => {
                if let Some(v) = after.strip_prefix('=') {
                    out.scalars.insert(name, parse_number(v.trim()));
                }
            }
            Section::Macros => {
                if let Some(v) = after.strip_prefix(':') {
                    finish_macro(&mut out, name, v.trim().to_owned(), &mut open_macro);
                }
            }
            Section::Matrices => {
                if let Some(dims) = after.strip_prefix(':')
                    && let Some((r, c)) = dims.split_once('x')
                    && let (Ok(r), Ok(c)) = (r.trim().parse(), c.trim().parse())
                {
                    out.matrix_dims.push((name, r, c));
                }
            }
            Section::Functions => out.functions.push(format!("{}({name})", class.letter())),
            Section::None => {}
        }
    }
    if let Some((name, value)) = open_macro {
        out.macros
            .insert(name, value.strip_prefix('"').unwrap_or(&value).to_owned());
    }
    out
}

fn finish_macro(
    out: &mut ResultList,
    name: String,
    value: String,
    open: &mut Option<(String, String)>,
) {
    if value.starts_with('"') && !(value.len() >= 2 && value.ends_with('"')) {
        *open = Some((name, value));
        return;
    }
    let v = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(&value);
    out.macros.insert(name, v.to_owned());
}

/// A number as Stata prints it (`.2195`, `-1.2e+10`, `1,234`); missing (`.`, `.a`) is None.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if is_missing_token(s) {
        return None;
    }
    s.replace(',', "").parse::<f64>().ok()
}

fn is_missing_token(s: &str) -> bool {
    s == "." || (s.len() == 2 && s.starts_with('.') && s.as_bytes()[1].is_ascii_lowercase())
}

fn is_number_token(s: &str) -> bool {
    is_missing_token(s) || s.parse::<f64>().is_ok()
}

/// Parses the text of `matrix list name` (any format, wrapped into column blocks or not,
/// symmetric or not, with equation names or not).
pub(crate) fn parse_matrix(text: &str) -> Result<StoredMatrix, String> {
    let mut lines = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty());
    // The header: `[symmetric ]name[r,c]`.
    let (rows, cols, symmetric) = loop {
        let Some(l) = lines.next() else {
            return Err("no matrix header (name[rows,cols]) in the listing".into());
        };
        if let Some(dims) = header_dims(l.trim()) {
            break dims;
        }
    };
    if rows == 0 || cols == 0 || rows.saturating_mul(cols) > 1_000_000 {
        return Err(format!("matrix of {rows} x {cols} is not read"));
    }
    let mut rownames: Vec<String> = Vec::with_capacity(rows);
    let mut colnames: Vec<String> = Vec::with_capacity(cols);
    let mut values = vec![vec![None; cols]; rows];
    // The current block: its first column, its column names, equation names, next row.
    let mut block_start = 0usize;
    let mut block_cols: Vec<String> = Vec::new();
    let mut block_eqs: Vec<String> = Vec::new();
    let mut row = 0usize;
    let mut in_data = false;
    for l in lines {
        let tokens: Vec<&str> = l.split_whitespace().collect();
        let is_data = tokens.len() >= 2 && tokens[1..].iter().all(|t| is_number_token(t));
        if !is_data {
            if in_data {
                // A new block of columns begins.
                block_start += block_cols.len();
                block_cols.clear();
                block_eqs.clear();
                in_data = false;
            }
            if tokens.iter().all(|t| t.ends_with(':')) {
                block_eqs = tokens.iter().map(|t| (*t).to_owned()).collect();
            } else {
                block_cols = tokens.iter().map(|t| (*t).to_owned()).collect();
                for (k, c) in block_cols.iter().enumerate() {
                    let name = match block_eqs.get(k) {
                        Some(eq) => format!("{eq}{c}"),
                        None => c.clone(),
                    };
                    colnames.push(name);
                }
            }
            continue;
        }
        if !in_data {
            in_data = true;
            // A symmetric matrix's later blocks start at the diagonal.
            row = if symmetric { block_start } else { 0 };
        }
        if block_cols.is_empty() {
            return Err("a row of values came before its column names".into());
        }
        if row >= rows {
            return Err(format!("more than {rows} rows in the listing"));
        }
        if block_start == 0 {
            rownames.push(tokens[0].to_owned());
        }
        for (k, t) in tokens[1..].iter().enumerate() {
            let c = block_start + k;
            if c >= cols {
                return Err(format!("more than {cols} columns in the listing"));
            }
            values[row][c] = parse_number(t);
        }
        row += 1;
    }
    if colnames.len() != cols || rownames.len() != rows {
        return Err(format!(
            "the listing has {} row names and {} column names for a {rows} x {cols} matrix",
            rownames.len(),
            colnames.len()
        ));
    }
    if symmetric {
        // Only the lower triangle is listed: mirror it.
        let n = cols.min(rows);
        for i in 0..n {
            for j in (i + 1)..n {
                let lower = values[j][i];
                if let Some(cell) = values.get_mut(i).and_then(|r| r.get_mut(j)) {
                    *cell = lower;
                }
            }
        }
    }
    Ok(StoredMatrix {
        rows,
        cols,
        rownames,
        colnames,
        values,
    })
}

/// `e(V)[2,2]` or `symmetric e(V)[2,2]` → (2, 2, symmetric).
fn header_dims(l: &str) -> Option<(usize, usize, bool)> {
    let (symmetric, rest) = match l.strip_prefix("symmetric ") {
        Some(r) => (true, r.trim()),
        None => (false, l),
    };
    let inner = rest.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    if open == 0 || inner[..open].contains(char::is_whitespace) {
        return None;
    }
    let (r, c) = inner[open + 1..].split_once(',')?;
    Some((r.trim().parse().ok()?, c.trim().parse().ok()?, symmetric))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERETURN: &str = "
scalars:
                  e(N) =  74
               e(df_m) =  1
               e(df_r) =  72
                  e(F) =  20.258352562918816
                 e(r2) =  .2195828561874972
               e(rmse) =  2623.6528886675865
                e(mss) =  139449473.54622996
                 e(ll) =  -686.5395809065244
               e(rank) =  2
               e(miss) =  .

macros:
            e(cmdline) : \"regress price mpg\"
              e(title) : \"Linear regression\"
                e(vce) : \"ols\"
             e(depvar) : \"price\"
                e(cmd) : \"regress\"
         e(properties) : \"b V\"
            e(varlist) : \"price mpg rep78 headroom trunk weight length turn displacement
                          gear_ratio foreign\"

matrices:
                  e(b) :  1 x 2
                  e(V) :  2 x 2

functions:
             e(sample)   
";

    #[test]
    fn ereturn_list_after_regress() {
        let l = parse_list(ERETURN, ResultClass::E);
        assert_eq!(l.scalars["N"], Some(74.0));
        assert!((l.scalars["r2"].expect("r2") - 0.2195828561874972).abs() < 1e-15);
        assert_eq!(l.scalars["ll"], Some(-686.5395809065244));
        assert_eq!(l.scalars["miss"], None);
        assert_eq!(l.macros["cmd"], "regress");
        assert_eq!(l.macros["properties"], "b V");
        assert_eq!(
            l.macros["varlist"],
            "price mpg rep78 headroom trunk weight length turn displacement gear_ratio foreign"
        );
        assert_eq!(
            l.matrix_dims,
            vec![("b".to_owned(), 1, 2), ("V".to_owned(), 2, 2)]
        );
        assert_eq!(l.functions, vec!["e(sample)"]);
    }

    #[test]
    fn return_list_after_summarize_with_its_echo() {
        let text = ". return list\n\nscalars:\n                  r(N) =  74\n               \
                    r(mean) =  21.2972972972973\n                r(sum) =  1576\n";
        let l = parse_list(text, ResultClass::R);
        assert_eq!(l.scalars.len(), 3);
        assert_eq!(l.scalars["mean"], Some(21.2972972972973));
        assert!(l.macros.is_empty() && l.matrix_dims.is_empty());
        // e() lines are not r() results.
        assert!(parse_list(ERETURN, ResultClass::R).scalars.is_empty());
    }

    #[test]
    fn row_vector() {
        let m = parse_matrix(
            "\ne(b)[1,2]\n                mpg      _cons\ny1       -238.89435  11253.061\n",
        )
        .expect("parsed");
        assert_eq!((m.rows, m.cols), (1, 2));
        assert_eq!(m.rownames, vec!["y1"]);
        assert_eq!(m.colnames, vec!["mpg", "_cons"]);
        assert_eq!(m.values, vec![vec![Some(-238.89435), Some(11253.061)]]);
    }

    #[test]
    fn symmetric_matrix_with_right_aligned_row_names() {
        let m = parse_matrix(
            "symmetric e(V)[2,2]\n              mpg       _cons\n  mpg   2817.1347\n_cons  \
             -59997.356   1370802.5\n",
        )
        .expect("parsed");
        assert_eq!(m.rownames, vec!["mpg", "_cons"]);
        assert_eq!(m.values[0][1], Some(-59997.356));
        assert_eq!(m.values[1][0], Some(-59997.356));
        assert_eq!(m.values[1][1], Some(1370802.5));
    }

    #[test]
    fn wide_symmetric_matrix_in_blocks_with_equations() {
        let text = "
symmetric e(V)[3,3]
              price:      price:
                mpg      weight
price:mpg         1
price:weight      2           3
price:_cons       4           5

              price:
              _cons
price:_cons       6
";
        let m = parse_matrix(text).expect("parsed");
        assert_eq!(m.colnames, vec!["price:mpg", "price:weight", "price:_cons"]);
        assert_eq!(m.rownames, vec!["price:mpg", "price:weight", "price:_cons"]);
        let row = |i: usize| m.values[i].clone();
        assert_eq!(row(0), vec![Some(1.0), Some(2.0), Some(4.0)]);
        assert_eq!(row(2), vec![Some(4.0), Some(5.0), Some(6.0)]);
    }

    #[test]
    fn wide_general_matrix_with_missing_values() {
        let text = "
r(table)[2,3]
             a          b
r1           1          .
r2        1e+10       -.5

             c
r1          .a
r2           3
";
        let m = parse_matrix(text).expect("parsed");
        assert_eq!(m.colnames, vec!["a", "b", "c"]);
        assert_eq!(m.values[0], vec![Some(1.0), None, None]);
        assert_eq!(m.values[1], vec![Some(1e10), Some(-0.5), Some(3.0)]);
    }

    #[test]
    fn a_listing_that_does_not_add_up_is_an_error() {
        assert!(parse_matrix("matrix e(x) not found\nr(111);").is_err());
        assert!(parse_matrix("e(b)[1,3]\n   a   b\ny1  1  2\n").is_err());
    }
}
