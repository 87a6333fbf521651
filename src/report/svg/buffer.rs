//! `buffer.svg`: the client's buffer in seconds of stream at the end of each series window
//! (`series.rows[].buffer_s`), with its median (`buffer.seconds`), the study's "about one
//! minute" as a reference, playback events and stalls. Without buffer levels the figure says
//! why, quoting `buffer.how`.

use std::io::Write;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{
    draw_err, draw_message, finite, fmt_seconds, header, time_chart, wrap, Placer, Swatch,
    PLAYBACK, REFERENCE,
};
use super::SvgError;
use crate::report::Report;

/// The study's client buffer: about one minute of video (SopCast, 2007).
const STUDY_BUFFER_S: f64 = 60.0;

/// The figure as SVG text.
pub fn svg(report: &Report) -> Result<String, SvgError> {
    super::canvas(|root| draw(root, report))
}

/// Writes the figure to `out`.
pub fn write<W: Write>(report: &Report, mut out: W) -> Result<(), SvgError> {
    out.write_all(svg(report)?.as_bytes())?;
    Ok(())
}

/// Runs of consecutive windows with a buffer level: (window end, seconds), a new run after
/// every window without one.
fn runs(report: &Report) -> Vec<Vec<(f64, f64)>> {
    let x_end = super::time_end(report);
    let window = finite(report.series.window_s).unwrap_or(0.0).max(0.0);
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run = Vec::new();
    for r in &report.series.rows {
        match (finite(r.t_s), r.buffer_s.and_then(finite)) {
            (Some(t), Some(b)) => run.push(((t + window).clamp(0.0, x_end), b.clamp(-1e9, 1e9))),
            _ => {
                if !run.is_empty() {
                    out.push(std::mem::take(&mut run));
                }
            }
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, report: &Report) -> Result<(), SvgError> {
    let runs = runs(report);
    let median = report
        .buffer
        .seconds
        .and_then(finite)
        .map(|m| m.clamp(-1e9, 1e9));
    // The axis fits the data; the study's 60 s is a marker, drawn when it falls inside (a
    // 13 s buffer must not hug the floor of a 70 s axis).
    let max = runs
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(median.unwrap_or(0.0).max(1.0), f64::max);
    let min = runs
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(median.unwrap_or(0.0).min(0.0), f64::min);
    let y_top = if runs.is_empty() && median.is_none() {
        STUDY_BUFFER_S * 1.2
    } else {
        max * 1.2
    };
    let study_inside = STUDY_BUFFER_S <= y_top;
    let y_bottom = if min < 0.0 { min * 1.1 } else { 0.0 };
    let x_end = super::time_end(report);
    let title = if runs.is_empty() {
        "Client buffer: no buffer levels in this report".to_string()
    } else {
        "Client buffer level over time, in seconds of stream".to_string()
    };
    let mut legend = Vec::new();
    if !runs.is_empty() {
        legend.push((
            Swatch::Line(PLAYBACK.stroke_width(2)),
            "buffer at the end of each window".to_string(),
        ));
        if let Some(m) = median {
            legend.push((
                Swatch::Dashed(PLAYBACK.mix(0.6).stroke_width(1)),
                format!("median over playback: {}", fmt_seconds(m)),
            ));
        }
    }
    legend.push((
        Swatch::Dashed(REFERENCE.stroke_width(1)),
        if study_inside {
            "the study: about 1 min of video (SopCast 2007)".to_string()
        } else {
            format!(
                "the study: about 1 min of video (SopCast 2007), above this axis (top {})",
                fmt_seconds(y_top)
            )
        },
    ));
    legend.extend(super::stall_legend(report));
    let area = header(root, &title, &legend)?;
    let mut chart = time_chart(&area, x_end, y_bottom..y_top, "buffer (s of stream)")?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    super::draw_events(
        root,
        &mut chart,
        report,
        (y_bottom, y_top),
        &mut Placer::default(),
    )?;
    if study_inside {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, STUDY_BUFFER_S), (x_end, STUDY_BUFFER_S)],
                8,
                5,
                REFERENCE.stroke_width(1),
            ))
            .map_err(draw_err)?;
    }
    if runs.is_empty() {
        let mut lines = vec!["No buffer level in the series windows.".to_string()];
        lines.extend(wrap(&report.buffer.how, 80));
        if let Some(m) = median {
            lines.push(format!("Median over playback: {}.", fmt_seconds(m)));
        }
        return draw_message(root, &lines, (px.start, py.start), (px.end, py.end));
    }
    if let Some(m) = median {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, m), (x_end, m)],
                8,
                5,
                PLAYBACK.mix(0.6).stroke_width(1),
            ))
            .map_err(draw_err)?;
    }
    for run in runs {
        chart
            .draw_series(LineSeries::new(run, PLAYBACK.stroke_width(2)))
            .map_err(draw_err)?;
    }
    Ok(())
}
