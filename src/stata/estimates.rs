//! Estimation results as Stata's log shows them: the coefficient table of `regress`,
//! `logit` and their kin (depvar, coefficients and standard errors), the number of
//! observations in the header, and how the standard errors were made (the `Robust` column
//! header, `(Std. err. adjusted for N clusters in VAR)`).
//!
//! Read from the printed table, so the record of a run needs no query of Stata and a replay's
//! log is read the same way. The table prints about seven significant digits: compare with a
//! tolerance.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::log_lines::echo_text;

/// One estimation's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Estimate {
    /// The command as echoed (`regress price mpg if foreign, vce(cluster rep78)`).
    pub command: String,
    pub depvar: String,
    /// `Number of obs`.
    pub n: Option<u64>,
    /// `ols` (or the model's default), `robust`, or `cluster`.
    pub vce: String,
    /// Clustered: how many clusters, and the variable.
    pub clusters: Option<u64>,
    pub cluster_var: Option<String>,
    pub coefs: Vec<Coef>,
    /// Terms in the table without an estimate: `(omitted)`, `(empty)`, `(base)`.
    pub omitted: Vec<String>,
}

/// Where a table's reading is: the factor group or the equation its next rows belong to.
#[derive(Default)]
struct Place {
    group: String,
    /// The table names its equations in rows of their own; this one last.
    equations: bool,
    equation: String,
}

/// One coefficient and its standard error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Coef {
    pub name: String,
    pub b: f64,
    pub se: f64,
}

impl Estimate {
    pub fn coef(&self, name: &str) -> Option<&Coef> {
        self.coefs.iter().find(|c| c.name == name)
    }
}

/// The estimation tables in a log's lines, in order.
pub fn estimates<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> Vec<Estimate> {
    let mut found = Vec::new();
    let mut command = String::new();
    let mut n = None;
    let mut robust = false;
    let mut clusters: Option<(u64, String)> = None;
    let mut table: Option<Estimate> = None;
    let mut place = Place::default();
    for line in lines {
        let line = line.as_ref();
        if let Some(echo) = echo_text(line) {
            if let Some(done) = table.take() {
                found.push(done);
            }
            command = echo.trim().to_owned();
            (n, robust, clusters) = (None, false, None);
            continue;
        }
        if let Some(t) = table.as_mut() {
            if is_rule(line) {
                if !t.coefs.is_empty() || !t.omitted.is_empty() {
                    found.push(table.take().unwrap_or_else(|| unreachable!()));
                }
                continue;
            }
            read_row(line, t, &mut place);
            continue;
        }
        if let Some(v) = number_of_obs(line) {
            n = Some(v);
        } else if let Some(c) = cluster_note(line) {
            clusters = Some(c);
        } else if line.trim() == "Robust" || line.trim_end().ends_with("|               Robust") {
            robust = true;
        } else if let Some(depvar) = table_header(line) {
            let (count, var) = clusters
                .clone()
                .map_or((None, None), |(k, v)| (Some(k), Some(v)));
            let vce = if var.is_some() {
                "cluster"
            } else if robust {
                "robust"
            } else {
                "ols"
            };
            place = Place::default();
            table = Some(Estimate {
                command: command.clone(),
                depvar,
                n,
                vce: vce.to_owned(),
                clusters: count,
                cluster_var: var,
                coefs: Vec::new(),
                omitted: Vec::new(),
            });
        }
    }
    found.extend(table);
    found
}

/// `N` of a header's `Number of obs = N` (with thousands commas).
fn number_of_obs(line: &str) -> Option<u64> {
    let at = line.find("Number of obs")?;
    let value = line[at..].split_once('=')?.1.trim();
    value.replace(',', "").parse().ok()
}

