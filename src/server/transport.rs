//! Newline-delimited JSON-RPC on stdin/stdout: answers malformed lines instead of dropping
//! them, and never lets a progress frame out after its request was answered or cancelled.

use parking_lot::Mutex;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::run::session_name::SessionName;
use crate::runner::turns::{Arrival, Turns};
use rmcp::RoleServer;
use rmcp::model::{GetExtensions, JsonRpcMessage};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest request line accepted (a do-file's text can be large, but not this large).
pub(crate) const MAX_LINE_BYTES: usize = 32 * 1024 * 1024;

/// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;

type Writer = Arc<tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

/// What the transport knows of the requests in flight.
///
/// Progress tokens: a token is live from the moment its request arrives until the response
/// to that request is written or the client cancels it. Claude Code and Cursor drop the
/// connection when a progress notification names a token they no longer know, so this is
/// enforced here, at the last point before stdout, whatever the tool code does.
///
/// Request ids: a second request with the id of one still running is refused, since its
/// response could not be told apart (rmcp would silently drop one of the two).
#[derive(Default)]
pub(crate) struct Ledger {
    by_token: HashMap<String, String>,
    in_flight: HashSet<String>,
    /// Requests the client cancelled while in flight: their late response is not sent.
    cancelled: HashSet<String>,
}

impl Ledger {
    fn open(&mut self, token: Option<&Value>, request_id: &Value) {
        let id = request_id.to_string();
        if let Some(token) = token {
            self.by_token.insert(token.to_string(), id.clone());
        }
        self.in_flight.insert(id);
    }
    fn close_request(&mut self, request_id: &Value) {
        let id = request_id.to_string();
        self.by_token.retain(|_, r| *r != id);
        self.in_flight.remove(&id);
    }
    /// The client cancelled `request_id`: nothing more may be sent for it.
    fn cancel(&mut self, request_id: &Value) {
        if self.in_flight.contains(&request_id.to_string()) {
            self.cancelled.insert(request_id.to_string());
        }
        self.close_request(request_id);
    }
    /// Whether a response for `request_id` must be dropped (once: the id may be reused).
    fn drop_response(&mut self, request_id: &Value) -> bool {
        self.cancelled.remove(&request_id.to_string())
    }
    fn is_live(&self, token: &Value) -> bool {
        self.by_token.contains_key(&token.to_string())
    }
    fn is_in_flight(&self, request_id: &Value) -> bool {
        self.in_flight.contains(&request_id.to_string())
    }
}

pub(crate) struct StdioTransport<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
    /// Dropping the rest of an over-long line.
    discarding: bool,
    writer: Writer,
    inbox: Inbox,
    /// Cancelled when stdin ends: the client is gone.
    closed: tokio_util::sync::CancellationToken,
}

/// What to do with one incoming line.
pub enum Verdict {
    Deliver(Box<RxJsonRpcMessage<RoleServer>>),
    Reply(Value),
    Ignore,
}

impl<R: AsyncRead + Send + Unpin> StdioTransport<R> {
    /// A transport over `reader` and `writer` that stamps each tool call's arrival in `turns`.
    pub(crate) fn new(
        reader: R,
        writer: impl AsyncWrite + Send + Unpin + 'static,
        turns: Arc<Turns>,
    ) -> Self {
        Self {
            reader: BufReader::with_capacity(64 * 1024, reader),
            line: Vec::new(),
            discarding: false,
            writer: Arc::new(tokio::sync::Mutex::new(Box::new(writer))),
            inbox: Inbox::new(turns),
            closed: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// A token cancelled when stdin ends (or cannot be read): the client has gone.
    pub(crate) fn closed_token(&self) -> tokio_util::sync::CancellationToken {
        self.closed.clone()
    }

    /// Reads one line into `self.line`. Cancel-safe: rmcp polls `receive` inside a
    /// `select!`, so a read may be dropped half-way; the bytes already taken stay in
    /// `self.line` and the next call carries on.
    async fn read_line(&mut self) -> std::io::Result<Option<LineKind>> {
        loop {
            let (used, done) = {
                let buf = self.reader.fill_buf().await?;
                if buf.is_empty() {
                    return Ok(None);
                }
                let nl = buf.iter().position(|&b| b == b'\n');
                let take = nl.map_or(buf.len(), |i| i + 1);
                if !self.discarding {
                    if self.line.len() + take > MAX_LINE_BYTES {
                        self.line.clear();
                        self.discarding = true;
                    } else {
                        self.line.extend_from_slice(&buf[..take]);
                    }
                }
                (take, nl.is_some())
            };
            self.reader.consume(used);
            if done {
                self.inbox.line_no += 1;
                if std::mem::take(&mut self.discarding) {
                    return Ok(Some(LineKind::TooLong));
                }
                return Ok(Some(LineKind::Line));
            }
        }
    }
}

/// The state that judging incoming lines needs: a line count for messages, whether the
/// connection's protocol era is known, and the ledger of requests in flight.
pub struct Inbox {
    line_no: u64,
    /// The era is known: after `initialize` (2025 revisions), or after the first enveloped
    /// request other than `server/discover` (2026-07-28). rmcp ends the session if a
    /// notification arrives before that, so early ones are dropped here instead.
    era_set: bool,
    tokens: Arc<Mutex<Ledger>>,
    /// Where each tool call's arrival is stamped.
    turns: Arc<Turns>,
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new(Turns::new())
    }
}

impl Inbox {
    pub fn new(turns: Arc<Turns>) -> Self {
        Self {
            line_no: 0,
            era_set: false,
            tokens: Arc::new(Mutex::new(Ledger::default())),
            turns,
        }
    }

