//! `stata-mcp record show|export|verify|compare`: the research record of the project in the
//! current folder (or `--workdir`), for a person at a terminal; the same work as the
//! `stata_record` tool.

use tokio_util::sync::CancellationToken;

use crate::cli::{RecordAction, RecordArgs, ServerOptions};
use crate::render::record::{compare_text, export_text, show_text, verify_text};
use crate::service::Service;
use crate::service::record::answers::Verifying;
use crate::settings::Settings;

/// Runs the action; the exit code: 0 done (verify: every step reproduced), 1 verify found a
/// difference, 2 the record could not answer.
pub async fn record(opts: &ServerOptions, args: &RecordArgs) -> u8 {
    let mut settings = match Settings::resolve(opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "stata-mcp record: the current directory cannot be read ({e}); pass --workdir"
            );
            return 2;
        }
    };
    // The current folder is the project the person means.
    settings.workdir_given = true;
    // Nothing here is a run of the user's to keep.
    settings.record = false;
    // A verify re-runs the replication do-file in a batch Stata, whatever the mode.
    if settings.mode_is_default {
        settings.mode = crate::cli::Mode::Batch;
    }
    let service = Service::new(settings);
    let record = &service.record;
    let cancel = CancellationToken::new();
    let answer = match args.action {
        RecordAction::Show => record.show(args.page).await.map(|j| (show_text(&j), true)),
        RecordAction::Export => record
            .export(None, &cancel)
            .await
            .map(|j| (export_text(&j), true)),
        RecordAction::Verify => record.verify_within(None, None).await.map(|v| match v {
            Verifying::Done(j) => {
                let ok = j.differing.is_empty() && j.not_run.is_empty();
                (verify_text(&j), ok)
            }
            // Without a limit the call waits for the verdict.
            Verifying::Running { .. } => (String::new(), false),
        }),
        RecordAction::Compare => record
            .compare(&args.steps)
            .await
            .map(|j| (compare_text(&j), true)),
    };
    service.shared.runner.shut_down().await;
    match answer {
        Ok((text, ok)) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            if out
                .write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return 2;
            }
            if ok { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("stata-mcp record: {e}");
            2
        }
    }
}
