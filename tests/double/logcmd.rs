//! The `log` command: several logs open at once (one unnamed, any number named),
//! each written and flushed line by line, with Stata's header and footer blocks.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::commands::parse_options;
use crate::datacmds::qualifiers;
use crate::error::{R, StataErr, fail};
use crate::interp::{Interp, split_word, unquote};
use crate::output::{LogSink, UserLog, stata_timestamp};

const UNNAMED: &str = "<unnamed>";

pub(crate) fn log(it: &mut Interp, rest: &str) -> R {
    let (sub, tail) = split_word(rest);
    match sub {
        "using" => open(it, tail),
        "close" => close(it, tail),
        "off" | "on" => {
            let name = if tail.trim().is_empty() {
                UNNAMED
            } else {
                tail.trim()
            };
            match it.out.logs.iter_mut().find(|l| l.name == name) {
                Some(l) => {
                    l.on = sub == "on";
                    Ok(())
                }
                None => fail(606, "no log file open"),
            }
        }
        "" | "query" => {
            if it.out.logs.is_empty() {
                it.out.line("no log file open");
            }
            let blocks: Vec<Vec<String>> = it.out.logs.iter().map(|l| block(l, "")).collect();
            for b in blocks {
                for line in b {
                    it.out.line(&line);
                }
            }
            Ok(())
        }
        _ => Err(StataErr::syntax().into()),
    }
}

/// The `name:` / `log:` / `log type:` lines, plus `opened on:` or `closed on:`.
fn block(l: &UserLog, when: &str) -> Vec<String> {
    let mut v = vec![
        format!("      name:  {}", l.name),
        format!("       log:  {}", l.path.display()),
        format!("  log type:  {}", if l.smcl { "smcl" } else { "text" }),
    ];
    if !when.is_empty() {
        v.push(when.to_string());
    }
    v
}

fn absolute(p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

fn open(it: &mut Interp, rest: &str) -> R {
    let q = qualifiers(rest);
    let opts = parse_options(&q.opts);
    let mut file = unquote(&q.main).to_string();
    if file.is_empty() {
        return Err(StataErr::syntax().into());
    }
    let ext = Path::new(&file)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase());
    let smcl = if opts.contains_key("text") {
        false
    } else if opts.contains_key("smcl") {
        true
    } else {
        ext.as_deref() != Some("log")
    };
    if ext.is_none() {
        file.push_str(if smcl { ".smcl" } else { ".log" });
    }
    let name = opts
        .get("name")
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| UNNAMED.to_string());
    if it.out.logs.iter().any(|l| l.name == name) {
        return fail(604, "log file already open");
    }
    let path = absolute(&file);
    let append = opts.contains_key("append");
    let replace = opts.contains_key("replace");
    if path.exists() && !append && !replace {
        return fail(602, format!("file {} already exists", path.display()));
    }
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&path);
    let Ok(f) = f else {
        return fail(603, format!("file {} could not be opened", path.display()));
    };
    let sink = match LogSink::new(f, smcl) {
        Ok(s) => s,
        Err(_) => return fail(603, format!("file {} could not be opened", path.display())),
    };
    it.out.logs.push(UserLog {
        name,
        path,
        smcl,
        on: true,
        sink,
    });
    let Some(l) = it.out.logs.last() else {
        return Ok(());
    };
    let mut lines = vec!["-".repeat(79)];
    lines.extend(block(l, &format!(" opened on:  {}", stata_timestamp())));
    for line in lines {
        it.out.line(&line);
    }
    Ok(())
}

fn close(it: &mut Interp, rest: &str) -> R {
    let target = rest.trim();
    let names: Vec<String> = match target {
        "" => {
            if !it.out.logs.iter().any(|l| l.name == UNNAMED) {
                return fail(606, "no log file open");
            }
            vec![UNNAMED.to_string()]
        }
        "_all" => it.out.logs.iter().map(|l| l.name.clone()).collect(),
        names => {
            let v: Vec<String> = names.split_whitespace().map(str::to_string).collect();
            for n in &v {
                if !it.out.logs.iter().any(|l| &l.name == n) {
                    return fail(111, format!("log {n} not found"));
                }
            }
            v
        }
    };
    for n in names {
        let Some(pos) = it.out.logs.iter().position(|l| l.name == n) else {
            continue;
        };
        let mut lines = block(
            &it.out.logs[pos],
            &format!(" closed on:  {}", stata_timestamp()),
        );
        lines.push("-".repeat(79));
        for line in &lines {
            it.out.line(line);
        }
        // The footer went to this log too; now it stops receiving output.
        it.out.logs.remove(pos);
    }
    Ok(())
}