/// `(Std. err. adjusted for 5 clusters in rep78)` (any case of `Std. Err.`).
fn cluster_note(line: &str) -> Option<(u64, String)> {
    let t = line.trim();
    let inner = t.strip_prefix('(')?.strip_suffix(')')?;
    let rest = inner.to_lowercase();
    let rest = rest.strip_prefix("std. err. adjusted for ")?;
    let (count, var) = rest.split_once(" clusters in ")?;
    let count = count.replace(',', "").parse().ok()?;
    // The variable as printed (its case kept).
    let var = &inner[inner.len() - var.len()..];
    Some((count, var.to_owned()))
}

/// The depvar of a coefficient table's header: `price | Coefficient  Std. err. ...` (Stata
/// 17 on) or `price |      Coef.   Std. Err. ...` (before); empty where the table has
/// equations, each named in a row of its own (`lnQL         |`).
fn table_header(line: &str) -> Option<String> {
    let (left, right) = line.split_once('|')?;
    let right = right.trim_start();
    let header = right.starts_with("Coefficient") || right.starts_with("Coef.");
    header.then(|| left.trim().to_owned())
}

/// A dash rule ending a table (`------...`), or its inner separator (`----+----`).
fn is_rule(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().all(|c| c == '-') && t.len() > 20
}

