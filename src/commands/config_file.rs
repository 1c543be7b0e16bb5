//! Merges a server entry into an MCP client's JSON configuration file without losing what
//! is there: other servers and keys are kept, the file is backed up first, and the new
//! text replaces the old in one rename, so a crash leaves the old file or the new one.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::run::id::utc_stamp;

/// The key MCP clients keep their servers under.
pub(crate) const SERVERS_KEY: &str = "mcpServers";

pub(crate) fn pretty(v: &Value) -> String {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

/// What a merge did, for the user.
#[derive(Debug)]
pub(crate) struct MergeReport {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
    pub created: bool,
    pub replaced: bool,
    pub unchanged: bool,
    pub name: String,
}

impl std::fmt::Display for MergeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        let name = &self.name;
        if self.unchanged {
            return write!(
                f,
                "{path} already configures the server \"{name}\" this way: nothing changed."
            );
        }
        if self.created {
            write!(f, "Created {path} with the server \"{name}\".")?;
        } else if self.replaced {
            write!(
                f,
                "Replaced the server \"{name}\" in {path}; the other entries are kept."
            )?;
        } else {
            write!(
                f,
                "Added the server \"{name}\" to {path}; the other entries are kept."
            )?;
        }
        if let Some(b) = &self.backup {
            write!(f, "\nThe previous file was saved as {}.", b.display())?;
        }
        Ok(())
    }
}

/// Sets `mcpServers.<name>` to `entry` in the JSON file at `path`, keeping everything else.
pub(crate) fn merge_into_file(
    path: &Path,
    name: &str,
    entry: Value,
) -> Result<MergeReport, String> {
    // A symlinked config (dotfiles) is updated where it really lives; renaming over the
    // link would replace it with a plain file.
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path).map_err(|e| {
            format!(
                "{} is a symlink whose target cannot be resolved ({e}); fix the link or pass \
                 the real file with --config-file",
                path.display()
            )
        })?,
        _ => path.to_path_buf(),
    };
    let existing = match fs::read(&target) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(format!(
                "could not read {}: {e}. Check its permissions; nothing was changed.",
                target.display()
            ));
        }
    };
    let mut doc = match &existing {
        None => Map::new(),
        Some(bytes) => parse_config(&target, bytes)?,
    };
    let servers = doc
        .entry(SERVERS_KEY)
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        return Err(format!(
            "\"{SERVERS_KEY}\" in {} is not a JSON object, so no server can be added to it; \
             nothing was changed. Fix that key by hand and run again.",
            target.display()
        ));
    };
    let previous = servers.insert(name.to_owned(), entry.clone());
    let mut report = MergeReport {
        path: target.clone(),
        backup: None,
        created: existing.is_none(),
        replaced: previous.is_some(),
        unchanged: previous.as_ref() == Some(&entry),
        name: name.to_owned(),
    };
    if report.unchanged {
        return Ok(report);
    }
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "could not create the folder {}: {e}; nothing was written",
            dir.display()
        )
    })?;
    if existing.is_some() {
        report.backup = Some(back_up(&target)?);
    }
    write_atomically(&target, &dir, pretty(&Value::Object(doc)).as_bytes())?;
    Ok(report)
}

/// The file's JSON object; refuses anything else, since rewriting it would lose it.
fn parse_config(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let text = String::from_utf8_lossy(bytes);
    // Editors on Windows may start the file with a byte-order mark, which JSON parsers reject.
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!(
            "{} holds JSON that is not an object ({{ ... }}), so it is not an MCP client \
             configuration; it was left untouched. Check the path (--config-file).",
            path.display()
        )),
        Err(e) => Err(format!(
            "{} is not valid JSON ({e}); it was left untouched. Fix it by hand (comments and \
             trailing commas are not JSON), or move it away and run again to start a new one.",
            path.display()
        )),
    }
}

/// Copies the file to `<file>.<UTC timestamp>.bak` beside it; returns the copy's path.
fn back_up(path: &Path) -> Result<PathBuf, String> {
    let stamp = utc_stamp(SystemTime::now());
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    for n in 0..1000 {
        let suffix = if n == 0 {
            format!("{stamp}.bak")
        } else {
            format!("{stamp}-{n}.bak")
        };
        let backup = path.with_file_name(format!("{file_name}.{suffix}"));
        if backup.exists() {
            continue;
        }
        // `copy` keeps the permissions: a private file's backup stays private.
        return fs::copy(path, &backup).map(|_| backup).map_err(|e| {
            format!(
                "could not back up {} ({e}); nothing was changed. Check that its folder is writable.",
                path.display()
            )
        });
    }
    Err(format!(
        "could not find a free backup name beside {}; nothing was changed. Remove old .bak files.",
        path.display()
    ))
}

/// Writes `bytes` to a temp file in `dir` and renames it over `target`; the temp file is
/// removed whatever fails (tempfile gives it an unguessable name and replaces the target
/// the right way on Windows too).
fn write_atomically(target: &Path, dir: &Path, bytes: &[u8]) -> Result<(), String> {
    let written = (|| -> io::Result<()> {
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(bytes)?;
        file.as_file().sync_all()?;
        // The new file gets the old one's permissions (~/.claude.json holds credentials).
        if let Ok(meta) = fs::metadata(target) {
            fs::set_permissions(file.path(), meta.permissions())?;
        }
        file.persist(target).map(drop).map_err(|e| e.error)
    })();
    written.map_err(|e| {
        format!(
            "could not write {} ({e}); the file was not changed. Check that its folder is writable.",
            target.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keeps_other_servers_and_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.json");
        fs::write(
            &path,
            r#"{"theme": "dark", "mcpServers": {"other": {"command": "x"}}, "a": 1}"#,
        )
        .expect("write");
        let report =
            merge_into_file(&path, "stata", json!({"command": "/bin/stata-mcp"})).expect("merge");
        assert!(report.backup.is_some());
        let v: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["mcpServers"]["other"]["command"], "x");
        assert_eq!(v["mcpServers"]["stata"]["command"], "/bin/stata-mcp");
        // The user's order stays: "theme" was first and is still, the new server comes last.
        let text = fs::read_to_string(&path).expect("read");
        assert!(
            text.find("\"theme\"") < text.find("\"mcpServers\""),
            "{text}"
        );
        assert!(text.find("\"other\"") < text.find("\"stata\""), "{text}");
        // The same again changes nothing and makes no second backup.
        let again =
            merge_into_file(&path, "stata", json!({"command": "/bin/stata-mcp"})).expect("merge");
        assert!(again.unchanged && again.backup.is_none());
    }

    #[test]
    fn merge_refuses_what_it_cannot_keep() {
        let dir = tempfile::tempdir().expect("tempdir");
        for text in ["{ not json", "[1, 2]", r#"{"mcpServers": 3}"#] {
            let path = dir.path().join("c.json");
            fs::write(&path, text).expect("write");
            assert!(
                merge_into_file(&path, "stata", json!({})).is_err(),
                "{text}"
            );
            assert_eq!(fs::read_to_string(&path).expect("read"), text);
        }
    }

    #[test]
    fn merge_creates_a_missing_file_and_its_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/dir/c.json");
        let report = merge_into_file(&path, "s", json!({"command": "c"})).expect("merge");
        assert!(report.created && report.backup.is_none());
        let v: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        assert_eq!(v["mcpServers"]["s"]["command"], "c");
    }
}
