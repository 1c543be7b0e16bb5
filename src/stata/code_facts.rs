//! What a piece of Stata code does that a replication must know: the data files it reads
//! and writes, whether it draws random numbers and whether it sets the seed, the packages it
//! installs. Read from the code's statements (prefixes off), never by running it.

use super::command::strip_prefixes;
use super::statements::statements;

/// The facts of one piece of code, in the order its statements name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CodeFacts {
    /// Data files read (`use`, `merge`/`append`/`joinby ... using`, `import ... using`), as
    /// written, `.dta` added where Stata adds it.
    pub reads: Vec<String>,
    /// Data files written (`save`, `saveold`, `export ... using`, `outsheet ... using`).
    pub writes: Vec<String>,
    /// A random-number function or a command that samples (`bootstrap`, `sample`, ...).
    pub random: bool,
    /// `set seed` or `set rngstate` runs before any random draw of this code.
    pub seeds_first: bool,
    /// `set seed` or `set rngstate` anywhere in it.
    pub seeds: bool,
    /// Packages installed: `ssc install NAME`, `net install NAME`.
    pub installs: Vec<String>,
}

/// The random-number functions of Stata (each followed by `(`).
const RANDOM_FUNCTIONS: &[&str] = &[
    "runiform",
    "runiformint",
    "rnormal",
    "rbeta",
    "rbinomial",
    "rcauchy",
    "rchi2",
    "rexponential",
    "rgamma",
    "rhypergeometric",
    "rigaussian",
    "rlaplace",
    "rlogistic",
    "rnbinomial",
    "rpoisson",
    "rt",
    "rweibull",
    "rweibullph",
];

/// Commands whose results depend on the random-number state.
const RANDOM_COMMANDS: &[&str] = &["bootstrap", "bsample", "permute", "sample", "simulate"];

/// The facts of `code`.
pub(crate) fn code_facts(code: &str) -> CodeFacts {
    let mut facts = CodeFacts::default();
    for (_, statement) in statements(code) {
        let cmd = strip_prefixes(&statement).rest.trim();
        let (word, rest) = split_word(cmd);
        let seeds = word == "set" && {
            let (what, _) = split_word(rest);
            what == "seed" || what == "rngstate"
        };
        if seeds {
            facts.seeds = true;
            if !facts.random {
                facts.seeds_first = true;
            }
            continue;
        }
        if draws_random(word, cmd) {
            facts.random = true;
        }
        read_and_written(word, rest, &mut facts);
        if let Some(pkg) = installed(word, rest) {
            facts.installs.push(pkg);
        }
    }
    facts
}

/// The first word of `s` and what follows it (trimmed).
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s
        .find(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim_start())
}

fn draws_random(word: &str, cmd: &str) -> bool {
    if RANDOM_COMMANDS.contains(&word) || (word == "mi" && cmd.contains(" impute")) {
        return true;
    }
    let cmd = &without_strings(cmd);
    RANDOM_FUNCTIONS.iter().any(|f| {
        cmd.match_indices(f).any(|(i, _)| {
            let before = cmd[..i].chars().next_back();
            let after = cmd[i + f.len()..].trim_start().starts_with('(');
            after && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// `cmd` with the text of its `"…"` strings left out (a function name in a string is text).
fn without_strings(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut inside = false;
    for c in cmd.chars() {
        if c == '"' {
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

fn read_and_written(word: &str, rest: &str, facts: &mut CodeFacts) {
    let using = || {
        rest.split_once(" using ")
            .map(|(_, f)| f)
            .or_else(|| rest.strip_prefix("using "))
            .and_then(file_name)
    };
    if word == "use" {
        // `use FILE` or `use VARLIST using FILE`.
        if let Some(f) = using().or_else(|| file_name(rest)) {
            facts.reads.push(with_dta(f));
        }
    } else if matches!(word, "merge" | "append" | "joinby" | "cross") {
        if let Some(f) = using() {
            facts.reads.push(with_dta(f));
        }
    } else if matches!(word, "import" | "insheet" | "infile" | "infix") {
        let after = if word == "import" {
            split_word(rest).1
        } else {
            rest
        };
        let f = after
            .split_once(" using ")
            .map(|(_, f)| f)
            .or_else(|| after.strip_prefix("using "))
            .or(Some(after))
            .and_then(file_name);
        if let Some(f) = f {
            facts.reads.push(f);
        }
    } else if matches!(word, "save" | "saveold" | "sa" | "sav") {
        if let Some(f) = file_name(rest) {
            facts.writes.push(with_dta(f));
        }
    } else if matches!(word, "export" | "outsheet")
        && let Some(f) = using()
    {
        facts.writes.push(f);
    }
}

fn installed(word: &str, rest: &str) -> Option<String> {
    if word != "ssc" && word != "net" {
        return None;
    }
    let (verb, after) = split_word(rest);
    if verb != "install" {
        return None;
    }
    let (name, _) = split_word(after);
    (!name.is_empty()).then(|| name.to_owned())
}

/// A file name at the start of `s`: quoted (`"…"`, `` `"…"' ``) or a bare word ended by
/// white space or a comma; none for an option list or a name holding macros.
fn file_name(s: &str) -> Option<String> {
    let s = s.trim_start();
    let name = if let Some(q) = s.strip_prefix("`\"") {
        q.split("\"'").next()?
    } else if let Some(q) = s.strip_prefix('"') {
        q.split('"').next()?
    } else {
        let end = s
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(s.len());
        &s[..end]
    };
    let known = !name.is_empty() && !name.contains('`') && !name.contains('$');
    known.then(|| name.to_owned())
}

/// Stata's rule for a data file named without an extension: `.dta` is added.
fn with_dta(name: String) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(&name);
    if file.contains('.') {
        name
    } else {
        format!("{name}.dta")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_read_and_written_are_named_as_stata_takes_them() {
        let f = code_facts(
            "use \"data/raw panel.dta\", clear\nmerge 1:1 id using extra\n\
             qui append using `\"more.dta\"'\nimport delimited using prices.csv, clear\n\
             save clean, replace\nexport delimited using out/clean.csv\nuse `f', clear\n",
        );
        assert_eq!(
            f.reads,
            vec!["data/raw panel.dta", "extra.dta", "more.dta", "prices.csv"]
        );
        assert_eq!(f.writes, vec!["clean.dta", "out/clean.csv"]);
        let f = code_facts("use price mpg using auto2 if foreign\nsysuse auto\n");
        assert_eq!(
            f.reads,
            vec!["auto2.dta"],
            "sysuse reads no file of the user's"
        );
    }

    #[test]
    fn random_draws_and_seeds_are_told_apart() {
        let f = code_facts("set seed 42\ngen u = runiform()\n");
        assert!(f.random && f.seeds && f.seeds_first);
        let f = code_facts("gen e = rnormal(0, 1)\nset seed 1\n");
        assert!(f.random && f.seeds && !f.seeds_first);
        let f = code_facts("bootstrap, reps(50): regress price mpg\n");
        assert!(f.random && !f.seeds);
        let f = code_facts("gen sort_ = 1\ndisplay \"rt(\" \ngen x = start(1)\n");
        assert!(!f.random, "{f:?}");
    }

    #[test]
    fn installs_are_listed() {
        let f = code_facts("ssc install reghdfe, replace\nnet install ftools, from(x)\n");
        assert_eq!(f.installs, vec!["reghdfe", "ftools"]);
    }
}
