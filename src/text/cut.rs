//! Cutting and searching text safely: on character boundaries, at line starts, ignoring ASCII case.

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Where to cut `text` so that at least `min` bytes go: a char boundary, moved on to the
/// next line start when there is one, so kept text never opens mid-line.
pub(crate) fn cut_point(text: &str, min: usize) -> usize {
    let mut cut = min.min(text.len());
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    if cut > 0
        && text.as_bytes().get(cut - 1) != Some(&b'\n')
        && let Some(nl) = text[cut..].find('\n')
        && cut + nl + 1 < text.len()
    {
        cut += nl + 1;
    }
    cut
}

/// Whether `needle` occurs in `hay`, ASCII letters matched without regard to case.
pub(crate) fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_whole_characters_and_lines() {
        assert_eq!(cut_bytes("héllo", 2), "h");
        assert_eq!(cut_bytes("héllo", 3), "hé");
        assert_eq!(cut_bytes("abc", 10), "abc");
        // At least 2 bytes go, and the cut moves on to the next line start.
        assert_eq!(cut_point("ab\ncd\nef", 2), 3);
        assert_eq!(cut_point("ab\ncd\nef", 4), 6);
        // No later line start: the cut stays (on a character boundary).
        assert_eq!(cut_point("aé", 2), 3);
        assert!(contains_ignore_ascii_case(
            b"License Is Invalid",
            b"license is"
        ));
        assert!(!contains_ignore_ascii_case(b"abc", b"abd"));
    }
}
