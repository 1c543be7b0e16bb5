//! `stata-mcp config`: prints the client configuration that starts this server, or merges it safely into the client's file.
//!
//! A merge never loses what is there: other servers and keys are kept, the file is backed
//! up first, the new text goes to a temp file in the same folder that is then renamed over
//! the old one (so a crash leaves the old file or the new, never half of one), and a file
//! that is not valid JSON is refused rather than overwritten.

use std::io::{self, Write as _};
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use serde_json::{Map, Value, json};

use super::config_file::{SERVERS_KEY, merge_into_file, pretty};
use super::this_binary;
use crate::cli::{Client, ConfigArgs, ServerOptions};
use crate::discovery::{FoundVia, SearchEnv, discover};
use crate::settings::absolute;

/// Prints or writes the configuration; returns the process exit code (0 ok, 1 failed).
pub fn config(opts: &ServerOptions, args: &ConfigArgs, matches: &ArgMatches) -> u8 {
    match try_config(opts, args, matches) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("stata-mcp config: {e}");
            1
        }
    }
}

fn try_config(opts: &ServerOptions, args: &ConfigArgs, matches: &ArgMatches) -> Result<(), String> {
    if args.name.trim().is_empty() {
        return Err("--name must not be empty: it is the server's name in the client".into());
    }
    let options = chosen_options(matches)?;
    let launch = match &args.ssh {
        Some(host) => over_ssh(host, args.remote_binary.as_deref(), &options)?,
        None => Launch {
            command: this_binary()?,
            options,
        },
    };
    let remote = args.ssh.is_some();
    let entry = launch.entry(args.client);
    if args.write {
        let path = match &args.config_file {
            Some(p) => {
                absolute(p).map_err(|e| format!("could not resolve {}: {e}", p.display()))?
            }
            None => default_config_file(args.client)?,
        };
        let report = merge_into_file(&path, &args.name, entry)?;
        eprintln!("{report}");
        if !remote {
            warn_about_stata(opts);
        }
        eprintln!("{}", after_write(args.client));
        return Ok(());
    }
    let text = match args.client {
        Client::ClaudeCode if !args.json => launch.claude_mcp_add(&args.name),
        _ => {
            let mut servers = Map::new();
            servers.insert(args.name.clone(), entry);
            let mut doc = Map::new();
            doc.insert(SERVERS_KEY.into(), Value::Object(servers));
            pretty(&Value::Object(doc))
        }
    };
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("could not write to stdout: {e}"))?;
    let place = default_config_file(args.client)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("(unknown: {e})"));
    let hint = match args.client {
        Client::ClaudeCode if !args.json => format!(
            "Run the command above to add the server for all your projects, or write it into \
             {place} with: {}",
            this_command_with_write()
        ),
        _ => format!(
            "Merge this into \"{SERVERS_KEY}\" in {place}, or let stata-mcp do it (keeping \
             your other servers, with a backup): {}",
            this_command_with_write()
        ),
    };
    eprintln!("{hint}");
    if !remote {
        warn_about_stata(opts);
    }
    Ok(())
}

/// The client starts `ssh -T -o BatchMode=yes HOST 'stata-mcp --mode slurm ...'`: the
/// server runs on `host` (a login node), its stdio carried by ssh. Every option becomes a
/// flag (ssh does not carry the environment), each quoted for the remote POSIX shell, which
/// reads the command as one line.
fn over_ssh(host: &str, binary: Option<&str>, options: &ChosenOptions) -> Result<Launch, String> {
    if host.trim().is_empty() || host.starts_with('-') || host.contains(char::is_whitespace) {
        return Err(format!(
            "--ssh {host:?} is not a host name: give the host as ssh knows it (user@host, or a \
             Host alias from ~/.ssh/config)"
        ));
    }
    let mut words = vec![posix_quote(binary.unwrap_or("stata-mcp"))];
    if !options.flags.iter().any(|f| f == "--mode") {
        words.extend(["--mode".to_owned(), "slurm".to_owned()]);
    }
    words.extend(options.flags.iter().map(|f| posix_quote(f)));
    Ok(Launch {
        command: PathBuf::from("ssh"),
        options: ChosenOptions {
            env: Vec::new(),
            // BatchMode: fail at once rather than wait for a password nobody can type.
            args: vec![
                "-T".into(),
                "-o".into(),
                "BatchMode=yes".into(),
                host.to_owned(),
                words.join(" "),
            ],
            flags: Vec::new(),
        },
    })
}

