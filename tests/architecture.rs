//! The shape the code keeps (docs/architecture.md): no import cycle between the top-level
//! modules of `src/`, none between the files of one module, and no file over 600 lines.
//!
//! Dependencies are read from the source text: `crate::a::b` paths, `super::x` paths and
//! a `mod.rs` naming its own children. Test modules (from `#[cfg(test)]` on) and comment
//! lines are left out, as tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

/// A file as a module path: `src/log/scan.rs` is `log/scan`, `src/log/mod.rs` is `log`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts.join("/")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its test module and comment lines.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// The identifiers right after `prefix` in `code`: `prefix name` or each first name of a
/// `prefix{a, b::c}` group.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        // Part of a longer name or path (`stata::command::` is not the child `command::`).
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            names.extend(group_names(group));
        } else {
            let n = ident(rest);
            if !n.is_empty() {
                names.push(n);
            }
        }
    }
    names
}

/// The first name of each item of a `{a, b::c}` group, given the text after its `{`.
fn group_names(group: &str) -> Vec<String> {
    let end = group.find('}').unwrap_or(group.len());
    group[..end]
        .split(',')
        .map(|part| {
            part.trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

struct Tree {
    /// Module path -> its code.
    code: BTreeMap<String, String>,
    lines: BTreeMap<String, usize>,
}

impl Tree {
    fn load() -> Tree {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut code = BTreeMap::new();
        let mut lines = BTreeMap::new();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read source");
            let m = module_of(&src, &f);
            if m.is_empty() {
                continue; // lib.rs and main.rs only declare and start
            }
            lines.insert(f.display().to_string(), text.lines().count());
            code.insert(m, code_of(&text));
        }
        Tree { code, lines }
    }

    /// The module a path resolves to: the deepest one that is a file of the tree.
    fn resolve(&self, segments: &[String]) -> Option<String> {
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("/"))
            .find(|m| self.code.contains_key(m))
    }

    /// Module -> modules it uses.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (m, code) in &self.code {
            let mut deps = BTreeSet::new();
            let parts: Vec<String> = m.split('/').map(str::to_owned).collect();
            let is_dir = self.code.keys().any(|k| k.starts_with(&format!("{m}/")));
            // `crate::a::b::...`: up to two segments name a file.
            let mut rest = code.as_str();
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let segs: Vec<String> = rest
                    .split("::")
                    .take(2)
                    .map(|s| {
                        s.chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect()
                    })
                    .filter(|s: &String| !s.is_empty())
                    .collect();
                if let Some(first) = segs.first() {
                    let mut candidates = vec![segs.clone()];
                    // `crate::a::{b, c}`
                    if segs.len() == 1
                        && let Some(group) = rest[first.len()..].strip_prefix("::{")
                    {
                        for n in group_names(group) {
                            candidates.push(vec![first.clone(), n]);
                        }
                    }
                    for c in candidates {
                        if let Some(d) = self.resolve(&c) {
                            deps.insert(d);
                        }
                    }
                }
            }
            // `super::x` (from a file: a sibling, or the folder's mod.rs).
            let parent: Vec<String> = if is_dir {
                parts[..parts.len().saturating_sub(1)].to_vec()
            } else {
                parts[..parts.len() - 1].to_vec()
            };
            for n in names_after(code, "super::") {
                let mut segs = parent.clone();
                segs.push(n);
                if let Some(d) = self.resolve(&segs).or_else(|| self.resolve(&parent)) {
                    deps.insert(d);
                }
            }
            // A mod.rs using its own children by name (`batch::BatchRunner`, `use error::X`).
            if is_dir {
                for child in self
                    .code
                    .keys()
                    .filter_map(|k| k.strip_prefix(&format!("{m}/")))
                    .filter(|k| !k.contains('/'))
                {
                    if names_after(code, &format!("{child}::")).len()
                        + usize::from(code.contains(&format!("use {child}::")))
                        > 0
                    {
                        deps.insert(format!("{m}/{child}"));
                    }
                }
            }
            deps.remove(m);
            edges.insert(m.clone(), deps);
        }
        edges
    }
}

/// The cycles of `graph`: each strongly connected set of more than one node.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for d in graph.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|k| (k, reach(k))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for (a, ra) in &reaches {
        if !ra.contains(*a) {
            continue;
        }
        let mut scc: Vec<String> = ra
            .iter()
            .filter(|b| reaches.get(b).is_some_and(|rb| rb.contains(*a)))
            .cloned()
            .collect();
        scc.sort();
        if scc.len() > 1 && !found.contains(&scc) {
            found.push(scc);
        }
    }
    found
}

