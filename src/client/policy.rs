//! The choices made for the connected client: whether results carry `structuredContent`, and
//! when a long run becomes a background job. Each comes from the client's profile unless a flag
//! or environment variable says otherwise, and each can say why it was made.

use std::time::Duration;

use super::profile::{ClientKind, Forwards, Profile};
use crate::text::human::human_duration;

/// `--structured-content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StructuredContent {
    /// As the client's profile says: left out for clients that would hand the model only it.
    #[default]
    Auto,
    Always,
    Never,
}

/// `--auto-background-secs`: the profile's default, off (0), or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum AutoBackground {
    #[default]
    FromClient,
    Off,
    After(Duration),
}

impl AutoBackground {
    /// The flag's value: `None` when not given.
    pub(crate) fn from_secs(secs: Option<u64>) -> Self {
        match secs {
            None => AutoBackground::FromClient,
            Some(0) => AutoBackground::Off,
            Some(s) => AutoBackground::After(Duration::from_secs(s)),
        }
    }
}

/// When a run becomes a job for a client that gives up after `limit`: early enough that the
/// job's id reaches the model first (a quarter of the limit, between 5 s and a minute).
pub(crate) fn margin_below(limit: Duration) -> Duration {
    let margin = (limit / 4).clamp(Duration::from_secs(5), Duration::from_secs(60));
    limit.saturating_sub(margin).max(Duration::from_secs(1))
}

/// What the user asked for, overriding the profile.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Overrides {
    /// `--client-profile`: use this profile whatever the client says it is.
    pub client: Option<ClientKind>,
    pub structured_content: StructuredContent,
    pub auto_background: AutoBackground,
    /// The client's own limit on a call, read from its setting in the server's environment.
    pub client_limit: Option<Duration>,
}

/// The choices for one connected client.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub profile: Profile,
    /// `clientInfo.name` as sent (empty before `initialize`).
    pub client_name: String,
    /// Whether results carry `structuredContent` (and tools declare an `outputSchema`).
    pub structured: bool,
    /// When a foreground run becomes a background job.
    pub auto_background: Option<Duration>,
    /// The client's limit came from its setting in the environment (`MCP_TOOL_TIMEOUT`).
    pub limit_from_env: bool,
    /// One line for each choice, saying why it was made.
    pub reasons: Vec<String>,
}

impl Policy {
    /// The policy for the client that sent `client_name`, offering its project folder (the
    /// roots capability, or `CLAUDE_PROJECT_DIR`) or not.
    pub(crate) fn choose(client_name: &str, has_roots: bool, overrides: &Overrides) -> Policy {
        let mut reasons = Vec::new();
        let kind = match overrides.client {
            Some(kind) => {
                reasons.push(format!("profile {} (--client-profile)", kind.as_str()));
                kind
            }
            None => {
                let kind = ClientKind::identify(client_name, has_roots);
                reasons.push(format!(
                    "profile {} (clientInfo.name {client_name:?}{})",
                    kind.as_str(),
                    if has_roots {
                        ", project folder offered"
                    } else {
                        ""
                    }
                ));
                kind
            }
        };
        let mut profile = kind.profile();
        // The user's own setting of the client's limit beats what is known of the client.
        let limit_from_env = overrides.client_limit.is_some();
        if let Some(limit) = overrides.client_limit {
            profile.limit = Some(limit);
            profile.auto_background = Some(margin_below(limit));
            reasons.push(format!(
                "the client gives up on a call after {} (MCP_TOOL_TIMEOUT in the server's \
                 environment)",
                human_duration(limit)
            ));
        }
        let structured = match overrides.structured_content {
            StructuredContent::Always => {
                reasons.push("structuredContent sent (--structured-content always)".into());
                true
            }
            StructuredContent::Never => {
                reasons.push("structuredContent left out (--structured-content never)".into());
                false
            }
            StructuredContent::Auto => {
                let send = matches!(profile.forwards, Forwards::Content | Forwards::Both);
                reasons.push(match profile.forwards {
                    Forwards::Content | Forwards::Both => "structuredContent sent: this client \
                                                           hands the model the text and images"
                        .into(),
                    Forwards::StructuredOnly => "structuredContent left out: this client would \
                                                 hand the model only its JSON, not the text and \
                                                 images"
                        .into(),
                    Forwards::Unknown => "structuredContent left out: this client may hand the \
                                          model only its JSON; --structured-content always sends \
                                          it"
                    .into(),
                });
                send
            }
        };
        let auto_background = match overrides.auto_background {
            AutoBackground::Off => {
                reasons
                    .push("runs never become jobs by themselves (--auto-background-secs 0)".into());
                None
            }
            AutoBackground::After(after) => {
                reasons.push(format!(
                    "a run still going after {} becomes a job (--auto-background-secs)",
                    human_duration(after)
                ));
                Some(after)
            }
            AutoBackground::FromClient => {
                reasons.push(match (profile.auto_background, profile.limit) {
                    (Some(after), Some(limit)) => format!(
                        "a run still going after {} becomes a job: this client gives up on a \
                         call after about {}",
                        human_duration(after),
                        human_duration(limit)
                    ),
                    (Some(after), None) => {
                        format!(
                            "a run still going after {} becomes a job",
                            human_duration(after)
                        )
                    }
                    (None, _) => "runs never become jobs by themselves: this client waits until \
                                  the user cancels"
                        .into(),
                });
                profile.auto_background
            }
        };
        Policy {
            profile,
            client_name: client_name.to_owned(),
            structured,
            auto_background,
            limit_from_env,
            reasons,
        }
    }

