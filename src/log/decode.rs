//! Decodes one log line to text: UTF-8 when it is, Latin-1 otherwise (Stata 13 and older); never fails.

use std::borrow::Cow;

/// Decodes `bytes` (one line, without its newline). Stata 14+ writes UTF-8; older
/// versions wrote Latin-1, in which every byte is a character, so the fallback is lossless.
pub fn decode_line(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

/// Strips a trailing `\n` and `\r` (logs written on Windows end lines with CRLF).
pub fn trim_eol(mut line: &[u8]) -> &[u8] {
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest;
    }
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_passes_through() {
        assert_eq!(decode_line("Stata® — 18".as_bytes()), "Stata® — 18");
    }

    #[test]
    fn latin1_is_decoded_not_rejected() {
        // "café" in Latin-1: the é is the single byte 0xE9, invalid as UTF-8.
        assert_eq!(decode_line(b"caf\xe9"), "café");
    }

    #[test]
    fn crlf_is_trimmed() {
        assert_eq!(trim_eol(b"abc\r\n"), b"abc");
        assert_eq!(trim_eol(b"abc"), b"abc");
    }
}
