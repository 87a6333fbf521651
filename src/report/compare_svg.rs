//! The figures of `peerscope compare`, each one function from the [`Compare`] model to a
//! writer (plotters' SVG backend, no fonts: text is SVG `<text>` laid out by the viewer):
//!
//! - [`traffic`]: grouped bars per node, download and upload (all traffic, video as the
//!   darker inner bar), the source's group marked (the study's Fig. 3/4);
//! - [`delay`]: per receiver, the playback delay's p10–p90 range with the median marked
//!   (a cross-correlation lag is a lone diamond);
//! - [`continuity`]: continuity (%) against the input rate of each run (the study's Fig. 2).
//!
//! They share the report figures' frame, palette, fonts, tick formatting and legend
//! ([`super::svg::style`]): the title and a legend for every mark above the plot, axes that fit
//! the data, rates in the unit the report figures use.

use std::io::Write;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::compare::{Compare, DelayMethod, NodeRole};
use super::svg::style::{
    draw_err, draw_message, header, rate_unit, tick, Swatch, ALERT, DOWN, FONT, HEIGHT, LABEL_SIZE,
    MARGIN, NOTE_SIZE, UP, WIDTH, X_LABEL_AREA, Y_LABEL_AREA,
};
use super::svg::SvgError;

/// The video shades of download and upload: the darker inner bars.
const DOWN_VIDEO: RGBColor = RGBColor(20, 75, 115);
const UP_VIDEO: RGBColor = RGBColor(160, 80, 0);
/// The source's group is marked in the palette's alert colour.
const SOURCE_MARK: RGBColor = ALERT;

/// A label for x position `x` when it sits on a category.
/// The grid and axes of a chart with one category (node) per x position.
fn category_mesh(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    names: &[String],
    x_desc: &str,
    y_desc: &str,
) -> Result<(), SvgError> {
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len().max(1) + 1)
        .x_label_formatter(&|x| category(names, *x))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)
}

fn category(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// A finite value clamped to a range the pixel arithmetic can hold.
fn sane(v: f64) -> f64 {
    if v.is_finite() {
        v.clamp(-1e12, 1e12)
    } else {
        0.0
    }
}

/// Renders one figure into a string.
fn render<F>(draw: F) -> Result<String, SvgError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), SvgError>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Writes the grouped-bar figure of every node's download and upload.
pub fn traffic<Wr: Write>(c: &Compare, mut out: Wr) -> Result<(), SvgError> {
    let svg = render(|root| draw_traffic(root, c))?;
    out.write_all(svg.as_bytes())?;
    Ok(())
}

fn draw_traffic(root: &DrawingArea<SVGBackend<'_>, Shift>, c: &Compare) -> Result<(), SvgError> {
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
    let max_kbps = c
        .nodes
        .iter()
        .flat_map(|n| [sane(n.download_kbps), sane(n.upload_kbps)])
        .fold(0.0_f64, f64::max);
    let (div, unit) = rate_unit(max_kbps);
    let y_max = (max_kbps / div * 1.12).max(1e-3);
    let legend = vec![
        (
            Swatch::Fill(DOWN.filled()),
            "download, all traffic".to_string(),
        ),
        (Swatch::Fill(DOWN_VIDEO.filled()), "of it video".to_string()),
        (Swatch::Fill(UP.filled()), "upload, all traffic".to_string()),
        (Swatch::Fill(UP_VIDEO.filled()), "of it video".to_string()),
        (
            Swatch::Line(SOURCE_MARK.stroke_width(3)),
            "the source".to_string(),
        ),
    ];
    let area = header(
        root,
        &format!("Traffic per node ({unit}, IP bytes)"),
        &legend,
    )?;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(-0.5_f64..(n as f64 - 0.5), 0.0..y_max)
        .map_err(draw_err)?;
    category_mesh(&mut chart, &names, "node", &format!("rate ({unit})"))?;
    for (i, node) in c.nodes.iter().enumerate() {
        let x = i as f64;
        let bars = [
            (
                x - 0.38,
                sane(node.download_kbps) / div,
                sane(node.video.download_kbps) / div,
                DOWN,
                DOWN_VIDEO,
            ),
            (
                x + 0.02,
                sane(node.upload_kbps) / div,
                sane(node.video.upload_kbps) / div,
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
            let top =
                (sane(node.download_kbps).max(sane(node.upload_kbps)) / div * 1.04).min(y_max);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.45, 0.0), (x + 0.45, top)],
                    SOURCE_MARK.stroke_width(3),
                )))
                .map_err(draw_err)?;
        }
    }
    Ok(())
}

/// Writes the playback-delay figure (receivers only).
pub fn delay<Wr: Write>(c: &Compare, mut out: Wr) -> Result<(), SvgError> {
    let svg = render(|root| draw_delay(root, c))?;
    out.write_all(svg.as_bytes())?;
    Ok(())
}