/// A table row: `name | b se t p lo hi`, a factor group's header (`rep78 |`, its levels
/// following as `2  | ...`), or a term without an estimate.
fn read_row(line: &str, t: &mut Estimate, place: &mut Place) {
    let Some((left, right)) = line.split_once('|') else {
        return;
    };
    if left.trim_start().starts_with('-')
        || right.trim_start().starts_with('-') && left.trim().is_empty()
    {
        return;
    }
    let raw = left.trim_end();
    let name = raw.trim();
    if name.is_empty() {
        return;
    }
    // A level row is indented under its group: `          2  |`.
    let group = &place.group;
    let level = !group.is_empty() && raw.len() - name.len() > 12 - group.len().min(12);
    let name = if level && name.chars().all(|c| c.is_ascii_digit()) {
        format!("{name}.{group}")
    } else {
        name.to_owned()
    };
    let words: Vec<&str> = right.split_whitespace().collect();
    if words.is_empty() {
        // An equation's name is written from the left edge (`lnQL         |`); a factor's
        // group is right-aligned like a variable (`       rep78 |`).
        let left_aligned = !left.starts_with(' ') && left.len() > name.len() + 1;
        if t.depvar.is_empty() || left_aligned {
            place.equations = true;
            if t.depvar.is_empty() {
                t.depvar = name.clone();
            }
            place.equation = name;
            place.group.clear();
        } else {
            place.group = name;
        }
        return;
    }
    let name = if place.equation.is_empty() || place.equation == t.depvar {
        name
    } else {
        format!("{}:{name}", place.equation)
    };
    if words
        .iter()
        .any(|w| matches!(*w, "(omitted)" | "(empty)" | "(base)"))
    {
        t.omitted.push(name);
        return;
    }
    let num = |w: &str| w.replace(',', "").parse::<f64>().ok();
    if let (Some(b), Some(se)) = (
        words.first().and_then(|w| num(w)),
        words.get(1).and_then(|w| num(w)),
    ) {
        t.coefs.push(Coef { name, b, se });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLS: &str = "\
. regress price mpg

      Source |       SS           df       MS      Number of obs   =        74
-------------+----------------------------------   F(1, 72)        =     20.26
       Model |   139449474         1   139449474   Prob > F        =    0.0000
    Residual |   495615923        72  6883554.48   R-squared       =    0.2196
-------------+----------------------------------   Adj R-squared   =    0.2087
       Total |   635065396        73  8699525.97   Root MSE        =    2623.7

------------------------------------------------------------------------------
       price | Coefficient  Std. err.      t    P>|t|     [95% conf. interval]
-------------+----------------------------------------------------------------
         mpg |  -238.8943   53.07669    -4.50   0.000    -344.7008   -133.0879
       _cons |   11253.06   1170.813     9.61   0.000     8919.088    13587.03
------------------------------------------------------------------------------
";

    const CLUSTER: &str = "\
. regress price mpg weight if rep78 < ., vce(cluster rep78)

Linear regression                               Number of obs     =         69
                                                F(2, 4)           =      31.96
                                                Prob > F          =     0.0035
                                                R-squared         =     0.2934
                                                Root MSE          =     2545.8

                                 (Std. err. adjusted for 5 clusters in rep78)
------------------------------------------------------------------------------
             |               Robust
       price | Coefficient  std. err.      t    P>|t|     [95% conf. interval]
-------------+----------------------------------------------------------------
         mpg |  -63.09796   87.34126    -0.72   0.510    -305.5947    179.3988
      weight |   2.093066   .4985342     4.20   0.014     .7089166    3.477216
       _cons |   1780.082   3702.521     0.48   0.656    -8499.603    12059.77
------------------------------------------------------------------------------
";

    #[test]
    fn an_ols_table_gives_its_coefficients_and_n() {
        let e = estimates(OLS.lines());
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(e.command, "regress price mpg");
        assert_eq!(
            (e.depvar.as_str(), e.n, e.vce.as_str()),
            ("price", Some(74), "ols")
        );
        assert_eq!(
            e.coef("mpg").map(|c| (c.b, c.se)),
            Some((-238.8943, 53.07669))
        );
        assert_eq!(e.coefs.len(), 2);
    }

    #[test]
    fn a_clustered_table_says_its_clusters() {
        let e = &estimates(CLUSTER.lines())[0];
        assert_eq!(e.vce, "cluster");
        assert_eq!(
            (e.clusters, e.cluster_var.as_deref()),
            (Some(5), Some("rep78"))
        );
        assert_eq!(e.n, Some(69));
        assert_eq!(e.coef("weight").map(|c| c.se), Some(0.4985342));
    }

    #[test]
    fn each_equation_names_its_terms() {
        let log = "\
. mlogit rep78 mpg
------------------------------------------------------------------------------
       rep78 | Coefficient  Std. err.      z    P>|z|     [95% conf. interval]
-------------+----------------------------------------------------------------
1            |
         mpg |  -.1308003   .1221547    -1.07   0.284    -.3702223    .1086217
       _cons |   .4493462   2.442436     0.18   0.854    -4.337793    5.236486
-------------+----------------------------------------------------------------
2            |  (base outcome)
-------------+----------------------------------------------------------------
3            |
         mpg |   .0712466   .0527384     1.35   0.177    -.0321194    .1746126
       _cons |   .2233254   1.088416     0.21   0.837    -1.909934    2.356585
------------------------------------------------------------------------------
";
        let e = &estimates(log.lines())[0];
        let names: Vec<&str> = e.coefs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["1:mpg", "1:_cons", "3:mpg", "3:_cons"]);
        assert_eq!(e.depvar, "rep78");
    }

    #[test]
    fn factor_levels_and_omitted_terms_are_named() {
        let log = "\
. regress price i.rep78
------------------------------------------------------------------------------
       price |      Coef.   Std. Err.      t    P>|t|     [95% Conf. Interval]
-------------+----------------------------------------------------------------
       rep78 |
          2  |   1403.125   2356.085     0.60   0.554    -3303.696    6109.946
          3  |   1864.733   2176.458     0.86   0.395    -2483.242    6212.708
             |
      weight |          0  (omitted)
       _cons |   4564.5     2081.61     2.19   0.032     406.0676    8722.932
------------------------------------------------------------------------------
";
        let e = &estimates(log.lines())[0];
        let names: Vec<&str> = e.coefs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["2.rep78", "3.rep78", "_cons"]);
        assert_eq!(e.omitted, vec!["weight"]);
        assert_eq!(estimates(OLS.lines().chain(CLUSTER.lines())).len(), 2);
    }
}
