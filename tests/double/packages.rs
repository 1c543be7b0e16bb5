//! Packages as Stata keeps them: `sysdir` (PLUS, PERSONAL), `adopath`, `ssc install` (from a
//! local folder standing in for SSC, `STATA_DOUBLE_SSC`), `which`, and a command found as an
//! ado-file along the ado-path, loaded and run.

use std::path::{Path, PathBuf};

use crate::error::{R, StataErr, fail};
use crate::interp::{DoHow, Interp, split_word, unquote};

/// The folders `sysdir` names and the extra ado-path entries.
#[derive(Debug, Default)]
pub(crate) struct AdoPath {
    plus: Option<String>,
    extra: Vec<String>,
}

fn home_ado(sub: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    format!("{}/ado/{sub}/", home.trim_end_matches('/'))
}

impl AdoPath {
    pub(crate) fn plus(&self) -> String {
        self.plus.clone().unwrap_or_else(|| home_ado("plus"))
    }

    pub(crate) fn personal(&self) -> String {
        home_ado("personal")
    }

    /// The ado-path in Stata's order (Linux): ., PERSONAL, PLUS, then what `adopath +` added.
    fn dirs(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("".to_owned(), ".".to_owned()),
            ("(PERSONAL)".to_owned(), self.personal()),
            ("(PLUS)".to_owned(), self.plus()),
        ];
        out.extend(self.extra.iter().map(|d| (String::new(), d.clone())));
        out
    }

    /// `name.ado` along the ado-path (in a folder itself or under its first letter).
    fn find(&self, name: &str) -> Option<PathBuf> {
        let file = format!("{name}.ado");
        let letter = name.chars().next()?.to_string();
        self.dirs().into_iter().find_map(|(_, d)| {
            [
                Path::new(&d).join(&file),
                Path::new(&d).join(&letter).join(&file),
            ]
            .into_iter()
            .find(|p| p.is_file())
        })
    }
}

/// `sysdir`, `adopath`, `ssc`, `which`, or a command from an ado-file; `None` if `w` is none.
pub(crate) fn command(it: &mut Interp, w: &str, rest: &str) -> Option<R> {
    Some(match w {
        "sysdir" => sysdir(it, rest),
        "adopath" => adopath(it, rest),
        "ssc" => ssc(it, rest),
        "which" => which(it, rest.trim()),
        _ => {
            let path = it.ado.find(w)?;
            let shown = path.display().to_string();
            if let Err(e) = it.run_do(&format!("\"{shown}\""), DoHow::Run) {
                return Some(Err(e));
            }
            if !it.programs.contains_key(w) {
                return Some(fail(199, format!("command {w} is unrecognized")));
            }
            it.call_program(w, rest)
        }
    })
}

fn sysdir(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest.trim());
    match sub {
        "" | "list" => {
            let plus = it.ado.plus();
            let personal = it.ado.personal();
            for (name, dir) in [("PLUS", plus), ("PERSONAL", personal)] {
                it.out.line(&format!("{name:>10}:  {dir}"));
            }
            Ok(())
        }
        "set" => {
            let (which, dir) = split_word(tail.trim());
            match which {
                "PLUS" => {
                    let mut d = unquote(dir.trim()).to_owned();
                    if !d.ends_with('/') {
                        d.push('/');
                    }
                    it.ado.plus = Some(d);
                    Ok(())
                }
                _ => fail(198, "invalid syntax"),
            }
        }
        _ => fail(198, "invalid syntax"),
    }
}

fn adopath(it: &mut Interp, rest: &str) -> R {
    let (op, dir) = split_word(rest.trim());
    let dir = unquote(dir.trim()).to_owned();
    match op {
        "+" if !dir.is_empty() => it.ado.extra.push(dir),
        "++" if !dir.is_empty() => it.ado.extra.insert(0, dir),
        "" => {}
        _ => return fail(198, "invalid syntax"),
    }
    for (k, (code, d)) in it.ado.dirs().into_iter().enumerate() {
        it.out.line(&format!("  [{}]  {code:<10}\"{d}\"", k + 1));
    }
    Ok(())
}

/// `ssc install name [, replace]`, from the folder `STATA_DOUBLE_SSC` (no network here).
fn ssc(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest.trim());
    if sub != "install" {
        return fail(198, "invalid syntax");
    }
    let name = tail.split(',').next().unwrap_or("").trim().to_owned();
    let source = std::env::var_os("STATA_DOUBLE_SSC")
        .map(|d| PathBuf::from(d).join(format!("{name}.ado")))
        .filter(|p| p.is_file());
    let Some(source) = source else {
        it.out.line(&format!(
            "ssc install: \"{name}\" not found at SSC, type search {name}"
        ));
        return Err(StataErr::code(601).into());
    };
    let plus = it.ado.plus();
    let letter = name.chars().next().unwrap_or('_').to_string();
    let target_dir = Path::new(&plus).join(&letter);
    let target = target_dir.join(format!("{name}.ado"));
    it.out.line(&format!(
        "checking {name} consistency and verifying not already installed..."
    ));
    it.out.line(&format!("installing into {plus}..."));
    let copied = std::fs::create_dir_all(&target_dir)
        .and_then(|()| std::fs::copy(&source, &target))
        .and_then(|_| {
            use std::io::Write;
            let mut trk = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(Path::new(&plus).join("stata.trk"))?;
            writeln!(
                trk,
                "S http://fmwww.bc.edu/repec/bocode/{letter}\nN {name}.pkg\nf {letter}/{name}.ado\ne"
            )
        });
    match copied {
        Ok(()) => {
            it.out.line("installation complete.");
            Ok(())
        }
        Err(e) => fail(
            603,
            format!("file {} could not be opened ({e})", target.display()),
        ),
    }
}

fn which(it: &mut Interp, name: &str) -> R {
    let Some(path) = it.ado.find(name) else {
        return fail(
            111,
            format!("command {name} not found as either built-in or ado-file"),
        );
    };
    it.out.line(&path.display().to_string());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for l in text.lines().filter(|l| l.starts_with("*!")) {
        it.out.line(l);
    }
    Ok(())
}