    fn tokens(&self) -> parking_lot::MutexGuard<'_, Ledger> {
        self.tokens.lock()
    }

    /// Decides what to do with one line read from stdin.
    pub fn judge(&mut self, line: &[u8]) -> Verdict {
        let raw = line.strip_suffix(b"\n").unwrap_or(line);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Verdict::Ignore;
        }
        let value: Value = match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(
                    line = self.line_no,
                    "stdin: not JSON ({e}); answered with a parse error"
                );
                return Verdict::Reply(error_reply(
                    Value::Null,
                    PARSE_ERROR,
                    format!("Parse error: line {} is not valid JSON: {e}", self.line_no),
                ));
            }
        };
        let Value::Object(obj) = &value else {
            let what = if value.is_array() {
                "batches (JSON arrays) are not supported; send one message per line"
            } else {
                "a JSON-RPC message must be a JSON object"
            };
            tracing::warn!(line = self.line_no, "stdin: {what}");
            return Verdict::Reply(error_reply(
                Value::Null,
                INVALID_REQUEST,
                format!("Invalid request: {what}"),
            ));
        };
        let id = obj.get("id").cloned();
        let usable_id = id
            .as_ref()
            .filter(|v| v.is_string() || v.is_i64() || v.is_u64())
            .cloned();
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            tracing::warn!(line = self.line_no, "stdin: missing \"jsonrpc\": \"2.0\"");
            return Verdict::Reply(error_reply(
                usable_id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "Invalid request: \"jsonrpc\" must be \"2.0\"".into(),
            ));
        }
        let method = obj.get("method").and_then(Value::as_str).map(str::to_owned);
        let is_request = method.is_some() && id.is_some();
        if id.is_some() && usable_id.is_none() {
            tracing::warn!(
                line = self.line_no,
                "stdin: id must be a string or an integer"
            );
            return Verdict::Reply(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "Invalid request: \"id\" must be a string or an integer".into(),
            ));
        }
        if method.is_none() && !(obj.contains_key("result") || obj.contains_key("error")) {
            tracing::warn!(
                line = self.line_no,
                "stdin: neither a request, a notification nor a response"
            );
            return Verdict::Reply(error_reply(
                usable_id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "Invalid request: no \"method\"".into(),
            ));
        }
        // The 2026-07-28 revision has no handshake: every request carries its era.
        let enveloped = value
            .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
            .is_some();
        if !self.era_set
            && is_request
            && !matches!(method.as_deref(), Some("initialize" | "ping"))
            && !enveloped
        {
            let method = method.as_deref().unwrap_or("-");
            tracing::warn!(
                line = self.line_no,
                method,
                "stdin: request before initialize"
            );
            return Verdict::Reply(error_reply(
                usable_id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                format!(
                    "Invalid request: send initialize first; {method} is answered only after the \
                     initialize handshake"
                ),
            ));
        }
        if !self.era_set && !is_request {
            tracing::warn!(
                line = self.line_no,
                method = method.as_deref().unwrap_or("-"),
                "stdin: ignored: arrived before initialize (or a first request of the 2026-07-28 revision)"
            );
            return Verdict::Ignore;
        }
        match serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(value.clone()) {
            Ok(mut msg) => {
                if method.as_deref() == Some("initialize")
                    || (is_request && enveloped && method.as_deref() != Some("server/discover"))
                {
                    self.era_set = true;
                }
                // Handlers start in any order; the order calls arrived is kept here, where
                // it is still known, so the session can serve them in that order.
                if is_request
                    && method.as_deref() == Some("tools/call")
                    && let JsonRpcMessage::Request(r) = &mut msg
                {
                    // Each session has its own line; a call naming none is `main`'s.
                    let lane = value
                        .pointer("/params/arguments/session")
                        .and_then(Value::as_str)
                        .unwrap_or(SessionName::MAIN);
                    r.request
                        .extensions_mut()
                        .insert(Arrival(self.turns.arrive(lane)));
                }
                if let (true, Some(id)) = (is_request, usable_id.as_ref()) {
                    let mut ledger = self.tokens();
                    if ledger.is_in_flight(id) {
                        tracing::warn!(line = self.line_no, %id, "stdin: duplicate id of a request in progress");
                        return Verdict::Reply(error_reply(
                            id.clone(),
                            INVALID_REQUEST,
                            format!(
                                "Invalid request: id {id} is already used by a request in progress; use a new id"
                            ),
                        ));
                    }
                    ledger.open(value.pointer("/params/_meta/progressToken"), id);
                }
                if method.as_deref() == Some("notifications/cancelled")
                    && let Some(req) = value.pointer("/params/requestId")
                {
                    self.tokens().cancel(req);
                }
                Verdict::Deliver(Box::new(msg))
            }
            Err(e) => {
                if let (true, Some(id)) = (is_request, usable_id) {
                    tracing::warn!(
                        line = self.line_no,
                        "stdin: bad params for {}: {e}",
                        method.as_deref().unwrap_or("-")
                    );
                    Verdict::Reply(error_reply(
                        id,
                        INVALID_PARAMS,
                        format!(
                            "Invalid params for {}: {e}",
                            method.as_deref().unwrap_or("-")
                        ),
                    ))
                } else {
                    tracing::warn!(
                        line = self.line_no,
                        "stdin: ignored malformed notification or response: {e}"
                    );
                    Verdict::Ignore
                }
            }
        }
    }
}

