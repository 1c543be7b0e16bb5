//! The server's tools by name: the one table of their names, used by the MCP layer to
//! dispatch and by every layer that says which tool did something.

use serde::{Deserialize, Serialize};

/// Every tool this server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ToolName {
    #[serde(rename = "stata_run_code")]
    RunCode,
    #[serde(rename = "stata_run_file")]
    RunFile,
    #[serde(rename = "stata_sweep")]
    Sweep,
    #[serde(rename = "stata_job")]
    Job,
    #[serde(rename = "stata_read_log")]
    ReadLog,
    #[serde(rename = "stata_inspect_data")]
    Inspect,
    #[serde(rename = "stata_get_results")]
    Results,
    #[serde(rename = "stata_help")]
    Help,
    #[serde(rename = "stata_session")]
    Session,
    #[serde(rename = "stata_session_info")]
    SessionInfo,
    #[serde(rename = "stata_record")]
    Record,
}

impl ToolName {
    pub(crate) const ALL: [ToolName; 11] = [
        ToolName::RunCode,
        ToolName::RunFile,
        ToolName::Sweep,
        ToolName::Job,
        ToolName::ReadLog,
        ToolName::Inspect,
        ToolName::Results,
        ToolName::Help,
        ToolName::Session,
        ToolName::SessionInfo,
        ToolName::Record,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ToolName::RunCode => "stata_run_code",
            ToolName::RunFile => "stata_run_file",
            ToolName::Sweep => "stata_sweep",
            ToolName::Job => "stata_job",
            ToolName::ReadLog => "stata_read_log",
            ToolName::Inspect => "stata_inspect_data",
            ToolName::Results => "stata_get_results",
            ToolName::Help => "stata_help",
            ToolName::Session => "stata_session",
            ToolName::SessionInfo => "stata_session_info",
            ToolName::Record => "stata_record",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether the call runs the user's code, and so keeps its place in the line of calls.
    pub(crate) fn runs_user_code(self) -> bool {
        matches!(self, ToolName::RunCode | ToolName::RunFile)
    }

    /// The run tool for `source`.
    pub(crate) fn running(source: &super::RunSource) -> Self {
        match source {
            super::RunSource::Code(_) => ToolName::RunCode,
            super::RunSource::File { .. } => ToolName::RunFile,
        }
    }
}

impl std::fmt::Display for ToolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_reads_back_and_serializes_as_itself() {
        for t in ToolName::ALL {
            assert_eq!(ToolName::parse(t.as_str()), Some(t));
            let json = serde_json::to_string(&t).expect("json");
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(ToolName::parse("stata_nope"), None);
    }
}
