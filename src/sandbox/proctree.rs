//! The processes descended from one, read from /proc (Linux): what the supervisor stops and
//! what a session's memory counts.

/// The live (not yet dead) descendants of `root`, nearest first.
pub(crate) fn descendants(root: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    // (pid, parent, dead)
    let mut procs: Vec<(i32, i32, bool)> = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name, which may hold spaces and parentheses: state, then parent.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let Some(ppid) = fields.next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        procs.push((pid, ppid, matches!(state, "Z" | "X")));
    }
    let mut tree = vec![root];
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&parent) = tree.get(i) {
        for &(pid, ppid, dead) in &procs {
            if ppid == parent && !tree.contains(&pid) {
                tree.push(pid);
                if !dead {
                    out.push(pid);
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_and_its_child_are_found_and_nothing_else() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .expect("sh");
        let me = i32::try_from(std::process::id()).expect("pid");
        let sh = i32::try_from(child.id()).expect("pid");
        let mut found = Vec::new();
        for _ in 0..200 {
            found = descendants(sh);
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(found.len(), 1, "the sleep under sh: {found:?}");
        assert!(descendants(me).contains(&sh) && descendants(me).contains(&found[0]));
        for pid in found {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.wait();
    }
}
