//! Opens a file beneath a folder without following any symlink on the way, in one pass of
//! `openat` calls: a file swapped for a link between a check and the open is refused, not
//! followed out of the folder.

use std::fs::File;
use std::io;
use std::path::{Component, Path};

/// Opens the regular file `rel` (relative, no `..`) beneath the folder `root`.
pub(crate) fn open_beneath(root: &Path, rel: &Path) -> io::Result<File> {
    let parts: Vec<&std::ffi::OsStr> = rel
        .components()
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only plain names below the folder",
            )),
        })
        .collect::<io::Result<_>>()?;
    let file = open_parts(root, &parts)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

#[cfg(unix)]
fn open_parts(root: &Path, parts: &[&std::ffi::OsStr]) -> io::Result<File> {
    use nix::fcntl::{OFlag, open, openat};
    use nix::sys::stat::Mode;
    let base = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let mut dir = open(root, base | OFlag::O_DIRECTORY, Mode::empty()).map_err(io::Error::from)?;
    let Some((last, folders)) = parts.split_last() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no file named"));
    };
    for name in folders {
        dir = openat(
            &dir,
            *name,
            base | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
    }
    // Non-blocking: a FIFO planted in a run folder must not hang the server on open.
    let fd = openat(
        &dir,
        *last,
        base | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    Ok(File::from(fd))
}

#[cfg(not(unix))]
fn open_parts(root: &Path, parts: &[&std::ffi::OsStr]) -> io::Result<File> {
    let mut path = root.to_path_buf();
    path.extend(parts);
    File::open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_link_anywhere_on_the_way_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("logs");
        std::fs::create_dir_all(root.join("runs/a")).expect("mkdir");
        std::fs::write(root.join("runs/a/run.log"), "ok").expect("write");
        std::fs::write(tmp.path().join("secret"), "secret").expect("write");
        let read = |rel: &str| {
            open_beneath(&root, Path::new(rel)).map(|mut f| {
                let mut s = String::new();
                io::Read::read_to_string(&mut f, &mut s).expect("read");
                s
            })
        };
        assert_eq!(read("runs/a/run.log").expect("plain"), "ok");
        std::os::unix::fs::symlink(tmp.path().join("secret"), root.join("runs/a/x.log"))
            .expect("link");
        assert!(read("runs/a/x.log").is_err(), "a link as the file");
        std::os::unix::fs::symlink(tmp.path(), root.join("runs/b")).expect("link");
        assert!(read("runs/b/secret").is_err(), "a link as a folder");
        assert!(read("runs/../../secret").is_err(), "..");
        assert!(read("runs/a").is_err(), "a folder");
        nix::unistd::mkfifo(&root.join("runs/a/fifo"), nix::sys::stat::Mode::S_IRWXU)
            .expect("fifo");
        assert!(read("runs/a/fifo").is_err(), "a FIFO, without hanging");
    }
}
