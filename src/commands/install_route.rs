//! How this binary was installed, told from where it lives, and how to upgrade it by the
//! same route (`doctor` says both).

use std::path::Path;

/// The route that put `binary` where it is, and how to upgrade by it; none when the
/// place says nothing (a binary copied by hand).
pub(crate) fn install_route(binary: &Path) -> Option<(&'static str, String)> {
    let p = binary.to_string_lossy().replace('\\', "/");
    let has = |s: &str| p.contains(s);
    if has("/Cellar/") || has("/homebrew/") || has("/linuxbrew/") {
        return Some(("Homebrew", "brew upgrade stata-mcp".to_owned()));
    }
    if has("Claude Extensions") || has("/claude-extensions/") {
        return Some((
            "the Claude Desktop bundle (.mcpb)",
            "install the newer stata-mcp.mcpb in Claude Desktop (Settings > Extensions)".to_owned(),
        ));
    }
    if has("/uv/tools/") {
        return Some((
            "uv (uv tool install / uvx)",
            "uv tool upgrade stata-mcp-live".to_owned(),
        ));
    }
    if has("/pipx/venvs/") {
        return Some(("pipx", "pipx upgrade stata-mcp-live".to_owned()));
    }
    if has("/site-packages/") || has("/.venv/") || has("/venv/") || has("/Scripts/") {
        return Some((
            "pip (the stata-mcp-live wheel)",
            "pip install --upgrade stata-mcp-live".to_owned(),
        ));
    }
    if has("/.cargo/bin/") {
        // The release installers put it here too; they leave a receipt.
        let receipt = |d: std::path::PathBuf| d.join("stata-mcp").join("stata-mcp-receipt.json");
        let homes = [
            std::env::var_os("XDG_CONFIG_HOME").map(std::path::PathBuf::from),
            dirs::home_dir().map(|h| h.join(".config")),
            dirs::data_local_dir(),
        ];
        if homes.into_iter().flatten().any(|d| receipt(d).is_file()) {
            let how = if cfg!(windows) {
                "run the PowerShell installer line again (docs/install.md)"
            } else {
                "run the installer line again: curl --proto '=https' --tlsv1.2 -LsSf \
                 https://github.com/stata-mcp/stata-mcp/releases/latest/download/stata-mcp-installer.sh | sh"
            };
            return Some(("the release installer", how.to_owned()));
        }
        return Some((
            "cargo install",
            "cargo install --locked --force stata-mcp (or --path . in a clone)".to_owned(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_told_by_where_the_binary_lives() {
        let route = |p: &str| install_route(Path::new(p)).map(|(r, _)| r);
        assert_eq!(
            route("/opt/homebrew/Cellar/stata-mcp/0.1.0/bin/stata-mcp"),
            Some("Homebrew")
        );
        assert_eq!(
            route("/home/u/.local/share/uv/tools/stata-mcp-live/bin/stata-mcp"),
            Some("uv (uv tool install / uvx)")
        );
        assert_eq!(
            route("/home/u/.local/pipx/venvs/stata-mcp-live/bin/stata-mcp"),
            Some("pipx")
        );
        assert!(route("/home/u/proj/.venv/bin/stata-mcp").is_some_and(|r| r.starts_with("pip")));
        assert_eq!(route("/usr/local/bin/stata-mcp"), None);
        assert!(crate::cli::version_text().starts_with(env!("CARGO_PKG_VERSION")));
    }
}
