//! `swarm.svg`: churn (issue 18). Left, the lifetime CDF of the ended peer sessions
//! (`swarm.lifetime_cdf`) as a step line with the median and p90 marked; right, sessions
//! begun (`swarm.arrivals_per_min`, above the axis) and ended (`departures_per_min`, below)
//! per minute of capture. A report without `swarm` (written before it) gives a figure that
//! says so.

use std::io::Write;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{
    axis_top, draw_err, draw_message, finite, fmt_seconds, header, text_style, tick, Swatch,
    CUMULATIVE, DOWN, FONT, LABEL_SIZE, MARGIN, NOTE_SIZE, REFERENCE, UP, WIDTH, X_LABEL_AREA,
    Y_LABEL_AREA,
};
use super::SvgError;
use crate::metrics::swarm::Swarm;
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

/// Step points of the CDF, from (0, 0).
fn cdf_steps(s: &Swarm) -> Vec<(f64, f64)> {
    let mut pts = vec![(0.0, 0.0)];
    let mut last = 0.0;
    for p in &s.lifetime_cdf {
        let (Some(x), Some(y)) = (finite(p[0]), finite(p[1])) else {
            continue;
        };
        let x = x.max(0.0);
        pts.push((x, last));
        pts.push((x, y.clamp(0.0, 1.0)));
        last = y.clamp(0.0, 1.0);
    }
    pts
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, report: &Report) -> Result<(), SvgError> {
    let Some(s) = report.swarm.as_ref() else {
        let area = header(root, "Peer lifetimes and churn: not in this report", &[])?;
        let (w, h) = area.dim_in_pixel();
        let lines = vec!["This report was written before peerscope measured churn.".to_string()];
        return draw_message(&area, &lines, (0, 0), (w as i32, h as i32));
    };
    let ended = s.sessions_ended;
    let title = format!(
        "Peer sessions: lifetimes of the {ended} ended, arrivals and departures per minute"
    );
    let mut legend = vec![(
        Swatch::Line(CUMULATIVE.stroke_width(2)),
        format!(
            "lifetime CDF (idle timeout {}; {} still open at the end)",
            fmt_seconds(s.idle_timeout_s),
            s.sessions_open_at_end
        ),
    )];
    if let (Some(m), Some(p)) = (s.lifetime_s.median, s.lifetime_s.p90) {
        legend.push((
            Swatch::Dashed(REFERENCE.stroke_width(1)),
            format!("median {}, p90 {}", fmt_seconds(m), fmt_seconds(p)),
        ));
    }
    legend.push((
        Swatch::Fill(DOWN.mix(0.8).filled()),
        "sessions begun".to_string(),
    ));
    legend.push((
        Swatch::Fill(UP.mix(0.8).filled()),
        "sessions ended".to_string(),
    ));
    let area = header(root, &title, &legend)?;
    let (left, right) = area.split_horizontally(WIDTH / 2);
    draw_cdf(&left, s)?;
    draw_minutes(&right, s)
}

fn draw_cdf(area: &DrawingArea<SVGBackend<'_>, Shift>, s: &Swarm) -> Result<(), SvgError> {
    let pts = cdf_steps(s);
    let x_max = pts.iter().map(|p| p.0).fold(0.0_f64, f64::max);
    let x_end = axis_top(x_max * 1.05, 1.0);
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA - 16)
        .build_cartesian_2d(0.0..x_end, 0.0..1.0)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc("session lifetime (s)")
        .y_desc("share of ended sessions")
        .x_labels(6)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    if pts.len() < 2 {
        let (px, py) = chart.plotting_area().get_pixel_range();
        let lines = vec![
            "No session ended during the capture:".to_string(),
            "every peer stayed until its end.".to_string(),
        ];
        return draw_message(area, &lines, (px.start, py.start), (px.end, py.end));
    }
    for (q, v) in [(0.5, s.lifetime_s.median), (0.9, s.lifetime_s.p90)] {
        let Some(v) = v.and_then(finite) else {
            continue;
        };
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, q), (v, q), (v, 0.0)],
                6,
                4,
                REFERENCE.stroke_width(1),
            ))
            .map_err(draw_err)?;
    }
    let mut line = pts;
    line.push((x_end, line.last().map_or(0.0, |p| p.1)));
    chart
        .draw_series(LineSeries::new(line, CUMULATIVE.stroke_width(2)))
        .map_err(draw_err)?;
    Ok(())
}

fn draw_minutes(area: &DrawingArea<SVGBackend<'_>, Shift>, s: &Swarm) -> Result<(), SvgError> {
    let n = s
        .arrivals_per_min
        .len()
        .max(s.departures_per_min.len())
        .max(1);
    let top = s
        .arrivals_per_min
        .iter()
        .chain(&s.departures_per_min)
        .copied()
        .max()
        .unwrap_or(0) as f64;
    let y = axis_top(top * 1.15, 2.0);
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA - 16)
        .build_cartesian_2d(0.0..n as f64, -y..y)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc("minute of capture")
        .y_desc("sessions per minute")
        .x_labels(n.min(10) + 1)
        .x_label_formatter(&tick)
        .y_label_formatter(&|v: &f64| tick(&v.abs()))
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    let bar = |i: usize, v: u32, sign: f64, color: RGBColor| {
        Rectangle::new(
            [
                (i as f64 + 0.15, 0.0),
                (i as f64 + 0.85, sign * f64::from(v)),
            ],
            color.mix(0.8).filled(),
        )
    };
    chart
        .draw_series(
            s.arrivals_per_min
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > 0)
                .map(|(i, &v)| bar(i, v, 1.0, DOWN)),
        )
        .map_err(draw_err)?;
    chart
        .draw_series(
            s.departures_per_min
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > 0)
                .map(|(i, &v)| bar(i, v, -1.0, UP)),
        )
        .map_err(draw_err)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (n as f64, 0.0)],
            BLACK.stroke_width(1),
        )))
        .map_err(draw_err)?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    let turnover = match s.supplier_turnover.new_share {
        Some(x) => format!(
            "new suppliers per {} s window: {:.0} %",
            tick(&s.supplier_turnover.window_s),
            x * 100.0
        ),
        None => "new suppliers per window: n/a".to_string(),
    };
    area.draw(&Text::new(
        turnover,
        (px.end - 6, py.start + 6),
        text_style(NOTE_SIZE, REFERENCE, Pos::new(HPos::Right, VPos::Top)),
    ))
    .map_err(draw_err)?;
    Ok(())
}
