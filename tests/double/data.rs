//! The dataset in memory: variables, observations, labels, and the `auto` data.
//!
//! `sysuse auto` must give exactly the numbers real Stata gives (a runner's tests may
//! compare a regression table), so the 74 cars are embedded verbatim, in the order of
//! the real auto.dta (sorted by `foreign`, then by `make`).

use std::collections::BTreeMap;

/// Stata's system missing value; every non-finite number counts as missing.
pub(crate) const MISSING: f64 = f64::NAN;

pub(crate) fn is_missing(x: f64) -> bool {
    !x.is_finite()
}

#[derive(Clone, Debug)]
pub(crate) enum Col {
    Num(Vec<f64>),
    Str(Vec<String>),
}

#[derive(Clone, Debug)]
pub(crate) struct Var {
    pub name: String,
    pub col: Col,
    /// Storage type as `describe` shows it: `int`, `float`, `str18`...
    pub storage: String,
    pub format: String,
    pub label: String,
    pub value_label: Option<String>,
}

impl Var {
    pub(crate) fn is_str(&self) -> bool {
        matches!(self.col, Col::Str(_))
    }

    pub(crate) fn num(&self, i: usize) -> f64 {
        match &self.col {
            Col::Num(v) => v.get(i).copied().unwrap_or(MISSING),
            Col::Str(_) => MISSING,
        }
    }

