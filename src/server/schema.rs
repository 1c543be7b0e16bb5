//! Tool schemas in portable JSON Schema: schemars writes formats such as `uint64` (which the
//! TypeScript SDK, Claude Code and the Inspector warn about, once per use) and type arrays
//! such as `["string", "null"]` (which Gemini's function declarations reject). Both are
//! rewritten here before a schema is listed.

use rmcp::model::{JsonObject, Tool};
use serde_json::{Map, Value, json};

/// `tool`'s input and output schemas, made portable.
pub(crate) fn portable_tool(mut tool: Tool) -> Tool {
    tool.input_schema = std::sync::Arc::new(portable(&tool.input_schema));
    if let Some(out) = &tool.output_schema {
        tool.output_schema = Some(std::sync::Arc::new(portable(out)));
    }
    tool
}

/// A copy of `schema` with numeric formats removed and type arrays written as `anyOf`.
pub(crate) fn portable(schema: &JsonObject) -> JsonObject {
    let mut v = Value::Object(schema.clone());
    rewrite(&mut v);
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn rewrite(v: &mut Value) {
    match v {
        Value::Object(m) => {
            // Formats JSON Schema does not define: schemars' names for Rust's number types.
            if m.get("format")
                .and_then(Value::as_str)
                .is_some_and(is_number_format)
            {
                m.remove("format");
            }
            if let Some(Value::Array(types)) = m.get("type").cloned() {
                m.remove("type");
                let branches: Vec<Value> =
                    types.into_iter().map(|t| json!({ "type": t })).collect();
                match m.get_mut("anyOf") {
                    // Already alternatives: leave them, the types add nothing they lack.
                    Some(_) => {}
                    None => {
                        m.insert("anyOf".into(), Value::Array(branches));
                    }
                }
            }
            for child in m.values_mut() {
                rewrite(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite),
        _ => {}
    }
}

fn is_number_format(f: &str) -> bool {
    matches!(f, "double" | "float")
        || ["int", "uint"].iter().any(|p| {
            f.strip_prefix(p)
                .is_some_and(|bits| bits.chars().all(|c| c.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_type_arrays_are_rewritten() {
        let s = json!({
            "type": "object",
            "properties": {
                "n": {"type": ["integer", "null"], "format": "uint64", "minimum": 0},
                "t": {"type": "number", "format": "double"},
                "when": {"type": "string", "format": "date-time"},
                "list": {"type": "array", "items": {"type": "integer", "format": "int32"}}
            }
        });
        let Value::Object(m) = s else { panic!() };
        let p = Value::Object(portable(&m));
        let props = &p["properties"];
        assert_eq!(
            props["n"],
            json!({"anyOf": [{"type": "integer"}, {"type": "null"}], "minimum": 0})
        );
        assert_eq!(props["t"], json!({"type": "number"}));
        assert_eq!(
            props["when"]["format"], "date-time",
            "standard formats stay"
        );
        assert_eq!(props["list"]["items"], json!({"type": "integer"}));
    }
}
