//! The files a sandboxed Stata may execute: its install folder, and the loader or script
//! interpreter the kernel opens to start it (read from the binary's ELF or `#!` header).

use std::io::Read;
use std::path::{Path, PathBuf};

/// ELF program header type of the interpreter's path.
const PT_INTERP: u32 = 3;

/// Stata's install folder (as given and with symlinks resolved) and what starting it needs.
pub(crate) fn stata_executables(stata: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut add = |p: PathBuf| {
        if !p.as_os_str().is_empty() && !out.contains(&p) {
            out.push(p);
        }
    };
    let real = std::fs::canonicalize(stata).unwrap_or_else(|_| stata.to_path_buf());
    for p in [stata, real.as_path()] {
        if let Some(dir) = p.parent() {
            add(dir.to_path_buf());
        }
    }
    // A script's interpreter, then the loader of whichever binary the kernel runs.
    let mut binary = real.clone();
    if let Some(interp) = shebang(&binary) {
        add(interp.clone());
        binary = interp;
        // A wrapper script (a module system's, a site's) starts the real Stata it names.
        for named in named_programs(&real) {
            if let Some(dir) = named
                .parent()
                .filter(|d| !SYSTEM_BIN.contains(&d.to_str().unwrap_or("")))
            {
                add(dir.to_path_buf());
            }
            if let Some(loader) = elf_interpreter(&named) {
                add(loader);
            }
        }
    }
    if let Some(loader) = elf_interpreter(&binary) {
        add(loader);
    }
    out
}

/// Folders of the system's programs, never opened whole to a sandboxed Stata.
const SYSTEM_BIN: [&str; 6] = [
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/",
];

/// The absolute paths of executable files a script names (the program a wrapper starts).
fn named_programs(script: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(script).unwrap_or_default();
    text.split(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | ';' | '=' | '(' | ')'))
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && executable(&m)))
        .collect()
}

/// The interpreter named by a `#!` line.
fn shebang(path: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next()?;
    let text = String::from_utf8_lossy(line);
    let first = text.split_whitespace().next()?;
    Some(PathBuf::from(first))
}

/// The loader an ELF binary names (`PT_INTERP`), for 32- and 64-bit, either byte order.
fn elf_interpreter(path: &Path) -> Option<PathBuf> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.by_ref().take(1 << 20).read_to_end(&mut bytes).ok()?;
    if bytes.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = *bytes.get(4)? == 2;
    let little = *bytes.get(5)? == 1;
    let num = |at: usize, len: usize| -> Option<u64> {
        let b = bytes.get(at..at + len)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if little { b[len - 1 - i] } else { b[i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = if wide {
        (num(32, 8)?, num(54, 2)?, num(56, 2)?)
    } else {
        (num(28, 4)?, num(42, 2)?, num(44, 2)?)
    };
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).ok()?;
        if num(at, 4)? != u64::from(PT_INTERP) {
            continue;
        }
        let (offset, size) = if wide {
            (num(at + 8, 8)?, num(at + 32, 8)?)
        } else {
            (num(at + 4, 4)?, num(at + 16, 4)?)
        };
        let start = usize::try_from(offset).ok()?;
        let raw = bytes.get(start..start + usize::try_from(size).ok()?)?;
        let name = raw.split(|b| *b == 0).next()?;
        return Some(PathBuf::from(String::from_utf8_lossy(name).into_owned()));
    }
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_binary_needs_its_loader_and_a_script_its_interpreter() {
        // The test binary itself is a dynamically linked ELF: its loader exists.
        let me = std::env::current_exe().expect("exe");
        let loader = elf_interpreter(&me).expect("a PT_INTERP");
        assert!(loader.is_absolute() && loader.exists(), "{loader:?}");
        let all = stata_executables(&me);
        assert!(all.contains(&me.parent().expect("dir").to_path_buf()));
        assert!(all.contains(&loader));

        let tmp = tempfile::tempdir().expect("tmp");
        let script = tmp.path().join("stata-mp");
        std::fs::write(&script, "#!/bin/sh -e\nexec true\n").expect("write");
        assert_eq!(shebang(&script), Some(PathBuf::from("/bin/sh")));
        assert!(stata_executables(&script).contains(&PathBuf::from("/bin/sh")));
        assert_eq!(elf_interpreter(&script), None);
    }
}

#[cfg(unix)]
fn executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    true
}
