//! Stata discovery against fake install trees in temp folders, one per OS layout.
//!
//! The Windows and macOS layouts run on any host: discovery only matches names, and the
//! fake binaries are given the execute bit so the Unix check passes.

use std::fs;
use std::path::{Path, PathBuf};

use stata_mcp::{
    DiscoveryError, Edition, FoundVia, Os, SearchEnv, Version, discover, edition_from_binary_name,
};
use tempfile::TempDir;

/// Creates an executable file (and its folders).
fn exe(path: &Path) -> PathBuf {
    write_file(path, 0o755)
}

/// Creates a file without the execute bit.
#[cfg(unix)]
fn plain(path: &Path) -> PathBuf {
    write_file(path, 0o644)
}

fn write_file(path: &Path, mode: u32) -> PathBuf {
    fs::create_dir_all(path.parent().expect("has a parent")).expect("create folders");
    fs::write(path, "#!/bin/sh\n").expect("write file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(not(unix))]
    let _ = mode;
    path.to_path_buf()
}

fn path_var(dirs: &[&Path]) -> Option<std::ffi::OsString> {
    Some(std::env::join_paths(dirs).expect("join PATH"))
}

/// A Linux search rooted in the temp folder: `<tmp>/usr/local`, `<tmp>/opt`, `<tmp>/usr/local/bin`.
fn linux_env(tmp: &Path) -> SearchEnv {
    let mut env = SearchEnv::new(Os::Linux);
    env.install_roots = vec![tmp.join("usr/local"), tmp.join("opt")];
    env.bin_dirs = vec![tmp.join("usr/local/bin")];
    env
}

fn v(major: u32, minor: u32) -> Option<Version> {
    Some(Version { major, minor })
}

#[test]
fn linux_picks_newest_version_then_best_edition() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    exe(&root.join("usr/local/stata17/stata-se"));
    let mp = exe(&root.join("usr/local/statanow19/stata-mp"));
    exe(&root.join("usr/local/statanow19/xstata-mp"));
    exe(&root.join("usr/local/statanow19/stata-se"));

    let found = discover(&linux_env(root)).expect("found");
    assert_eq!(found.chosen.path, mp);
    assert_eq!(found.chosen.edition, Edition::MP);
    assert_eq!(found.chosen.version, v(19, 5));
    assert_eq!(found.chosen.source, FoundVia::InstallDir);

    let others: Vec<_> = found
        .others
        .iter()
        .map(|(i, why)| (i.path.clone(), why.clone()))
        .collect();
    assert_eq!(others.len(), 2, "{others:?}");
    assert_eq!(others[0].0, root.join("usr/local/statanow19/stata-se"));
    assert!(others[0].1.contains("lesser edition"), "{others:?}");
    assert_eq!(others[1].0, root.join("usr/local/stata17/stata-se"));
    assert!(others[1].1.contains("older version"), "{others:?}");
    // The GUI binary is never a candidate, but the trail says it was seen.
    assert!(found.skipped.iter().any(|s| s.contains("xstata-mp")));
    assert!(
        found
            .searched
            .iter()
            .any(|s| s.contains(&root.join("opt").display().to_string()))
    );
}

#[test]
fn unknown_version_ranks_last() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    exe(&root.join("usr/local/stata/stata-mp"));
    let se = exe(&root.join("opt/stata17/stata-se"));
    let found = discover(&linux_env(root)).expect("found");
    assert_eq!(found.chosen.path, se);
    assert_eq!(found.others[0].0.version, None);
    assert!(found.others[0].1.contains("version unknown"));
}

#[test]
fn basic_edition_before_17_is_ic() {
    let tmp = TempDir::new().expect("tempdir");
    exe(&tmp.path().join("usr/local/stata16/stata"));
    let found = discover(&linux_env(tmp.path())).expect("found");
    assert_eq!(found.chosen.edition, Edition::IC);
    assert_eq!(found.chosen.version, v(16, 0));
}

