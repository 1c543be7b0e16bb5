//! The Landlock rules of a [`Plan`], applied to this process (which then execs Stata).

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, path_beneath_rules,
};

use super::plan::Plan;

/// The newest ABI the crate knows; the kernel's own may be older, and rules degrade to it.
const NEWEST: ABI = ABI::V6;

/// The ABI the kernel offers, as it reports it.
pub fn abi() -> Result<u8, String> {
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
pub fn apply(plan: &Plan) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("could not set up the sandbox: {e}");
    let all = AccessFs::from_all(NEWEST);
    let read = AccessFs::from_read(NEWEST);
    let mut ruleset = Ruleset::default()
        .handle_access(all)
        .map_err(|e| fail(&e))?;
    if plan.strict && !plan.network {
        // Only where the kernel can (ABI 4+); older kernels let connections through.
        ruleset = ruleset
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessNet::ConnectTcp)
            .map_err(|e| fail(&e))?;
    }
    let mut created = ruleset.create().map_err(|e| fail(&e))?;
    let readable: Vec<&std::path::Path> = if plan.strict {
        plan.read.iter().map(|p| p.as_path()).collect()
    } else {
        vec![std::path::Path::new("/")]
    };
    created = created
        .add_rules(path_beneath_rules(
            readable.iter().filter(|p| p.exists()),
            read,
        ))
        .map_err(|e| fail(&e))?;
    let writable: Vec<&std::path::PathBuf> = plan.write.iter().filter(|p| p.exists()).collect();
    created = created
        .add_rules(path_beneath_rules(writable, all))
        .map_err(|e| fail(&e))?;
    // Writing to the null device and the terminal is no write to the user's files.
    created = created
        .add_rules(path_beneath_rules(
            ["/dev/null", "/dev/tty", "/dev/pts"]
                .iter()
                .filter(|p| std::path::Path::new(p).exists()),
            all,
        ))
        .map_err(|e| fail(&e))?;
    let status = created.restrict_self().map_err(|e| fail(&e))?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err("could not set up the sandbox: the kernel did not enforce it".to_owned());
    }
    Ok(())
}