    /// The policy before any client has said who it is.
    pub(crate) fn before_initialize(overrides: &Overrides) -> Policy {
        Self::choose("", false, overrides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(name: &str, roots: bool, overrides: Overrides) -> Policy {
        Policy::choose(name, roots, &overrides)
    }

    #[test]
    fn clients_that_read_only_the_json_get_no_json() {
        for name in [
            "claude-code",
            "codex-mcp-client",
            "Visual Studio Code",
            "someone-new",
        ] {
            assert!(
                !choose(name, true, Overrides::default()).structured,
                "{name}"
            );
        }
        for name in ["claude-ai", "gemini-cli", "mcp"] {
            let p = choose(name, false, Overrides::default());
            assert!(p.structured, "{name}: {:?}", p.reasons);
        }
    }

    #[test]
    fn flags_beat_the_profile_and_say_so() {
        let o = Overrides {
            client: Some(ClientKind::Vscode),
            structured_content: StructuredContent::Always,
            auto_background: AutoBackground::from_secs(Some(7)),
            client_limit: None,
        };
        let p = choose("claude-ai", false, o);
        assert_eq!(p.profile.kind, ClientKind::Vscode);
        assert!(p.structured);
        assert_eq!(p.auto_background, Some(Duration::from_secs(7)));
        assert!(
            p.reasons.iter().all(|r| r.contains("--")),
            "{:?}",
            p.reasons
        );
        let off = Overrides {
            auto_background: AutoBackground::from_secs(Some(0)),
            ..Overrides::default()
        };
        assert_eq!(choose("claude-ai", false, off).auto_background, None);
    }

    #[test]
    fn short_limits_background_early_and_vscode_never() {
        let after = |name: &str| choose(name, true, Overrides::default()).auto_background;
        assert!(after("claude-ai").is_some_and(|d| d < Duration::from_secs(120)));
        assert!(after("claude-code").is_some_and(|d| d < Duration::from_secs(120)));
        assert!(after("Zed").is_some_and(|d| d < Duration::from_secs(60)));
        assert_eq!(after("Visual Studio Code"), None);
    }

    #[test]
    fn the_clients_own_limit_in_the_environment_sets_the_margin() {
        let o = Overrides {
            client_limit: Some(Duration::from_secs(20)),
            ..Overrides::default()
        };
        let p = choose("claude-code", false, o);
        assert_eq!(p.profile.limit, Some(Duration::from_secs(20)));
        assert_eq!(p.auto_background, Some(Duration::from_secs(15)));
        assert!(p.limit_from_env);
        assert!(
            p.reasons.iter().any(|r| r.contains("MCP_TOOL_TIMEOUT")),
            "{:?}",
            p.reasons
        );
        assert_eq!(
            margin_below(Duration::from_secs(600)),
            Duration::from_secs(540)
        );
    }
}
