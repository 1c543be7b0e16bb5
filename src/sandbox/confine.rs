//! Confines this process (then Stata, which it becomes) to a [`Plan`]: Landlock for files,
//! execution, signals and TCP; seccomp for the sockets Landlock does not cover.

use super::plan::Plan;

pub(super) fn apply(plan: &Plan) -> Result<(), String> {
    super::landlock::apply(plan)?;
    super::seccomp::apply(plan)
}
