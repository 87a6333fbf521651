//! `sizes.svg`: the distribution of UDP payload sizes (`report.sizes.histogram`) as bars over
//! fixed-width size bins, counts on a log scale, bars coloured by class (control below the
//! threshold, video at or above it), the peaks labelled with size, class and share, and the
//! threshold drawn as a dashed line. Each other transport with peer traffic
//! (`report.sizes.transports[]`: uTP data, TCP payload) gets a panel of its own below, with
//! its own threshold; UDP's panel is left out when there is no UDP but another transport.
//!
//! The x axis is the bin index (labelled in bytes): a histogram over a segmented byte range
//! draws invisible bars in plotters (see CRATE-NOTES).

use std::collections::BTreeMap;
use std::io::Write;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{
    clean, draw_err, draw_message, header, text_style, text_width, tick, wrap, Placer, Swatch,
    ALERT, CONTROL, DOWN, FONT, LABEL_SIZE, MARGIN, NOTE_SIZE, X_LABEL_AREA, Y_LABEL_AREA,
};
use super::SvgError;
use crate::report::Report;

/// Bottom of the log axis: bars start here so a bin of one packet is still visible.
const FLOOR: f64 = 0.7;
/// Most bins drawn across the axis.
const MAX_BINS: u32 = 200;

/// The figure as SVG text.
pub fn svg(report: &Report) -> Result<String, SvgError> {
    let panels = panels(report).len().max(1) as u32;
    super::canvas_of_height(super::HEIGHT * panels, |root| draw(root, report))
}

/// Writes the figure to `out`.
pub fn write<W: Write>(report: &Report, mut out: W) -> Result<(), SvgError> {
    out.write_all(svg(report)?.as_bytes())?;
    Ok(())
}

/// The narrowest bin width of 1, 2, 5 × 10ⁿ bytes that covers `span` bytes in at most
/// [`MAX_BINS`] bins.
fn bin_width(span: u32) -> u32 {
    let mut w = 1u32;
    loop {
        for m in [1u32, 2, 5] {
            let width = w.saturating_mul(m);
            if span.div_ceil(width.max(1)) <= MAX_BINS || width == u32::MAX {
                return width.max(1);
            }
        }
        w = w.saturating_mul(10);
    }
}

/// Packets per bin, split into (control, video).
fn bins(histogram: &[(u32, u64)], width: u32, threshold: Option<u32>) -> BTreeMap<u32, (u64, u64)> {
    let mut out: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for &(size, packets) in histogram {
        if packets == 0 {
            continue;
        }
        let cell = out.entry(size / width).or_default();
        if threshold.is_some_and(|t| size >= t) {
            cell.1 = cell.1.saturating_add(packets);
        } else {
            cell.0 = cell.0.saturating_add(packets);
        }
    }
    out
}

/// One transport's distribution, as drawn.
struct Panel<'a> {
    /// `UDP payload`, `uTP data`, `TCP payload`.
    what: &'static str,
    histogram: &'a [(u32, u64)],
    threshold: Option<u32>,
    threshold_how: &'a str,
    peaks: &'a [crate::metrics::sizes::PeakOut],
}

/// The panels drawn: UDP (unless another transport has the traffic) and each other transport.
fn panels(report: &Report) -> Vec<Panel<'_>> {
    let sizes = &report.sizes;
    let udp = Panel {
        what: "UDP payload",
        histogram: &sizes.histogram,
        threshold: sizes.threshold,
        threshold_how: &sizes.threshold_how,
        peaks: &sizes.peaks,
    };
    let mut panels = Vec::new();
    if sizes.histogram.iter().any(|(_, c)| *c > 0) || sizes.transports.is_empty() {
        panels.push(udp);
    }
    for t in &sizes.transports {
        panels.push(Panel {
            what: if t.transport == "utp" {
                "uTP data"
            } else {
                "TCP payload"
            },
            histogram: &t.histogram,
            threshold: t.threshold,
            threshold_how: &t.threshold_how,
            peaks: &t.peaks,
        });
    }
    panels
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, report: &Report) -> Result<(), SvgError> {
    let panels = panels(report);
    if let [only] = panels.as_slice() {
        return draw_panel(root, only);
    }
    let areas = root.split_evenly((panels.len(), 1));
    for (area, panel) in areas.iter().zip(&panels) {
        draw_panel(area, panel)?;
    }
    Ok(())
}

