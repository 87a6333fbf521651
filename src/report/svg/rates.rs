//! `rates.svg`: the local host's download and upload rates per series window
//! (`report.series.rows`), video and control-and-other (all IP bytes minus video) apart, with
//! the stream rate as a reference, tune-in, first video and playback start (`report.startup`)
//! as vertical lines and the playout model's stalls (`report.continuity.stalls`) as red bands.

use std::io::Write;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{
    draw_err, draw_message, finite, header, time_chart, Placer, Swatch, DOWN, REFERENCE, UP,
};
use super::SvgError;
use crate::report::Report;

/// The figure as SVG text.
pub fn svg(report: &Report) -> Result<String, SvgError> {
    super::canvas(|root| draw(root, report))
}

/// Writes the figure to `out`.
pub fn write<W: Write>(report: &Report, mut out: W) -> Result<(), SvgError> {
    out.write_all(svg(report)?.as_bytes())?;
    Ok(())
}

/// One window: (time at its middle, video down, other down, video up, other up), in kb/s.
type Point = (f64, f64, f64, f64, f64);

/// A line of the figure: legend text, the value it reads from a [`Point`], its style.
type Line = (&'static str, fn(&Point) -> f64, ShapeStyle);

fn points(report: &Report) -> Vec<Point> {
    let half = finite(report.series.window_s).unwrap_or(0.0).max(0.0) / 2.0;
    let clean = |v: f64| finite(v).unwrap_or(0.0).clamp(0.0, 1e12);
    report
        .series
        .rows
        .iter()
        .filter_map(|r| {
            let t = finite(r.t_s)?.clamp(-1e12, 1e12);
            let (down, up) = (clean(r.down_kbps), clean(r.up_kbps));
            let (vd, vu) = (clean(r.video_down_kbps), clean(r.video_up_kbps));
            Some((t + half, vd, (down - vd).max(0.0), vu, (up - vu).max(0.0)))
        })
        .collect()
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, report: &Report) -> Result<(), SvgError> {
    let x_end = super::time_end(report);
    // Every coordinate inside the axes: plotters' pixel arithmetic overflows far outside them.
    let pts: Vec<Point> = points(report)
        .into_iter()
        .map(|p| (p.0.clamp(0.0, x_end), p.1, p.2, p.3, p.4))
        .collect();
    let stream = report
        .stream
        .rate_kbps
        .and_then(finite)
        .filter(|r| *r > 0.0);
    let max = pts
        .iter()
        .map(|p| p.1.max(p.2).max(p.3).max(p.4))
        .fold(stream.unwrap_or(0.0), f64::max);
    let (div, unit) = super::style::rate_unit(max);
    // Headroom above the highest rate for the event labels.
    let y_top = (max / div * 1.2).max(1.0);
    let window = finite(report.series.window_s).unwrap_or(0.0);
    let title = if pts.is_empty() {
        "Download and upload rates: no series windows in this report".to_string()
    } else {
        format!("Download and upload rates of the local host per {window} s window")
    };
    let series: [Line; 4] = [
        ("download, video", |p| p.1, DOWN.stroke_width(2)),
        ("upload, video", |p| p.3, UP.stroke_width(2)),
        // Control dashed at nearly full strength: a pale thin line vanishes in print.
        (
            "download, control and other",
            |p| p.2,
            DOWN.mix(0.8).stroke_width(2),
        ),
        (
            "upload, control and other",
            |p| p.4,
            UP.mix(0.8).stroke_width(2),
        ),
    ];
    let dashed = |name: &str| name.contains("control");
    let mut legend = Vec::new();
    if !pts.is_empty() {
        legend.extend(series.iter().map(|(name, _, style)| {
            let swatch = if dashed(name) {
                Swatch::Dashed(*style)
            } else {
                Swatch::Line(*style)
            };
            (swatch, (*name).to_string())
        }));
        if let Some(rate) = stream {
            legend.push((
                Swatch::Dashed(REFERENCE.stroke_width(1)),
                format!("stream rate {rate:.0} kb/s (application bytes)"),
            ));
        }
    }
    legend.extend(super::stall_legend(report));
    let area = header(root, &title, &legend)?;
    let mut chart = time_chart(
        &area,
        x_end,
        0.0..y_top,
        &format!("rate ({unit}, IP bytes)"),
    )?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    super::draw_events(
        root,
        &mut chart,
        report,
        (0.0, y_top),
        &mut Placer::default(),
    )?;
    if pts.is_empty() {
        let lines = vec![
            "No series windows: the report holds no traffic of a local host over time.".into(),
            format!(
                "{} packets read in {:.1} s.",
                report.capture.packets, report.capture.duration_s
            ),
        ];
        return draw_message(root, &lines, (px.start, py.start), (px.end, py.end));
    }
    if let Some(rate) = stream {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, rate / div), (x_end, rate / div)],
                8,
                5,
                REFERENCE.stroke_width(1),
            ))
            .map_err(draw_err)?;
    }
    // Control first, so the video lines are drawn on top.
    for (name, get, style) in series.iter().rev() {
        let points = pts.iter().map(|p| (p.0, get(p) / div));
        if dashed(name) {
            chart
                .draw_series(DashedLineSeries::new(points, 6, 4, *style))
                .map_err(draw_err)?;
        } else {
            chart
                .draw_series(LineSeries::new(points, *style))
                .map_err(draw_err)?;
        }
    }
    Ok(())
}