    pub(crate) fn str_at(&self, i: usize) -> String {
        match &self.col {
            Col::Str(v) => v.get(i).cloned().unwrap_or_default(),
            Col::Num(_) => String::new(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Dataset {
    pub vars: Vec<Var>,
    pub nobs: usize,
    pub label: String,
    /// Where the data came from, for `describe`'s `Contains data from`.
    pub source: Option<String>,
    pub timestamp: String,
    pub sorted_by: Vec<String>,
    pub value_labels: BTreeMap<String, BTreeMap<i64, String>>,
    pub has_notes: bool,
    /// True when the data differ from what was last loaded or saved: `exit` and
    /// `use`/`sysuse` without `clear` refuse to lose them.
    pub changed: bool,
}

impl Dataset {
    /// Finds a variable by exact name, or by unique abbreviation (`set varabbrev on`).
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.vars.iter().position(|v| v.name == name) {
            return Some(i);
        }
        let mut hits = self
            .vars
            .iter()
            .enumerate()
            .filter(|(_, v)| v.name.starts_with(name));
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    pub(crate) fn var(&self, name: &str) -> Option<&Var> {
        self.find(name).map(|i| &self.vars[i])
    }

    /// Expands a varlist (`price mpg`, `p*`, `_all`, `make-mpg`) into variable indices.
    /// Errors carry the Stata message: `variable foo not found`.
    pub(crate) fn varlist(&self, words: &[&str]) -> Result<Vec<usize>, String> {
        let mut out = Vec::new();
        for w in words {
            if *w == "_all" || *w == "*" {
                out.extend(0..self.vars.len());
            } else if w.contains('*') || w.contains('?') {
                let hits: Vec<usize> = (0..self.vars.len())
                    .filter(|&i| glob(w, &self.vars[i].name))
                    .collect();
                if hits.is_empty() {
                    return Err(format!("variable {w} not found"));
                }
                out.extend(hits);
            } else if let Some((a, b)) = w.split_once('-') {
                let ia = self.find(a).ok_or(format!("variable {a} not found"))?;
                let ib = self.find(b).ok_or(format!("variable {b} not found"))?;
                if ia <= ib {
                    out.extend(ia..=ib);
                } else {
                    out.extend(ib..=ia);
                }
            } else {
                let i = self.find(w).ok_or_else(|| {
                    if self.vars.iter().filter(|v| v.name.starts_with(*w)).count() > 1 {
                        format!("{w} ambiguous abbreviation")
                    } else {
                        format!("variable {w} not found")
                    }
                })?;
                out.push(i);
            }
        }
        let mut seen = Vec::new();
        out.retain(|i| {
            let fresh = !seen.contains(i);
            seen.push(*i);
            fresh
        });
        Ok(out)
    }

    /// The text `list` and `tabulate` show for a value: its value label if any.
    pub(crate) fn labelled(&self, v: &Var, x: f64) -> Option<String> {
        let lab = v.value_label.as_ref()?;
        if is_missing(x) {
            return None;
        }
        self.value_labels.get(lab)?.get(&(x as i64)).cloned()
    }

    pub(crate) fn add_num(&mut self, name: &str, storage: &str, values: Vec<f64>) {
        let format = match storage {
            "double" => "%10.0g",
            "byte" | "int" | "long" => "%8.0g",
            _ => "%9.0g",
        };
        self.vars.push(Var {
            name: name.to_string(),
            col: Col::Num(values),
            storage: storage.to_string(),
            format: format.to_string(),
            label: String::new(),
            value_label: None,
        });
    }

    pub(crate) fn add_str(&mut self, name: &str, values: Vec<String>) {
        let width = values
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(1)
            .max(1);
        self.vars.push(Var {
            name: name.to_string(),
            col: Col::Str(values),
            storage: format!("str{width}"),
            format: format!("%{width}s"),
            label: String::new(),
            value_label: None,
        });
    }

    /// Keeps only the observations whose flag is true.
    pub(crate) fn keep_obs(&mut self, keep: &[bool]) {
        for v in &mut self.vars {
            match &mut v.col {
                Col::Num(x) => {
                    let mut it = keep.iter();
                    x.retain(|_| *it.next().unwrap_or(&true));
                }
                Col::Str(x) => {
                    let mut it = keep.iter();
                    x.retain(|_| *it.next().unwrap_or(&true));
                }
            }
        }
        self.nobs = keep.iter().filter(|k| **k).count();
    }

    /// `set obs N`: extends every variable with missing values.
    pub(crate) fn set_obs(&mut self, n: usize) {
        for v in &mut self.vars {
            match &mut v.col {
                Col::Num(x) => x.resize(n, MISSING),
                Col::Str(x) => x.resize(n, String::new()),
            }
        }
        self.nobs = n;
    }

    /// Reorders observations by the given permutation.
    pub(crate) fn permute(&mut self, order: &[usize]) {
        for v in &mut self.vars {
            match &mut v.col {
                Col::Num(x) => *x = order.iter().map(|&i| x[i]).collect(),
                Col::Str(x) => *x = order.iter().map(|&i| x[i].clone()).collect(),
            }
        }
    }
}

/// Shell-style matching of `*` and `?` against a variable name.
pub(crate) fn glob(pat: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// make, price, mpg, rep78, headroom, trunk, weight, length, turn, displacement,
/// gear_ratio, foreign; `.` is missing.
const AUTO: &str = "\
AMC Concord|4099|22|3|2.5|11|2930|186|40|121|3.58|0
AMC Pacer|4749|17|3|3.0|11|3350|173|40|258|2.53|0
AMC Spirit|3799|22|.|3.0|12|2640|168|35|121|3.08|0
Buick Century|4816|20|3|4.5|16|3250|196|40|196|2.93|0
Buick Electra|7827|15|4|4.0|20|4080|222|43|350|2.41|0
Buick LeSabre|5788|18|3|4.0|21|3670|218|43|231|2.73|0
Buick Opel|4453|26|.|3.0|10|2230|170|34|304|2.87|0
Buick Regal|5189|20|3|2.0|16|3280|200|42|196|2.93|0
Buick Riviera|10372|16|3|3.5|17|3880|207|43|231|2.93|0
Buick Skylark|4082|19|3|3.5|13|3400|200|42|231|3.08|0
Cad. Deville|11385|14|3|4.0|20|4330|221|44|425|2.28|0
Cad. Eldorado|14500|14|2|3.5|16|3900|204|43|350|2.19|0
Cad. Seville|15906|21|3|3.0|13|4290|204|45|350|2.24|0
Chev. Chevette|3299|29|3|2.5|9|2110|163|34|231|2.93|0
Chev. Impala|5705|16|4|4.0|20|3690|212|43|250|2.56|0
Chev. Malibu|4504|22|3|3.5|17|3180|193|31|200|2.73|0
Chev. Monte Carlo|5104|22|2|2.0|16|3220|200|41|200|2.73|0
Chev. Monza|3667|24|2|2.0|7|2750|179|40|151|2.73|0
Chev. Nova|3955|19|3|3.5|13|3430|197|43|250|2.56|0
Dodge Colt|3984|30|5|2.0|8|2120|163|35|98|3.54|0
Dodge Diplomat|4010|18|2|4.0|17|3600|206|46|318|2.47|0
Dodge Magnum|5886|16|2|4.0|17|3600|206|46|318|2.47|0
Dodge St. Regis|6342|17|2|4.5|21|3740|220|46|225|2.94|0
Ford Fiesta|4389|28|4|1.5|9|1800|147|33|98|3.15|0
Ford Mustang|4187|21|3|2.0|10|2650|179|43|140|3.08|0
Linc. Continental|11497|12|3|3.5|22|4840|233|51|400|2.47|0
Linc. Mark V|13594|12|3|2.5|18|4720|230|48|400|2.47|0
Linc. Versailles|13466|14|3|3.5|15|3830|201|41|302|2.47|0
Merc. Bobcat|3829|22|4|3.0|9|2580|169|39|140|2.73|0
Merc. Cougar|5379|14|4|3.5|16|4060|221|48|302|2.75|0
Merc. Marquis|6165|15|3|3.5|23|3720|212|44|302|2.26|0
Merc. Monarch|4516|18|3|3.0|15|3370|198|41|250|2.43|0
Merc. XR-7|6303|14|4|3.0|16|4130|217|45|302|2.75|0
Merc. Zephyr|3291|20|3|3.5|17|2830|195|43|140|3.08|0
Olds 98|8814|21|4|4.0|20|4060|220|43|350|2.41|0
Olds Cutl Supr|5172|19|3|2.0|16|3310|198|42|231|2.93|0
Olds Cutlass|4733|19|3|4.5|16|3300|198|42|231|2.93|0
Olds Delta 88|4890|18|4|4.0|20|3690|218|42|231|2.73|0
Olds Omega|4181|19|3|4.5|14|3370|200|43|231|3.08|0
Olds Starfire|4195|24|1|2.0|10|2730|180|40|151|2.73|0
Olds Toronado|10371|16|3|3.5|17|4030|206|43|350|2.41|0
Plym. Arrow|4647|28|3|2.0|11|3260|170|37|156|3.05|0
Plym. Champ|4425|34|5|2.5|11|1800|157|37|86|2.97|0
Plym. Horizon|4482|25|3|4.0|17|2200|165|36|105|3.37|0
Plym. Sapporo|6486|26|.|1.5|8|2520|182|38|119|3.54|0
Plym. Volare|4060|18|2|5.0|16|3330|201|44|225|3.23|0
Pont. Catalina|5798|18|4|4.0|20|3700|214|42|231|2.73|0
Pont. Firebird|4934|18|1|1.5|7|3470|198|42|231|3.08|0
Pont. Grand Prix|5222|19|3|2.0|16|3210|201|45|231|2.93|0
Pont. Le Mans|4723|19|3|3.5|17|3200|199|40|231|2.93|0
Pont. Phoenix|4424|19|.|3.5|13|3420|203|43|231|3.08|0
Pont. Sunbird|4172|24|2|2.0|7|2690|179|41|151|2.73|0
Audi 5000|9690|17|5|3.0|15|2830|189|37|131|3.20|1
Audi Fox|6295|23|3|2.5|11|2070|174|36|97|3.70|1
BMW 320i|9735|25|4|2.5|12|2650|177|34|121|3.64|1
Datsun 200|6229|23|4|1.5|6|2370|170|35|119|3.89|1
Datsun 210|4589|35|5|2.0|8|2020|165|32|85|3.70|1
Datsun 510|5079|24|4|2.5|8|2280|170|34|119|3.54|1
Datsun 810|8129|21|4|2.5|8|2750|184|38|146|3.55|1
Fiat Strada|4296|21|3|2.5|16|2130|161|36|105|3.37|1
Honda Accord|5799|25|5|3.0|10|2240|172|36|107|3.05|1
Honda Civic|4499|28|4|2.5|5|1760|149|34|91|3.30|1
Mazda GLC|3995|30|4|3.5|11|1980|154|33|86|3.73|1
Peugeot 604|12990|14|.|3.5|14|3420|192|38|163|3.58|1
Renault Le Car|3895|26|3|3.0|10|1830|142|34|79|3.72|1
Subaru|3798|35|5|2.5|11|2050|164|36|97|3.81|1
Toyota Celica|5899|18|5|2.5|14|2410|174|36|134|3.06|1
Toyota Corolla|3748|31|5|3.0|9|2200|165|35|97|3.21|1
Toyota Corona|5719|18|5|2.0|11|2670|175|36|134|3.05|1
VW Dasher|7140|23|4|2.5|12|2160|172|36|97|3.74|1
VW Diesel|5397|41|5|3.0|15|2040|155|35|90|3.78|1
VW Rabbit|4697|25|4|3.0|15|1930|155|35|89|3.78|1
VW Scirocco|6850|25|4|2.0|16|1990|156|36|97|3.78|1
Volvo 260|11995|17|5|2.5|14|3170|193|37|163|2.98|1
";

/// (name, storage, format, label) of the auto variables after `make`.
const AUTO_VARS: [(&str, &str, &str, &str); 11] = [
    ("price", "int", "%8.0gc", "Price"),
    ("mpg", "int", "%8.0g", "Mileage (mpg)"),
    ("rep78", "int", "%8.0g", "Repair record 1978"),
    ("headroom", "float", "%6.1f", "Headroom (in.)"),
    ("trunk", "int", "%8.0g", "Trunk space (cu. ft.)"),
    ("weight", "int", "%8.0gc", "Weight (lbs.)"),
    ("length", "int", "%8.0g", "Length (in.)"),
    ("turn", "int", "%8.0g", "Turn circle (ft.)"),
    ("displacement", "int", "%8.0g", "Displacement (cu. in.)"),
    ("gear_ratio", "float", "%6.2f", "Gear ratio"),
    ("foreign", "byte", "%8.0g", "Car origin"),
];

/// The `auto` dataset as `sysuse auto` loads it. `version` picks the label's
/// capitalisation (`1978 Automobile Data` before Stata 16... `1978 automobile data`).
pub(crate) fn auto(version: f64, source: String) -> Dataset {
    let rows: Vec<Vec<&str>> = AUTO.lines().map(|l| l.split('|').collect()).collect();
    let mut d = Dataset {
        nobs: rows.len(),
        label: if version >= 17.0 {
            "1978 automobile data".into()
        } else {
            "1978 Automobile Data".into()
        },
        source: Some(source),
        timestamp: "13 Apr 2020 17:45".into(),
        sorted_by: vec!["foreign".into()],
        has_notes: true,
        ..Dataset::default()
    };
    d.vars.push(Var {
        name: "make".into(),
        col: Col::Str(rows.iter().map(|r| r[0].to_string()).collect()),
        storage: "str18".into(),
        format: "%-18s".into(),
        label: "Make and model".into(),
        value_label: None,
    });
    for (k, (name, storage, format, label)) in AUTO_VARS.iter().enumerate() {
        let values = rows
            .iter()
            .map(|r| {
                let x: f64 = r[k + 1].parse().unwrap_or(MISSING);
                // float variables hold single-precision values, as in the real file.
                if *storage == "float" {
                    x as f32 as f64
                } else {
                    x
                }
            })
            .collect();
        d.vars.push(Var {
            name: (*name).into(),
            col: Col::Num(values),
            storage: (*storage).into(),
            format: (*format).into(),
            label: (*label).into(),
            value_label: (*name == "foreign").then(|| "origin".to_string()),
        });
    }
    d.value_labels.insert(
        "origin".into(),
        BTreeMap::from([(0, "Domestic".to_string()), (1, "Foreign".to_string())]),
    );
    d
}
