//! Stata's versions and editions, as read from folder and binary names.

use std::fmt;
use std::path::Path;

/// Stata's editions. `IC` is what Stata 16 and older called `BE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edition {
    MP,
    SE,
    BE,
    IC,
    SM,
    Unknown,
}

impl Edition {
    /// Preference among editions: MP > SE > BE = IC > SM > unknown.
    pub fn rank(self) -> u8 {
        match self {
            Edition::MP => 4,
            Edition::SE => 3,
            Edition::BE | Edition::IC => 2,
            Edition::SM => 1,
            Edition::Unknown => 0,
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Edition::MP => "MP",
            Edition::SE => "SE",
            Edition::BE => "BE",
            Edition::IC => "IC",
            Edition::SM => "SM",
            Edition::Unknown => "unknown edition",
        })
    }
}

/// The edition a binary's file name says: `stata-mp` / `StataMP-64.exe` / `xstata-mp` → MP.
///
/// The bare names (`stata`, `Stata-64.exe`) give `BE`; Stata 16 and older called that
/// edition IC, which [`discover`] corrects when it knows the version.
pub fn edition_from_binary_name(name: &str) -> Edition {
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".exe").unwrap_or(&lower);
    let stem = stem.strip_suffix("-64").unwrap_or(stem);
    // The GUI names carry the edition too (`xstata-se`).
    let stem = match stem.strip_prefix('x') {
        Some(rest) if rest.starts_with("stata") => rest,
        _ => stem,
    };
    if stem == "smstata" {
        return Edition::SM;
    }
    let Some(rest) = stem.strip_prefix("stata") else {
        return Edition::Unknown;
    };
    match rest.trim_start_matches(['-', '_']) {
        "mp" => Edition::MP,
        "se" => Edition::SE,
        "be" | "" => Edition::BE,
        "ic" => Edition::IC,
        "sm" => Edition::SM,
        _ => Edition::Unknown,
    }
}

/// A Stata release: 18 is `{18, 0}`, StataNow 19 is `{19, 5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

/// What a bare `StataNow` folder (no number in it) is taken to hold: the StataNow current
/// when this was written. Only used when nothing better is known.
const STATANOW_ASSUMED: Version = Version {
    major: 19,
    minor: 5,
};

impl Version {
    /// Parses `18`, `18.0`, `19.5`, `18.5.1` (the rest ignored). Majors outside 10..=99 are
    /// refused: no such Stata is in use, so such a number is not a Stata version.
    pub fn parse(text: &str) -> Option<Version> {
        let (major, rest) = leading_number(text)?;
        let minor = rest
            .strip_prefix('.')
            .and_then(leading_number)
            .map_or(0, |(n, _)| n);
        (10..=99)
            .contains(&major)
            .then_some(Version { major, minor })
    }
}

/// The decimal number at the start of `text` and what follows it.
fn leading_number(text: &str) -> Option<(u32, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number = text[..end].parse().ok()?;
    Some((number, &text[end..]))
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor == 0 {
            write!(f, "{}", self.major)
        } else {
            write!(f, "{}.{}", self.major, self.minor)
        }
    }
}

/// The version an install folder's name gives: `stata18` → 18, `Stata 14` → 14,
/// `statanow19` → 19.5, a bare `StataNow` → the assumed current StataNow.
fn version_from_folder_name(name: &str) -> Option<Version> {
    let lower = name.to_ascii_lowercase();
    let rest = lower.strip_prefix("stata")?;
    let (now, rest) = match rest.strip_prefix("now") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches([' ', '-', '_']);
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        // `stata-mp`, `StataMP.app`, a plain `stata` folder: no version here.
        return now.then_some(STATANOW_ASSUMED);
    }
    let mut version = Version::parse(rest)?;
    // StataNow NN is release NN.5 unless the folder says otherwise.
    if now
        && !rest
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with('.')
    {
        version.minor = 5;
    }
    Some(version)
}

/// The version the folders above a binary give, nearest folder first:
/// `/usr/local/stata18/stata-mp` → 18, `/Applications/StataNow/StataMP.app/...` → 19.5.
pub(crate) fn version_from_path(binary: &Path) -> Option<Version> {
    binary
        .ancestors()
        .skip(1)
        .filter_map(|dir| dir.file_name()?.to_str())
        .find_map(version_from_folder_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editions_from_names() {
        let cases = [
            ("stata-mp", Edition::MP),
            ("stata-se", Edition::SE),
            ("stata", Edition::BE),
            ("stata-sm", Edition::SM),
            ("xstata-mp", Edition::MP),
            ("StataMP", Edition::MP),
            ("StataMP-64.exe", Edition::MP),
            ("StataSE-64.exe", Edition::SE),
            ("StataBE-64.exe", Edition::BE),
            ("StataIC-64.exe", Edition::IC),
            ("Stata-64.exe", Edition::BE),
            ("StataSE.exe", Edition::SE),
            ("smStata.exe", Edition::SM),
            ("stata-double", Edition::Unknown),
            ("python3", Edition::Unknown),
        ];
        for (name, edition) in cases {
            assert_eq!(edition_from_binary_name(name), edition, "{name}");
        }
    }

    #[test]
    fn versions_from_folder_names() {
        let v = |major, minor| Some(Version { major, minor });
        assert_eq!(version_from_folder_name("stata18"), v(18, 0));
        assert_eq!(version_from_folder_name("Stata 14"), v(14, 0));
        assert_eq!(version_from_folder_name("Stata17"), v(17, 0));
        assert_eq!(version_from_folder_name("statanow19"), v(19, 5));
        assert_eq!(version_from_folder_name("StataNow18.5"), v(18, 5));
        assert_eq!(version_from_folder_name("StataNow"), Some(STATANOW_ASSUMED));
        assert_eq!(version_from_folder_name("stata"), None);
        assert_eq!(version_from_folder_name("StataMP.app"), None);
        assert_eq!(version_from_folder_name("stata-mcp"), None);
        assert_eq!(version_from_folder_name("local"), None);
    }

    #[test]
    fn versions_from_paths() {
        let v = |major, minor| Some(Version { major, minor });
        assert_eq!(
            version_from_path(Path::new("/usr/local/stata18/stata-mp")),
            v(18, 0)
        );
        assert_eq!(
            version_from_path(Path::new(
                "/Applications/StataNow/StataMP.app/Contents/MacOS/stata-mp"
            )),
            v(19, 5)
        );
        assert_eq!(
            version_from_path(Path::new("/usr/local/stata/stata-mp")),
            None
        );
        // The binary's own name is not a folder name.
        assert_eq!(version_from_path(Path::new("/usr/bin/stata18")), None);
    }

    #[test]
    fn version_parse_and_display() {
        assert_eq!(
            Version::parse("19.5"),
            Some(Version {
                major: 19,
                minor: 5
            })
        );
        assert_eq!(
            Version::parse("18.0").map(|v| v.to_string()).as_deref(),
            Some("18")
        );
        assert_eq!(
            Version::parse("19.5").map(|v| v.to_string()).as_deref(),
            Some("19.5")
        );
        assert_eq!(Version::parse("1.0"), None);
        assert_eq!(Version::parse("abc"), None);
        assert!(Version::parse("19.5") > Version::parse("19"));
        assert!(Version::parse("18") > None);
    }
}
