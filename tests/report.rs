//! Figures and the HTML page (issue 4): golden SVG and HTML files rendered from a committed
//! report (`tests/fixtures/report-small.json`, the real PPStream capture
//! `ndpi__pps.pcap` analysed once, its peer list cut to 24), synthetic variants for the parts
//! that capture lacks (player traffic, stalls, many peers, empty data, hostile strings), the
//! `plot` subcommand through the real binary, and the page in headless Chromium.
//!
//! `UPDATE_GOLDEN=1 cargo test report::` rewrites the golden files under `tests/golden/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use peerscope::metrics::playback::Stall;
use peerscope::report::svg::{self, NAMES};
use peerscope::report::{html, Report};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> Report {
    let path = manifest().join("tests/fixtures/report-small.json");
    serde_json::from_slice(&fs::read(&path).unwrap()).unwrap()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_peerscope"))
}

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peerscope-report-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compares `actual` with `tests/golden/<name>`, or rewrites it under `UPDATE_GOLDEN=1`.
pub(crate) fn check_golden(name: &str, actual: &[u8]) {
    let path = manifest().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `UPDATE_GOLDEN=1 cargo test report::` to create it",
            path.display()
        )
    });
    if expected != actual {
        let exp = String::from_utf8_lossy(&expected);
        let act = String::from_utf8_lossy(actual);
        let line = exp
            .lines()
            .zip(act.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| exp.lines().count().min(act.lines().count()));
        panic!(
            "{} differs from the rendering at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             (UPDATE_GOLDEN=1 rewrites it after a deliberate change)",
            path.display(),
            line + 1,
            exp.lines().nth(line),
            act.lines().nth(line)
        );
    }
}

/// Parses `svg` as XML and checks the things every figure must hold.
fn check_svg(name: &str, svg: &str) {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("{name}: not well-formed XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{name}");
    assert_eq!(root.attribute("width"), Some("900"), "{name}");
    assert_eq!(root.attribute("height"), Some("480"), "{name}");
    for bad in ["NaN", "inf"] {
        for node in doc.descendants().filter(|n| n.is_element()) {
            for attr in node.attributes() {
                assert!(
                    !attr.value().contains(bad),
                    "{name}: {bad} in {}={:?}",
                    attr.name(),
                    attr.value()
                );
            }
        }
    }
    assert!(
        doc.descendants().any(|n| n.has_tag_name("text")),
        "{name}: no text (title, axes)"
    );
}

fn render(report: &Report) -> Vec<svg::Figure> {
    let figures = svg::render(report).unwrap();
    assert_eq!(
        figures.iter().map(|f| f.name).collect::<Vec<_>>(),
        NAMES.to_vec()
    );
    for f in &figures {
        check_svg(f.name, &f.svg);
    }
    figures
}

fn page(report: &Report, figures: &[svg::Figure]) -> String {
    let mut out = Vec::new();
    html::write(report, figures, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// All text of a figure, for checks on what it says.
fn texts(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The fixture with the parts the PPStream capture lacks: a stream rate, playback start,
/// buffer levels and two stalls. Synthetic, for rendering only.
fn with_playback() -> Report {
    let mut r = fixture();
    r.stream.rate_kbps = Some(360.0);
    r.startup.playback_start_s = Some(12.5);
    r.startup.delay_s = Some(12.5);
    r.buffer.seconds = Some(41.0);
    r.buffer.bytes = Some(41.0 * 45_000.0);
    for row in &mut r.series.rows {
        if row.t_s >= 12.0 && !(30.0..33.0).contains(&row.t_s) {
            row.buffer_s = Some(((row.t_s - 12.0) * 3.0).min(55.0));
        }
    }
    r.continuity.index = Some(0.95);
    r.continuity.stalls = vec![
        Stall {
            start_s: 30.2,
            duration_s: 2.6,
        },
        Stall {
            start_s: 51.0,
            duration_s: 0.4,
        },
    ];
    r.summary.buffer_s = Some(41.0);
    r.summary.startup_delay_s = Some(12.5);
    r.summary.data_rate_kbps = Some(360.0);
    r
}

/// The fixture with nothing in it: no histogram, threshold, peers, series or startup.
fn empty() -> Report {
    let mut r = fixture();
    r.sizes.histogram.clear();
    r.sizes.peaks.clear();
    r.sizes.threshold = None;
    r.sizes.threshold_how = "no threshold: fewer than two distinct UDP payload sizes".into();
    r.peers.list.clear();
    r.peers.contacted = 0;
    r.peers.suppliers = 0;
    r.series.rows.clear();
    r.startup.tune_in_s = None;
    r.startup.first_video_s = None;
    r.startup.playback_start_s = None;
    r.capture.packets = 0;
    r.capture.duration_s = 0.0;
    r
}

#[test]
fn figures_and_page_match_goldens_via_plot() {
    let dir = temp_dir("golden");
    let fixture = manifest().join("tests/fixtures/report-small.json");
    let out = bin()
        .arg("plot")
        .arg(&fixture)
        .arg("-o")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), NAMES.len() + 1, "{listed}");
    for name in NAMES {
        let svg = fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        check_svg(name, &svg);
        check_golden(&format!("small/{name}.svg"), svg.as_bytes());
    }
    let index = fs::read(dir.join("index.html")).unwrap();
    check_golden("small/index.html", &index);
    // No temporary files left behind by the atomic writes.
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "buffer.svg",
            "index.html",
            "peers.svg",
            "rates.svg",
            "sizes.svg",
            "suppliers.svg",
            "swarm.svg"
        ]
    );
}

