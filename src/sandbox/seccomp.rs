//! The system calls a sandboxed Stata may not make: sockets that reach outside (every kind in
//! `strict` mode, Unix sockets always), and io_uring, which could make them past this filter.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::plan::Plan;

/// On x86-64, the x32 ABI reaches the same calls with this bit set in their number.
const X32: i64 = 0x4000_0000;

/// Installs the filter of `plan` on this process; what it execs next keeps it.
pub(super) fn apply(plan: &Plan) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("could not set up the system-call filter: {e}");
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| fail(&e))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let socket = if plan.strict && !plan.network {
        // No network at all: no socket of any family (socketpair, which reaches no one, stays).
        Vec::new()
    } else {
        // A Unix socket reaches programs outside (a terminal multiplexer, a container
        // engine) by a path; TCP and UDP stay for `ssc install` and `net install`.
        let unix = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            libc::AF_UNIX as u64,
        )
        .map_err(|e| fail(&e))?;
        vec![SeccompRule::new(vec![unix]).map_err(|e| fail(&e))?]
    };
    let mut deny = |nr: i64, rule: Vec<SeccompRule>| {
        rules.insert(nr, rule.clone());
        if arch == TargetArch::x86_64 {
            rules.insert(nr | X32, rule);
        }
    };
    deny(libc::SYS_socket, socket);
    deny(libc::SYS_io_uring_setup, Vec::new());
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(|e| fail(&e))?;
    let program: BpfProgram = filter.try_into().map_err(|e| fail(&e))?;
    seccompiler::apply_filter(&program).map_err(|e| fail(&e))
}
