//! Fuzzes the handling of one stdin line: arbitrary bytes must get a verdict (deliver,
//! reply with a JSON-RPC error, or ignore), never a panic; every reply is valid JSON-RPC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stata_mcp::{Inbox, Verdict};

fuzz_target!(|data: &[u8]| {
    let mut inbox = Inbox::default();
    // Half the time, as if `initialize` had arrived, so later lines take the full path.
    if data.first().is_some_and(|b| b & 1 == 1) {
        let init = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"f","version":"0"}}}"#;
        let _ = inbox.judge(init);
    }
    for line in data.split(|&b| b == b'\n') {
        if let Verdict::Reply(v) = inbox.judge(line) {
            assert_eq!(v["jsonrpc"], "2.0");
            assert!(v["error"]["code"].is_i64());
        }
    }
});