/// `word` for a POSIX shell, quoted only when needed: inside single quotes nothing is
/// special; a quote itself is closed, escaped, reopened.
fn posix_quote(word: &str) -> String {
    if is_plain(word) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command the user just typed, with every option they gave, plus `--write`: a hint
/// followed literally writes the same entry that was printed.
fn this_command_with_write() -> String {
    let mut words: Vec<String> = vec!["stata-mcp".into()];
    words.extend(
        std::env::args_os()
            .skip(1)
            .map(|a| shell_quote(&a.to_string_lossy())),
    );
    words.push("--write".into());
    words.join(" ")
}

fn after_write(client: Client) -> &'static str {
    match client {
        Client::ClaudeDesktop => {
            "Quit Claude Desktop completely and start it again to load the server."
        }
        Client::Cursor => {
            "Cursor loads it on its own; if not, toggle the server in Settings > MCP or restart Cursor."
        }
        Client::ClaudeCode => "Start a new Claude Code session; `/mcp` lists the server.",
    }
}

/// How the client should start the server.
struct Launch {
    command: PathBuf,
    options: ChosenOptions,
}

/// The server options that differ from their defaults, as the client must pass them.
#[derive(Debug, Default, PartialEq)]
struct ChosenOptions {
    /// Options with an environment variable: `(variable, value)`.
    env: Vec<(String, String)>,
    /// Options without one, passed on the command line.
    args: Vec<String>,
    /// Every option as command-line flags (for a server started over ssh).
    flags: Vec<String>,
}

impl Launch {
    fn entry(&self, client: Client) -> Value {
        let mut entry = Map::new();
        if client == Client::ClaudeCode {
            entry.insert("type".into(), json!("stdio"));
        }
        entry.insert(
            "command".into(),
            json!(self.command.to_string_lossy().into_owned()),
        );
        entry.insert("args".into(), json!(self.options.args));
        if !self.options.env.is_empty() {
            let env: Map<String, Value> = self
                .options
                .env
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            entry.insert("env".into(), Value::Object(env));
        }
        Value::Object(entry)
    }

    /// `claude mcp add --transport stdio --scope user NAME --env K=V -- /path/stata-mcp ARGS`.
    fn claude_mcp_add(&self, name: &str) -> String {
        let mut words = vec![
            "claude".to_owned(),
            "mcp".into(),
            "add".into(),
            "--transport".into(),
            "stdio".into(),
            "--scope".into(),
            "user".into(),
            shell_quote(name),
        ];
        for (k, v) in &self.options.env {
            words.push("--env".into());
            words.push(shell_quote(&format!("{k}={v}")));
        }
        words.push("--".into());
        words.push(shell_quote(&self.command.to_string_lossy()));
        words.extend(self.options.args.iter().map(|a| shell_quote(a)));
        let mut line = words.join(" ");
        line.push('\n');
        line
    }
}

/// Quotes a word for the user's shell: POSIX single quotes, or double quotes on Windows.
fn shell_quote(word: &str) -> String {
    if cfg!(windows) && !is_plain(word) {
        format!("\"{}\"", word.replace('"', "\\\""))
    } else {
        posix_quote(word)
    }
}

/// Whether `word` means the same to a shell unquoted.
fn is_plain(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
}

