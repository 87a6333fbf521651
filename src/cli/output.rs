//! What a run writes: the output directory (checked before anything is read into it), files
//! written atomically, the anonymiser asked for, and the end of a run on stdout. Every
//! subcommand that writes goes through here.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::InputError;
use crate::report::anonymize::Anonymizer;
use crate::report::{self, Report};

/// The anonymiser for `--anonymize` / `--anonymize-key FILE`, if either was given.
pub fn anonymizer(wanted: bool, key_file: Option<&Path>) -> anyhow::Result<Option<Anonymizer>> {
    let key = match (key_file, wanted) {
        (Some(path), _) => {
            let bytes = fs::read(path)
                .with_context(|| format!("cannot read key file {}", path.display()))?;
            Anonymizer::key_from_bytes(&bytes)
                .map_err(|e| InputError(format!("{}: {e}", path.display())))?
        }
        (None, true) => Anonymizer::random_key().context("no random key available")?,
        (None, false) => return Ok(None),
    };
    Ok(Some(Anonymizer::new(&key)))
}

/// Refuses to mix a run's files with an earlier run's: a directory that exists and holds
/// anything needs `--force`.
pub fn prepare_out_dir(out: &Path, force: bool) -> anyhow::Result<()> {
    if let Ok(mut entries) = fs::read_dir(out) {
        if entries.next().is_some() && !force {
            anyhow::bail!(
                "{} exists and is not empty: use --force to overwrite its reports, or -o to choose another directory",
                out.display()
            );
        }
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))
}

/// The default output directory for a run: `reports/<stem of the first file>`.
pub fn default_out_dir(first: &str) -> PathBuf {
    let stem = if first == "-" {
        "stdin".to_string()
    } else {
        Path::new(first)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "capture".into())
    };
    Path::new("reports").join(stem)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// The end of a run that wrote a report: the JSON or the human summary on stdout with the
/// paths written (`(label, path)`), then exit code 2 if not one packet could be decoded.
pub fn print_outcome(
    report: &Report,
    json: &[u8],
    as_json: bool,
    written: &[(&str, &Path)],
    names: &str,
) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if as_json {
        lock.write_all(json)?;
    } else {
        report::text::write(report, &mut lock)?;
        for (label, path) in written {
            writeln!(lock, "{label:<9} {}", path.display())?;
        }
    }
    lock.flush()?;
    if report.capture.decoded_packets == 0 {
        return Err(InputError(format!(
            "{names}: none of {} packets could be decoded",
            report.capture.packets
        ))
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
