//! The statistics behind `summarize` and `regress`: least squares, Student's t and
//! F tail probabilities, and a small seeded random number generator.

/// Natural log of the gamma function (Lanczos approximation).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.120_865_097_386_617_9e-2,
        -0.539_523_938_495_3e-5,
    ];
    let mut y = x;
    let tmp = x + 5.5 - (x + 0.5) * (x + 5.5).ln();
    let mut ser = 1.000_000_000_190_015;
    for g in G {
        y += 1.0;
        ser += g / y;
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// Continued fraction for the incomplete beta function (Numerical Recipes `betacf`).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < 1e-300 {
        d = 1e-300;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < 1e-300 { 1e-300 } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < 1e-300 { 1e-300 } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < 1e-300 { 1e-300 } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < 1e-300 { 1e-300 } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Regularized incomplete beta I_x(a, b).
pub(crate) fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let bt = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        bt * beta_cf(a, b, x) / a
    } else {
        1.0 - bt * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Two-sided p-value of Student's t with `df` degrees of freedom.
pub(crate) fn t_two_sided(t: f64, df: f64) -> f64 {
    inc_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// Upper tail of F(df1, df2).
pub(crate) fn f_tail(f: f64, df1: f64, df2: f64) -> f64 {
    if f <= 0.0 {
        return 1.0;
    }
    inc_beta(df2 / 2.0, df1 / 2.0, df2 / (df2 + df1 * f))
}

/// The t quantile with upper tail probability `p` (e.g. 0.025), by bisection.
pub(crate) fn inv_t_upper(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1000.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if t_two_sided(mid, df) / 2.0 > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Inverts a symmetric positive definite matrix by Gauss-Jordan elimination;
/// None when it is singular (collinear regressors).
pub(crate) fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let p = a[col][col];
        for v in a[col].iter_mut() {
            *v /= p;
        }
        for r in 0..n {
            if r != col {
                let f = a[r][col];
                if f != 0.0 {
                    let pivot_row = a[col].clone();
                    for (v, pv) in a[r].iter_mut().zip(pivot_row) {
                        *v -= f * pv;
                    }
                }
            }
        }
    }
    Some(a.into_iter().map(|r| r[n..].to_vec()).collect())
}

/// Least squares of y on the columns of x plus a constant (last coefficient).
pub(crate) struct Ols {
    pub n: usize,
    pub b: Vec<f64>,
    pub v: Vec<Vec<f64>>,
    pub mss: f64,
    pub rss: f64,
    pub df_m: usize,
    pub df_r: usize,
}

pub(crate) fn ols(y: &[f64], x: &[Vec<f64>]) -> Option<Ols> {
    let n = y.len();
    let k = x.len() + 1;
    if n <= k {
        return None;
    }
    let row = |i: usize| -> Vec<f64> {
        let mut r: Vec<f64> = x.iter().map(|c| c[i]).collect();
        r.push(1.0);
        r
    };
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for (i, yi) in y.iter().enumerate() {
        let r = row(i);
        for a in 0..k {
            xty[a] += r[a] * yi;
            for b in 0..k {
                xtx[a][b] += r[a] * r[b];
            }
        }
    }
    let inv = invert(&xtx)?;
    let b: Vec<f64> = (0..k)
        .map(|a| (0..k).map(|c| inv[a][c] * xty[c]).sum())
        .collect();
    let mean = y.iter().sum::<f64>() / n as f64;
    let mut rss = 0.0;
    let mut tss = 0.0;
    for (i, yi) in y.iter().enumerate() {
        let fit: f64 = row(i).iter().zip(&b).map(|(r, c)| r * c).sum();
        rss += (yi - fit).powi(2);
        tss += (yi - mean).powi(2);
    }
    let df_r = n - k;
    let s2 = rss / df_r as f64;
    let v = inv
        .iter()
        .map(|r| r.iter().map(|x| x * s2).collect())
        .collect();
    Some(Ols {
        n,
        b,
        v,
        mss: tss - rss,
        rss,
        df_m: k - 1,
        df_r,
    })
}

/// A small xorshift generator: `set seed` makes runs reproducible.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn uniform(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub(crate) fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}
