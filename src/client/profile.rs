//! The clients we know, from `clientInfo.name`, with what each does with a tool result and how
//! long it waits (facts from the clients' sources, gathered in the project's client notes).

use std::time::Duration;

/// A client we know by name, or `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientKind {
    ClaudeDesktop,
    ClaudeCode,
    /// The Claude Code desktop app: named as the CLI, but it sends no roots and gives up sooner.
    ClaudeCodeApp,
    Cursor,
    Vscode,
    Codex,
    GeminiCli,
    Zed,
    Continue,
    Windsurf,
    /// The official Python SDK's own name (`mcp`): programs, which read both fields and wait.
    PythonSdk,
    /// Any other client: assume it may read only one of the two fields, and waits 60 s.
    Other,
}

/// Which fields of a result the client hands its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwards {
    /// `content` only (text and images).
    Content,
    /// Both fields, whole.
    Both,
    /// The JSON of `structuredContent` instead of the text (and sometimes the images).
    StructuredOnly,
    /// Both, or unknown: which one depends on the build.
    Unknown,
}

/// What we know of one client.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub kind: ClientKind,
    pub forwards: Forwards,
    /// How long the client waits for one call, as its users meet it (`None`: until cancelled).
    pub limit: Option<Duration>,
    /// When a foreground run becomes a background job by default: a margin below `limit`, so the
    /// job's id reaches the model before the client gives up.
    pub auto_background: Option<Duration>,
}

const fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

impl ClientKind {
    /// The client that sent `name` in `clientInfo`; case-insensitive, by prefix (new builds
    /// add suffixes). `has_roots`: whether its `initialize` declared the roots capability.
    pub fn identify(name: &str, has_roots: bool) -> ClientKind {
        let name = name.trim().to_ascii_lowercase();
        let starts = |p: &str| name.starts_with(p);
        if starts("claude-code") {
            // The CLI always offers roots; the desktop app (started in $HOME) does not.
            if has_roots {
                ClientKind::ClaudeCode
            } else {
                ClientKind::ClaudeCodeApp
            }
        } else if starts("claude-ai") || starts("claude desktop") || starts("claude-desktop") {
            ClientKind::ClaudeDesktop
        } else if starts("visual studio code") || starts("vscode") {
            ClientKind::Vscode
        } else if starts("codex") {
            ClientKind::Codex
        } else if starts("gemini-cli") || starts("gemini cli") {
            ClientKind::GeminiCli
        } else if starts("cursor") {
            ClientKind::Cursor
        } else if starts("zed") {
            ClientKind::Zed
        } else if starts("continue") {
            ClientKind::Continue
        } else if starts("windsurf") {
            ClientKind::Windsurf
        } else if name == "mcp" {
            ClientKind::PythonSdk
        } else {
            ClientKind::Other
        }
    }

    /// The name shown in `doctor`, `stata_session status` and the flag's values.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "claude-desktop",
            ClientKind::ClaudeCode => "claude-code",
            ClientKind::ClaudeCodeApp => "claude-code-app",
            ClientKind::Cursor => "cursor",
            ClientKind::Vscode => "vscode",
            ClientKind::Codex => "codex",
            ClientKind::GeminiCli => "gemini-cli",
            ClientKind::Zed => "zed",
            ClientKind::Continue => "continue",
            ClientKind::Windsurf => "windsurf",
            ClientKind::PythonSdk => "python-sdk",
            ClientKind::Other => "other",
        }
    }

    /// What we know of this client.
    pub fn profile(self) -> Profile {
        use Forwards::*;
        let (forwards, limit, auto_background) = match self {
            // Gives up after about 4 minutes whatever it is sent.
            ClientKind::ClaudeDesktop => (Both, secs(240), secs(100)),
            // Moves a call to the background after 120 s and then drops its progress.
            ClientKind::ClaudeCode => (StructuredOnly, secs(120), secs(100)),
            ClientKind::ClaudeCodeApp => (StructuredOnly, secs(60), secs(45)),
            ClientKind::Cursor => (Unknown, secs(300), secs(240)),
            // Waits until the user cancels.
            ClientKind::Vscode => (StructuredOnly, None, None),
            ClientKind::Codex => (StructuredOnly, secs(300), secs(240)),
            ClientKind::GeminiCli => (Content, secs(600), secs(540)),
            ClientKind::Zed | ClientKind::Continue | ClientKind::Windsurf => {
                (Unknown, secs(60), secs(45))
            }
            ClientKind::PythonSdk => (Both, None, None),
            // The TypeScript SDK's default, which most small clients keep.
            ClientKind::Other => (Unknown, secs(60), secs(45)),
        };
        Profile {
            kind: self,
            forwards,
            limit,
            auto_background,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_real_initialize_requests_pick_their_client() {
        let cases = [
            ("claude-ai", false, ClientKind::ClaudeDesktop),
            ("claude-code", true, ClientKind::ClaudeCode),
            ("claude-code", false, ClientKind::ClaudeCodeApp),
            ("Visual Studio Code", true, ClientKind::Vscode),
            ("Visual Studio Code - Insiders", true, ClientKind::Vscode),
            ("codex-mcp-client", true, ClientKind::Codex),
            ("gemini-cli-mcp-client", true, ClientKind::GeminiCli),
            ("Cursor", true, ClientKind::Cursor),
            ("Zed", false, ClientKind::Zed),
            ("mcp", false, ClientKind::PythonSdk),
            ("mcp-inspector", false, ClientKind::Other),
            ("", false, ClientKind::Other),
        ];
        for (name, roots, want) in cases {
            assert_eq!(ClientKind::identify(name, roots), want, "{name:?}");
        }
    }

    #[test]
    fn every_default_background_comes_before_its_clients_limit() {
        use clap::ValueEnum;
        for kind in ClientKind::value_variants() {
            let p = kind.profile();
            match (p.limit, p.auto_background) {
                (Some(limit), Some(after)) => assert!(after + Duration::from_secs(10) <= limit),
                (Some(_), None) => panic!("{kind:?} gives up but never backgrounds"),
                (None, _) => {}
            }
            let flag = kind.to_possible_value().expect("every kind is a value");
            assert_eq!(
                flag.get_name(),
                kind.as_str(),
                "--client-profile names it as we show it"
            );
        }
    }
}
