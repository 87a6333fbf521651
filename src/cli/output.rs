//! What a run writes: the output directory and files, checked *before* any input is read
//! ([`OutDir::prepare`], [`check_new_file`]), files written atomically ([`write_atomic`],
//! [`AtomicFile`]), the anonymiser asked for, and the end of a run on stdout. Every
//! subcommand that writes goes through here.
//!
//! `--json` means standard output: with `--json` and no `-o` nothing is written to disk;
//! `-o DIR --json` writes both. `-o -` is refused ([`parse_out_dir`]): a report is a
//! directory of files, and the one thing that goes to standard output is the JSON.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::InputError;
use crate::report::anonymize::Anonymizer;
use crate::report::{self, Report};

/// The anonymiser for `--anonymize` / `--anonymize-key FILE` / `--anonymize-key-out FILE`,
/// if any was given. A random key is written to `key_out` (64 hex digits, mode 0600, an
/// existing file needs `force`) before any input is read, so the pseudonyms can be
/// reproduced (`--anonymize-key FILE`) or reversed by whoever holds it.
pub fn anonymizer(
    wanted: bool,
    key_file: Option<&Path>,
    key_out: Option<&Path>,
    force: bool,
) -> anyhow::Result<Option<Anonymizer>> {
    let key = match (key_file, wanted || key_out.is_some()) {
        (Some(path), _) => {
            if key_out.is_some() {
                return Err(super::UsageError(
                    "--anonymize-key-out writes the random key of --anonymize; with --anonymize-key the key is already in a file".into(),
                )
                .into());
            }
            let bytes = fs::read(path)
                .with_context(|| format!("cannot read key file {}", path.display()))?;
            Anonymizer::key_from_bytes(&bytes)
                .map_err(|e| InputError(format!("{}: {e}", path.display())))?
        }
        (None, true) => {
            let key = Anonymizer::random_key().context("no random key available")?;
            if let Some(out) = key_out {
                write_key(out, &key, force)?;
            }
            key
        }
        (None, false) => return Ok(None),
    };
    Ok(Some(Anonymizer::new(&key)))
}