/// Every server option whose value did not come from its default: given on this command
/// line or set in this shell's environment. Both must reach the client, which starts the
/// server without this shell's environment. Read from clap's own list of the options, so
/// an option added later is carried too.
fn chosen_options(matches: &ArgMatches) -> Result<ChosenOptions, String> {
    // Global options are propagated to the subcommand's matches.
    let matches = matches
        .subcommand()
        .map_or(matches, |(_, sub_matches)| sub_matches);
    let definitions = ServerOptions::augment_args(clap::Command::new("stata-mcp"));
    let mut chosen = ChosenOptions::default();
    for arg in definitions.get_arguments() {
        let id = arg.get_id().as_str();
        match matches.value_source(id) {
            Some(ValueSource::CommandLine | ValueSource::EnvVariable) => {}
            _ => continue,
        }
        let values: Vec<String> = if let Ok(Some(flag)) = matches.try_get_one::<bool>(id) {
            if !*flag {
                continue;
            }
            vec!["true".to_owned()]
        } else if let Ok(Some(path)) = matches.try_get_one::<PathBuf>(id) {
            // The client starts the server in a folder of its own: relative paths would break.
            vec![
                absolute(path)
                    .map_err(|e| format!("could not make {} absolute: {e}", path.display()))?
                    .to_string_lossy()
                    .into_owned(),
            ]
        } else {
            matches
                .get_raw(id)
                .map(|vals| vals.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default()
        };
        let long = arg.get_long().unwrap_or(id);
        // On a command line a repeatable option is repeated, once per value.
        let as_flags = values.iter().flat_map(|v| {
            std::iter::once(format!("--{long}")).chain((v != "true").then(|| v.clone()))
        });
        let as_flags: Vec<String> = as_flags.collect();
        chosen.flags.extend(as_flags.iter().cloned());
        // A variable holds one value, or several where the option splits its value.
        let delimiter = arg.get_value_delimiter();
        match arg.get_env() {
            Some(var) if values.len() == 1 || delimiter.is_some() => {
                let joint = delimiter.map_or_else(String::new, String::from);
                chosen
                    .env
                    .push((var.to_string_lossy().into_owned(), values.join(&joint)));
            }
            _ => chosen.args.extend(as_flags),
        }
    }
    Ok(chosen)
}

/// Tells the user (on stderr) when the configuration will not find Stata from the client.
fn warn_about_stata(opts: &ServerOptions) {
    let explicit = opts.stata_path.is_some();
    match discover(&SearchEnv::from_system(opts.stata_path.clone())) {
        Ok(found) if !explicit && found.chosen.source == FoundVia::Path => eprintln!(
            "note: Stata was found on your shell's PATH ({}); MCP clients often start servers \
             without that PATH. To be sure, add --stata-path {}",
            found.chosen.path.display(),
            shell_quote(&found.chosen.path.to_string_lossy())
        ),
        Ok(_) => {}
        Err(e) if explicit => eprintln!(
            "warning: the Stata path given does not work yet; the configuration is written \
             with it anyway.\n{e}"
        ),
        Err(_) => eprintln!(
            "warning: no Stata was found from here; the server will look again at each call. \
             Run `stata-mcp doctor` for where it looked, and add --stata-path to pin one."
        ),
    }
}

/// The client's configuration file at its standard place on this OS.
pub(crate) fn default_config_file(client: Client) -> Result<PathBuf, String> {
    let home = home_dir()?;
    Ok(match client {
        // Electron apps keep their folder in the OS's config folder (XDG_CONFIG_HOME or
        // ~/.config, ~/Library/Application Support, %APPDATA%).
        Client::ClaudeDesktop => dirs::config_dir()
            .unwrap_or_else(|| home.join(".config"))
            .join("Claude")
            .join("claude_desktop_config.json"),
        Client::Cursor => home.join(".cursor").join("mcp.json"),
        // User scope, shared by all projects: the top-level "mcpServers" of ~/.claude.json.
        Client::ClaudeCode => home.join(".claude.json"),
    })
}

fn home_dir() -> Result<PathBuf, String> {
    dirs::home_dir().filter(|p| p.is_absolute()).ok_or_else(|| {
        let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
        format!(
            "the home folder is not known ({var} is not set), so the client's configuration \
                 file cannot be located; name it with --config-file or STATA_MCP_CONFIG_FILE"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ssh_entry_runs_the_server_on_the_host_with_every_option_as_a_flag() {
        let options = ChosenOptions {
            env: vec![("STATA_MCP_LOG_DIR".into(), "/home/me/stata logs".into())],
            args: Vec::new(),
            flags: vec![
                "--log-dir".into(),
                "/home/me/stata logs".into(),
                "--slurm-setup".into(),
                "module load stata/18".into(),
            ],
        };
        let launch =
            over_ssh("me@login.hpc.edu", Some("/home/me/bin/stata-mcp"), &options).expect("a host");
        let entry = launch.entry(Client::ClaudeDesktop);
        assert_eq!(entry["command"], "ssh");
        assert_eq!(
            entry["args"],
            json!([
                "-T",
                "-o",
                "BatchMode=yes",
                "me@login.hpc.edu",
                "/home/me/bin/stata-mcp --mode slurm --log-dir '/home/me/stata logs' \
                 --slurm-setup 'module load stata/18'"
            ])
        );
        assert!(
            entry.get("env").is_none(),
            "ssh carries no environment: {entry}"
        );
        for bad in ["", "-oProxyCommand=x", "two words"] {
            assert!(over_ssh(bad, None, &options).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("stata"), "stata");
        assert_eq!(
            shell_quote("STATA_PATH=/usr/local/stata18/stata-mp"),
            "STATA_PATH=/usr/local/stata18/stata-mp"
        );
        if !cfg!(windows) {
            assert_eq!(
                shell_quote("/Users/o'brien/My Stata"),
                r"'/Users/o'\''brien/My Stata'"
            );
        }
    }
}
