//! The figures of `peerscope compare`, each one function from the [`Compare`] model to a
//! writer (plotters' SVG backend, no fonts: text is SVG `<text>` laid out by the viewer):
//!
//! - [`traffic`]: grouped bars per node, download and upload (all traffic, video as the
//!   darker inner bar), the source's group marked (the study's Fig. 3/4);
//! - [`delay`]: per receiver, the playback delay's p10–p90 range with the median marked
//!   (a cross-correlation lag is a lone diamond);
//! - [`continuity`]: continuity (%) against the input rate of each run (the study's Fig. 2).

use std::io::Write;

use plotters::prelude::*;

use super::compare::{Compare, DelayMethod, NodeRole};
use super::svg::style::{draw_err, ALERT, DOWN, HEIGHT, UP, WIDTH};
use super::svg::SvgError;

/// The video shades of download and upload: the darker inner bars.
const DOWN_VIDEO: RGBColor = RGBColor(20, 75, 115);
const UP_VIDEO: RGBColor = RGBColor(160, 80, 0);
/// The source's group is marked in the palette's alert colour.
const SOURCE_MARK: RGBColor = ALERT;

/// A label for x position `x` when it sits on a category.
fn category(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Writes the grouped-bar figure of every node's download and upload.
pub fn traffic<Wr: Write>(c: &Compare, mut out: Wr) -> Result<(), SvgError> {
    let names: Vec<String> = c
        .nodes
        .iter()
        .map(|n| {
            if n.role == NodeRole::Source && !n.name.contains("source") {
                format!("{} (source)", n.name)
            } else {
                n.name.clone()
            }
        })
        .collect();
    let n = names.len().max(1);
    let y_max = c
        .nodes
        .iter()
        .flat_map(|n| [n.download_kbps, n.upload_kbps])
        .fold(1.0_f64, f64::max)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Traffic per node (kb/s): download vs upload, video darker",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5_f64..(n as f64 - 0.5), 0.0..y_max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&|x| category(&names, *x))
            .y_desc("kb/s (IP bytes)")
            .draw()
            .map_err(draw_err)?;
        for (i, node) in c.nodes.iter().enumerate() {
            let x = i as f64;
            let bars = [
                (
                    x - 0.38,
                    node.download_kbps,
                    node.video.download_kbps,
                    DOWN,
                    DOWN_VIDEO,
                ),
                (
                    x + 0.02,
                    node.upload_kbps,
                    node.video.upload_kbps,
                    UP,
                    UP_VIDEO,
                ),
            ];
            for (x0, all, video, light, dark) in bars {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x0 + 0.36, all)],
                        light.filled(),
                    )))
                    .map_err(draw_err)?;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0 + 0.06, 0.0), (x0 + 0.30, video.min(all))],
                        dark.filled(),
                    )))
                    .map_err(draw_err)?;
            }
            if node.role == NodeRole::Source {
                let top = node.download_kbps.max(node.upload_kbps);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.45, 0.0), (x + 0.45, top * 1.03)],
                        SOURCE_MARK.stroke_width(3),
                    )))
                    .map_err(draw_err)?;
            }
        }
        for (label, color) in [("download", DOWN), ("upload", UP)] {
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                .map_err(draw_err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    out.write_all(svg.as_bytes())?;
    Ok(())
}

/// Writes the playback-delay figure (receivers only).
pub fn delay<Wr: Write>(c: &Compare, mut out: Wr) -> Result<(), SvgError> {
    let receivers: Vec<_> = c
        .nodes
        .iter()
        .filter(|n| n.role != NodeRole::Source)
        .collect();
    let names: Vec<String> = receivers.iter().map(|n| n.name.clone()).collect();
    let n = names.len().max(1);
    let y_max = receivers
        .iter()
        .flat_map(|r| {
            let d = &r.playback_delay;
            [d.p90_s, d.median_s]
        })
        .flatten()
        .fold(1.0_f64, f64::max)
        * 1.15;
    let y_min = receivers
        .iter()
        .filter_map(|r| r.playback_delay.median_s)
        .fold(0.0_f64, f64::min)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Playback delay behind {} (p10–median–p90)", c.source),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5_f64..(n as f64 - 0.5), y_min..y_max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&|x| category(&names, *x))
            .y_desc("seconds behind the source")
            .draw()
            .map_err(draw_err)?;
        for (i, r) in receivers.iter().enumerate() {
            let x = i as f64;
            let d = &r.playback_delay;
            let Some(median) = d.median_s else {
                continue;
            };
            if d.method == Some(DelayMethod::RateXcorr) {
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        vec![
                            (x - 0.12, median),
                            (x, median + y_max * 0.03),
                            (x + 0.12, median),
                            (x, median - y_max * 0.03),
                        ],
                        UP.filled(),
                    )))
                    .map_err(draw_err)?;
                continue;
            }
            let (lo, hi) = (d.p10_s.unwrap_or(median), d.p90_s.unwrap_or(median));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.2, lo), (x + 0.2, hi.max(lo + y_max * 0.004))],
                    DOWN.mix(0.5).filled(),
                )))
                .map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x - 0.25, median), (x + 0.25, median)],
                    DOWN_VIDEO.stroke_width(3),
                )))
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    out.write_all(svg.as_bytes())?;
    Ok(())
}

/// Writes continuity (%) against input rate, one point per run.
pub fn continuity<Wr: Write>(c: &Compare, mut out: Wr) -> Result<(), SvgError> {
    let mut points: Vec<(f64, f64)> = c
        .runs
        .iter()
        .filter_map(|r| r.continuity.map(|x| (r.input_kbps, x * 100.0)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let x_max = c.runs.iter().map(|r| r.input_kbps).fold(1.0_f64, f64::max) * 1.1;
    let x_min = c
        .runs
        .iter()
        .map(|r| r.input_kbps)
        .fold(x_max, f64::min)
        .min(x_max * 0.5)
        * 0.9;
    let y_min = points.iter().map(|p| p.1).fold(80.0_f64, f64::min).floor();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Continuity against input rate", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max, y_min..100.5)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("input rate (kb/s)")
            .y_desc("continuity (%)")
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                DOWN.stroke_width(2),
            ))
            .map_err(draw_err)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 5, DOWN_VIDEO.filled())),
            )
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    out.write_all(svg.as_bytes())?;
    Ok(())
}
