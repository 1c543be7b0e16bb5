//! Whether a folder is on a network or cluster file system, where a write made by another
//! machine raises no change notification here (so its logs must be polled).

use std::path::Path;

/// The name of the network file system `dir` is on, if it is on one.
#[cfg(target_os = "linux")]
pub(crate) fn remote_file_system(dir: &Path) -> Option<&'static str> {
    let fs = nix::sys::statfs::statfs(dir).ok()?;
    // `f_type` magic numbers from the kernel's and the file systems' own headers.
    #[allow(clippy::unnecessary_cast)] // the field's width differs between targets
    let magic = fs.filesystem_type().0 as u64;
    match magic {
        0x6969 => Some("NFS"),
        0x517b => Some("SMB"),
        0xff53_4d42 => Some("CIFS"),
        0xfe53_4d42 => Some("SMB2"),
        0x0bd0_0bd0 => Some("Lustre"),
        0x4750_4653 => Some("GPFS"),
        0x1983_0326 => Some("BeeGFS"),
        0x00c3_6400 => Some("CephFS"),
        0x6573_5546 => Some("FUSE (e.g. sshfs)"),
        0x0102_1997 => Some("9p"),
        0xaad7_aaea => Some("Panasas"),
        _ => None,
    }
}

/// Other systems: no cheap check; notifications are used where the OS has them.
#[cfg(not(target_os = "linux"))]
pub(crate) fn remote_file_system(_dir: &Path) -> Option<&'static str> {
    None
}