fn draw_delay(root: &DrawingArea<SVGBackend<'_>, Shift>, c: &Compare) -> Result<(), SvgError> {
    let receivers: Vec<_> = c
        .nodes
        .iter()
        .filter(|n| n.role != NodeRole::Source)
        .collect();
    let names: Vec<String> = receivers.iter().map(|n| n.name.clone()).collect();
    let n = names.len().max(1);
    let values: Vec<f64> = receivers
        .iter()
        .flat_map(|r| {
            let d = &r.playback_delay;
            [d.p10_s, d.median_s, d.p90_s]
        })
        .flatten()
        .map(sane)
        .collect();
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    // The axis fits the delays, with 0 in view when they are near it.
    let (y_min, y_max) = if values.is_empty() {
        (0.0, 1.0)
    } else {
        let pad = ((hi - lo) * 0.15).max(0.05 * hi.abs().max(0.1));
        let bottom = if lo >= 0.0 && lo < (hi - lo) {
            0.0
        } else {
            lo - pad
        };
        (bottom, hi + pad)
    };
    let xcorr = receivers
        .iter()
        .any(|r| r.playback_delay.method == Some(DelayMethod::RateXcorr));
    let mut legend = vec![
        (
            Swatch::Fill(DOWN.mix(0.5).filled()),
            "p10 to p90 of the matched packets".to_string(),
        ),
        (
            Swatch::Line(DOWN_VIDEO.stroke_width(3)),
            "median".to_string(),
        ),
    ];
    if xcorr {
        legend.push((
            Swatch::Fill(UP.filled()),
            "lag of the rate cross-correlation (no payload match)".to_string(),
        ));
    }
    let area = header(
        root,
        &format!("Playback delay behind {} (s)", c.source),
        &legend,
    )?;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(-0.5_f64..(n as f64 - 0.5), y_min..y_max)
        .map_err(draw_err)?;
    category_mesh(&mut chart, &names, "receiver", "seconds behind the source")?;
    if values.is_empty() {
        let (px, py) = chart.plotting_area().get_pixel_range();
        return draw_message(
            root,
            &["No receiver's delay could be measured.".to_string()],
            (px.start, py.start),
            (px.end, py.end),
        );
    }
    let span = y_max - y_min;
    for (i, r) in receivers.iter().enumerate() {
        let x = i as f64;
        let d = &r.playback_delay;
        let Some(median) = d.median_s.map(sane) else {
            continue;
        };
        if d.method == Some(DelayMethod::RateXcorr) {
            chart
                .draw_series(std::iter::once(Polygon::new(
                    vec![
                        (x - 0.12, median),
                        (x, median + span * 0.03),
                        (x + 0.12, median),
                        (x, median - span * 0.03),
                    ],
                    UP.filled(),
                )))
                .map_err(draw_err)?;
            continue;
        }
        let (lo, hi) = (
            d.p10_s.map(sane).unwrap_or(median),
            d.p90_s.map(sane).unwrap_or(median),
        );
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - 0.2, lo), (x + 0.2, hi.max(lo + span * 0.004))],
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
    Ok(())
}

/// Writes continuity (%) against input rate, one point per run.
pub fn continuity<Wr: Write>(c: &Compare, mut out: Wr) -> Result<(), SvgError> {
    let svg = render(|root| draw_continuity(root, c))?;
    out.write_all(svg.as_bytes())?;
    Ok(())
}

fn draw_continuity(root: &DrawingArea<SVGBackend<'_>, Shift>, c: &Compare) -> Result<(), SvgError> {
    let mut points: Vec<(f64, f64)> = c
        .runs
        .iter()
        .filter_map(|r| r.continuity.map(|x| (sane(r.input_kbps), sane(x * 100.0))))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Both axes around the runs (a 330–380 kb/s pair of runs is not drawn on 200–400).
    let xs = c.runs.iter().map(|r| sane(r.input_kbps));
    let (x_lo, x_hi) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x_lo, x_hi) = if x_lo > x_hi {
        (0.0, 1.0)
    } else {
        (x_lo, x_hi)
    };
    let x_pad = ((x_hi - x_lo) * 0.15).max(x_hi.abs() * 0.02).max(1.0);
    let (y_lo, y_hi) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (y_lo, y_hi) = if y_lo > y_hi {
        (0.0, 100.0)
    } else {
        (y_lo, y_hi)
    };
    let y_pad = ((y_hi - y_lo) * 0.2).max(0.5);
    let y_min = (y_lo - y_pad).max(0.0);
    let y_max = (y_hi + y_pad).min(100.5);
    let legend = vec![(
        Swatch::Line(DOWN.stroke_width(2)),
        "continuity of each run (share of playback time not stalled)".to_string(),
    )];
    let area = header(root, "Continuity against input rate", &legend)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((x_lo - x_pad)..(x_hi + x_pad), y_min..y_max)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc("input rate (kb/s)")
        .y_desc("continuity (%)")
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
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
    Ok(())
}
