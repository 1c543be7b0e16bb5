//! The job script and the `sbatch` command line of a run: only paths the server made and the
//! administrator's own settings reach the shell, each quoted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::run::files::WRAPPER_FILE;
use crate::settings::SlurmSettings;

/// File name of the job script in a run's (or a sweep's) folder.
pub(crate) const JOB_SCRIPT: &str = "job.sh";
/// The job's own stdout and stderr (`sbatch --output`): the shell's errors, SLURM's notices.
pub(crate) const JOB_OUTPUT: &str = "slurm.out";
/// A sweep's task `N` writes its stdout and stderr here, in the sweep's folder.
pub(crate) const ARRAY_OUTPUT: &str = "slurm-%a.out";

/// The output file of array task `index` in a sweep's folder.
pub(crate) fn array_output(sweep_dir: &Path, index: usize) -> PathBuf {
    sweep_dir.join(ARRAY_OUTPUT.replace("%a", &index.to_string()))
}

/// `text` as one word for a POSIX shell: in single quotes, a quote written `'\''`.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The job script: the setup lines, then Stata in batch mode on the run's wrapper, in the
/// run's folder. With several folders (a sweep), the array task's index picks its folder.
pub(crate) fn job_script(setup: &[String], stata: &Path, run_dirs: &[PathBuf]) -> String {
    let mut s = String::from(
        "#!/bin/sh\n# Written by stata-mcp: runs Stata in batch mode on the run's wrapper do-file.\n",
    );
    for line in setup {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    match run_dirs {
        [one] => {
            let _ = writeln!(s, "cd {} || exit 1", shell_quote(&one.to_string_lossy()));
        }
        many => {
            s.push_str("case \"$SLURM_ARRAY_TASK_ID\" in\n");
            for (i, dir) in many.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{i}) cd {} || exit 1 ;;",
                    shell_quote(&dir.to_string_lossy())
                );
            }
            s.push_str("*) echo \"stata-mcp: no task $SLURM_ARRAY_TASK_ID in this sweep\" >&2; exit 2 ;;\nesac\n");
        }
    }
    let _ = writeln!(
        s,
        "{} -q -b do {WRAPPER_FILE}",
        shell_quote(&stata.to_string_lossy())
    );
    s
}

/// What one submission is.
pub(crate) struct Submission<'a> {
    /// Where the job starts (`--chdir`) and its script lies.
    pub dir: &'a Path,
    /// `--job-name`.
    pub name: String,
    /// `--output`.
    pub output: PathBuf,
    /// A sweep: `--array=0-(tasks-1)%parallel`.
    pub array: Option<(usize, usize)>,
}

/// The arguments of `sbatch` for `sub` under `settings`.
pub(crate) fn sbatch_args(settings: &SlurmSettings, sub: &Submission<'_>) -> Vec<String> {
    let mut args = vec![
        "--parsable".to_owned(),
        format!("--chdir={}", sub.dir.display()),
        format!("--job-name={}", sub.name),
        format!("--output={}", sub.output.display()),
    ];
    if let Some((tasks, parallel)) = sub.array {
        args.push(format!(
            "--array=0-{}%{}",
            tasks.saturating_sub(1),
            parallel.max(1)
        ));
    }
    let opt = |flag: &str, v: &Option<String>| v.as_ref().map(|v| format!("--{flag}={v}"));
    args.extend(opt("partition", &settings.partition));
    args.extend(opt("account", &settings.account));
    args.extend(opt("time", &settings.time));
    args.extend(opt("mem", &settings.mem));
    args.extend(settings.cpus.map(|c| format!("--cpus-per-task={c}")));
    args.extend(settings.sbatch_args.iter().cloned());
    args.push(sub.dir.join(JOB_SCRIPT).display().to_string());
    args
}

/// The job id `sbatch --parsable` printed (`123`, or `123;cluster` on a federation).
pub(crate) fn parse_job_id(stdout: &str) -> Option<String> {
    let id = stdout.trim().lines().last()?.split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_quote_every_path() {
        let s = job_script(
            &["module load stata/18".into()],
            Path::new("/opt/stata 18/stata-mp"),
            &[PathBuf::from("/logs/runs/it's")],
        );
        assert!(s.contains("\nmodule load stata/18\n"), "{s}");
        assert!(s.contains("cd '/logs/runs/it'\\''s' || exit 1\n"), "{s}");
        assert!(
            s.ends_with("'/opt/stata 18/stata-mp' -q -b do run.do\n"),
            "{s}"
        );
        let s = job_script(&[], Path::new("stata"), &["/a".into(), "/b".into()]);
        assert!(
            s.contains("0) cd '/a' || exit 1 ;;\n1) cd '/b' || exit 1 ;;\n"),
            "{s}"
        );
    }

    #[test]
    fn sbatch_gets_the_settings_and_the_array() {
        let settings = SlurmSettings {
            partition: Some("short".into()),
            mem: Some("4G".into()),
            cpus: Some(4),
            sbatch_args: vec!["--qos=low".into()],
            ..Default::default()
        };
        let dir = Path::new("/l/runs/r1");
        let args = sbatch_args(
            &settings,
            &Submission {
                dir,
                name: "stata-mcp-r1".into(),
                output: dir.join(ARRAY_OUTPUT),
                array: Some((10, 3)),
            },
        );
        assert_eq!(
            args,
            [
                "--parsable",
                "--chdir=/l/runs/r1",
                "--job-name=stata-mcp-r1",
                "--output=/l/runs/r1/slurm-%a.out",
                "--array=0-9%3",
                "--partition=short",
                "--mem=4G",
                "--cpus-per-task=4",
                "--qos=low",
                "/l/runs/r1/job.sh"
            ]
        );
        assert_eq!(parse_job_id("42\n"), Some("42".into()));
        assert_eq!(parse_job_id("42;cluster\n"), Some("42".into()));
        assert_eq!(parse_job_id("sbatch: error"), None);
        assert_eq!(array_output(dir, 3), dir.join("slurm-3.out"));
    }
}
