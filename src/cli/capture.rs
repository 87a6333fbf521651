//! `peerscope capture`: a live interface in, the pcap file it wrote and `report.json` out.
//!
//! The capture source ([`crate::source::live`]) reads the interface on its own thread, writes
//! every frame to the pcap file and sends batches of frames through a bounded channel; this
//! thread feeds them to the same analysis as `analyze` uses ([`LiveSession`]), draws the status line, writes
//! the snapshots and, at the end, the report.
//!
//! The report is the one `analyze` writes for the pcap file, apart from `capture.files` (the
//! interface instead of the file) and the drop counters only a live capture has. When the flow
//! table's warm-up chose a provisional local host or threshold that the whole capture
//! contradicts (`Finished::needs_second_pass`), the live pass cannot be replayed: the complete,
//! flushed pcap file is analysed instead, exactly as `analyze` would.
//!
//! With `-C`/`-G`/`-W` the pcap file rotates as tcpdump's does ([`live::Rotation`]): the
//! second pass, when needed, reads every file written, in order — unless the ring overwrote
//! some, or the frames went to no regular file (`-w /dev/null`), when the live report stands
//! with a warning.
//!
//! Snapshots (`--snapshot-every`) finish a copy of the running flow table
//! ([`LiveSession::snapshot`]): each costs time in the size of the table, not of the capture so far
//! (re-reading the pcap file each interval would grow without bound). A snapshot taken while the
//! provisional choice is contradicted says its timeline is approximate; the final report is exact.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::analyze::AnalysisArgs;
use super::output::{
    check_decoded, check_new_file, parse_out_dir, print_outcome, write_atomic, Chatter, OutDir,
};
use super::{InputError, UsageError};
use crate::pipeline::live::LiveSession;
use crate::pipeline::{self, NoProgress, Warning};
use crate::report::anonymize::Anonymizer;
use crate::report::{self, Report};
use crate::source::linktype;
use crate::source::live::{self, LiveCapture, LiveCounters, LiveError, LiveOptions, Stop};

/// Batches in flight between the reader and the analysis (at most 256 KiB each): enough to
/// ride out a snapshot; beyond, the kernel's 64 MB buffer takes over.
const CHANNEL_BATCHES: usize = 64;
/// The status line is redrawn this often.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Name of the pcap file in the output directory.
pub const PCAP_NAME: &str = "capture.pcap";

