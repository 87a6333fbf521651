//! SVG figures of a [`Report`]: one module per figure, each a pure function from the report
//! model to SVG text (and a `write` to any `io::Write`).
//!
//! | figure          | module        | shows                                                    |
//! |-----------------|---------------|----------------------------------------------------------|
//! | `sizes.svg`     | [`sizes`]     | UDP payload size distribution, log counts, peaks, threshold |
//! | `peers.svg`     | [`peers`]     | peers ranked by video received, in/out bars, cumulative share |
//! | `rates.svg`     | [`rates`]     | download/upload over time, video and control, events, stalls |
//! | `suppliers.svg` | [`suppliers`] | active suppliers per window, peers seen so far            |
//! | `buffer.svg`    | [`buffer`]    | buffer level in seconds of stream                         |
//! | `swarm.svg`     | [`swarm`]     | lifetime CDF of peer sessions, arrivals/departures per minute |
//!
//! Every figure is [`style::WIDTH`]×[`style::HEIGHT`] with the palette of [`style`]. Missing
//! data still gives a valid figure that says what is missing. Output is byte-stable: the same
//! report gives the same bytes (no clock, no hash-ordered iteration), and no NaN or infinity
//! reaches a coordinate. plotters is built without fonts, so text is SVG `<text>` laid out by
//! the viewer; plotters escapes it, and [`style::clean`] removes characters XML cannot hold.

pub mod buffer;
pub mod peers;
pub mod rates;
pub mod sizes;
pub mod style;
pub mod suppliers;
pub mod swarm;

use std::io;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Report;
use style::{draw_err, HEIGHT, WIDTH};

/// Why a figure could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SvgError {
    /// plotters refused to draw.
    #[error("drawing the figure: {message}")]
    Draw { message: String },
    /// The writer failed.
    #[error("writing the figure: {source}")]
    Io {
        #[from]
        source: io::Error,
    },
}

/// One rendered figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// Short name, also the file stem: `sizes`, `peers`, `rates`, `suppliers`, `buffer`.
    pub name: &'static str,
    /// The SVG document.
    pub svg: String,
}

impl Figure {
    /// The file name the figure is written under (`sizes.svg`, …).
    pub fn file_name(&self) -> String {
        format!("{}.svg", self.name)
    }
}

/// Names of the figures, in the order [`render`] returns them.
pub const NAMES: [&str; 6] = ["sizes", "peers", "rates", "suppliers", "buffer", "swarm"];

/// Renders every figure of `report`, in the order of [`NAMES`].
pub fn render(report: &Report) -> Result<Vec<Figure>, SvgError> {
    Ok(vec![
        Figure {
            name: "sizes",
            svg: sizes::svg(report)?,
        },
        Figure {
            name: "peers",
            svg: peers::svg(report)?,
        },
        Figure {
            name: "rates",
            svg: rates::svg(report)?,
        },
        Figure {
            name: "suppliers",
            svg: suppliers::svg(report)?,
        },
        Figure {
            name: "buffer",
            svg: buffer::svg(report)?,
        },
        Figure {
            name: "swarm",
            svg: swarm::svg(report)?,
        },
    ])
}

/// Runs `draw` on a white [`WIDTH`]×[`HEIGHT`] SVG canvas and returns the document.
fn canvas<F>(draw: F) -> Result<String, SvgError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), SvgError>,
{
    canvas_of_height(HEIGHT, draw)
}

/// [`canvas`] of another height (a figure of several panels).
fn canvas_of_height<F>(height: u32, draw: F) -> Result<String, SvgError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), SvgError>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// The time axis shared by the time-series figures: from 0 to the end of the last window or
/// the capture's duration, whichever is later (at least 1 s).
fn time_end(report: &Report) -> f64 {
    let window = style::finite(report.series.window_s)
        .unwrap_or(0.0)
        .max(0.0);
    let last = report
        .series
        .rows
        .iter()
        .filter_map(|r| style::finite(r.t_s))
        .fold(0.0_f64, f64::max);
    let duration = style::finite(report.capture.duration_s).unwrap_or(0.0);
    (last + window).max(duration).clamp(1.0, 1e9)
}

/// The chart type of the time-series figures.
type TimeChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The playout model's stalls (`report.continuity.stalls`) as (start, end) within the time
/// axis.
fn stalls(report: &Report) -> Vec<(f64, f64)> {
    let x_end = time_end(report);
    report
        .continuity
        .stalls
        .iter()
        .filter_map(|s| Some((style::finite(s.start_s)?, style::finite(s.duration_s)?)))
        .map(|(start, d)| {
            (
                start.clamp(0.0, x_end),
                (start + d.max(0.0)).clamp(0.0, x_end),
            )
        })
        .collect()
}

/// The legend entry of the stalls, when there are any.
fn stall_legend(report: &Report) -> Option<(style::Swatch, String)> {
    let stalls = stalls(report);
    if stalls.is_empty() {
        return None;
    }
    let total: f64 = stalls.iter().map(|(a, b)| b - a).sum();
    Some((
        style::Swatch::Fill(style::ALERT.mix(0.35).filled()),
        format!(
            "stalls of the playout model ({}, {} missed)",
            stalls.len(),
            style::fmt_seconds(total)
        ),
    ))
}

/// Marks the playback events on a time chart: stalls as red bands, then tune-in, first video
/// and playback start (`report.startup`) as vertical lines labelled at the top, the labels
/// stacked downwards when they would overlap.
fn draw_events(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &mut TimeChart<'_, '_>,
    report: &Report,
    (y_bottom, y_top): (f64, f64),
    placer: &mut style::Placer,
) -> Result<(), SvgError> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    use style::{finite, fmt_seconds, text_style, text_width, NOTE_SIZE};

    let x_end = time_end(report);
    chart
        .draw_series(stalls(report).into_iter().map(|(a, b)| {
            // At least about a pixel wide, so a short stall still shows.
            let b = b.max(a + x_end / 800.0);
            Rectangle::new([(a, y_bottom), (b, y_top)], style::ALERT.mix(0.22).filled())
        }))
        .map_err(draw_err)?;
    let su = &report.startup;
    let events = [
        ("tune-in", su.tune_in_s, style::REFERENCE),
        ("first video", su.first_video_s, style::FIRST_VIDEO),
        ("playback start", su.playback_start_s, style::PLAYBACK),
    ];
    let (px, py) = chart.plotting_area().get_pixel_range();
    let line_h = NOTE_SIZE as i32 + 3;
    for (name, at, color) in events {
        let Some(t) = at.and_then(finite) else {
            continue;
        };
        let t = t.clamp(0.0, x_end);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(t, y_bottom), (t, y_top)],
                color.stroke_width(2),
            )))
            .map_err(draw_err)?;
        let (x, _) = chart.backend_coord(&(t, y_top));
        let text = format!("{name} {}", fmt_seconds(t));
        let w = text_width(&text, NOTE_SIZE);
        let lx = (x + 5).clamp(px.start + 2, (px.end - w - 2).max(px.start + 2));
        let y = placer.place(lx, py.start + 4, w, line_h, line_h);
        root.draw(&Text::new(
            text,
            (lx, y),
            text_style(NOTE_SIZE, color, Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}
