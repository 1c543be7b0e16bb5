//! Numbers, sizes and durations written for people: the one formatter of each.

use std::time::Duration;

/// `12345` as `12,345`.
pub(crate) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count for people: `950 bytes`, `12.3 KB`, `1.2 MB`, `3.4 GB` (powers of 1024).
pub(crate) fn human_bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let x = n as f64;
    if n < 1024 {
        if n == 1 {
            "1 byte".to_owned()
        } else {
            format!("{n} bytes")
        }
    } else if x < K * K {
        format!("{:.1} KB", x / K)
    } else if x < K * K * K {
        format!("{:.1} MB", x / (K * K))
    } else {
        format!("{:.1} GB", x / (K * K * K))
    }
}

/// `12 ms`, `0.4 s`, `12.3 s`, `42 s`, `2 min 5 s`, `1 h 3 min`.
pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 100 {
        format!("{ms} ms")
    } else if ms < 20_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else if ms < 60_000 {
        format!("{} s", (ms + 500) / 1000)
    } else {
        let s = (ms + 500) / 1000;
        if s < 3600 {
            format!("{} min {} s", s / 60, s % 60)
        } else {
            format!("{} h {} min", s / 3600, (s % 3600) / 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(12_345_678), "12,345,678");
        assert_eq!(human_bytes(10), "10 bytes");
        assert_eq!(human_bytes(1_300_000), "1.2 MB");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(Duration::from_millis(12)), "12 ms");
        assert_eq!(human_duration(Duration::from_millis(400)), "0.4 s");
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2 min 5 s");
    }
}
