//! The head of a Stata command: its `capture`/`noisily`/`quietly` prefixes, abbreviations,
//! and the do-file a `do`, `run` or `include` command names.
//!
//! The shell guard, the error scanner and the locator all ask these questions; this is the
//! one place that answers them, so when Stata surprises us there is one file to fix.

use std::path::{Path, PathBuf};

/// A command with its prefixes taken off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prefixed<'a> {
    /// What follows the prefixes (and the `{` of a one-line block).
    pub rest: &'a str,
    /// `capture noisily` (in any abbreviation and order of a later `noisily`): its errors
    /// are printed, but the run goes on.
    pub capture_noisily: bool,
    /// It runs without output: `quietly`, or `capture` without a later `noisily`.
    pub silent: bool,
}

/// Whether `word` is `full` abbreviated to at least `min` characters.
pub(crate) fn is_abbrev(word: &str, full: &str, min: usize) -> bool {
    word.len() >= min && word.len() <= full.len() && full.starts_with(word)
}

/// Splits `capture`, `noisily` and `quietly` prefixes (abbreviated to `cap`, `n`, `qui` at
/// the least, with or without a colon) and one-line block openers (`{`) off a command.
///
/// A prefix is a whole word: `capture_x` or `quietly2` is a command of its own.
pub(crate) fn strip_prefixes(cmd: &str) -> Prefixed<'_> {
    let mut rest = cmd.trim_start();
    let mut capture = false;
    let mut noisily_after_capture = false;
    let mut quiet = false;
    loop {
        if let Some(r) = rest.strip_prefix('{') {
            rest = r.trim_start();
            continue;
        }
        let end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        if word.is_empty() || after.starts_with(|c: char| c.is_ascii_digit() || c == '_') {
            break;
        }
        if is_abbrev(word, "capture", 3) {
            capture = true;
        } else if is_abbrev(word, "noisily", 1) {
            noisily_after_capture |= capture;
            quiet = false;
        } else if is_abbrev(word, "quietly", 3) {
            quiet = true;
        } else {
            break;
        }
        let after = after.trim_start();
        rest = after.strip_prefix(':').unwrap_or(after).trim_start();
    }
    Prefixed {
        rest,
        capture_noisily: capture && noisily_after_capture,
        silent: quiet || (capture && !noisily_after_capture),
    }
}

/// The command that runs a do-file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoVerb {
    Do,
    /// `run` (or `ru`): like `do`, but shows nothing, so no echo and no `end of do-file`.
    Run,
    /// `include`: the file's lines run as if typed in the including file.
    Include,
}

/// The do-file a `do`, `run` or `include` command names, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DoTarget {
    pub verb: DoVerb,
    /// The file name with its quotes removed; it may still hold macros (`` `f' ``, `$f`).
    pub name: String,
}

/// The do-file `cmd` runs, if it is `do FILE`, `run FILE` or `include FILE` (`cmd` with
/// its prefixes already stripped). The name is `` `"…"' ``, `"…"`, or a bare word ended by
/// white space or the comma of the options (`do a.do, nostop`).
pub(crate) fn do_target(cmd: &str) -> Option<DoTarget> {
    let (word, rest) = cmd.split_once(char::is_whitespace)?;
    let verb = match word {
        "do" => DoVerb::Do,
        "run" | "ru" => DoVerb::Run,
        "include" => DoVerb::Include,
        _ => return None,
    };
    let rest = rest.trim();
    let name = if let Some(q) = rest.strip_prefix("`\"") {
        q.split("\"'").next().unwrap_or(q)
    } else if let Some(q) = rest.strip_prefix('"') {
        q.split('"').next().unwrap_or(q)
    } else {
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        &rest[..end]
    };
    if name.is_empty() {
        return None;
    }
    Some(DoTarget {
        verb,
        name: name.to_owned(),
    })
}

/// The file a do-file name refers to, as Stata finds it: `.do` added when the name has no
/// extension, a relative name taken from the first of `bases` where such a file exists.
/// None for a name holding macros (their values are not known here) or a missing file.
pub(crate) fn do_file_path(name: &str, bases: &[&Path]) -> Option<PathBuf> {
    if name.is_empty() || name.contains('`') || name.contains('$') {
        return None;
    }
    let mut rel = PathBuf::from(name);
    if rel.extension().is_none() {
        rel.set_extension("do");
    }
    if rel.is_absolute() {
        return rel.is_file().then_some(rel);
    }
    bases.iter().map(|b| b.join(&rel)).find(|p| p.is_file())
}

/// Whether `cmd` is a `display` (any abbreviation Stata takes) that shows `_rc`: its
/// output gives the code of the error just captured.
pub(crate) fn displays_rc(cmd: &str) -> bool {
    let rest = strip_prefixes(cmd).rest;
    let verb = rest.split_whitespace().next().unwrap_or("");
    is_abbrev(verb, "display", 2) && rest.contains("_rc")
}