#[test]
fn gui_only_install_is_not_found_and_says_how_to_fix() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    exe(&root.join("usr/local/stata18/xstata-mp"));
    let bin = root.join("bin");
    fs::create_dir_all(&bin).expect("mkdir");
    let mut env = linux_env(root);
    env.path_var = path_var(&[&bin]);

    let err = discover(&env).expect_err("GUI only");
    let DiscoveryError::NotFound(not_found) = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    let message = err.to_string();
    for place in [
        bin.clone(),
        root.join("usr/local/bin"),
        root.join("usr/local/stata*"),
        root.join("opt/stata*"),
    ] {
        let place = place.display().to_string();
        assert!(
            not_found.searched.iter().any(|s| s.contains(&place)),
            "{place} not in {:?}",
            not_found.searched
        );
        assert!(message.contains(&place), "{place} not in:\n{message}");
    }
    assert!(message.contains("xstata-mp"), "{message}");
    assert!(message.contains("STATA_PATH"), "{message}");
    assert!(message.contains("--stata-path"), "{message}");
    assert!(message.contains("\"env\""), "{message}");
    assert!(message.contains("/usr/local/stata18/stata-mp"), "{message}");
}

#[test]
fn not_found_message_uses_the_os_examples() {
    let mac = discover(&SearchEnv::new(Os::MacOs)).expect_err("nothing");
    assert!(
        mac.to_string()
            .contains("/Applications/Stata/StataMP.app/Contents/MacOS/stata-mp")
    );
    let win = discover(&SearchEnv::new(Os::Windows))
        .expect_err("nothing")
        .to_string();
    assert!(
        win.contains(r"C:\Program Files\Stata18\StataMP-64.exe"),
        "{win}"
    );
    // In the JSON snippet the backslashes are escaped.
    assert!(
        win.contains(r"C:\\Program Files\\Stata18\\StataMP-64.exe"),
        "{win}"
    );
    assert!(win.contains("registry"), "{win}");
}

#[test]
fn macos_bundle_gives_the_lower_case_console_binary() {
    let tmp = TempDir::new().expect("tempdir");
    let apps = tmp.path().join("Applications");
    let macos = apps.join("Stata/StataMP.app/Contents/MacOS");
    exe(&macos.join("StataMP"));
    let console = exe(&macos.join("stata-mp"));
    let mut env = SearchEnv::new(Os::MacOs);
    env.install_roots = vec![apps];

    let found = discover(&env).expect("found");
    assert_eq!(found.chosen.path, console);
    assert_eq!(found.chosen.edition, Edition::MP);
    assert!(found.others.is_empty(), "{:?}", found.others);
    assert!(found.skipped.iter().any(|s| {
        s.ends_with("GUI binary, never run (the console binary is a lower-case stata-* file)")
            && s.contains("StataMP")
    }));
}

#[test]
fn macos_statanow_beats_older_stata_and_mp_beats_se() {
    let tmp = TempDir::new().expect("tempdir");
    let apps = tmp.path().join("Applications");
    // Stata 18 says its version only in Info.plist.
    let stata = apps.join("Stata/StataSE.app");
    exe(&stata.join("Contents/MacOS/stata-se"));
    fs::write(
        stata.join("Contents/Info.plist"),
        "<plist><dict><key>CFBundleShortVersionString</key>\n<string>18.0</string></dict></plist>",
    )
    .expect("plist");
    let now_mp = exe(&apps.join("StataNow/StataMP.app/Contents/MacOS/stata-mp"));
    exe(&apps.join("StataNow/StataSE.app/Contents/MacOS/stata-se"));
    let mut env = SearchEnv::new(Os::MacOs);
    env.install_roots = vec![apps];

    let found = discover(&env).expect("found");
    assert_eq!(found.chosen.path, now_mp);
    assert_eq!(found.chosen.version, v(19, 5));
    let versions: Vec<_> = found.others.iter().map(|(i, _)| i.version).collect();
    assert_eq!(versions, vec![v(19, 5), v(18, 0)]);
}

#[test]
fn explicit_folder_is_the_only_place_searched() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    let folder = root.join("custom/stata18");
    exe(&folder.join("stata-se"));
    let mp = exe(&folder.join("stata-mp"));
    // A newer Stata on PATH and in the install places must not be used.
    let bin = root.join("bin");
    exe(&bin.join("stata-mp"));
    exe(&root.join("usr/local/stata19/stata-mp"));
    let mut env = linux_env(root);
    env.path_var = path_var(&[&bin]);
    env.explicit = Some(folder);

    let found = discover(&env).expect("found");
    assert_eq!(found.chosen.path, mp);
    assert_eq!(found.chosen.source, FoundVia::Explicit);
    assert_eq!(found.chosen.version, v(18, 0));
    assert_eq!(found.others.len(), 1);
    assert!(
        found.searched[0].contains("custom/stata18"),
        "{:?}",
        found.searched
    );
}

