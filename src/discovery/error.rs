//! Why no Stata was chosen, written so the user can fix it: what was searched, and
//! exactly what to set (`--stata-path`, `STATA_PATH`, an MCP client's `"env"`).

use std::fmt;
use std::path::PathBuf;

use super::os::Os;

/// Nothing runnable was found in any place searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// Every place looked in.
    pub searched: Vec<String>,
    /// Files seen and refused (GUI binaries, missing execute permission).
    pub skipped: Vec<String>,
    pub os: Os,
}

/// Why [`super::discover`] found no Stata to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    /// No explicit path, and nothing on `PATH` or in the install places.
    NotFound(NotFound),
    /// The explicit path does not exist (or is a symlink to nothing).
    ExplicitMissing {
        path: PathBuf,
        broken_symlink: bool,
        os: Os,
    },
    /// The explicit path cannot be looked at (e.g. permission denied on a folder above it).
    ExplicitUnreadable {
        path: PathBuf,
        error: String,
        os: Os,
    },
    /// The explicit path is Stata's GUI binary; `console` is the console binary beside it, if any.
    ExplicitGui {
        path: PathBuf,
        console: Option<PathBuf>,
        os: Os,
    },
    /// The explicit path is a file that cannot be executed.
    ExplicitNotExecutable { path: PathBuf, os: Os },
    /// The explicit path is a folder with no Stata binary in it.
    ExplicitFolderEmpty {
        path: PathBuf,
        searched: Vec<String>,
        skipped: Vec<String>,
        os: Os,
    },
}

impl std::error::Error for DiscoveryError {}
impl std::error::Error for NotFound {}

/// Example values for the fix-it text, in the OS's own form.
struct Examples {
    binary: &'static str,
    /// The same path as a JSON string body (backslashes doubled).
    binary_json: &'static str,
    folder: &'static str,
}

fn examples(os: Os) -> Examples {
    match os {
        Os::Linux => Examples {
            binary: "/usr/local/stata18/stata-mp",
            binary_json: "/usr/local/stata18/stata-mp",
            folder: "/usr/local/stata18",
        },
        Os::MacOs => Examples {
            binary: "/Applications/Stata/StataMP.app/Contents/MacOS/stata-mp",
            binary_json: "/Applications/Stata/StataMP.app/Contents/MacOS/stata-mp",
            folder: "/Applications/Stata",
        },
        Os::Windows => Examples {
            binary: r"C:\Program Files\Stata18\StataMP-64.exe",
            binary_json: r"C:\\Program Files\\Stata18\\StataMP-64.exe",
            folder: r"C:\Program Files\Stata18",
        },
    }
}

/// What a binary to point at looks like on `os`.
fn binary_kind(os: Os) -> &'static str {
    match os {
        Os::Linux => "the console binary (stata-mp, stata-se or stata; not xstata*)",
        Os::MacOs => {
            "the console binary inside the app bundle (Contents/MacOS/stata-mp, lower case; not the capitalised StataMP)"
        }
        Os::Windows => {
            "your edition's executable (StataMP-64.exe, StataSE-64.exe or StataBE-64.exe)"
        }
    }
}

/// The fix-it paragraph every error ends with.
fn write_fix(f: &mut fmt::Formatter<'_>, os: Os) -> fmt::Result {
    let ex = examples(os);
    let quoted = if os == Os::Windows {
        format!("\"{}\"", ex.binary)
    } else {
        ex.binary.to_string()
    };
    writeln!(
        f,
        "How to fix: point stata-mcp at {}, either with",
        binary_kind(os)
    )?;
    writeln!(f, "    --stata-path {quoted}")?;
    writeln!(
        f,
        "or the environment variable STATA_PATH. In an MCP client's configuration"
    )?;
    writeln!(
        f,
        "(e.g. claude_desktop_config.json), set it in the server's \"env\":"
    )?;
    writeln!(
        f,
        "    \"env\": {{ \"STATA_PATH\": \"{}\" }}",
        ex.binary_json
    )?;
    write!(
        f,
        "STATA_PATH may also name the install folder (e.g. {}); the best edition in it is used.",
        ex.folder
    )?;
    if os == Os::Windows {
        write!(
            f,
            "\nWindows has no console Stata: stata-mcp runs the .exe in batch mode."
        )?;
    }
    Ok(())
}

fn write_list(f: &mut fmt::Formatter<'_>, title: &str, items: &[String]) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(f, "{title}")?;
    for item in items {
        writeln!(f, "  - {item}")?;
    }
    Ok(())
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Stata was not found.")?;
        write_list(f, "Searched:", &self.searched)?;
        write_list(f, "Skipped:", &self.skipped)?;
        write_fix(f, self.os)
    }
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::NotFound(not_found) => not_found.fmt(f),
            DiscoveryError::ExplicitMissing {
                path,
                broken_symlink,
                os,
            } => {
                write!(
                    f,
                    "The Stata path given with --stata-path or STATA_PATH does not exist:\n    {}",
                    path.display()
                )?;
                if *broken_symlink {
                    write!(f, " (a symlink to a missing file)")?;
                }
                writeln!(
                    f,
                    "\nstata-mcp did not search elsewhere, so as not to run a Stata you did not ask for."
                )?;
                writeln!(
                    f,
                    "Correct the path, or unset STATA_PATH to search PATH and the usual install places."
                )?;
                write_fix(f, *os)
            }
            DiscoveryError::ExplicitUnreadable { path, error, os } => {
                writeln!(
                    f,
                    "The Stata path given with --stata-path or STATA_PATH cannot be read ({error}):\n    {}",
                    path.display()
                )?;
                write_fix(f, *os)
            }
            DiscoveryError::ExplicitGui { path, console, os } => {
                writeln!(
                    f,
                    "The Stata path given with --stata-path or STATA_PATH is Stata's GUI binary: {}",
                    path.display()
                )?;
                writeln!(
                    f,
                    "The GUI needs a window and does not run do-files as a batch process; stata-mcp needs the console binary."
                )?;
                if let Some(console) = console {
                    writeln!(f, "Use the console binary beside it: {}", console.display())?;
                }
                write_fix(f, *os)
            }
            DiscoveryError::ExplicitNotExecutable { path, os } => {
                writeln!(
                    f,
                    "The Stata path given with --stata-path or STATA_PATH is not an executable file: {}",
                    path.display()
                )?;
                if *os != Os::Windows {
                    writeln!(
                        f,
                        "Check that it is the Stata binary and has execute permission (chmod +x)."
                    )?;
                }
                write_fix(f, *os)
            }
            DiscoveryError::ExplicitFolderEmpty {
                path,
                searched,
                skipped,
                os,
            } => {
                writeln!(
                    f,
                    "The folder given with --stata-path or STATA_PATH holds no Stata binary: {}",
                    path.display()
                )?;
                write_list(f, "Searched:", searched)?;
                write_list(f, "Skipped:", skipped)?;
                write_fix(f, *os)
            }
        }
    }
}