/// Whether `cmd` is `exit 1` (`exit, 1` too): the code's own way to stop with r(1), which
/// Stata reports as `--Break--` like a break.
pub(crate) fn is_exit_1(cmd: &str) -> bool {
    let rest = strip_prefixes(cmd).rest;
    let mut words = rest
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty());
    words.next() == Some("exit") && words.next() == Some("1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_displays_and_exit_1() {
        assert!(displays_rc("display \"_rc = \" _rc"));
        assert!(displays_rc("di _rc"));
        assert!(!displays_rc("local rc = _rc"));
        assert!(!displays_rc("d _rc"), "d is describe");
        assert!(is_exit_1("exit 1"));
        assert!(is_exit_1("    exit, 1"));
        assert!(!is_exit_1("exit 198"));
        assert!(!is_exit_1("exit"));
    }

    fn rest(cmd: &str) -> &str {
        strip_prefixes(cmd).rest
    }

    // The cases where the shell guard's and the scanner's strippers used to disagree, each
    // decided here on purpose.
    #[test]
    fn prefixes_are_whole_words_in_any_abbreviation() {
        assert_eq!(rest("quietly display 1"), "display 1");
        assert_eq!(rest("qui: display 1"), "display 1");
        assert_eq!(rest("qui:display 1"), "display 1");
        assert_eq!(rest("cap noi shell ls"), "shell ls");
        assert_eq!(rest("n display 1"), "display 1");
        assert_eq!(rest("capture noisily: do a"), "do a");
        // The guard saw `capture` in `capture_x`; it is a name, not a prefix.
        assert_eq!(rest("capture_x = 1"), "capture_x = 1");
        assert_eq!(rest("qui2 display"), "qui2 display");
        // Too short to be an abbreviation.
        assert_eq!(rest("ca display"), "ca display");
        assert_eq!(rest("q display"), "q display");
        // One-line blocks: the guard looked inside them, now everyone does.
        assert_eq!(rest("quietly { shell ls"), "shell ls");
        assert_eq!(rest("{"), "");
        assert_eq!(rest("display 1"), "display 1");
    }

    #[test]
    fn capture_noisily_and_silence() {
        let p = strip_prefixes("capture noisily regress y x");
        assert!(p.capture_noisily && !p.silent);
        let p = strip_prefixes("cap n: regress y x");
        assert!(p.capture_noisily && !p.silent);
        let p = strip_prefixes("capture regress y x");
        assert!(!p.capture_noisily && p.silent);
        let p = strip_prefixes("quietly regress y x");
        assert!(!p.capture_noisily && p.silent);
        let p = strip_prefixes("noisily capture regress y x");
        assert!(!p.capture_noisily && p.silent);
        let p = strip_prefixes("quietly noisily regress y x");
        assert!(!p.silent);
    }

    #[test]
    fn do_targets_in_every_form() {
        let t = |c: &str| do_target(c).map(|t| (t.verb, t.name));
        assert_eq!(t("do a.do"), Some((DoVerb::Do, "a.do".into())));
        assert_eq!(
            t("do \"my dir/a.do\" x y"),
            Some((DoVerb::Do, "my dir/a.do".into()))
        );
        assert_eq!(
            t("do `\"a \"b\".do\"' 1"),
            Some((DoVerb::Do, "a \"b\".do".into()))
        );
        // The scanner cut a bare name at the options' comma; the guard did not. It is cut.
        assert_eq!(t("do a.do, nostop"), Some((DoVerb::Do, "a.do".into())));
        assert_eq!(t("do a,nostop"), Some((DoVerb::Do, "a".into())));
        // `ru` is Stata's shortest `run`; only the guard knew it.
        assert_eq!(t("ru sub"), Some((DoVerb::Run, "sub".into())));
        assert_eq!(t("run sub"), Some((DoVerb::Run, "sub".into())));
        assert_eq!(t("include `f'"), Some((DoVerb::Include, "`f'".into())));
        assert_eq!(t("do"), None);
        assert_eq!(t("do \"\""), None);
        assert_eq!(t("dofile x"), None);
        assert_eq!(t("display \"do x\""), None);
    }

    #[test]
    fn do_file_paths_add_do_and_search_the_bases() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        std::fs::write(sub.join("a.do"), "display 1\n").expect("write");
        let bases = [dir.path(), sub.as_path()];
        assert_eq!(do_file_path("a", &bases), Some(sub.join("a.do")));
        assert_eq!(do_file_path("sub/a.do", &bases), Some(sub.join("a.do")));
        let abs = sub.join("a").display().to_string();
        assert_eq!(do_file_path(&abs, &[]), Some(sub.join("a.do")));
        assert_eq!(do_file_path("missing", &bases), None);
        assert_eq!(do_file_path("`f'", &bases), None);
        assert_eq!(do_file_path("$f", &bases), None);
    }
}
