//! The record's files on disk, touched the way code that may plant links cannot steer: the
//! record's folders must be real folders of the project, its files are read without
//! following a link and created or replaced without writing through one, and a data file a
//! step names is hashed only inside the user's folders (and never waited on, a FIFO say).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::step::RECORD_DIR;
use crate::log::beneath::open_beneath;

/// Data files larger than this are listed without a hash (hashing would hold up the result).
const MAX_HASHED: u64 = 1024 * 1024 * 1024;
/// A record file is read up to this much (a step's header, code and output are far less).
const MAX_READ: u64 = 16 * 1024 * 1024;

/// `project/stata-record/<sub>`, made if missing, refused when a link takes it out of the
/// project (a model's code could plant one there).
pub(crate) fn record_folder(project: &Path, sub: &str) -> io::Result<PathBuf> {
    let dir = project.join(RECORD_DIR).join(sub);
    std::fs::create_dir_all(&dir)?;
    let real = std::fs::canonicalize(&dir)?;
    if real != std::fs::canonicalize(project)?.join(RECORD_DIR).join(sub) {
        return Err(io::Error::other(format!(
            "{} leads out of the project (a symbolic link); remove it",
            dir.display()
        )));
    }
    Ok(dir)
}

/// The text of `project/stata-record/<rel>`, no link followed on the way; none if it is not
/// a regular file there.
pub(crate) fn read_record_file(project: &Path, rel: &Path) -> Option<String> {
    let file = open_beneath(project, &Path::new(RECORD_DIR).join(rel)).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_READ).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Creates `path` with `bytes`; an existing file or link there is an `AlreadyExists` error.
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // `create_new` is O_EXCL: it never opens through a link.
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)
}

/// Replaces `path` with `bytes`, refusing a link planted there.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    crate::runner::rundir::write_private_file(path, bytes)
}

/// The SHA-256 of a data file's bytes, as lowercase hex: none outside the user's `folders`
/// (links resolved), for anything but a regular file, or a very large one.
pub(crate) fn file_sha256(path: &Path, folders: &[PathBuf]) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    if !folders.iter().any(|d| real.starts_with(d)) {
        return None;
    }
    let file = open_no_wait(&real).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_HASHED {
        return None;
    }
    let mut hasher = Sha256::new();
    io::copy(&mut file.take(MAX_HASHED), &mut hasher).ok()?;
    Some(hex(&hasher.finalize()))
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Opens for reading without following a final link and without waiting on a FIFO.
fn open_no_wait(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK);
    }
    opts.open(path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn links_and_fifos_are_not_followed_or_waited_on() {
        let root = tempfile::tempdir().expect("tmp");
        let project = root.path().join("project");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&project).expect("project");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("secret.dta"), b"x").expect("secret");
        std::fs::write(project.join("data.dta"), b"x").expect("data");
        let folders = vec![std::fs::canonicalize(&project).expect("real")];
        assert!(file_sha256(&project.join("data.dta"), &folders).is_some());
        assert_eq!(file_sha256(&outside.join("secret.dta"), &folders), None);
        std::os::unix::fs::symlink(outside.join("secret.dta"), project.join("link.dta"))
            .expect("link");
        assert_eq!(file_sha256(&project.join("link.dta"), &folders), None);
        nix::unistd::mkfifo(&project.join("pipe.dta"), nix::sys::stat::Mode::S_IRWXU)
            .expect("fifo");
        assert_eq!(file_sha256(&project.join("pipe.dta"), &folders), None);

        // A record folder that is a link out of the project is refused.
        std::os::unix::fs::symlink(&outside, project.join(RECORD_DIR)).expect("link");
        assert!(record_folder(&project, "steps").is_err());
        std::fs::remove_file(project.join(RECORD_DIR)).expect("unlink");
        let steps = record_folder(&project, "steps").expect("made");
        // A planted link where a file is to be created or replaced is not written through.
        std::os::unix::fs::symlink(outside.join("secret.dta"), steps.join("0001.log"))
            .expect("link");
        assert!(create_new(&steps.join("0001.log"), b"output").is_err());
        assert!(replace(&steps.join("0001.log"), b"output").is_err());
        assert_eq!(
            std::fs::read(outside.join("secret.dta")).expect("secret"),
            b"x"
        );
        assert_eq!(
            read_record_file(&project, Path::new("steps/0001.log")),
            None
        );
    }
}
