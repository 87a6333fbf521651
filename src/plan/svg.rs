//! The `--svg` figure of `peerscope plan`: one SVG with up to two panels, drawn from a [`Plan`].
//!
//! - left: efficiency (%) against chunk size (KiB, log scale) for the plan's buffer, with the
//!   chosen chunk marked;
//! - right: server capacity needed against stream rate for the plan's users and population,
//!   with the chosen rate and the largest P2P-only rate marked.
//!
//! A panel is drawn only when its inputs are there; panels are stacked, each the size of a
//! report figure and in its style (title and a legend for every mark above the plot, the one
//! palette, fonts and tick formatting of [`crate::report::svg::style`]). Text is emitted as
//! SVG `<text>` and laid out by the viewer (plotters is built without fonts).

use std::io::{self, Write};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{efficiency, server_kbps, Plan};
use crate::report::svg::style::{
    header, rate_unit, tick, Swatch, ALERT, CUMULATIVE, DOWN, FONT, HEIGHT, LABEL_SIZE, MARGIN,
    NOTE_SIZE, WIDTH, X_LABEL_AREA, Y_LABEL_AREA,
};

/// Why the figure could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SvgError {
    #[error(
        "nothing to draw: the figure needs a buffer (--delay-tolerance with --rate, or --buffer) \
         or users with their upstream (--users with --upstream or --class)"
    )]
    NothingToDraw,
    #[error("drawing the figure: {message}")]
    Draw { message: String },
    #[error("writing the figure: {source}")]
    Io {
        #[from]
        source: io::Error,
    },
}

fn draw_err<E: std::fmt::Debug>(err: E) -> SvgError {
    SvgError::Draw {
        message: format!("{err:?}"),
    }
}

impl From<crate::report::svg::SvgError> for SvgError {
    fn from(e: crate::report::svg::SvgError) -> Self {
        SvgError::Draw {
            message: e.to_string(),
        }
    }
}

const SAMPLES: usize = 200;

/// True when the efficiency panel can be drawn.
fn has_efficiency(plan: &Plan) -> bool {
    plan.buffer_bytes.is_some()
}

/// True when the server-capacity panel can be drawn.
fn has_server(plan: &Plan) -> bool {
    plan.inputs.users.is_some() && plan.max_p2p_rate_kbps.is_some()
}

/// Writes the figure for `plan` to `out`.
pub fn write<W: Write>(plan: &Plan, mut out: W) -> Result<(), SvgError> {
    let panels = usize::from(has_efficiency(plan)) + usize::from(has_server(plan));
    if panels == 0 {
        return Err(SvgError::NothingToDraw);
    }
    let mut svg = String::new();
    {
        let height = HEIGHT * panels as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let areas = root.split_evenly((panels, 1));
        let mut areas = areas.iter();
        if let Some(buffer) = plan.buffer_bytes {
            if let Some(area) = areas.next() {
                draw_efficiency(area, buffer, plan.inputs.chunk_bytes)?;
            }
        }
        if let (Some(users), Some(mean)) = (plan.inputs.users, plan.max_p2p_rate_kbps) {
            if let Some(area) = areas.next() {
                draw_server(area, users, mean, plan.inputs.rate_kbps)?;
            }
        }
        root.present().map_err(draw_err)?;
    }
    out.write_all(svg.as_bytes())?;
    Ok(())
}