enum LineKind {
    Line,
    TooLong,
}

/// rmcp's "method not found" error carries the bare method name as its message; a person
/// piping JSON-RPC by hand should read what went wrong.
fn name_missing_method(mut v: Value) -> Value {
    if v.pointer("/error/code").and_then(Value::as_i64) == Some(METHOD_NOT_FOUND)
        && let Some(Value::String(message)) = v.pointer_mut("/error/message")
        && !message.starts_with("method not found")
    {
        *message = format!("method not found: {message}");
    }
    v
}

fn error_reply(id: Value, code: i64, message: String) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

async fn write_line(writer: &Writer, mut text: Vec<u8>) -> std::io::Result<()> {
    text.push(b'\n');
    let mut w = writer.lock().await;
    w.write_all(&text).await?;
    w.flush().await
}

impl<R: AsyncRead + Send + Unpin + 'static> Transport<RoleServer> for StdioTransport<R> {
    type Error = std::io::Error;

    fn name() -> Cow<'static, str> {
        "stdio".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = self.writer.clone();
        // Decide now, in the order rmcp hands messages over, not when the write runs.
        let bytes = match serde_json::to_value(&item) {
            Ok(v) => {
                let mut tokens = self.inbox.tokens();
                let is_progress =
                    v.get("method").and_then(Value::as_str) == Some("notifications/progress");
                if is_progress {
                    let token = v
                        .pointer("/params/progressToken")
                        .cloned()
                        .unwrap_or(Value::Null);
                    if !tokens.is_live(&token) {
                        tracing::debug!(%token, "dropped a progress frame for a finished or cancelled request");
                        None
                    } else {
                        serde_json::to_vec(&v).ok()
                    }
                } else if let Some(id) = v.get("id")
                    && (v.get("result").is_some() || v.get("error").is_some())
                {
                    tokens.close_request(id);
                    if tokens.drop_response(id) {
                        tracing::debug!(%id, "dropped the response to a cancelled request");
                        None
                    } else {
                        serde_json::to_vec(&name_missing_method(v)).ok()
                    }
                } else {
                    serde_json::to_vec(&name_missing_method(v)).ok()
                }
            }
            Err(e) => {
                tracing::error!("could not serialise an outgoing message: {e}");
                None
            }
        };
        async move {
            match bytes {
                Some(b) => write_line(&writer, b).await,
                None => Ok(()),
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let kind = match self.read_line().await {
                Ok(Some(k)) => k,
                Ok(None) => {
                    self.closed.cancel();
                    return None;
                }
                Err(e) => {
                    tracing::error!("reading stdin failed: {e}");
                    self.closed.cancel();
                    return None;
                }
            };
            let verdict = match kind {
                LineKind::TooLong => {
                    tracing::warn!(
                        line = self.inbox.line_no,
                        "stdin: line longer than {MAX_LINE_BYTES} bytes dropped"
                    );
                    Verdict::Reply(error_reply(
                        Value::Null,
                        INVALID_REQUEST,
                        format!(
                            "Invalid request: line {} is longer than {MAX_LINE_BYTES} bytes",
                            self.inbox.line_no
                        ),
                    ))
                }
                LineKind::Line => self.inbox.judge(&self.line),
            };
            self.line.clear();
            match verdict {
                Verdict::Deliver(msg) => return Some(*msg),
                Verdict::Ignore => {}
                Verdict::Reply(v) => {
                    // Written from its own task: rmcp polls `receive` inside a `select!` and
                    // drops it whenever another branch is ready, which would lose a reply
                    // awaited here (or cut it off half-written).
                    let bytes = serde_json::to_vec(&v).unwrap_or_default();
                    let writer = self.writer.clone();
                    tokio::spawn(async move {
                        if let Err(e) = write_line(&writer, bytes).await {
                            tracing::error!("writing to stdout failed: {e}");
                        }
                    });
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.lock().await.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &[u8] = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
    const CALL: &[u8] = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"stata_run_code","arguments":{"code":"display 1"}}}"#;

    fn error_code(v: &Verdict) -> Option<i64> {
        match v {
            Verdict::Reply(r) => r["error"]["code"].as_i64(),
            _ => None,
        }
    }

    #[test]
    fn malformed_lines_get_the_json_rpc_error_they_deserve() {
        let mut inbox = Inbox::default();
        assert_eq!(error_code(&inbox.judge(b"{not json")), Some(PARSE_ERROR));
        assert_eq!(error_code(&inbox.judge(b"[1, 2]")), Some(INVALID_REQUEST));
        assert_eq!(
            error_code(&inbox.judge(br#"{"id":1,"method":"ping"}"#)),
            Some(INVALID_REQUEST),
            "no jsonrpc version"
        );
        assert_eq!(
            error_code(&inbox.judge(br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#)),
            Some(INVALID_REQUEST),
            "a fractional id"
        );
        assert!(matches!(inbox.judge(b"  \r\n"), Verdict::Ignore));
    }

    #[test]
    fn notifications_before_initialize_are_dropped() {
        let mut inbox = Inbox::default();
        let early = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert!(matches!(inbox.judge(early), Verdict::Ignore));
        assert!(matches!(inbox.judge(INIT), Verdict::Deliver(_)));
        assert!(matches!(inbox.judge(early), Verdict::Deliver(_)));
    }

    #[test]
    fn tool_calls_are_stamped_in_arrival_order_and_ids_stay_unique() {
        let turns = Turns::new();
        let mut inbox = Inbox::new(turns.clone());
        assert!(matches!(inbox.judge(INIT), Verdict::Deliver(_)));
        let Verdict::Deliver(msg) = inbox.judge(CALL) else {
            panic!("a tool call is delivered");
        };
        let JsonRpcMessage::Request(r) = *msg else {
            panic!("a request");
        };
        let arrival = r.request.extensions().get::<Arrival>().copied();
        assert_eq!(arrival, Some(Arrival(1)));
        assert_eq!(
            turns.arrive("main"),
            2,
            "the transport's stamps come from the server's line"
        );
        assert_eq!(
            error_code(&inbox.judge(CALL)),
            Some(INVALID_REQUEST),
            "the same id again while the first is in flight"
        );
    }
}