/// Arguments of `capture`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sudo peerscope capture --duration 10m\n  sudo peerscope capture -i eth0 -f 'udp or tcp port 8902' -o out/ --snapshot-every 30\n  sudo peerscope capture -i lo -c 5000 --local 127.0.0.10\nStops on --duration, -c, Ctrl-C or SIGTERM; then writes the report as `analyze` would.\nWithout root: sudo setcap cap_net_raw,cap_net_admin+eip $(command -v peerscope)"
)]
pub struct CaptureArgs {
    /// Interface to capture on, by name or by the number `peerscope interfaces` prints
    /// (default: `any` on Linux)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,
    /// pcap file receiving every captured frame as it arrives (default: DIR/capture.pcap; with
    /// --json and no -o, a temporary file removed at the end); an existing file needs --force
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Ring buffer, as tcpdump -C: before a frame is written, a pcap file already over
    /// MB million bytes is closed and the next opened (FILE, FILE1, FILE2, …; with -W N,
    /// FILE0 … FILE{N-1}, reused in turn)
    #[arg(short = 'C', long = "file-size", value_name = "MB", value_parser = parse_megabytes)]
    pub file_size: Option<u64>,
    /// As tcpdump -G: a new pcap file every SECS seconds, its name the -w FILE passed through
    /// strftime (e.g. -w 'trace-%Y%m%d-%H%M%S.pcap', local time)
    #[arg(short = 'G', long = "rotate-every", value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_every: Option<u64>,
    /// As tcpdump -W: with -C, keep a ring of N files; with -G alone, stop after N files
    #[arg(short = 'W', long = "file-count", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub file_count: Option<u32>,
    /// Stop after COUNT packets
    #[arg(short = 'c', long = "count", value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop after this long (seconds, or with a unit: 90s, 10m, 1h)
    #[arg(long, value_name = "SECS", value_parser = parse_positive_s)]
    pub duration: Option<f64>,
    /// Bytes kept of each frame
    #[arg(long, value_name = "N", default_value_t = 262_144, value_parser = clap::value_parser!(u32).range(64..=262_144))]
    pub snaplen: u32,
    /// Output directory for report.json and the pcap file (default:
    /// reports/capture-IFACE-UTCTIME/; with --json, none unless -o is given); one that holds
    /// files needs --force
    #[arg(short = 'o', long = "out", value_name = "DIR", value_parser = parse_out_dir)]
    pub out: Option<PathBuf>,
    /// Rewrite report.json (atomically) every SECS seconds during the capture
    #[arg(long, value_name = "SECS", value_parser = parse_positive_s)]
    pub snapshot_every: Option<f64>,
    /// Print the report as JSON on stdout instead of the summary; nothing but the -w file is
    /// written unless -o is given too
    #[arg(long)]
    pub json: bool,
    /// Write into an output directory that holds files, or over an existing -w file
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub chatter: Chatter,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// `-C`: millions of bytes (tcpdump's unit), a positive number such as 1 or 0.5.
fn parse_megabytes(text: &str) -> Result<u64, String> {
    let mb: f64 = text
        .parse()
        .map_err(|_| format!("'{text}': a number of megabytes (millions of bytes)"))?;
    if !(mb > 0.0 && mb <= 1e9) {
        return Err("must be more than 0 and at most 1e9 MB".into());
    }
    Ok((mb * 1e6).round().max(1.0) as u64)
}

fn parse_positive_s(text: &str) -> Result<f64, String> {
    let s = super::units::parse_duration_s(text)?;
    if !(s > 0.0 && s.is_finite()) {
        return Err("must be more than 0 seconds".into());
    }
    Ok(s)
}

fn live_error(e: LiveError) -> anyhow::Error {
    InputError(e.to_string()).into()
}

/// `-i N`: the Nth interface `peerscope interfaces` lists, unless an interface has that name.
fn resolve_interface(given: &str) -> Result<String, anyhow::Error> {
    let Ok(n) = given.parse::<usize>() else {
        return Ok(given.to_string());
    };
    let list = live::interfaces().map_err(live_error)?;
    if list.iter().any(|i| i.name == given) {
        return Ok(given.to_string());
    }
    match n.checked_sub(1).and_then(|k| list.get(k)) {
        Some(i) => Ok(i.name.clone()),
        None => Err(UsageError(format!(
            "-i {given}: there are {} interfaces (`peerscope interfaces` lists them, numbered from 1)",
            list.len()
        ))
        .into()),
    }
}

/// A temporary pcap file (`capture --json` without -o or -w), removed when dropped.
struct TempPcap(PathBuf);

impl Drop for TempPcap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `peerscope capture`.
pub fn run(args: CaptureArgs) -> anyhow::Result<ExitCode> {
    let cfg = args.analysis.config().map_err(UsageError)?;
    if args.snapshot_every.is_some() && args.json && args.out.is_none() {
        return Err(UsageError(
            "--snapshot-every writes report.json into the output directory: give -o DIR (with --json and no -o nothing is written)".into(),
        )
        .into());
    }
    let rotation = live::Rotation {
        max_bytes: args.file_size,
        every: args.rotate_every,
        files: args.file_count,
    };
    if rotation.files.is_some() && !rotation.is_active() {
        return Err(UsageError("-W limits the files of -C or -G: give one of them".into()).into());
    }
    if rotation.is_active() && args.write.is_none() && args.json && args.out.is_none() {
        return Err(UsageError(
            "-C/-G rotate the pcap files: give -w FILE or -o DIR (with --json and no -o the pcap file is temporary)".into(),
        )
        .into());
    }
    if let (Some(_), Some(w)) = (rotation.every, &args.write) {
        live::check_template(&w.to_string_lossy()).map_err(UsageError)?;
    }
    let interface = match &args.interface {
        Some(i) => resolve_interface(i)?,
        None => live::default_interface().map_err(live_error)?,
    };
    // Every output is checked before the interface is opened: nothing is overwritten
    // unless --force says so. An unwritable output is not unusable input: exit code 1.
    let mut out = match (&args.out, args.json) {
        (Some(dir), _) => Some(OutDir::prepare(dir, args.force)?),
        (None, true) => None,
        (None, false) => {
            let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let dir = PathBuf::from("reports").join(format!("capture-{interface}-{now}"));
            Some(OutDir::prepare(&dir, args.force)?)
        }
    };
    if let (Some(w), false) = (&args.write, rotation.every.is_some()) {
        // With -G the name is a pattern: the files it names are made as the capture goes.
        check_new_file(w, args.force, "-w")?;
    }
    // One anonymiser for the run: snapshots and the final report use the same pseudonyms.
    let mut anon = args.analysis.anonymizer(args.force)?;
    let mut temp = None;
    let pcap_path = match (&args.write, &out) {
        (Some(w), _) => w.clone(),
        (None, Some(dir)) => dir.path().join(PCAP_NAME),
        (None, None) => {
            let p =
                std::env::temp_dir().join(format!("peerscope-capture-{}.pcap", std::process::id()));
            temp = Some(TempPcap(p.clone()));
            p
        }
    };
    let mut cap = LiveCapture::open(&LiveOptions {
        interface: interface.clone(),
        snaplen: args.snaplen,
        filter: cfg.filter.clone(),
    })
    .map_err(live_error)?;
    cap.write_rotating(&pcap_path, rotation)?;
    if let Some(dir) = out.as_mut() {
        // The pcap file is in it (or will be): the directory stays whatever happens next.
        dir.keep();
    }
    let report_path = out.as_ref().map(|d| d.path().join("report.json"));

    let stop = Stop {
        flag: Arc::new(AtomicBool::new(false)),
        count: args.count,
        duration: args.duration.map(Duration::from_secs_f64),
    };
    let flag = Arc::clone(&stop.flag);
    // SIGINT and SIGTERM ask the reader to stop; a second one gives up at once (the pcap file
    // is flushed every second, so at most the last second of it is lost).
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C/SIGTERM handler")?;

    let link_type = cap.link_type();
    eprintln!(
        "peerscope: listening on {interface} ({}, snaplen {}), writing {}; Ctrl-C stops",
        linktype::name(link_type),
        args.snaplen,
        pcap_path.display()
    );
    // The kernel already applied the filter: the analyzer need not test each frame again.
    let mut live_cfg = cfg.clone();
    live_cfg.filter = None;
    let mut session = LiveSession::new(&live_cfg, link_type).map_err(super::analysis_error)?;
    let counters = Arc::new(LiveCounters::default());
    let (tx, rx) = mpsc::sync_channel(CHANNEL_BATCHES);
    let reader = cap
        .spawn(stop.clone(), Arc::clone(&counters), tx)
        .context("cannot start the capture thread")?;

    let mut status = Status::new(args.chatter.progress() && std::io::stderr().is_terminal());
    let snapshot_every = args.snapshot_every.map(Duration::from_secs_f64);
    let mut next_snapshot = snapshot_every.map(|d| Instant::now() + d);
    let files = [interface.clone()];
    loop {
        let wait = [Some(status.next), next_snapshot]
            .into_iter()
            .flatten()
            .min()
            .map_or(STATUS_EVERY, |t| {
                t.saturating_duration_since(Instant::now())
            });
        match rx.recv_timeout(wait) {
            Ok(batch) => {
                for raw in batch.packets() {
                    session.push(&raw);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if now >= status.next {
            status.draw(&interface, &session, &counters, now);
        }
        if let (Some(due), Some(every)) = (next_snapshot, snapshot_every) {
            if now >= due {
                next_snapshot = Some(now + every);
                if let (true, Some(report_path)) = (session.packets() > 0, &report_path) {
                    let mut r = session.snapshot(&files, &cfg);
                    r.capture.dropped_by_kernel =
                        Some(counters.dropped_by_kernel.load(Ordering::Relaxed));
                    r.capture.dropped_by_interface =
                        Some(counters.dropped_by_interface.load(Ordering::Relaxed));
                    if let Err(e) = write_report(&r, report_path, &mut anon) {
                        eprintln!("peerscope: warning: snapshot: {e:#}");
                    }
                }
            }
        }
    }
    status.clear();
    let end = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the capture thread failed"))?;

    if args.chatter.verbose {
        eprintln!(
            "peerscope: captured {} packets on {interface} in {:.1} s ({} dropped by the kernel, {} by the interface)",
            counters.packets.load(Ordering::Relaxed),
            status.started.elapsed().as_secs_f64(),
            end.dropped_by_kernel.unwrap_or(0),
            end.dropped_by_interface.unwrap_or(0)
        );
    }
    let (pass, stats) = session.finish();
    let mut warnings = Vec::new();
    if let Some(e) = &end.error {
        warnings.push(Warning::CaptureEndedEarly {
            interface: interface.clone(),
            error: e.to_string(),
        });
    }
    let files_written: Vec<String> = end
        .files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if end.file_limit {
        eprintln!(
            "peerscope: -W {}: {} files written, capture stopped",
            args.file_count.unwrap_or(0),
            files_written.len()
        );
    }
    // `-w /dev/null` (as with tcpdump) keeps nothing to read again.
    let rereadable = end
        .files
        .iter()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()));
    let mut report = if pass.fin.needs_second_pass && (end.wrapped || !rereadable) {
        // The ring overwrote its first files, or the frames went to no file: they cannot be
        // read again. The live pass's report is what there is, and it says its timeline is
        // approximate.
        let why = if end.wrapped {
            "the -C -W ring overwrote its first files"
        } else {
            "the -w file is no regular file"
        };
        warnings.push(Warning::Source(format!("the series, stream rate, buffer and continuity were classified with a provisional local host/threshold that the whole capture contradicts; {why}, so the frames cannot be read again and these are approximate (give --local and --video-min to make them exact)")));
        LiveSession::report(pass, &stats, &files, &cfg, warnings).1
    } else if pass.fin.needs_second_pass {
        // The live pass classified the timeline with a provisional local host or threshold
        // that the whole capture contradicts: analyse the complete pcap file as `analyze`
        // does (two passes), so the report is exact and the same as `analyze` gives.
        let (_, mut r) =
            pipeline::analyze_files(&files_written, &cfg, &NoProgress).map_err(|e| {
                InputError(format!(
                    "cannot re-analyse {}: {e}",
                    files_written.join(", ")
                ))
            })?;
        r.capture.files = files.to_vec();
        r.capture.warnings.extend(
            warnings
                .iter()
                .map(ToString::to_string)
                .chain(pass.filter_warnings.iter().cloned()),
        );
        r
    } else {
        LiveSession::report(pass, &stats, &files, &cfg, warnings).1
    };
    report.capture.dropped_by_kernel = end.dropped_by_kernel;
    report.capture.dropped_by_interface = end.dropped_by_interface;
    let dropped = end.dropped_by_kernel.unwrap_or(0) + end.dropped_by_interface.unwrap_or(0);
    if dropped > 0 {
        report
            .capture
            .warnings
            .push(Warning::Dropped(dropped).to_string());
    }

    for w in &report.capture.warnings {
        eprintln!("peerscope: warning: {w}");
    }
    if report.capture.packets == 0 {
        let kept = match &temp {
            Some(_) => String::new(),
            None => format!(" (pcap file {})", pcap_path.display()),
        };
        return Err(InputError(format!("{interface}: no packets captured{kept}")).into());
    }
    let pcap_shown: Vec<&Path> = match &temp {
        Some(_) => Vec::new(),
        None => end.files.iter().map(PathBuf::as_path).collect(),
    };
    check_decoded(&report, &interface)?;
    if let Some(a) = anon.as_mut() {
        report = a.report(&report).context("anonymising the report")?;
    }
    let mut written: Vec<(&str, &Path)> = pcap_shown.into_iter().map(|p| ("pcap", p)).collect();
    let json = match &report_path {
        Some(path) => {
            let json = write_report(&report, path, &mut None)?;
            if let Some(dir) = path.parent() {
                super::plot::write_all(&report, dir)?;
            }
            written.push(("report", path));
            json
        }
        None => {
            let mut json = Vec::new();
            report::json::write(&report, &mut json)?;
            json
        }
    };
    let code = print_outcome(&report, &json, args.json, args.chatter.quiet, &written);
    drop(temp);
    code
}

/// Writes the report atomically (anonymised first when asked); returns the JSON.
fn write_report(
    report: &Report,
    path: &Path,
    anon: &mut Option<Anonymizer>,
) -> anyhow::Result<Vec<u8>> {
    let mut json = Vec::new();
    match anon.as_mut() {
        Some(a) => report::json::write(&a.report(report)?, &mut json)?,
        None => report::json::write(report, &mut json)?,
    }
    write_atomic(path, &json)?;
    Ok(json)
}

/// The status line on stderr: redrawn in place once a second.
struct Status {
    enabled: bool,
    next: Instant,
    started: Instant,
    last: Instant,
    last_down: u64,
    last_up: u64,
}

impl Status {
    fn new(enabled: bool) -> Self {
        let now = Instant::now();
        Status {
            enabled,
            next: now + STATUS_EVERY,
            started: now,
            last: now,
            last_down: 0,
            last_up: 0,
        }
    }

    fn draw(&mut self, interface: &str, session: &LiveSession, c: &LiveCounters, now: Instant) {
        self.next = now + STATUS_EVERY;
        if !self.enabled {
            return;
        }
        let live = session.live();
        let secs = now.duration_since(self.last).as_secs_f64().max(1e-3);
        let kbps = |bytes: u64| bytes as f64 * 8.0 / 1000.0 / secs;
        let down = kbps(live.down_ip_bytes.saturating_sub(self.last_down));
        let up = kbps(live.up_ip_bytes.saturating_sub(self.last_up));
        self.last = now;
        self.last_down = live.down_ip_bytes;
        self.last_up = live.up_ip_bytes;
        let video = if live.down_ip_bytes > 0 {
            format!(
                "{:.0}%",
                100.0 * live.video_down_ip_bytes as f64 / live.down_ip_bytes as f64
            )
        } else {
            "-".into()
        };
        let elapsed = now.duration_since(self.started).as_secs();
        let local = live.local.map_or_else(|| "?".into(), |ip| ip.to_string());
        let line = format!(
            "{interface} {:02}:{:02}:{:02}  {} packets, {} dropped  local {local}  down {down:.1} kb/s  up {up:.1} kb/s  {} peers, {} suppliers, video {video} of download",
            elapsed / 3600,
            elapsed / 60 % 60,
            elapsed % 60,
            c.packets.load(Ordering::Relaxed),
            c.dropped_by_kernel.load(Ordering::Relaxed) + c.dropped_by_interface.load(Ordering::Relaxed),
            live.peers,
            live.suppliers,
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}
