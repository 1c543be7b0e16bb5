//! Tool arguments parsed from a call, and bad ones answered the same way by every tool:
//! which argument is wrong, what it must be, and a correct call to copy.

use rmcp::model::JsonObject;
use serde::de::DeserializeOwned;

/// Parses `tool`'s arguments; a failure is the message for the model, ending with
/// `example`, a correct call.
pub(crate) fn parse_args<T: DeserializeOwned>(
    tool: &str,
    args: JsonObject,
    example: &str,
) -> Result<T, String> {
    serde_path_to_error::deserialize(serde_json::Value::Object(args)).map_err(|e| {
        let path = e.path().to_string();
        let what = explain(&path, &e.into_inner().to_string());
        bad_arguments(tool, &what, example)
    })
}

/// The message for arguments of `tool` that are wrong as `what` says.
pub(crate) fn bad_arguments(tool: &str, what: &str, example: &str) -> String {
    format!("invalid arguments for {tool}: {what}. A correct call: {example}")
}

/// serde's words for a failure at `path`, turned into what the argument must be.
fn explain(path: &str, serde_says: &str) -> String {
    // serde adds the position in the JSON text, which means nothing to the caller.
    let msg = serde_says
        .split(" at line ")
        .next()
        .unwrap_or(serde_says)
        .trim();
    let arg = if path == "." || path.is_empty() {
        None
    } else {
        Some(path)
    };
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return format!("`{field}` is required");
    }
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once("`, expected ")
    {
        let known = expected.trim_start_matches("one of ").replace('`', "");
        return format!("there is no argument `{field}`; the arguments are {known}");
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `")
        && let Some((value, expected)) = rest.split_once("`, expected ")
    {
        let known = expected.trim_start_matches("one of ").replace('`', "");
        let field = arg.unwrap_or("the value");
        return format!("`{field}` must be one of {known}, not {value:?}");
    }
    let invalid = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "));
    if let Some(rest) = invalid
        && let Some((got, expected)) = rest.rsplit_once(", expected ")
    {
        let field = arg.unwrap_or("the arguments");
        return format!("`{field}` must be {}, not {got}", kind(expected));
    }
    match arg {
        Some(field) => format!("`{field}`: {msg}"),
        None => msg.to_owned(),
    }
}

/// What serde's name of a type means to someone writing JSON.
fn kind(expected: &str) -> String {
    match expected {
        "f64" | "f32" => "a number".to_owned(),
        "u64" | "u32" | "usize" | "i64" | "i32" => "a whole number".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "an object".to_owned(),
        "a boolean" => "true or false".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[allow(dead_code)] // the fields are only parsed
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Args {
        code: String,
        #[serde(default)]
        timeout_s: Option<f64>,
        #[serde(default)]
        args: Option<Vec<String>>,
        #[serde(default)]
        background: bool,
        #[serde(default)]
        what: Option<What>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum What {
        Describe,
        List,
    }

    const EXAMPLE: &str = r#"{"code": "display 1"}"#;

    fn error(v: serde_json::Value) -> String {
        let serde_json::Value::Object(args) = v else {
            panic!("an object");
        };
        parse_args::<Args>("stata_run_code", args, EXAMPLE).expect_err("bad")
    }

    #[test]
    fn each_mistake_names_the_argument_and_what_it_must_be() {
        let cases = [
            (json!({}), "`code` is required"),
            (
                json!({"code": 42}),
                "`code` must be a string, not integer `42`",
            ),
            (
                json!({"code": "x", "timeout_s": "10"}),
                "`timeout_s` must be a number, not string \"10\"",
            ),
            (
                json!({"code": "x", "args": "hello"}),
                "`args` must be a list, not string \"hello\"",
            ),
            (
                json!({"code": "x", "background": "yes"}),
                "`background` must be true or false, not string \"yes\"",
            ),
            (
                json!({"code": "x", "cwdd": "/w"}),
                "there is no argument `cwdd`; the arguments are code, timeout_s, args, \
                 background, what",
            ),
            (
                json!({"code": "x", "what": "graph"}),
                "`what` must be one of describe or list, not \"graph\"",
            ),
            (
                json!({"code": "x", "args": [1]}),
                "`args[0]` must be a string",
            ),
        ];
        for (args, want) in cases {
            let msg = error(args.clone());
            assert!(
                msg.starts_with("invalid arguments for stata_run_code: "),
                "{msg}"
            );
            assert!(msg.contains(want), "{args}: {msg}");
            assert!(
                msg.ends_with(&format!("A correct call: {EXAMPLE}")),
                "{msg}"
            );
            assert!(!msg.contains("line 1 column"), "{msg}");
        }
    }
}
