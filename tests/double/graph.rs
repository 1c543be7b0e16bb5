//! Graphs: `scatter`, `twoway`, `histogram`, `line` create a graph in memory;
//! `graph dir` lists them; `graph export` writes real SVG/PNG/EPS/PDF files with the
//! version-specific messages and the console-mode PNG failures of `../shared/stata-behavior.md` section 6.

use std::fmt::Write as _;
use std::path::Path;

use crate::commands::parse_options;
use crate::data::is_missing;
use crate::datacmds::{qualifiers, touse};
use crate::error::{R, StataErr, fail};
use crate::interp::{Interp, split_word, unquote};
use crate::numfmt;

#[derive(Clone, Debug)]
pub(crate) struct Graph {
    pub name: String,
    pub kind: String,
    pub points: Vec<(f64, f64)>,
    pub title: String,
}

#[derive(Default)]
pub(crate) struct Graphs {
    pub list: Vec<Graph>,
}

const PLOT_TYPES: [&str; 16] = [
    "scatter",
    "sc",
    "line",
    "connected",
    "lfit",
    "qfit",
    "lfitci",
    "area",
    "bar",
    "rcap",
    "histogram",
    "kdensity",
    "function",
    "lowess",
    "twoway",
    "tw",
];

pub(crate) fn is_graph_command(w: &str) -> bool {
    matches!(
        w,
        "scatter"
            | "sc"
            | "twoway"
            | "tw"
            | "line"
            | "histogram"
            | "hist"
            | "histo"
            | "kdensity"
            | "gr"
            | "gra"
            | "graph"
    )
}

pub(crate) fn command(it: &mut Interp, w: &str, rest: &str) -> R {
    if matches!(w, "gr" | "gra" | "graph") {
        let (sub, tail) = split_word(rest);
        return match sub {
            "dir" => {
                let names: Vec<String> = it.graphs.list.iter().map(|g| g.name.clone()).collect();
                if !names.is_empty() {
                    it.out.line(&format!("  {}", names.join("  ")));
                }
                Ok(())
            }
            "export" => export(it, tail),
            "drop" => {
                for n in tail.split_whitespace() {
                    if n == "_all" {
                        it.graphs.list.clear();
                    } else if it.graphs.list.iter().any(|g| g.name == n) {
                        it.graphs.list.retain(|g| g.name != n);
                    } else {
                        return fail(111, format!("graph {n} not found"));
                    }
                }
                Ok(())
            }
            "close" | "display" | "set" | "query" => Ok(()),
            "save" => save(it, tail),
            "twoway" | "tw" | "bar" | "hbar" | "box" | "hbox" | "pie" | "matrix" | "dot" => {
                create(it, sub, tail)
            }
            _ => fail(198, format!("{sub} invalid graph subcommand")),
        };
    }
    create(it, w, rest)
}