/// Writes a key as 64 hex digits and a newline, readable by its owner only.
fn write_key(path: &Path, key: &[u8], force: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    check_new_file(path, force, "--anonymize-key-out")?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(f, "{hex}")
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// clap's parser of `-o DIR`: `-` is refused with what to do instead.
pub fn parse_out_dir(text: &str) -> Result<PathBuf, String> {
    if text == "-" {
        return Err(
            "'-': -o takes a directory (the report is several files); for the report on standard output use --json without -o".into(),
        );
    }
    if text.is_empty() {
        return Err("an empty directory name".into());
    }
    Ok(PathBuf::from(text))
}

/// An output directory checked and created before any input is read. If the run ends
/// without [`OutDir::keep`] (an error, nothing to report), a directory this run created is
/// removed again, so a failed run leaves nothing behind.
#[derive(Debug)]
pub struct OutDir {
    path: PathBuf,
    created: bool,
    kept: bool,
}

impl OutDir {
    /// Refuses to mix a run's files with an earlier run's (a directory that exists and holds
    /// anything needs `force`), creates the directory and proves it writable.
    pub fn prepare(out: &Path, force: bool) -> anyhow::Result<OutDir> {
        let existed = out.exists();
        if existed && !out.is_dir() {
            anyhow::bail!("{} exists and is not a directory", out.display());
        }
        if let Ok(mut entries) = fs::read_dir(out) {
            if entries.next().is_some() && !force {
                anyhow::bail!(
                    "{} exists and is not empty: use --force to overwrite its reports, or -o to choose another directory",
                    out.display()
                );
            }
        }
        fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let dir = OutDir {
            path: out.to_path_buf(),
            created: !existed,
            kept: false,
        };
        probe_writable(out)?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run wrote its files: keep the directory.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if self.created && !self.kept {
            // Only an empty directory goes: anything in it stays.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// Proves that files can be created in `dir` (permissions, a read-only file system, a full
/// quota show up now, not after the input was read).
fn probe_writable(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(format!(".peerscope-probe-{}", std::process::id()));
    fs::File::create(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .with_context(|| format!("cannot write in {}", dir.display()))
}

/// Checks, before any input is read, that a file given by name (`-w`, `--flows`) can be
/// written: an existing file needs `force`, and its directory must exist and be writable.
pub fn check_new_file(path: &Path, force: bool, option: &str) -> anyhow::Result<()> {
    if path.exists() && !force {
        anyhow::bail!(
            "{} exists: use --force to overwrite it, or {option} to name another file",
            path.display()
        );
    }
    if path.is_dir() {
        anyhow::bail!("{option} {}: is a directory", path.display());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "{option} {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    probe_writable(dir)
}

/// The default output directory for a run: `reports/<stem of the first file>` (a
/// compression suffix is dropped first: `x.pcap.gz` gives `reports/x`).
pub fn default_out_dir(first: &str) -> PathBuf {
    let stem = if first == "-" {
        "stdin".to_string()
    } else {
        let path = Path::new(first);
        let path = match path.extension().and_then(|e| e.to_str()) {
            Some("gz" | "zst" | "xz") => path.with_extension(""),
            _ => path.to_path_buf(),
        };
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "capture".into())
    };
    Path::new("reports").join(stem)
}

/// A file written through a temporary file beside it and renamed into place on
/// [`AtomicFile::commit`]; dropped uncommitted, the temporary file is removed and `path` is
/// untouched. For outputs written as a stream (`simulate`'s captures).
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<fs::File>>,
}

impl AtomicFile {
    /// Creates the temporary file for `path`.
    pub fn create(path: &Path) -> anyhow::Result<AtomicFile> {
        let tmp = tmp_path(path);
        let file =
            fs::File::create(&tmp).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The writer (buffered).
    pub fn writer(&mut self) -> anyhow::Result<&mut BufWriter<fs::File>> {
        self.file
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("{} was already committed", self.path.display()))
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let path = self.path.clone();
        let result = (|| -> std::io::Result<()> {
            if let Some(w) = self.file.take() {
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
            }
            fs::rename(&self.tmp, &self.path)
        })();
        result.with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.tmp.exists() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir.join(format!(".{name}.tmp{}", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = tmp_path(path);
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

/// Refuses to report on a capture of which not one packet could be decoded (exit code 2):
/// checked before anything is written.
pub fn check_decoded(report: &Report, names: &str) -> Result<(), InputError> {
    if report.capture.decoded_packets == 0 {
        return Err(InputError(format!(
            "{names}: none of {} packets could be decoded; no report written",
            report.capture.packets
        )));
    }
    Ok(())
}

/// The end of a run: the JSON (`--json`) or the human summary (unless `quiet`) on stdout,
/// with the paths written (`(label, path)`).
pub fn print_outcome(
    report: &Report,
    json: &[u8],
    as_json: bool,
    quiet: bool,
    written: &[(&str, &Path)],
) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if as_json {
        lock.write_all(json)?;
    } else if !quiet {
        report::text::write(report, &mut lock)?;
        for (label, path) in written {
            writeln!(lock, "{label:<9} {}", path.display())?;
        }
    }
    lock.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// How much a run says on stderr and stdout: `-q`, `-v`, `--no-progress`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Chatter {
    /// No progress line and no summary (warnings and errors are still printed)
    #[arg(short = 'q', long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also say what was read from each input, how many passes, and how long it took
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// No progress line on stderr
    #[arg(long)]
    pub no_progress: bool,
}

impl Chatter {
    /// Whether a progress line may be drawn (it is only on a terminal).
    pub fn progress(&self) -> bool {
        !self.quiet && !self.no_progress
    }
}
