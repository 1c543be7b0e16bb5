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
pub enum AutoBackground {
    #[default]
    FromClient,
    Off,
    After(Duration),
}

impl AutoBackground {
    /// The flag's value: `None` when not given.
    pub fn from_secs(secs: Option<u64>) -> Self {
        match secs {
            None => AutoBackground::FromClient,
            Some(0) => AutoBackground::Off,
            Some(s) => AutoBackground::After(Duration::from_secs(s)),
        }
    }
}

/// What the user asked for, overriding the profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    /// `--client-profile`: use this profile whatever the client says it is.
    pub client: Option<ClientKind>,
    pub structured_content: StructuredContent,
    pub auto_background: AutoBackground,
}

/// The choices for one connected client.
#[derive(Debug, Clone)]
pub struct Policy {
    pub profile: Profile,
    /// `clientInfo.name` as sent (empty before `initialize`).
    pub client_name: String,
    /// Whether results carry `structuredContent` (and tools declare an `outputSchema`).
    pub structured: bool,
    /// When a foreground run becomes a background job.
    pub auto_background: Option<Duration>,
    /// One line for each choice, saying why it was made.
    pub reasons: Vec<String>,
}

impl Policy {
    /// The policy for the client that sent `client_name` (with the roots capability or not).
    pub fn choose(client_name: &str, has_roots: bool, overrides: &Overrides) -> Policy {
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
                    if has_roots { ", roots offered" } else { "" }
                ));
                kind
            }
        };
        let profile = kind.profile();
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
            reasons,
        }
    }

    /// The policy before any client has said who it is.
    pub fn before_initialize(overrides: &Overrides) -> Policy {
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
}
