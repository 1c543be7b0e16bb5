//! stata-double: a test double of console Stata (`stata-mp`, `stata-se`, `stata`).
//!
//! It behaves as the project's specification (`../shared/stata-behavior.md`) describes
//! real Stata behaving as a subprocess: batch mode (`-b`/`-e`, log in the working directory, exit code 0 even
//! on error) and console mode (stdin commands, block-buffered stdout, `log using`).
//! This file reads the command line and environment and picks the mode.
//!
//! Environment: `STATA_DOUBLE_VERSION` (default 18.0), `STATA_DOUBLE_LICENSE=invalid`,
//! `STATA_DOUBLE_STARTUP_MS`. The edition comes from the executable's name.

mod banner;
mod commands;
mod console;
mod data;
mod datacmds;
mod error;
mod expr;
mod graph;
mod interp;
mod logcmd;
mod numfmt;
mod output;
mod packages;
mod reports;
mod signals;
mod source;
mod stats;
mod system;
mod vce;

use std::fs::File;
use std::path::Path;

use error::Flow;
use interp::{Edition, Interp};
use output::{Console, LogSink};

struct Cli {
    quiet: bool,
    smcl: bool,
    batch: bool,
    words: Vec<String>,
}

fn parse_cli(args: &[String]) -> Cli {
    let mut cli = Cli {
        quiet: false,
        smcl: false,
        batch: false,
        words: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        match a.strip_prefix('-') {
            Some(flags) if cli.words.is_empty() && !flags.is_empty() => {
                for f in flags.chars() {
                    match f {
                        'q' => cli.quiet = true,
                        's' => cli.smcl = true,
                        'b' | 'e' => cli.batch = true,
                        _ => {}
                    }
                }
            }
            _ => cli.words.push(a.clone()),
        }
        i += 1;
    }
    cli
}

/// `stata-mp` → MP, `stata-se` → SE, anything else (`stata`, `stata-be`) → BE.
fn edition_from(argv0: &str) -> Edition {
    let name = Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.contains("-mp") || name.ends_with("mp") {
        Edition::Mp
    } else if name.contains("-se") || name.ends_with("se") {
        Edition::Se
    } else {
        Edition::Be
    }
}

fn quote_word(w: &str) -> String {
    if w.contains(char::is_whitespace) {
        format!("\"{w}\"")
    } else {
        w.to_string()
    }
}

/// What a batch run executes and logs: (command, log file base name).
/// `stata -b main.do` means `do "main.do"`; `-b display 1` logs to `stata.log`.
fn batch_command(words: &[String]) -> (String, String) {
    let first = words.first().map(String::as_str).unwrap_or("");
    let (cmd, dofile) = if first == "do" || first == "run" {
        let text = words
            .iter()
            .map(|w| quote_word(w))
            .collect::<Vec<_>>()
            .join(" ");
        (text, words.get(1).cloned())
    } else if first.ends_with(".do") {
        let mut text = format!("do \"{first}\"");
        for w in &words[1..] {
            text.push(' ');
            text.push_str(&quote_word(w));
        }
        (text, Some(first.to_string()))
    } else {
        (words.join(" "), None)
    };
    let base = dofile
        .map(|f| {
            let name = Path::new(&f)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(f.clone());
            let stem = match name.rsplit_once('.') {
                Some((s, _)) if !s.is_empty() => s.to_string(),
                _ => name,
            };
            stem.split(' ').next().unwrap_or("stata").to_string()
        })
        .unwrap_or_else(|| "stata".to_string());
    (cmd, base)
}

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let edition = edition_from(args.first().map(String::as_str).unwrap_or("stata"));
    let version = std::env::var("STATA_DOUBLE_VERSION")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(18.0);
    let cli = parse_cli(args.get(1..).unwrap_or(&[]));
    signals::install();
    if let Some(ms) = std::env::var("STATA_DOUBLE_STARTUP_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let invalid = std::env::var("STATA_DOUBLE_LICENSE").is_ok_and(|v| v == "invalid");
    let mut it = Interp::new(version, edition, cli.batch);
    if cli.batch {
        batch(&mut it, &cli, invalid)
    } else {
        console_mode(&mut it, &cli, invalid)
    }
}

fn batch(it: &mut Interp, cli: &Cli, invalid: bool) -> i32 {
    let (cmd, base) = batch_command(&cli.words);
    let log_name = format!("{base}.{}", if cli.smcl { "smcl" } else { "log" });
    let file = match File::create(&log_name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("stata-double: cannot create {log_name}: {e}");
            return 1;
        }
    };
    let sink = match LogSink::new(file, cli.smcl) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stata-double: cannot write {log_name}: {e}");
            return 1;
        }
    };
    it.out.batch = Some(sink);
    if invalid {
        it.out.line("License is invalid");
        eprintln!("License is invalid");
        return 0;
    }
    if cli.quiet {
        if !(cmd.starts_with("do ") || cmd.starts_with("run ")) {
            it.out.blank();
        }
    } else {
        for l in banner::lines(it.version, it.edition, true) {
            it.out.line(&l);
        }
    }
    run_profile(it);
    if cmd.is_empty() {
        return 0;
    }
    if !cli.quiet {
        it.out.echo(&format!(". {cmd} "));
    }
    let result = it.exec_line(&cmd, None, false);
    if let Err(Flow::Err(mut e)) = result {
        it.report(&mut e);
    }
    0
}

fn console_mode(it: &mut Interp, cli: &Cli, invalid: bool) -> i32 {
    match Console::new() {
        Ok(c) => it.out.console = Some(c),
        Err(e) => {
            eprintln!("stata-double: cannot use stdout: {e}");
            return 1;
        }
    }
    if invalid {
        it.out.line("License is invalid");
        it.out.flush_console();
        eprintln!("License is invalid");
        return 0;
    }
    if !cli.quiet {
        for l in banner::lines(it.version, it.edition, false) {
            it.out.line(&l);
        }
    }
    run_profile(it);
    console::run(it)
}

/// Stata runs `profile.do` from the start-up directory before anything else.
fn run_profile(it: &mut Interp) {
    if Path::new("profile.do").is_file() {
        let shown = std::env::current_dir()
            .map(|d| d.join("profile.do").display().to_string())
            .unwrap_or_else(|_| "profile.do".into());
        it.out.line(&format!("running {shown} ..."));
        it.out.blank();
        let _ = it.run_do("\"profile.do\"", interp::DoHow::Run);
    }
}