/// Draws a graph into memory. Variables are checked the way Stata checks them.
fn create(it: &mut Interp, kind: &str, rest: &str) -> R {
    let q = qualifiers(rest);
    let opts = parse_options(&q.opts);
    let cleaned: String = q
        .main
        .chars()
        .map(|c| {
            if c == '(' || c == ')' || c == '|' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut vars = Vec::new();
    for tok in cleaned.split_whitespace() {
        if PLOT_TYPES.contains(&tok)
            || tok.parse::<f64>().is_ok()
            || tok.contains(',')
            || tok.contains('=')
        {
            continue;
        }
        match it.data.find(tok) {
            Some(j) => vars.push(j),
            None => return fail(111, format!("variable {tok} not found")),
        }
    }
    if vars.is_empty() {
        return fail(100, "varlist required");
    }
    let keep = touse(it, &q)?;
    let d = &it.data;
    let ycol = vars[0];
    let xcol = *vars.get(1).unwrap_or(&vars[0]);
    let points: Vec<(f64, f64)> = (0..d.nobs)
        .filter(|&i| keep[i])
        .map(|i| (d.vars[xcol].num(i), d.vars[ycol].num(i)))
        .filter(|(x, y)| !is_missing(*x) && !is_missing(*y))
        .collect();
    let is_hist = kind.starts_with("hist");
    if is_hist {
        let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        let n = xs.len() as f64;
        let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let bins = n.sqrt().min(10.0 * n.log10()).trunc().max(1.0);
        let width = (max - min) / bins;
        it.out.line(&format!(
            "(bin={}, start={}, width={})",
            bins,
            numfmt::g(min, 9),
            numfmt::g(width, 9)
        ));
    }
    let (name, replace) = match opts.get("name") {
        Some(arg) => {
            let mut parts = arg.split(',');
            let n = parts.next().unwrap_or("Graph").trim().to_string();
            (n, parts.any(|p| p.trim() == "replace"))
        }
        None => ("Graph".to_string(), true),
    };
    if !replace && it.graphs.list.iter().any(|g| g.name == name) {
        return fail(110, format!("graph {name} already exists"));
    }
    it.graphs.list.retain(|g| g.name != name);
    it.graphs.list.push(Graph {
        name,
        kind: kind.to_string(),
        points,
        title: unquote(opts.get("title").map(String::as_str).unwrap_or("")).to_string(),
    });
    Ok(())
}

fn current(it: &Interp, name: Option<&String>) -> R<Graph> {
    let g = match name {
        Some(n) => it.graphs.list.iter().find(|g| &g.name == n),
        None => it.graphs.list.last(),
    };
    match g {
        Some(g) => Ok(g.clone()),
        None => fail(
            111,
            format!(
                "graph {} not found",
                name.map(String::as_str).unwrap_or("Graph")
            ),
        ),
    }
}

fn save(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let words = crate::interp::tokenize(&q.main);
    let (gname, file) = match words.as_slice() {
        [f] => (None, f.clone()),
        [g, f] => (Some(g.clone()), f.clone()),
        _ => return Err(StataErr::syntax().into()),
    };
    let g = current(it, gname.as_ref())?;
    let file = if Path::new(&file).extension().is_none() {
        format!("{file}.gph")
    } else {
        file
    };
    let replace = q.opts.split_whitespace().any(|o| o == "replace");
    if Path::new(&file).exists() && !replace {
        return fail(602, format!("file {file} already exists"));
    }
    let body = format!(
        "StataFileTM:00001:01000:LiveGPH:                       :\n{} {}\n",
        g.kind, g.name
    );
    std::fs::write(&file, body)
        .or_else(|_| fail(603, format!("file {file} could not be opened")))?;
    it.out.line(&format!("file {file} saved"));
    Ok(())
}

fn export(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let file = unquote(&q.main).to_string();
    if file.is_empty() {
        return Err(StataErr::syntax().into());
    }
    let opts = parse_options(&q.opts);
    let g = current(it, opts.get("name"))?;
    let ext = opts
        .get("as")
        .cloned()
        .or_else(|| {
            Path::new(&file)
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
        })
        .unwrap_or_default();
    let label = match ext.as_str() {
        "svg" => "SVG",
        "png" => "PNG",
        "eps" => "EPS",
        "ps" => "PS",
        "pdf" => "PDF",
        "tif" | "tiff" => "TIFF",
        "jpg" | "jpeg" => "JPEG",
        "gif" => "GIF",
        _ => return fail(198, "could not determine export format; specify as()"),
    };
    let raster = matches!(label, "PNG" | "TIFF" | "JPEG" | "GIF");
    if raster && it.version < 17.0 {
        let t = if label == "TIFF" { "tif" } else { &ext };
        return fail(111, format!("translator Graph2{t} not found"));
    }
    if raster && !it.batch {
        // Console builds 17+ rasterise through bundled Java, which fails on hosts
        // without fontconfig (the usual headless server).
        return fail(
            691,
            "Fontconfig head is null, check your fonts or fonts configuration\ncould not export graph",
        );
    }
    let replace = opts.contains_key("replace");
    let exists = Path::new(&file).exists();
    if exists && !replace {
        return fail(602, format!("file {file} already exists"));
    }
    let width: Option<u32> = opts.get("width").and_then(|w| w.trim().parse().ok());
    let height: Option<u32> = opts.get("height").and_then(|h| h.trim().parse().ok());
    let bytes = match label {
        "SVG" => svg(&g, it.version, width, height).into_bytes(),
        "PNG" => png(
            width.unwrap_or(64),
            height.unwrap_or(width.map_or(48, |w| w * 3 / 4)),
        ),
        "PDF" => pdf(),
        "EPS" | "PS" => format!(
            "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 396 288\n%%Title: {}\n%%EOF\n",
            g.name
        )
        .into_bytes(),
        _ => png(64, 48),
    };
    if std::fs::write(&file, bytes).is_err() {
        return fail(603, format!("file {file} could not be opened"));
    }
    if it.version >= 17.0 {
        if replace && !exists {
            it.out.line(&format!("(file {file} not found)"));
        }
        it.out.line(&format!("file {file} saved as {label} format"));
    } else {
        it.out
            .line(&format!("(file {file} written in {label} format)"));
    }
    Ok(())
}

/// A small but valid SVG in the shape Stata writes: 5.5 x 4 inches in points.
fn svg(g: &Graph, version: f64, width: Option<u32>, height: Option<u32>) -> String {
    let (w, h) = match (width, height) {
        (Some(w), Some(h)) => (format!("{w}px"), format!("{h}px")),
        (Some(w), None) => (format!("{w}px"), format!("{}px", w * 8 / 11)),
        (None, Some(h)) => (format!("{}px", h * 11 / 8), format!("{h}px")),
        (None, None) => ("396pt".to_string(), "288pt".to_string()),
    };
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
         <!-- This is a Stata {version:.1} generated SVG file (http://www.stata.com) -->\n\n\
         <svg version=\"1.1\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 3960 2880\" \
         xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n\
         \t<desc>Stata Graph - {}</desc>\n\
         \t<rect x=\"0\" y=\"0\" width=\"3960\" height=\"2880\" style=\"fill:#FFFFFF;stroke:none\"/>\n\
         \t<line x1=\"400\" y1=\"2500\" x2=\"3800\" y2=\"2500\" style=\"stroke:#000000;stroke-width:8\"/>\n\
         \t<line x1=\"400\" y1=\"2500\" x2=\"400\" y2=\"150\" style=\"stroke:#000000;stroke-width:8\"/>\n",
        g.name
    );
    if !g.points.is_empty() {
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for &(x, y) in &g.points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        let sx = |x: f64| 450.0 + 3300.0 * if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.5 };
        let sy = |y: f64| 2450.0 - 2250.0 * if y1 > y0 { (y - y0) / (y1 - y0) } else { 0.5 };
        for &(x, y) in g.points.iter().take(5000) {
            let _ = writeln!(
                s,
                "\t<circle cx=\"{:.0}\" cy=\"{:.0}\" r=\"26\" style=\"fill:#1A476F;stroke:none\"/>",
                sx(x),
                sy(y)
            );
        }
    }
    if !g.title.is_empty() {
        let _ = writeln!(
            s,
            "\t<text x=\"1980\" y=\"120\" style=\"font-family:'Helvetica';font-size:99px\" text-anchor=\"middle\">{}</text>",
            xml_escape(&g.title)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A white RGB PNG of the given size: zlib with stored (uncompressed) blocks.
fn png(w: u32, h: u32) -> Vec<u8> {
    let (w, h) = (w.clamp(1, 2000), h.clamp(1, 2000));
    let mut raw = Vec::with_capacity(((w * 3 + 1) * h) as usize);
    for _ in 0..h {
        raw.push(0);
        raw.extend(std::iter::repeat_n(0xFFu8, (w * 3) as usize));
    }
    let mut z = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (k, c) in chunks.iter().enumerate() {
        z.push((k + 1 == chunks.len()) as u8);
        let len = c.len() as u16;
        z.extend(len.to_le_bytes());
        z.extend((!len).to_le_bytes());
        z.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend(((b << 16) | a).to_be_bytes());
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        c.extend_from_slice(&body);
        c.extend(crc32(&body).to_be_bytes());
        c
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &z));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 396 288]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}