fn draw_efficiency(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    buffer: f64,
    chunk: Option<f64>,
) -> Result<(), SvgError> {
    // Chunk sizes from 1 KiB to the next power of two at or above twice the buffer (≥ 8 KiB).
    let lo_kib = 1.0_f64;
    let mut hi_kib = 8.0_f64;
    while hi_kib * 1024.0 < 2.0 * buffer && hi_kib < 1e12 {
        hi_kib *= 2.0;
    }
    if let Some(c) = chunk {
        while hi_kib * 1024.0 < c && hi_kib < 1e12 {
            hi_kib *= 2.0;
        }
    }
    let title = format!(
        "Chunk efficiency, buffer {:.0} KiB ({:.2} MB)",
        buffer / 1024.0,
        buffer / 1e6
    );
    let mut legend = vec![(
        Swatch::Line(DOWN.stroke_width(2)),
        "efficiency for this buffer".to_string(),
    )];
    if chunk.is_some() {
        legend.push((
            Swatch::Fill(ALERT.filled()),
            "the chunk size given".to_string(),
        ));
    }
    let area = header(area, &title, &legend)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((lo_kib..hi_kib).log_scale(), 0.0_f64..100.0)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc("chunk size (KiB, log scale)")
        .y_desc("efficiency 1 − 1/chunks (%)")
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    let ratio = (hi_kib / lo_kib).ln();
    let curve = (0..=SAMPLES).map(|i| {
        let kib = lo_kib * (ratio * i as f64 / SAMPLES as f64).exp();
        let chunks = buffer / (kib * 1024.0);
        (kib, efficiency(chunks) * 100.0)
    });
    chart
        .draw_series(LineSeries::new(curve, DOWN.stroke_width(2)))
        .map_err(draw_err)?;
    if let Some(c) = chunk {
        let kib = c / 1024.0;
        if kib >= lo_kib && kib <= hi_kib {
            let eff = efficiency(buffer / c) * 100.0;
            chart
                .draw_series(std::iter::once(Circle::new((kib, eff), 5, ALERT.filled())))
                .map_err(draw_err)?;
        }
    }
    Ok(())
}

fn draw_server(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    users: u64,
    mean_supply_kbps: f64,
    rate: Option<f64>,
) -> Result<(), SvgError> {
    let users_f = users as f64;
    let x_max = [2.0 * mean_supply_kbps, 1.25 * rate.unwrap_or(0.0), 100.0]
        .into_iter()
        .fold(0.0_f64, f64::max);
    let y_max_kbps = server_kbps(users_f * x_max, users_f * mean_supply_kbps).max(1.0);
    let (xs, xu) = rate_unit(x_max);
    let (ys, yu) = rate_unit(y_max_kbps);
    let title = format!(
        "Server capacity needed, {users} users, peers give {:.0} kb/s each",
        mean_supply_kbps
    );
    let mut legend = vec![
        (
            Swatch::Line(DOWN.stroke_width(2)),
            "server capacity needed at each stream rate".to_string(),
        ),
        (
            Swatch::Fill(CUMULATIVE.filled()),
            "the largest rate the peers alone carry".to_string(),
        ),
    ];
    if rate.is_some() {
        legend.push((
            Swatch::Fill(ALERT.filled()),
            "the stream rate given".to_string(),
        ));
    }
    let area = header(area, &title, &legend)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..x_max / xs, 0.0..(y_max_kbps / ys) * 1.05)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc(format!("stream rate ({xu})"))
        .y_desc(format!("server capacity ({yu})"))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    let curve = (0..=SAMPLES).map(|i| {
        let r = x_max * i as f64 / SAMPLES as f64;
        (
            r / xs,
            server_kbps(users_f * r, users_f * mean_supply_kbps) / ys,
        )
    });
    chart
        .draw_series(LineSeries::new(curve, DOWN.stroke_width(2)))
        .map_err(draw_err)?;
    // The largest rate the peers alone carry: where the curve leaves 0.
    chart
        .draw_series(std::iter::once(Circle::new(
            (mean_supply_kbps / xs, 0.0),
            4,
            CUMULATIVE.filled(),
        )))
        .map_err(draw_err)?;
    if let Some(r) = rate {
        let s = server_kbps(users_f * r, users_f * mean_supply_kbps);
        chart
            .draw_series(std::iter::once(Circle::new(
                (r / xs, s / ys),
                5,
                ALERT.filled(),
            )))
            .map_err(draw_err)?;
    }
    Ok(())
}
