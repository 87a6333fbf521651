//! `suppliers.svg`: active suppliers per series window (`series.rows[].suppliers`: peers that
//! sent ≥ 1 % of the window's video) as a step line; the peers seen so far, counted from
//! `peers.list[].first_seen_s`, as a cumulative step line; `peers.contacted` as a dashed
//! reference; and the study's "typically 2 to 5 suppliers" as a shaded band.

use std::io::Write;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{
    draw_err, draw_message, finite, header, time_chart, Placer, Swatch, CUMULATIVE, DOWN,
    FIRST_VIDEO, REFERENCE,
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

/// Step points of the suppliers per window: each window holds its count across its width.
fn supplier_steps(report: &Report, x_end: f64) -> Vec<(f64, f64)> {
    let window = finite(report.series.window_s).unwrap_or(0.0).max(0.0);
    let mut pts = Vec::with_capacity(report.series.rows.len() * 2);
    for r in &report.series.rows {
        let Some(t) = finite(r.t_s) else { continue };
        let t = t.clamp(0.0, x_end);
        let v = f64::from(r.suppliers);
        pts.push((t, v));
        pts.push(((t + window).min(x_end), v));
    }
    pts
}

/// Step points of the peers seen so far, from each peer's first packet.
fn seen_steps(report: &Report, x_end: f64) -> Vec<(f64, f64)> {
    let mut firsts: Vec<f64> = report
        .peers
        .list
        .iter()
        .filter_map(|p| finite(p.first_seen_s))
        .map(|t| t.clamp(0.0, x_end))
        .collect();
    firsts.sort_by(f64::total_cmp);
    let mut pts = vec![(0.0, 0.0)];
    for (i, t) in firsts.iter().enumerate() {
        pts.push((*t, i as f64));
        pts.push((*t, i as f64 + 1.0));
    }
    if !firsts.is_empty() {
        pts.push((x_end, firsts.len() as f64));
    }
    pts
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, report: &Report) -> Result<(), SvgError> {
    let x_end = super::time_end(report);
    let supp = supplier_steps(report, x_end);
    let seen = seen_steps(report, x_end);
    let contacted = report.peers.contacted;
    let n_list = report.peers.list.len();
    let max = supp
        .iter()
        .chain(seen.iter())
        .map(|p| p.1)
        .fold(contacted.min(1_000_000_000) as f64, f64::max)
        .max(5.0);
    let y_top = (max * 1.2).ceil();
    let window = finite(report.series.window_s).unwrap_or(0.0);
    let empty = supp.is_empty() && n_list == 0;
    let title = if empty {
        "Suppliers and peers over time: no series windows and no peers".to_string()
    } else {
        format!("Active suppliers per {window} s window, and peers seen so far")
    };
    let mut legend = Vec::new();
    if !supp.is_empty() {
        legend.push((
            Swatch::Line(DOWN.stroke_width(2)),
            "active suppliers (≥ 1 % of the window's video)".to_string(),
        ));
    }
    if n_list > 0 {
        legend.push((
            Swatch::Line(CUMULATIVE.stroke_width(2)),
            format!("peers seen so far (first packet; {n_list} in the list)"),
        ));
    }
    if contacted > 0 {
        legend.push((
            Swatch::Dashed(REFERENCE.stroke_width(1)),
            format!("peers contacted: {contacted}"),
        ));
    }
    legend.push((
        Swatch::Fill(FIRST_VIDEO.mix(0.2).filled()),
        "the study: a client downloads from 2 to 5 peers".to_string(),
    ));
    legend.extend(super::stall_legend(report));
    let area = header(root, &title, &legend)?;
    let mut chart = time_chart(&area, x_end, 0.0..y_top, "peers")?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, 2.0), (x_end, 5.0)],
            FIRST_VIDEO.mix(0.10).filled(),
        )))
        .map_err(draw_err)?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    super::draw_events(
        root,
        &mut chart,
        report,
        (0.0, y_top),
        &mut Placer::default(),
    )?;
    if empty {
        let lines = vec![
            "No series windows and no peers in this report: nothing to count.".to_string(),
            format!("{contacted} peers contacted."),
        ];
        return draw_message(root, &lines, (px.start, py.start), (px.end, py.end));
    }
    if contacted > 0 {
        let c = contacted as f64;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, c), (x_end, c)],
                8,
                5,
                REFERENCE.stroke_width(1),
            ))
            .map_err(draw_err)?;
    }
    if n_list > 0 {
        chart
            .draw_series(LineSeries::new(seen, CUMULATIVE.stroke_width(2)))
            .map_err(draw_err)?;
    }
    if !supp.is_empty() {
        chart
            .draw_series(LineSeries::new(supp, DOWN.stroke_width(2)))
            .map_err(draw_err)?;
    }
    Ok(())
}