#[test]
fn top_level_modules_form_no_cycle() {
    let tree = Tree::load();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, deps) in tree.edges() {
        let head = |s: &str| s.split('/').next().unwrap_or(s).to_owned();
        let entry = top.entry(head(&m)).or_default();
        for d in deps {
            if head(&d) != head(&m) {
                entry.insert(head(&d));
            }
        }
    }
    // The vocabulary and the text helpers are the bottom of the tree.
    for (bottom, allowed) in [("run", &["text"][..]), ("text", &[][..])] {
        let deps = top.get(bottom).cloned().unwrap_or_default();
        assert!(
            deps.iter().all(|d| allowed.contains(&d.as_str())),
            "{bottom} uses {deps:?}"
        );
    }
    let found = cycles(&top);
    assert!(
        found.is_empty(),
        "cycles between top-level modules: {found:?}\n{top:#?}"
    );
}

#[test]
fn files_inside_a_module_form_no_cycle() {
    let tree = Tree::load();
    let edges = tree.edges();
    let found = cycles(&edges);
    assert!(found.is_empty(), "cycles between files: {found:?}");
}

#[test]
fn no_file_is_over_600_lines() {
    let tree = Tree::load();
    let big: Vec<_> = tree.lines.iter().filter(|(_, n)| **n > MAX_LINES).collect();
    assert!(big.is_empty(), "files over {MAX_LINES} lines: {big:?}");
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        names_after("use super::{a, b::c}; super::d::x", "super::"),
        vec!["a", "b", "d"]
    );
}

/// The code of every file under `src/` (test modules and comments left out), by path.
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
                .expect("under the crate")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&f).expect("read source");
            (rel, code_of(&text))
        })
        .collect()
}

#[test]
fn only_the_runner_knows_how_stata_runs() {
    // A new way of running Stata is a folder under runner/ and a variant there: nothing
    // above the runner tells the ways apart.
    let named: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| !path.starts_with("src/runner/"))
        .flat_map(|(path, code)| {
            ["Runner::Batch", "Runner::Session", "Runner::Slurm", "Way::"]
                .iter()
                .filter(|v| code.contains(*v))
                .map(|v| format!("{path}: {v}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        named.is_empty(),
        "runner variants named outside src/runner/: {named:?}"
    );
}

#[test]
fn the_service_is_three_parts_each_with_its_own_impl() {
    let scattered: Vec<String> = sources()
        .into_iter()
        .filter(|(path, code)| {
            path != "src/service/mod.rs"
                && code
                    .lines()
                    .any(|l| l.trim_start().starts_with("impl Service"))
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        scattered.is_empty(),
        "impl Service outside service/mod.rs: {scattered:?}"
    );
    // The parts are separate types over a shared core: none is `impl`ed where another lives.
    for (part, home) in [
        ("impl Calls", &["src/service/calls.rs"][..]),
        (
            "impl Background",
            &[
                "src/service/background.rs",
                "src/service/sweep.rs",
                "src/service/reattach.rs",
            ][..],
        ),
        (
            "impl Queries",
            &["src/service/queries.rs", "src/service/sessions.rs"][..],
        ),
        ("impl Record", &["src/service/record/answers.rs"][..]),
    ] {
        for (path, code) in sources() {
            let opening = format!("{part} {{");
            if code.lines().any(|l| l.trim_start().starts_with(&opening)) {
                assert!(home.contains(&path.as_str()), "{part} in {path}");
            }
        }
    }
}

#[test]
fn tool_names_are_written_once() {
    let table = "src/run/tool.rs";
    let all = sources();
    let names: Vec<String> = all
        .iter()
        .find(|(p, _)| p == table)
        .expect("the tool table")
        .1
        .lines()
        .filter_map(|l| l.split("=> \"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 10, "the table's names: {names:?}");
    let elsewhere: Vec<String> = all
        .iter()
        // A test file (`tests.rs`) may name the tools a result mentions.
        .filter(|(p, _)| p != table && !p.ends_with("/tests.rs"))
        .flat_map(|(p, code)| {
            names
                .iter()
                .filter(|n| code.contains(&format!("\"{n}\"")))
                .map(move |n| format!("{p}: \"{n}\""))
        })
        .collect();
    assert!(
        elsewhere.is_empty(),
        "tool names written outside {table}: {elsewhere:?}"
    );
}
