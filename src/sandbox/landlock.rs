//! The Landlock rules of a [`Plan`], applied to this process (which then execs Stata): what
//! it may read, write and execute, and that its signals and abstract sockets stay inside.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};

use super::plan::Plan;

/// The newest ABI the crate knows; the kernel's own may be older, and rules degrade to it.
const NEWEST: ABI = ABI::V10;

/// Device files Stata may use: no terminal (a terminal takes keystrokes, TIOCSTI), no disk.
const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The ABI the kernel offers, as it reports it.
pub(super) fn abi() -> Result<u8, String> {
    const VERSION: nix::libc::c_uint = 1; // LANDLOCK_CREATE_RULESET_VERSION
    // SAFETY: with a null attribute, size 0 and the VERSION flag the call only returns the
    // ABI number (or -1 with errno); it reads and writes no memory of ours.
    let v = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            VERSION,
        )
    };
    match u8::try_from(v) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "this kernel has no Landlock ({}; it needs Linux 5.13 or later with Landlock enabled)",
            std::io::Error::last_os_error()
        )),
    }
}

/// Confines this process to `plan`; what it execs next is confined too.
pub(super) fn apply(plan: &Plan) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("could not set up the sandbox: {e}");
    let all = AccessFs::from_all(NEWEST);
    let execute = AccessFs::Execute;
    // Reading never includes executing: that is granted apart, to Stata's own files.
    let read = AccessFs::from_read(NEWEST) & !execute;
    // Writing: everything but executing and (where handled) ioctl on devices.
    let write = all & !execute & !AccessFs::IoctlDev;
    let mut handled = all;
    if plan.exec.is_none() {
        // --allow-shell: programs may start; the file limits still hold for them.
        handled &= !execute;
    }
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(handled)
        .map_err(|e| fail(&e))?
        // Signals and abstract sockets reach only processes of this sandbox (ABI 6+).
        .scope(Scope::from_all(NEWEST))
        .map_err(|e| fail(&e))?;
    if plan.strict && !plan.network {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(NEWEST))
            .map_err(|e| fail(&e))?;
    }
    let mut created = ruleset.create().map_err(|e| fail(&e))?;
    let readable = if plan.strict {
        plan.read.clone()
    } else {
        everything_but_devices()
    };
    created = created
        .add_rules(path_beneath_rules(
            readable.iter().filter(|p| p.exists()),
            read,
        ))
        .map_err(|e| fail(&e))?
        .add_rules(path_beneath_rules(
            plan.write.iter().filter(|p| p.exists()),
            write,
        ))
        .map_err(|e| fail(&e))?
        .add_rules(path_beneath_rules(
            DEVICES.iter().filter(|p| Path::new(p).exists()),
            read | AccessFs::WriteFile,
        ))
        .map_err(|e| fail(&e))?;
    if let Some(exec) = &plan.exec {
        created = created
            .add_rules(path_beneath_rules(
                exec.iter().filter(|p| p.exists()),
                read | execute,
            ))
            .map_err(|e| fail(&e))?;
    }
    let status = created.restrict_self().map_err(|e| fail(&e))?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err("could not set up the sandbox: the kernel did not enforce it".to_owned());
    }
    Ok(())
}

/// Every top-level folder but `/dev`: in `write` mode Stata reads what the user can, but
/// opens no terminal or disk device.
fn everything_but_devices() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/") else {
        return vec![PathBuf::from("/")];
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != Path::new("/dev"))
        .collect()
}
