//! `peerscope plot`: re-renders the figures and the HTML page of a `report.json` alone, and
//! [`write_all`], which `analyze` also calls to write them beside the report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::output::write_atomic;
use super::InputError;
use crate::report::{self, Report};

/// Arguments of `plot`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  peerscope plot reports/sopcast/report.json\n  peerscope plot out/report.json -o figures/"
)]
pub struct PlotArgs {
    /// A report.json written by `peerscope analyze`
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// Output directory for the figures and index.html (default: the report's directory)
    #[arg(short = 'o', long = "out", value_name = "DIR", value_parser = super::output::parse_out_dir)]
    pub out: Option<PathBuf>,
}

/// Renders every figure and `index.html` of `report` into `dir` (which must exist), each file
/// written through a temporary file and a rename. Returns the paths written, figures first.
pub fn write_all(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let figures = report::svg::render(report)?;
    let mut written = Vec::with_capacity(figures.len() + 1);
    for fig in &figures {
        let path = dir.join(fig.file_name());
        write_atomic(&path, fig.svg.as_bytes())?;
        written.push(path);
    }
    let mut html = Vec::new();
    report::html::write(report, &figures, &mut html)?;
    let path = dir.join("index.html");
    write_atomic(&path, &html)?;
    written.push(path);
    Ok(written)
}

/// Reads and parses a report; any failure is an [`InputError`] naming the file (exit 2).
pub fn read_report(path: &Path) -> Result<Report, InputError> {
    let name = path.display();
    let text = std::fs::read(path).map_err(|e| InputError(format!("{name}: {e}")))?;
    let report: Report = serde_json::from_slice(&text)
        .map_err(|e| InputError(format!("{name}: not a peerscope report: {e}")))?;
    if report.schema != report::SCHEMA {
        return Err(InputError(format!(
            "{name}: schema '{}' is not {}",
            report.schema.escape_debug(),
            report::SCHEMA
        )));
    }
    Ok(report)
}

/// `peerscope plot`.
pub fn run(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => match args.report.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    // The output first: the directory exists (or is made) and takes files before the report
    // is read. Re-rendering replaces the figures and page by design: no --force.
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    super::output::check_new_file(&out.join("index.html"), true, "-o")?;
    let report = read_report(&args.report)?;
    let written = write_all(&report, &out)?;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    for path in written {
        writeln!(lock, "{}", path.display())?;
    }
    lock.flush()?;
    Ok(ExitCode::SUCCESS)
}
