//! Decodes log lines to text: UTF-8 when they are, Latin-1 otherwise (Stata 13 and older),
//! a character Stata's wrapping cut in two joined again, SMCL made plain; never fails.

use std::borrow::Cow;

use super::smcl;

/// Turns raw log lines into text, one at a time. A line that ends in the first bytes of a
/// UTF-8 character is held until the next line shows whether it goes on there (Stata's
/// console wraps by bytes, and puts the rest after the `> ` of the next line).
#[derive(Debug, Default)]
pub struct LineDecoder {
    /// A line ending in an incomplete character (with its newline), waiting for the next.
    held: Option<Vec<u8>>,
    /// An SMCL line was seen: every line after is SMCL.
    smcl: bool,
}

impl LineDecoder {
    /// One raw line (with its newline); `out` gets each decoded line with the number of
    /// bytes of log it stands for.
    pub fn push(&mut self, raw: &[u8], out: &mut impl FnMut(&str, usize)) {
        if let Some(held) = self.held.take() {
            let line = trim_eol(&held);
            let cut = incomplete_tail(line);
            if cut > 0 && raw.starts_with(b"> ") {
                let (head, tail) = line.split_at(line.len() - cut);
                let mut next = b"> ".to_vec();
                next.extend_from_slice(tail);
                next.extend_from_slice(&raw[2..]);
                self.emit(head, held.len() - cut, out);
                return self.push_whole(&next, raw.len() + cut, out);
            }
            self.emit(line, held.len(), out);
        }
        self.push_whole(raw, raw.len(), out);
    }

    /// The log ends: a held line goes out as it is.
    pub fn finish(&mut self, out: &mut impl FnMut(&str, usize)) {
        if let Some(held) = self.held.take() {
            self.emit(trim_eol(&held), held.len(), out);
        }
    }

    fn push_whole(&mut self, raw: &[u8], len: usize, out: &mut impl FnMut(&str, usize)) {
        let line = trim_eol(raw);
        if incomplete_tail(line) > 0 && len == raw.len() {
            self.held = Some(raw.to_vec());
            return;
        }
        self.emit(line, len, out);
    }

    fn emit(&mut self, bytes: &[u8], len: usize, out: &mut impl FnMut(&str, usize)) {
        let text = decode_line(bytes);
        if !self.smcl && smcl::is_smcl_line(&text) {
            self.smcl = true;
        }
        if self.smcl {
            out(&smcl::to_text(&text), len);
        } else {
            out(&text, len);
        }
    }
}

/// How many bytes at the end of `line` are the start of a UTF-8 character that does not
/// finish there, when the rest of the line is valid UTF-8 (else 0: Latin-1, or whole).
fn incomplete_tail(line: &[u8]) -> usize {
    match std::str::from_utf8(line) {
        Ok(_) => 0,
        Err(e) if e.error_len().is_none() => line.len() - e.valid_up_to(),
        Err(_) => 0,
    }
}

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

    fn decode_all(lines: &[&[u8]]) -> Vec<(String, usize)> {
        let mut d = LineDecoder::default();
        let mut got = Vec::new();
        for l in lines {
            d.push(l, &mut |t, n| got.push((t.to_owned(), n)));
        }
        d.finish(&mut |t, n| got.push((t.to_owned(), n)));
        got
    }

    #[test]
    fn a_character_cut_by_the_wrap_is_joined_on_the_next_line() {
        // 数据 (E6 95 B0 E6 8D AE), the second character cut after its first byte.
        let got = decode_all(&[b"label: \xe6\x95\xb0\xe6\n", b"> \x8d\xae ok\n", b"end\n"]);
        assert_eq!(
            got,
            vec![
                ("label: 数".to_owned(), 11),
                ("> 据 ok".to_owned(), 9),
                ("end".to_owned(), 4)
            ]
        );
        // Every byte is counted once.
        assert_eq!(got.iter().map(|g| g.1).sum::<usize>(), 12 + 8 + 4);
    }

    #[test]
    fn a_latin1_line_ending_in_a_high_byte_keeps_it() {
        let got = decode_all(&[b"caf\xe9\n", b"next\n"]);
        assert_eq!(got, vec![("café".to_owned(), 5), ("next".to_owned(), 5)]);
        assert_eq!(
            decode_all(&[b"last caf\xe9"]),
            vec![("last café".to_owned(), 9)]
        );
    }

    #[test]
    fn smcl_lines_after_a_header_are_plain_text() {
        let got = decode_all(&[b"{smcl}\n", b"{com}. display 1\n", b"{res}1\n"]);
        let text: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(text, vec!["", ". display 1", "1"]);
    }

    #[test]
    fn crlf_is_trimmed() {
        assert_eq!(trim_eol(b"abc\r\n"), b"abc");
        assert_eq!(trim_eol(b"abc"), b"abc");
    }
}
