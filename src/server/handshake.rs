//! The client introduces itself: its policy is chosen from its `initialize` (or, in the
//! 2026-07-28 revision, from the `_meta` of its first request), and its roots are asked for
//! after `initialize`, and again whenever the client says they changed.

use std::time::Duration;

use rmcp::RoleServer;
#[allow(deprecated)]
use rmcp::model::ListRootsRequest;
use rmcp::model::{
    CallToolResponse, InitializeRequestParams, InputRequest, InputRequiredResult, InputResponses,
};
use rmcp::service::{Peer, RequestContext};
use serde_json::Value;

use super::handler::StataServer;
use crate::client::roots::{RootsState, path_of_uri};

/// How long the client gets to answer `roots/list`.
const ROOTS_ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Chooses the policy for the client that sent `request`, and says why in the log.
pub(crate) fn introduce(server: &StataServer, request: &InitializeRequestParams) {
    let has_roots = request.capabilities.roots.is_some();
    let connection = &server.service().shared.client;
    if has_roots {
        // A call that comes before the answer waits briefly for it.
        connection.roots.set(RootsState::Asking);
    }
    let policy = connection.initialized(&request.client_info.name, has_roots);
    for reason in &policy.reasons {
        tracing::info!("client: {reason}");
    }
}

/// A client of the 2026-07-28 revision sends no `initialize`: it is known from the first
/// request whose `_meta` names it (`clientInfo`, `clientCapabilities`). It may not be sent
/// `roots/list`: its project folder comes from a tool argument or its environment.
pub(crate) fn introduce_from_request(server: &StataServer, context: &RequestContext<RoleServer>) {
    let connection = &server.service().shared.client;
    if connection.is_introduced()
        || context.peer.peer_info().is_some()
        || context.meta.protocol_version().is_none()
    {
        return;
    }
    let name = context
        .meta
        .client_info()
        .map(|i| i.name)
        .unwrap_or_default();
    // What tells Claude Code's CLI from its desktop app in this era: the CLI names its
    // project folder (CLAUDE_PROJECT_DIR) or declares roots; the app does neither.
    let offers_project = context
        .meta
        .client_capabilities()
        .is_some_and(|c| c.roots.is_some())
        || server.service().shared.settings.client_project.is_some();
    let policy = connection.initialized(&name, offers_project);
    tracing::info!(
        "client: {} speaks the 2026-07-28 revision (no initialize)",
        if name.is_empty() {
            "the client"
        } else {
            name.as_str()
        }
    );
    for reason in &policy.reasons {
        tracing::info!("client: {reason}");
    }
}

/// The key of the roots asked for in an `input_required` result.
const ROOTS_INPUT: &str = "roots";

/// The 2026-07-28 way to learn the project folder when nothing else names it (no
/// `--workdir`, no `CLAUDE_PROJECT_DIR`, no roots yet) and this request's client declares
/// roots: the call answers `input_required` asking for them, and the client's retry brings
/// them, kept as its roots. `None`: go on with the call.
// Roots are deprecated by the 2026-07-28 revision, yet the only word of the user's folder
// a client without CLAUDE_PROJECT_DIR gives.
#[allow(deprecated)]
pub(crate) fn roots_by_input(
    server: &StataServer,
    context: &RequestContext<RoleServer>,
    responses: Option<&InputResponses>,
) -> Option<CallToolResponse> {
    let service = server.service();
    let known = service.shared.settings.workdir_given
        || service.shared.settings.client_project.is_some()
        || service.shared.client.roots.answered();
    if known || context.peer.peer_info().is_some() || context.meta.protocol_version().is_none() {
        return None;
    }
    if let Some(answer) = responses.and_then(|r| r.get(ROOTS_INPUT)) {
        let folders: Vec<_> = answer
            .get("roots")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| path_of_uri(r.get("uri")?.as_str()?))
            .collect();
        tracing::info!("client: roots {folders:?} (input_required)");
        service.shared.client.roots.set(RootsState::Known(folders));
        return None;
    }
    let declares = context
        .meta
        .client_capabilities()
        .is_some_and(|c| c.roots.is_some());
    declares.then(|| {
        let ask = InputRequest::ListRoots(ListRootsRequest::default());
        let requests = std::collections::BTreeMap::from([(ROOTS_INPUT.to_owned(), ask)]);
        CallToolResponse::InputRequired(InputRequiredResult::new(Some(requests), None))
    })
}

/// Asks the client for its roots in the background and records the answer.
// Roots are deprecated by the 2026-07-28 revision (removal no earlier than 2027), but the
// clients of today send them, and they are the only word of the user's project folder.
#[allow(deprecated)]
pub(crate) fn ask_roots(server: &StataServer, peer: Peer<RoleServer>) {
    let has_roots = peer
        .peer_info()
        .is_some_and(|info| info.capabilities.roots.is_some());
    if !has_roots {
        return;
    }
    let service = server.service().clone();
    tokio::spawn(async move {
        let answer = tokio::time::timeout(ROOTS_ANSWER_WAIT, peer.list_roots()).await;
        let state = match answer {
            Ok(Ok(list)) => {
                let folders: Vec<_> = list
                    .roots
                    .iter()
                    .filter_map(|r| path_of_uri(&r.uri))
                    .collect();
                tracing::info!(
                    "client: roots {:?}",
                    folders
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                );
                RootsState::Known(folders)
            }
            Ok(Err(e)) => {
                tracing::info!(
                    "client: roots/list failed ({e}); relative paths use the server's folder"
                );
                RootsState::None
            }
            Err(_) => {
                tracing::info!("client: no answer to roots/list in {ROOTS_ANSWER_WAIT:?}");
                RootsState::None
            }
        };
        service.shared.client.roots.set(state);
    });
}
