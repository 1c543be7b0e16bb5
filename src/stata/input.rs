//! What may go into the Stata code a query generates: names, `if` conditions, help topics.
//! Each check says what is wrong in words a model can act on.

/// At most this many variables in one query.
pub(crate) const MAX_VARS: usize = 300;
/// An `if` condition is kept to this many characters.
pub(crate) const MAX_IF_CHARS: usize = 1000;

/// Whether `s` is a Stata name: a letter or `_`, then letters, digits, `_`; at most 32.
pub(crate) fn is_stata_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 32
}

pub(crate) fn check_vars(vars: &[String]) -> Result<String, String> {
    if vars.len() > MAX_VARS {
        return Err(format!(
            "vars: at most {MAX_VARS} variables, not {}",
            vars.len()
        ));
    }
    for v in vars {
        if !is_stata_name(v) {
            return Err(format!(
                "vars: {v:?} is not a Stata variable name (a letter or _, then letters, digits \
                 or _, at most 32 characters)"
            ));
        }
    }
    Ok(vars.join(" "))
}

/// An `if` condition goes into Stata code: it may not end the line, start a comment, open
/// a block or expand macros.
pub(crate) fn check_condition(c: &str) -> Result<String, String> {
    let c = c.trim();
    if c.is_empty() {
        return Err("if: the condition is empty".into());
    }
    if c.len() > MAX_IF_CHARS {
        return Err(format!("if: at most {MAX_IF_CHARS} characters"));
    }
    let bad = ['\n', '\r', ';', '`', '$', '{', '}'];
    if let Some(ch) = c.chars().find(|ch| bad.contains(ch) || ch.is_control()) {
        return Err(format!(
            "if: {ch:?} is not allowed in a condition (no newlines, `;`, macros, braces)"
        ));
    }
    if c.contains("//") || c.contains("/*") || c.contains("*/") {
        return Err("if: comments (//, /* */) are not allowed in a condition".into());
    }
    Ok(c.to_owned())
}

pub(crate) fn check_topic(t: &str) -> Result<String, String> {
    let t = t.trim();
    let ok = !t.is_empty()
        && t.len() <= 80
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _.()#-:".contains(c));
    if ok {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "topic {t:?} is not a help topic: use a command name such as regress (letters, \
             digits, spaces, _ . ( ) # - :, at most 80 characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_conditions_are_checked() {
        assert!(is_stata_name("mpg") && is_stata_name("_cons") && is_stata_name("x1"));
        assert!(!is_stata_name("1x") && !is_stata_name("a b") && !is_stata_name(""));
        assert!(!is_stata_name("m*") && !is_stata_name(&"a".repeat(33)));
        assert!(check_condition("foreign == 1 & inlist(rep78, 3, 4)").is_ok());
        for bad in ["x\ny", "x; drop _all", "`x'", "$x > 1", "x // c", "{", ""] {
            assert!(check_condition(bad).is_err(), "{bad:?}");
        }
        assert!(check_topic("regress postestimation").is_ok());
        assert!(check_topic("regress\ndrop _all").is_err());
        assert!(check_topic("x;y").is_err());
    }
}
