//! The start-up banner, licence block and `Notes:` list, in the style of the
//! version being imitated (Stata 17 changed the layout and went UTF-8).

use crate::interp::Edition;

pub(crate) fn version_text(v: f64) -> String {
    format!("{v:.1}")
}

fn copyright_year(v: f64) -> u32 {
    match v.trunc() as u32 {
        0..=13 => 2013,
        14 => 2015,
        15 => 2017,
        16 => 2019,
        17 => 2021,
        18 => 2023,
        _ => 2025,
    }
}

/// All banner lines, starting with the leading empty line and ending with the
/// empty line that precedes the first echoed command.
pub(crate) fn lines(version: f64, edition: Edition, batch: bool) -> Vec<String> {
    let v = version_text(version);
    let year = copyright_year(version);
    let mut out = vec![String::new()];
    let modern = version >= 17.0;
    if modern {
        let ed = match edition {
            Edition::Mp => "MP\u{2014}Parallel Edition",
            Edition::Se => "SE\u{2014}Standard Edition",
            Edition::Be => "BE\u{2014}Basic Edition",
        };
        out.extend([
            "  ___  ____  ____  ____  ____ \u{ae}".to_string(),
            format!(" /__    /   ____/   /   ____/      {v}"),
            format!("___/   /   /___/   /   /___/       {ed}"),
            String::new(),
            format!(" Statistics and Data Science       Copyright 1985-{year} StataCorp LLC"),
            "                                   StataCorp".to_string(),
            "                                   4905 Lakeway Drive".to_string(),
            "                                   College Station, Texas 77845 USA".to_string(),
            "                                   800-STATA-PC        https://www.stata.com"
                .to_string(),
            "                                   979-696-4600        stata@stata.com".to_string(),
            String::new(),
        ]);
        let licence = match edition {
            Edition::Mp => "Stata license: 2-user 32-core network perpetual",
            Edition::Se => "Stata license: Single-user  perpetual",
            Edition::Be => "Stata license: 100-user network perpetual",
        };
        out.extend([
            licence.to_string(),
            "Serial number: 501809999999".to_string(),
            "  Licensed to: Stata Double".to_string(),
            "               Test Suite".to_string(),
            String::new(),
        ]);
    } else {
        let ed = match edition {
            Edition::Mp => "     MP - Parallel Edition      ",
            Edition::Se => "     Special Edition            ",
            Edition::Be => "                                ",
        };
        out.extend([
            "  ___  ____  ____  ____  ____ (R)".to_string(),
            " /__    /   ____/   /   ____/".to_string(),
            format!("___/   /   /___/   /   /___/   {v}   Copyright 1985-{year} StataCorp LLC"),
            "  Statistics/Data Analysis            StataCorp".to_string(),
            "                                      4905 Lakeway Drive".to_string(),
            format!("{ed}      College Station, Texas 77845 USA"),
            "                                      800-STATA-PC        http://www.stata.com"
                .to_string(),
            "                                      979-696-4600        stata@stata.com".to_string(),
            "                                      979-696-4601 (fax)".to_string(),
            String::new(),
            "Single-user 2-core Stata perpetual license:".to_string(),
            "       Serial number:  501509999999".to_string(),
            "         Licensed to:  Stata Double".to_string(),
            "                       Test Suite".to_string(),
            String::new(),
        ]);
    }
    let mut notes: Vec<String> = Vec::new();
    if batch {
        notes.push("Stata is running in batch mode.".into());
    }
    notes.push("Unicode is supported; see help unicode_advice.".into());
    if edition == Edition::Mp {
        notes.push("More than 2 billion observations are allowed; see help obs_advice.".into());
    }
    if edition != Edition::Be {
        let max = if modern { "5,000" } else { "5000" };
        notes.push(format!(
            "Maximum number of variables is set to {max}; see help set_maxvar."
        ));
    }
    out.push("Notes:".into());
    let sep = if modern { " " } else { "  " };
    for (k, n) in notes.iter().enumerate() {
        out.push(format!("      {}.{sep}{n}", k + 1));
    }
    out.push(String::new());
    out
}