fn draw_panel(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    sizes: &Panel<'_>,
) -> Result<(), SvgError> {
    let what = sizes.what;
    let total: u64 = sizes
        .histogram
        .iter()
        .fold(0u64, |acc, (_, c)| acc.saturating_add(*c));
    let max_size = sizes
        .histogram
        .iter()
        .filter(|(_, c)| *c > 0)
        .map(|(s, _)| *s)
        .max()
        .unwrap_or(0)
        .max(sizes.threshold.unwrap_or(0));
    // At least the Ethernet MTU's worth of payload, in whole hundreds of bytes.
    let span = max_size
        .saturating_add(1)
        .max(1500)
        .div_ceil(100)
        .saturating_mul(100);
    let width = bin_width(span);
    let n_bins = span.div_ceil(width).max(1);
    let bins = bins(sizes.histogram, width, sizes.threshold);
    let max_count = bins
        .values()
        .map(|(c, v)| (*c).max(*v))
        .max()
        .unwrap_or(0)
        .max(1);
    // Headroom above the highest bar for the peak labels (a factor on the log axis).
    let top = (max_count as f64 * 12.0).max(10.0);
    let title = if total == 0 {
        format!("{what} sizes: no {} packets of the local host", &what[..3])
    } else {
        format!(
            "{what} sizes of the local host's peer traffic ({total} packets, {width}-byte bins)"
        )
    };
    let mut legend = Vec::new();
    if total > 0 {
        legend.extend([
            (
                Swatch::Fill(CONTROL.filled()),
                "control (below the threshold)".to_string(),
            ),
            (
                Swatch::Fill(DOWN.filled()),
                "video (at or above the threshold)".to_string(),
            ),
        ]);
    }
    if let Some(t) = sizes.threshold {
        legend.push((
            Swatch::Dashed(ALERT.stroke_width(2)),
            format!("threshold: video from {t} B"),
        ));
    }
    let area = header(root, &title, &legend)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..f64::from(n_bins), (FLOOR..top).log_scale())
        .map_err(draw_err)?;
    let x_fmt = |v: &f64| format!("{:.0}", v * f64::from(width));
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc(format!("{what} (bytes)"))
        .y_desc("packets (log scale)")
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    // Pixel ranges and chart coordinates are absolute; text is drawn relative to this panel.
    let (ox, oy) = root.get_base_pixel();
    let rel = |(x, y): (i32, i32)| (x - ox, y - oy);
    if total == 0 {
        let mut lines = vec![format!("No {what} sizes in this report: nothing to draw.")];
        lines.extend(wrap(sizes.threshold_how, 80));
        return draw_message(
            root,
            &lines,
            rel((px.start, py.start)),
            rel((px.end, py.end)),
        );
    }
    // Bars: control first, then video, so a bin holding both shows its larger class on top.
    let bar = |bin: u32, count: u64, style: ShapeStyle| {
        let x = f64::from(bin);
        Rectangle::new([(x + 0.1, FLOOR), (x + 0.9, count as f64)], style)
    };
    chart
        .draw_series(
            bins.iter()
                .filter(|(_, (c, _))| *c > 0)
                .map(|(b, (c, _))| bar(*b, *c, CONTROL.filled())),
        )
        .map_err(draw_err)?;
    chart
        .draw_series(
            bins.iter()
                .filter(|(_, (_, v))| *v > 0)
                .map(|(b, (_, v))| bar(*b, *v, DOWN.filled())),
        )
        .map_err(draw_err)?;

    let mut placer = Placer::default();
    let line_h = NOTE_SIZE as i32 + 3;
    match sizes.threshold {
        Some(t) => {
            let x = f64::from(t) / f64::from(width);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x, FLOOR), (x, top)],
                    6,
                    4,
                    ALERT.stroke_width(2),
                ))
                .map_err(draw_err)?;
            let (lx, _) = chart.backend_coord(&(x, top));
            let text = format!("threshold {t} B");
            let w = text_width(&text, NOTE_SIZE);
            let y = placer.place(lx + 4, py.start + 4, w, line_h, line_h);
            root.draw(&Text::new(
                text,
                rel((lx + 4, y)),
                text_style(NOTE_SIZE, ALERT, Pos::new(HPos::Left, VPos::Top)),
            ))
            .map_err(draw_err)?;
        }
        None => {
            let text = clean(sizes.threshold_how, 90);
            root.draw(&Text::new(
                text,
                rel((px.start + 8, py.start + 6)),
                text_style(NOTE_SIZE, ALERT, Pos::new(HPos::Left, VPos::Top)),
            ))
            .map_err(draw_err)?;
            placer.place(px.start, py.start, px.end - px.start, line_h + 8, 0);
        }
    }
    // Peak labels, left to right, stacked upwards when they would overlap.
    let mut peaks: Vec<_> = sizes.peaks.iter().collect();
    peaks.sort_by_key(|p| p.size);
    for peak in peaks {
        let bin = (peak.size / width).min(n_bins - 1);
        let count = bins
            .get(&bin)
            .map(|(c, v)| (*c).max(*v))
            .unwrap_or(peak.packets)
            .clamp(1, max_count);
        let (bx, by) = chart.backend_coord(&(f64::from(bin) + 0.5, count as f64));
        let text = format!(
            "{} B {} ({:.1} %)",
            peak.size,
            clean(&peak.class, 12),
            peak.share_packets * 100.0
        );
        let w = text_width(&text, NOTE_SIZE);
        let x = (bx - w / 2).clamp(px.start + 2, (px.end - w - 2).max(px.start + 2));
        let y = placer.place(x, by - 8 - line_h, w, line_h, -line_h);
        if y + line_h < by - 8 {
            root.draw(&PathElement::new(
                vec![rel((bx, y + line_h)), rel((bx, by - 2))],
                BLACK.mix(0.4),
            ))
            .map_err(draw_err)?;
        }
        root.draw(&Text::new(
            text,
            rel((x, y)),
            text_style(NOTE_SIZE, BLACK, Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_widths() {
        assert_eq!(bin_width(1500), 10);
        assert_eq!(bin_width(200), 1);
        assert_eq!(bin_width(9000), 50);
        assert_eq!(bin_width(65_600), 500);
        assert!(bin_width(u32::MAX) >= 1);
    }

    #[test]
    fn bins_split_by_class() {
        let b = bins(&[(37, 5), (39, 1), (1065, 3), (1069, 0)], 10, Some(607));
        assert_eq!(b.get(&3), Some(&(6, 0)));
        assert_eq!(b.get(&106), Some(&(0, 3)));
        assert_eq!(b.len(), 2);
    }
}