#[test]
fn fixture_figures_say_what_they_show() {
    let figs = render(&fixture());
    let sizes = texts(&figs[0].svg);
    assert!(sizes.contains("threshold 607 B"), "{sizes}");
    assert!(sizes.contains("1065 B video (29.2 %)"), "{sizes}");
    assert!(sizes.contains("37 B control (64.2 %)"), "{sizes}");
    assert!(sizes.contains("packets (log scale)"), "{sizes}");
    // The histogram's bars are drawn: one rect per occupied bin and class, with a height.
    let doc = roxmltree::Document::parse(&figs[0].svg).unwrap();
    let bars = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter(|n| {
            n.attribute("fill") == Some("#1F77B4") || n.attribute("fill") == Some("#8CA0B4")
        })
        .filter(|n| {
            n.attribute("height")
                .and_then(|h| h.parse::<f64>().ok())
                .is_some_and(|h| h >= 1.0)
        })
        .count();
    assert!(bars >= 10, "only {bars} visible bars");
    let peers = texts(&figs[1].svg);
    assert!(
        peers.contains("all 6 that exchanged video (34 contacted)"),
        "{peers}"
    );
    assert!(peers.contains("top 2: 81.8 %"), "{peers}");
    assert!(peers.contains("1.173.5.226"), "{peers}");
    let rates = texts(&figs[2].svg);
    assert!(rates.contains("first video 0.0 s"), "{rates}");
    assert!(rates.contains("rate (kb/s, IP bytes)"), "{rates}");
    let buffer = texts(&figs[4].svg);
    assert!(
        buffer.contains("no stream rate or no video: buffer unknown"),
        "{buffer}"
    );
}

#[test]
fn playback_events_stalls_and_buffer_match_goldens() {
    let report = with_playback();
    let figs = render(&report);
    for f in &figs {
        if ["rates", "suppliers", "buffer"].contains(&f.name) {
            check_golden(&format!("playback/{}.svg", f.name), f.svg.as_bytes());
        }
    }
    let rates = texts(&figs[2].svg);
    assert!(rates.contains("playback start 12.5 s"), "{rates}");
    assert!(
        rates.contains("stalls of the playout model (2, 3.0 s missed)"),
        "{rates}"
    );
    assert!(rates.contains("stream rate 360 kb/s"), "{rates}");
    let buffer = texts(&figs[4].svg);
    assert!(buffer.contains("median over playback: 41.0 s"), "{buffer}");
    assert!(!buffer.contains("no buffer levels"), "{buffer}");
    let html = page(&report, &figs);
    assert!(
        html.contains("<td>41.0 s</td>"),
        "summary row shows the buffer"
    );
}

#[test]
fn empty_report_renders_valid_figures_that_say_what_is_missing() {
    let report = empty();
    let figs = render(&report);
    for f in &figs {
        check_golden(&format!("empty/{}.svg", f.name), f.svg.as_bytes());
    }
    let said: Vec<String> = figs.iter().map(|f| texts(&f.svg)).collect();
    assert!(said[0].contains("No UDP payload sizes"), "{}", said[0]);
    assert!(said[0].contains("fewer than two distinct"), "{}", said[0]);
    assert!(
        said[1].contains("No peer sent or received video"),
        "{}",
        said[1]
    );
    assert!(said[2].contains("No series windows"), "{}", said[2]);
    assert!(
        said[3].contains("no series windows and no peers"),
        "{}",
        said[3]
    );
    assert!(said[4].contains("No buffer level"), "{}", said[4]);
    let html = page(&report, &figs);
    assert!(html.contains("No peers in this report."));
}

