//! Two estimations side by side, and what changed between them that a researcher must know:
//! observations lost or gained, the standard errors' kind or clusters, terms added, dropped or
//! omitted, coefficients whose sign or significance (5 %) flipped.

use schemars::JsonSchema;
use serde::Serialize;

use crate::stata::estimates::Estimate;

/// |t| above this is significant at 5 % (the normal approximation: the table gives no df).
const T_5PCT: f64 = 1.96;

/// One term of two estimations.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct TermJson {
    pub name: String,
    /// Coefficient and standard error in the first and the second (null: not in it).
    pub b1: Option<f64>,
    pub se1: Option<f64>,
    pub b2: Option<f64>,
    pub se2: Option<f64>,
}

/// Two estimations compared.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct ComparisonJson {
    pub step1: u32,
    pub step2: u32,
    pub command1: String,
    pub command2: String,
    pub n1: Option<u64>,
    pub n2: Option<u64>,
    pub vce1: String,
    pub vce2: String,
    pub terms: Vec<TermJson>,
    /// What changed, one sentence each.
    pub changes: Vec<String>,
}

/// `first` (of step `s1`) and `second` (of step `s2`) compared.
pub(crate) fn compare(s1: u32, first: &Estimate, s2: u32, second: &Estimate) -> ComparisonJson {
    let mut changes = Vec::new();
    match (first.n, second.n) {
        (Some(a), Some(b)) if b < a => {
            changes.push(format!("observations: {a} -> {b} ({} lost)", a - b))
        }
        (Some(a), Some(b)) if b > a => {
            changes.push(format!("observations: {a} -> {b} ({} gained)", b - a))
        }
        _ => {}
    }
    if first.depvar != second.depvar {
        changes.push(format!(
            "dependent variable: {} -> {}",
            first.depvar, second.depvar
        ));
    }
    let vce = |e: &Estimate| match (&e.cluster_var, e.clusters) {
        (Some(v), Some(k)) => format!("clustered by {v} ({k} clusters)"),
        (Some(v), None) => format!("clustered by {v}"),
        _ => e.vce.clone(),
    };
    if vce(first) != vce(second) {
        changes.push(format!(
            "standard errors: {} -> {}",
            vce(first),
            vce(second)
        ));
    }
    let mut names: Vec<String> = first.coefs.iter().map(|c| c.name.clone()).collect();
    for c in &second.coefs {
        if !names.contains(&c.name) {
            names.push(c.name.clone());
        }
    }
    let mut terms = Vec::new();
    for name in names {
        let (a, b) = (first.coef(&name), second.coef(&name));
        match (a, b) {
            (Some(_), None) if second.omitted.contains(&name) => {
                changes.push(format!("{name}: omitted in step {s2}"));
            }
            (Some(_), None) => changes.push(format!("{name}: dropped in step {s2}")),
            (None, Some(_)) if first.omitted.contains(&name) => {
                changes.push(format!(
                    "{name}: omitted in step {s1}, estimated in step {s2}"
                ));
            }
            (None, Some(_)) => changes.push(format!("{name}: added in step {s2}")),
            (Some(x), Some(y)) => {
                if x.b != 0.0 && y.b != 0.0 && x.b.signum() != y.b.signum() {
                    changes.push(format!(
                        "{name}: the sign flipped ({} -> {})",
                        num(x.b),
                        num(y.b)
                    ));
                }
                let sig = |b: f64, se: f64| se > 0.0 && (b / se).abs() > T_5PCT;
                match (sig(x.b, x.se), sig(y.b, y.se)) {
                    (true, false) => changes.push(format!(
                        "{name}: significant at 5 % in step {s1} (t = {:.2}), not in step {s2} (t = {:.2})",
                        x.b / x.se,
                        y.b / y.se
                    )),
                    (false, true) => changes.push(format!(
                        "{name}: not significant at 5 % in step {s1} (t = {:.2}), significant in step {s2} (t = {:.2})",
                        x.b / x.se,
                        y.b / y.se
                    )),
                    _ => {}
                }
            }
            (None, None) => {}
        }
        terms.push(TermJson {
            name,
            b1: a.map(|c| c.b),
            se1: a.map(|c| c.se),
            b2: b.map(|c| c.b),
            se2: b.map(|c| c.se),
        });
    }
    ComparisonJson {
        step1: s1,
        step2: s2,
        command1: first.command.clone(),
        command2: second.command.clone(),
        n1: first.n,
        n2: second.n,
        vce1: vce(first),
        vce2: vce(second),
        terms,
        changes,
    }
}

/// A number as the table printed it, short.
pub(crate) fn num(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stata::estimates::estimates;

    #[test]
    fn sample_and_clustering_changes_are_both_named() {
        let log = "\
. regress price mpg weight
      Source |       SS           df       MS      Number of obs   =        74
------------------------------------------------------------------------------
       price | Coefficient  Std. err.      t    P>|t|     [95% conf. interval]
-------------+----------------------------------------------------------------
         mpg |  -49.51222   86.15604    -0.57   0.567    -221.3025     122.278
      weight |   1.746559   .6413538     2.72   0.008      .467736    3.025382
       _cons |   1946.069    3597.05     0.54   0.590    -5226.245    9118.382
------------------------------------------------------------------------------
. regress price mpg weight if rep78 < ., vce(cluster rep78)
Linear regression                               Number of obs     =         69
                                 (Std. err. adjusted for 5 clusters in rep78)
------------------------------------------------------------------------------
             |               Robust
       price | Coefficient  std. err.      t    P>|t|     [95% conf. interval]
-------------+----------------------------------------------------------------
         mpg |   63.09796   87.34126     0.72   0.510    -305.5947    179.3988
      weight |   2.093066   1.985342     1.05   0.354     .7089166    3.477216
       _cons |   1780.082   3702.521     0.48   0.656    -8499.603    12059.77
------------------------------------------------------------------------------
";
        let e = estimates(log.lines());
        let c = compare(4, &e[0], 6, &e[1]);
        let all = c.changes.join("\n");
        assert!(all.contains("observations: 74 -> 69 (5 lost)"), "{all}");
        assert!(
            all.contains("standard errors: ols -> clustered by rep78 (5 clusters)"),
            "{all}"
        );
        assert!(all.contains("mpg: the sign flipped"), "{all}");
        assert!(
            all.contains("weight: significant at 5 % in step 4"),
            "{all}"
        );
        assert_eq!(c.terms.len(), 3);
    }
}
