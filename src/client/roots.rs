//! The folders the client says the user works in (its answer to `roots/list`), as local paths,
//! and the wait for that answer when a call arrives while it is still on its way.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

/// How long a call waits for the client's first answer to `roots/list`.
pub(crate) const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(2);

/// Where the client's roots stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootsState {
    /// The client offers no roots (or has not said yet).
    None,
    /// Asked; no answer yet.
    Asking,
    /// The client's answer, as local folders, first first.
    Known(Vec<PathBuf>),
}

/// The client's roots, shared by the server (which asks) and the calls (which use them).
pub(crate) struct Roots {
    state: watch::Sender<RootsState>,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(RootsState::None),
        }
    }
}

impl Roots {
    pub(crate) fn set(&self, state: RootsState) {
        self.state.send_replace(state);
    }

    /// Whether the client has answered with its roots (an empty list included).
    pub(crate) fn answered(&self) -> bool {
        matches!(&*self.state.borrow(), RootsState::Known(_))
    }

    /// Every root known now (none while the answer is on its way).
    pub(crate) fn all(&self) -> Vec<PathBuf> {
        match &*self.state.borrow() {
            RootsState::Known(roots) => roots.clone(),
            _ => Vec::new(),
        }
    }

    /// The first root, waiting up to `wait` while the client's answer is on its way.
    pub(crate) async fn first(&self, wait: Duration) -> Option<PathBuf> {
        let mut rx = self.state.subscribe();
        let settled = rx.wait_for(|s| *s != RootsState::Asking);
        let _ = tokio::time::timeout(wait, settled).await;
        match &*rx.borrow() {
            RootsState::Known(roots) => roots.first().cloned(),
            _ => None,
        }
    }
}

/// The local folder a root's `file://` URI names; `None` for any other URI (or a remote host).
pub(crate) fn path_of_uri(uri: &str) -> Option<PathBuf> {
    let rest = uri
        .strip_prefix("file://")
        .or_else(|| uri.strip_prefix("FILE://"))?;
    // `file:///p` and `file://localhost/p` are local; `file://host/p` is not.
    let path = match rest.find('/') {
        Some(0) => rest,
        Some(i) if rest[..i].eq_ignore_ascii_case("localhost") => &rest[i..],
        _ => return None,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?
        .into_owned();
    local_path(&decoded)
}

#[cfg(not(windows))]
fn local_path(decoded: &str) -> Option<PathBuf> {
    Some(PathBuf::from(decoded))
}

/// `/C:/Users/x` is `C:\Users\x`.
#[cfg(windows)]
fn local_path(decoded: &str) -> Option<PathBuf> {
    let p = decoded.strip_prefix('/').unwrap_or(decoded);
    Some(PathBuf::from(p.replace('/', "\\")))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_folders() {
        let cases = [
            ("file:///home/ana/thesis", Some("/home/ana/thesis")),
            ("file:///home/ana/my%20thesis", Some("/home/ana/my thesis")),
            ("file://localhost/srv/p", Some("/srv/p")),
            ("file:///Users/b/%C3%A9tude", Some("/Users/b/étude")),
            ("file://server/share", None),
            ("https://example.org/x", None),
        ];
        for (uri, want) in cases {
            assert_eq!(path_of_uri(uri), want.map(PathBuf::from), "{uri}");
        }
    }

    #[tokio::test]
    async fn a_call_waits_briefly_for_an_answer_on_its_way() {
        let roots = std::sync::Arc::new(Roots::default());
        assert_eq!(roots.first(Duration::from_millis(1)).await, None);
        roots.set(RootsState::Asking);
        let r = roots.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            r.set(RootsState::Known(vec![PathBuf::from("/p")]));
        });
        assert_eq!(
            roots.first(Duration::from_secs(5)).await,
            Some(PathBuf::from("/p"))
        );
    }
}