#[test]
fn peers_figure_cuts_to_twenty_and_says_so() {
    let mut report = fixture();
    let template = report.peers.list[0].clone();
    report.peers.list = (0..30u64)
        .map(|i| {
            let mut p = template.clone();
            p.ip = format!("198.51.100.{i}");
            p.video_in_bytes = 1000 * (31 - i);
            p.video_out_bytes = 300 * i;
            p
        })
        .collect();
    let figs = render(&report);
    let peers = texts(&figs[1].svg);
    assert!(
        peers.contains("top 20 of 30 peers that exchanged video"),
        "{peers}"
    );
    assert!(peers.contains("198.51.100.19"), "{peers}");
    assert!(!peers.contains("198.51.100.20"), "{peers}");
    let html = page(&report, &figs);
    assert!(html.contains("20 of 30 peers, ranked by video received"));
}

#[test]
fn extreme_values_give_no_nan_and_no_panic() {
    let mut report = with_playback();
    report.capture.duration_s = -5.0;
    report.series.window_s = 0.0;
    report.stream.rate_kbps = Some(f64::MAX);
    report.buffer.seconds = Some(-1e300);
    report.sizes.histogram = vec![(u32::MAX, u64::MAX), (0, u64::MAX)];
    report.sizes.threshold = Some(u32::MAX);
    report.peers.list[0].video_in_bytes = u64::MAX;
    report.peers.list[1].video_in_bytes = u64::MAX;
    report.peers.list[2].first_seen_s = f64::MAX;
    report.continuity.stalls.push(Stall {
        start_s: f64::MIN,
        duration_s: f64::MAX,
    });
    if let Some(row) = report.series.rows.first_mut() {
        row.t_s = f64::MAX;
        row.down_kbps = f64::MAX;
        row.buffer_s = Some(f64::MIN);
    }
    let figs = render(&report);
    let html = page(&report, &figs);
    assert!(!html.contains("NaN"));
}

#[test]
fn hostile_strings_are_escaped_in_page_and_figures() {
    let mut report = fixture();
    let evil = "<script>alert(1)</script>\"'&\u{1}";
    report.capture.files = vec![format!("a{evil}.pcap")];
    report.capture.warnings = vec![format!("</li><img src=x onerror=alert(1)>{evil}")];
    report.peers.list[0].ip = format!("10.0.0.1{evil}");
    report.peers.list[0].name = Some(format!("\"><iframe src=//evil>{evil}"));
    report.local.how = evil.into();
    report.tracker.name = Some(evil.into());
    report.tracker.ip = Some("192.0.2.1".into());
    report.sizes.peaks[0].class = evil.into();
    let figs = render(&report);
    let html = page(&report, &figs);
    for bad in ["<script", "<img", "<iframe", "\u{1}"] {
        assert!(!html.contains(bad), "{bad} reached the page");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
    // The label is shortened in the middle (issue 15); the full address is its <title>.
    assert!(
        texts(&figs[1].svg).contains("10.0.0.1<scr"),
        "escaped, then parsed back"
    );
    let doc = roxmltree::Document::parse(&figs[1].svg).unwrap();
    assert!(
        doc.descendants().any(|n| n.has_tag_name("title")
            && n.text()
                .is_some_and(|t| t.starts_with("10.0.0.1<script>alert(1)"))),
        "the full address, escaped, then parsed back"
    );
}

#[test]
fn rendering_is_byte_stable() {
    let report = with_playback();
    let a = render(&report);
    let b = render(&report.clone());
    assert_eq!(a, b);
    assert_eq!(page(&report, &a), page(&report, &b));
}

#[test]
fn plot_rejects_a_broken_report_with_exit_2() {
    let dir = temp_dir("broken");
    let cases = [
        ("garbage.json", "this is not json".to_string()),
        (
            "other.json",
            "{\"schema\": \"peerscope/compare-v1\", \"nodes\": []}".into(),
        ),
        (
            "schema.json",
            fs::read_to_string(manifest().join("tests/fixtures/report-small.json"))
                .unwrap()
                .replace("peerscope/report-v1", "peerscope/report-v9"),
        ),
    ];
    for (name, text) in cases {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        let out = bin().arg("plot").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(&path.display().to_string()), "{name}: {err}");
        assert!(!dir.join("index.html").exists());
    }
    let missing = dir.join("missing.json");
    let out = bin().arg("plot").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn plot_defaults_to_the_reports_directory() {
    let dir = temp_dir("default");
    let report = dir.join("report.json");
    fs::copy(manifest().join("tests/fixtures/report-small.json"), &report).unwrap();
    let out = bin().arg("plot").arg(&report).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in NAMES {
        assert!(dir.join(format!("{name}.svg")).exists(), "{name}");
    }
    assert!(dir.join("index.html").exists());
}

fn pps_capture() -> PathBuf {
    PathBuf::from(crate::util::real("ndpi__pps.pcap"))
}

#[test]
fn analyze_writes_figures_and_page_beside_the_report() {
    let capture = pps_capture();
    let dir = temp_dir("analyze");
    let out = bin()
        .arg("analyze")
        .arg(&capture)
        .arg("-o")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut from_analyze = Vec::new();
    for name in NAMES {
        let svg = fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        check_svg(name, &svg);
        from_analyze.push(svg);
    }
    let page = fs::read(dir.join("index.html")).unwrap();
    // `plot` on the report alone gives the same bytes.
    let again = temp_dir("analyze-replot");
    let out = bin()
        .arg("plot")
        .arg(dir.join("report.json"))
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert!(out.status.success());
    for (name, svg) in NAMES.iter().zip(&from_analyze) {
        assert_eq!(
            &fs::read_to_string(again.join(format!("{name}.svg"))).unwrap(),
            svg
        );
    }
    assert_eq!(fs::read(again.join("index.html")).unwrap(), page);
}

/// Chromium's binary, if installed.
pub(crate) fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PEERSCOPE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Loads `page` in headless Chromium and returns the DOM after load.
pub(crate) fn dump_dom(chromium: &Path, page: &Path, profile: &Path) -> String {
    let url = format!("file://{}", page.display());
    let out = Command::new("timeout")
        .arg("60")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--window-size=1000,800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn index_html_loads_every_figure_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            !in_ci(),
            "chromium is not installed, and CI is set: the page test must run in CI"
        );
        // Straight to stderr: libtest would swallow an `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "skipping index_html_loads_every_figure_in_headless_chromium: chromium is not \
             installed (apt-get install chromium; CI=true makes this a failure)"
        );
        return;
    };
    let dir = temp_dir("chromium");
    let report = with_playback();
    let figs = render(&report);
    let html = page(&report, &figs);
    assert!(!html.contains("<script"), "the page itself has no script");
    for f in &figs {
        fs::write(dir.join(f.file_name()), &f.svg).unwrap();
    }
    fs::write(dir.join("index.html"), &html).unwrap();

    // 1. The page as written: Chromium's DOM holds every figure with its SVG.
    let dom = dump_dom(&chromium, &dir.join("index.html"), &dir.join("profile-a"));
    for name in NAMES {
        let start = dom
            .find(&format!("<figure id=\"fig-{name}\">"))
            .unwrap_or_else(|| panic!("fig-{name} missing from the DOM"));
        let end = start + dom[start..].find("</figure>").unwrap();
        let figure = &dom[start..end];
        assert!(
            figure.contains("<svg") && figure.contains("</svg>"),
            "{name}: no svg"
        );
        assert!(figure.contains("<text"), "{name}: no text");
    }
    assert!(dom.contains("this capture"));
    assert!(dom.contains("SopCast (2007)"));

    // 2. The same page with a probe script (and without the policy that forbids it): every
    //    inline SVG is laid out at a real size and its standalone file loads as an image.
    let probe = r#"<script>