#[test]
fn explicit_app_bundle_and_statanow_folder() {
    let tmp = TempDir::new().expect("tempdir");
    let now = tmp.path().join("Applications/StataNow");
    let mp = exe(&now.join("StataMP.app/Contents/MacOS/stata-mp"));
    exe(&now.join("StataMP.app/Contents/MacOS/StataMP"));
    let mut env = SearchEnv::new(Os::MacOs);

    env.explicit = Some(now.join("StataMP.app"));
    assert_eq!(discover(&env).expect("bundle").chosen.path, mp);
    env.explicit = Some(now);
    assert_eq!(discover(&env).expect("folder").chosen.path, mp);
}

#[test]
fn explicit_binary_wins_outright() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    // Any executable is accepted, e.g. a wrapper script or the test double.
    let mine = exe(&root.join("tools/stata-double"));
    exe(&root.join("usr/local/stata19/stata-mp"));
    let mut env = linux_env(root);
    env.explicit = Some(mine.clone());

    let found = discover(&env).expect("found");
    assert_eq!(found.chosen.path, mine);
    assert_eq!(found.chosen.source, FoundVia::Explicit);
    assert_eq!(found.chosen.edition, Edition::Unknown);
    assert!(found.others.is_empty());
}

#[test]
fn explicit_missing_path_is_an_error_naming_it() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    let bin = root.join("bin");
    exe(&bin.join("stata-mp"));
    let missing = root.join("usr/local/stata18/stata-mp");
    let mut env = linux_env(root);
    env.path_var = path_var(&[&bin]);
    env.explicit = Some(missing.clone());

    let err = discover(&env).expect_err("missing");
    assert!(
        matches!(err, DiscoveryError::ExplicitMissing { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("does not exist"), "{message}");
}

#[test]
fn explicit_gui_binary_is_refused_with_the_console_one_suggested() {
    let tmp = TempDir::new().expect("tempdir");
    let folder = tmp.path().join("usr/local/stata18");
    let gui = exe(&folder.join("xstata-mp"));
    let console = exe(&folder.join("stata-mp"));
    let mut env = SearchEnv::new(Os::Linux);
    env.explicit = Some(gui);

    let err = discover(&env).expect_err("GUI");
    let DiscoveryError::ExplicitGui { console: hint, .. } = &err else {
        panic!("expected ExplicitGui, got {err:?}");
    };
    assert_eq!(hint.as_deref(), Some(console.as_path()));
    let message = err.to_string();
    assert!(message.contains("GUI"), "{message}");
    assert!(
        message.contains(&console.display().to_string()),
        "{message}"
    );

    // The same on macOS with the capitalised binary.
    let macos = tmp.path().join("Stata/StataSE.app/Contents/MacOS");
    let gui = exe(&macos.join("StataSE"));
    let console = exe(&macos.join("stata-se"));
    let mut env = SearchEnv::new(Os::MacOs);
    env.explicit = Some(gui);
    let err = discover(&env).expect_err("GUI");
    assert!(
        matches!(&err, DiscoveryError::ExplicitGui { console: Some(c), .. } if *c == console),
        "{err:?}"
    );
}

#[test]
fn explicit_folder_without_stata_is_an_error() {
    let tmp = TempDir::new().expect("tempdir");
    let folder = tmp.path().join("empty");
    fs::create_dir_all(&folder).expect("mkdir");
    let mut env = SearchEnv::new(Os::Linux);
    env.explicit = Some(folder.clone());
    let err = discover(&env).expect_err("empty");
    assert!(
        matches!(err, DiscoveryError::ExplicitFolderEmpty { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&folder.display().to_string()));
}

#[cfg(unix)]
#[test]
fn non_executable_path_entry_is_skipped() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    let first = root.join("first");
    let second = root.join("second");
    let not_exec = plain(&first.join("stata-mp"));
    let se = exe(&second.join("stata-se"));
    let mut env = SearchEnv::new(Os::Linux);
    env.path_var = path_var(&[&first, &second]);

    let found = discover(&env).expect("found");
    assert_eq!(found.chosen.path, se);
    assert_eq!(found.chosen.source, FoundVia::Path);
    assert!(found.others.is_empty());
    let note = not_exec.display().to_string();
    assert!(
        found
            .skipped
            .iter()
            .any(|s| s.contains(&note) && s.contains("not executable")),
        "{:?}",
        found.skipped
    );

    // Named explicitly, it is an error, not a fallback.
    env.explicit = Some(not_exec);
    let err = discover(&env).expect_err("not executable");
    assert!(
        matches!(err, DiscoveryError::ExplicitNotExecutable { .. }),
        "{err:?}"
    );
}

#[cfg(unix)]
#[test]
fn path_symlink_into_an_install_is_one_stata_with_its_version() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    let target = exe(&root.join("usr/local/stata18/stata-mp"));
    let bin = root.join("usr/local/bin");
    fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(&target, bin.join("stata")).expect("symlink");
    let mut env = linux_env(root);
    env.path_var = path_var(&[&bin]);

    let found = discover(&env).expect("found");
    // Found first on PATH, through the link; the install folder copy is the same file.
    assert_eq!(found.chosen.path, bin.join("stata"));
    assert_eq!(found.chosen.source, FoundVia::Path);
    assert_eq!(found.chosen.edition, Edition::MP);
    assert_eq!(found.chosen.version, v(18, 0));
    assert!(found.others.is_empty(), "{:?}", found.others);
}

