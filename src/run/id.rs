//! Run ids, `YYYYMMDD-HHMMSS-pid-seq` (UTC): made, printed and parsed here, so they sort by time.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDateTime};

/// The `YYYYMMDD-HHMMSS` part of run ids and of backup names.
const STAMP: &str = "%Y%m%d-%H%M%S";

/// A run's id, which is also its directory's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RunId {
    /// When the run started, in seconds since 1970 (UTC); first, so ids order by time.
    pub started: u64,
    /// The server process that made it.
    pub pid: u32,
    /// Its number within that server.
    pub seq: u64,
}

impl RunId {
    /// The id of a run started at `t` by this process, its `seq`-th.
    pub(crate) fn new(t: SystemTime, seq: u64) -> Self {
        Self {
            started: t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            pid: std::process::id(),
            seq,
        }
    }

    /// Parses `YYYYMMDD-HHMMSS-pid-seq`; anything else is not a run directory.
    pub(crate) fn parse(name: &str) -> Option<RunId> {
        let mut parts = name.split('-');
        let (date, time, pid, seq) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || date.len() != 8 || time.len() != 6 {
            return None;
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(pid) && digits(seq)) {
            return None;
        }
        let when = NaiveDateTime::parse_from_str(&format!("{date}-{time}"), STAMP).ok()?;
        Some(RunId {
            started: u64::try_from(when.and_utc().timestamp()).ok()?,
            pid: pid.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", stamp_of(self.started), self.pid, self.seq)
    }
}

/// `YYYYMMDD-HHMMSS` in UTC, so names made of it sort by time.
pub(crate) fn utc_stamp(t: SystemTime) -> String {
    stamp_of(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

fn stamp_of(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format(STAMP)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_print_and_parse_back() {
        let t = UNIX_EPOCH + Duration::from_secs(1_709_209_496); // 2024-02-29 12:24:56
        assert_eq!(utc_stamp(t), "20240229-122456");
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101-000000");
        let id = RunId {
            started: 1_709_209_496,
            pid: 4242,
            seq: 7,
        };
        assert_eq!(id.to_string(), "20240229-122456-4242-7");
        assert_eq!(RunId::parse("20240229-122456-4242-7"), Some(id));
    }

    #[test]
    fn only_run_ids_parse() {
        for bad in [
            "sessions",
            "20240230-000000-1-0",
            "20241301-000000-1-0",
            "20240101-250000-1-0",
            "2024011-000000-1-0",
            "20240101-000000-1",
            "20240101-000000-1-0-9",
            "20240101-000000-x-0",
            "20240101-000000--0",
        ] {
            assert_eq!(RunId::parse(bad), None, "{bad}");
        }
        let a = RunId::parse("20240101-000000-9-0").expect("a");
        let b = RunId::parse("20240101-000001-1-0").expect("b");
        assert!(a < b, "ids order by time first");
    }
}