window.addEventListener('load', () => {
  const out = [];
  for (const fig of document.querySelectorAll('figure')) {
    const r = fig.querySelector('svg').getBoundingClientRect();
    const img = fig.querySelector('img');
    out.push(fig.id + ':' + Math.round(r.width) + 'x' + Math.round(r.height) + ':' +
             (img && img.complete ? img.naturalWidth + 'x' + img.naturalHeight : 'none'));
  }
  document.body.setAttribute('data-probe', out.join(';'));
});
</script>"#;
    let mut probed = html.replacen(
        "<meta http-equiv=\"Content-Security-Policy\"",
        "<meta name=\"csp-off\"",
        1,
    );
    for name in NAMES {
        probed = probed.replacen(
            "<figcaption>",
            &format!("<img src=\"{name}.svg\" alt=\"\" style=\"display:none\"><figcaption data-f=\"{name}\">"),
            1,
        );
    }
    probed = probed.replacen("</body>", &format!("{probe}\n</body>"), 1);
    fs::write(dir.join("probe.html"), probed).unwrap();
    let dom = dump_dom(&chromium, &dir.join("probe.html"), &dir.join("profile-b"));
    let attr = dom
        .split("data-probe=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("the probe did not run: {}", &dom[..dom.len().min(400)]));
    let entries: Vec<&str> = attr.split(';').collect();
    assert_eq!(entries.len(), NAMES.len(), "{attr}");
    for (entry, name) in entries.iter().zip(NAMES) {
        let parts: Vec<&str> = entry.split(':').collect();
        assert_eq!(parts[0], format!("fig-{name}"), "{attr}");
        let (w, h) = parts[1].split_once('x').unwrap();
        let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
        assert!(w >= 300 && h >= 150, "{name} laid out at {w}x{h}");
        assert_eq!(
            parts[2], "900x480",
            "{name}.svg did not load as an image: {attr}"
        );
    }
}
