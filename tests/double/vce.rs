//! The double's `regress, vce(robust)` and `vce(cluster VAR)`: Stata's sandwich estimators
//! (HC1, and clustered with Stata's small-sample factor), so a run shows the header, the
//! `(Std. err. adjusted for N clusters in VAR)` line and the `Robust` column as Stata does.

/// How the standard errors are made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Vce {
    Ols,
    Robust,
    Cluster(String),
}

/// The `vce()` (or `robust`, `cluster()`) option of `opts`.
pub(crate) fn parse(opts: &str) -> Result<Vce, String> {
    let lower = opts.to_lowercase();
    let inner = |key: &str| -> Option<String> {
        let at = lower.find(key)?;
        let rest = &opts[at + key.len()..];
        let end = rest.find(')')?;
        Some(rest[..end].trim().to_string())
    };
    if let Some(v) = inner("vce(") {
        let words: Vec<&str> = v.split_whitespace().collect();
        return match words.as_slice() {
            ["ols"] => Ok(Vce::Ols),
            ["robust"] | ["r"] | ["hc1"] => Ok(Vce::Robust),
            ["cluster", var] | ["cl", var] => Ok(Vce::Cluster((*var).to_string())),
            _ => Err(format!("vcetype '{v}' not allowed")),
        };
    }
    if let Some(var) = inner("cluster(") {
        return Ok(Vce::Cluster(var));
    }
    if lower.split([',', ' ']).any(|w| w == "robust" || w == "r") {
        return Ok(Vce::Robust);
    }
    Ok(Vce::Ols)
}

/// The sandwich `bread · meat · bread` scaled as Stata does: HC1's n/(n-k) when `groups` is
/// none, else G/(G-1)·(n-1)/(n-k) over the clusters; and G.
pub(crate) fn sandwich(
    rows: &[Vec<f64>],
    resid: &[f64],
    bread: &[Vec<f64>],
    groups: Option<&[f64]>,
) -> (Vec<Vec<f64>>, usize) {
    let k = bread.len();
    let n = rows.len();
    let mut scores: Vec<(f64, Vec<f64>)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let s: Vec<f64> = r.iter().map(|x| x * resid[i]).collect();
        match groups {
            Some(g) => match scores.iter_mut().find(|(key, _)| *key == g[i]) {
                Some((_, acc)) => acc.iter_mut().zip(&s).for_each(|(a, b)| *a += b),
                None => scores.push((g[i], s)),
            },
            None => scores.push((i as f64, s)),
        }
    }
    let mut meat = vec![vec![0.0; k]; k];
    for (_, s) in &scores {
        for a in 0..k {
            for b in 0..k {
                meat[a][b] += s[a] * s[b];
            }
        }
    }
    let g = scores.len();
    let (nf, kf, gf) = (n as f64, k as f64, g as f64);
    let scale = match groups {
        Some(_) => gf / (gf - 1.0) * (nf - 1.0) / (nf - kf),
        None => nf / (nf - kf),
    };
    let mul = |x: &[Vec<f64>], y: &[Vec<f64>]| -> Vec<Vec<f64>> {
        (0..k)
            .map(|a| {
                (0..k)
                    .map(|b| (0..k).map(|c| x[a][c] * y[c][b]).sum())
                    .collect()
            })
            .collect()
    };
    let v = mul(&mul(bread, &meat), bread)
        .into_iter()
        .map(|row| row.into_iter().map(|x| x * scale).collect())
        .collect();
    (v, g)
}