#[test]
fn windows_names_rank_mp_over_se_over_be() {
    let tmp = TempDir::new().expect("tempdir");
    let program_files = tmp.path().join("Program Files");
    let stata18 = program_files.join("Stata18");
    exe(&stata18.join("StataBE-64.exe"));
    exe(&stata18.join("StataSE-64.exe"));
    let mp = exe(&stata18.join("StataMP-64.exe"));
    // Not executables Stata ships: ignored.
    exe(&stata18.join("Stata.lnk"));
    let mut env = SearchEnv::new(Os::Windows);
    env.install_roots = vec![program_files, tmp.path().join("Program Files (x86)")];

    let found = discover(&env).expect("found");
    assert_eq!(found.chosen.path, mp);
    assert_eq!(found.chosen.version, v(18, 0));
    let editions: Vec<_> = found.others.iter().map(|(i, _)| i.edition).collect();
    assert_eq!(editions, vec![Edition::SE, Edition::BE]);
}

#[test]
fn windows_version_first_then_registry_and_path() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    exe(&root.join("Program Files/Stata17/StataMP-64.exe"));
    let be19 = exe(&root.join("D/StataNow19/StataBE-64.exe"));
    let path_dir = root.join("path");
    exe(&path_dir.join("StataSE-64.exe"));
    let mut env = SearchEnv::new(Os::Windows);
    env.install_roots = vec![root.join("Program Files")];
    env.registry_dirs = vec![root.join("D/StataNow19")];
    env.path_var = path_var(&[&path_dir]);

    let found = discover(&env).expect("found");
    assert_eq!(found.chosen.path, be19);
    assert_eq!(found.chosen.source, FoundVia::Registry);
    assert_eq!(found.chosen.version, v(19, 5));
    let sources: Vec<_> = found.others.iter().map(|(i, _)| i.source).collect();
    // Stata 17 MP (install folder) beats the unknown-version SE on PATH.
    assert_eq!(sources, vec![FoundVia::InstallDir, FoundVia::Path]);
}

#[test]
fn edition_names() {
    assert_eq!(edition_from_binary_name("stata-mp"), Edition::MP);
    assert_eq!(edition_from_binary_name("StataSE-64.exe"), Edition::SE);
    assert_eq!(edition_from_binary_name("StataBE-64.exe"), Edition::BE);
    assert_eq!(edition_from_binary_name("stata-sm"), Edition::SM);
    assert_eq!(Edition::MP.to_string(), "MP");
}

#[test]
fn locate_gives_the_path_or_the_message() {
    let tmp = TempDir::new().expect("tempdir");
    let mine = exe(&tmp.path().join("stata18/stata-se"));
    assert_eq!(stata_mcp::locate(Some(&mine)), Ok(mine.clone()));
    let missing = tmp.path().join("nope/stata-mp");
    let message = stata_mcp::locate(Some(&missing))
        .expect_err("missing")
        .to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("STATA_PATH"), "{message}");
}
