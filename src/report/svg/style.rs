//! The shared look of the figures — size, fonts, one palette — and the small helpers every
//! figure uses: a message in an empty plot, labels that do not overlap, units that keep axis
//! numbers short, and text cleaned of characters XML cannot hold.
//!
//! Text is emitted as SVG `<text>` and laid out by the viewer (plotters is built without fonts),
//! so text widths here are estimates; placement leaves room for that.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::SvgError;

/// Width of every figure in pixels.
pub const WIDTH: u32 = 900;
/// Height of every figure in pixels.
pub const HEIGHT: u32 = 480;
/// The one font family (resolved by the viewer).
pub const FONT: &str = "sans-serif";
/// Title size (plotters units; the SVG font-size is this / 1.24).
pub const TITLE_SIZE: u32 = 21;
/// Axis descriptions and legends.
pub const LABEL_SIZE: u32 = 16;
/// Tick labels and annotations.
pub const NOTE_SIZE: u32 = 15;

/// Download, and video received: blue.
pub const DOWN: RGBColor = RGBColor(31, 119, 180);
/// Upload, and video sent: orange.
pub const UP: RGBColor = RGBColor(230, 115, 0);
/// Control packets in the size histogram: a light blue-grey.
pub const CONTROL: RGBColor = RGBColor(140, 160, 180);
/// Reference lines (the study's numbers, totals): grey.
pub const REFERENCE: RGBColor = RGBColor(110, 110, 110);
/// Thresholds and stalls: red.
pub const ALERT: RGBColor = RGBColor(214, 39, 40);
/// First video: green.
pub const FIRST_VIDEO: RGBColor = RGBColor(44, 160, 44);
/// Playback start and the buffer: purple.
pub const PLAYBACK: RGBColor = RGBColor(148, 103, 189);
/// Cumulative curves: near black.
pub const CUMULATIVE: RGBColor = RGBColor(40, 40, 40);
/// Text in the plotting area that explains missing data.
pub const MESSAGE: RGBColor = RGBColor(90, 90, 90);

/// Margin around the chart.
pub const MARGIN: u32 = 14;
/// Height of the x label area.
pub const X_LABEL_AREA: u32 = 48;
/// Width of the y label area.
pub const Y_LABEL_AREA: u32 = 72;

/// Converts a plotters error into [`SvgError`].
pub fn draw_err<E: std::fmt::Debug>(err: E) -> SvgError {
    SvgError::Draw {
        message: format!("{err:?}"),
    }
}

/// Text for a figure: control characters (which XML 1.0 cannot hold) become U+FFFD and the
/// text is cut to `max` characters with an ellipsis.
pub fn clean(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.pop();
        out.push('…');
    }
    out
}

/// Splits `text` into lines of at most about `width` characters at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A finite value, or `None` (so no NaN or infinity ever reaches a coordinate).
pub fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The top of a linear axis showing values up to `max`: 10 % headroom, at least `floor`, and
/// never beyond 1e15 (so a corrupt report cannot overflow the pixel arithmetic).
pub fn axis_top(max: f64, floor: f64) -> f64 {
    let m = finite(max).unwrap_or(0.0).clamp(0.0, 1e15);
    (m * 1.1).max(floor)
}

/// A byte unit that keeps axis numbers short: (divisor, name).
pub fn byte_unit(max_bytes: f64) -> (f64, &'static str) {
    if max_bytes >= 1e9 {
        (1e9, "GB")
    } else if max_bytes >= 1e6 {
        (1e6, "MB")
    } else if max_bytes >= 1e3 {
        (1e3, "kB")
    } else {
        (1.0, "bytes")
    }
}

/// An axis number without float noise: at most six decimals, trailing zeros dropped
/// (`0.30000000000000004` → `0.3`, `6000.0` → `6000`).
pub fn tick(v: &f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" | "" => "0".into(),
        t => t.into(),
    }
}

/// Seconds as a short label: `0.4 s`, `37 s`, `3.2 min`.
pub fn fmt_seconds(s: f64) -> String {
    if !s.is_finite() {
        "n/a".into()
    } else if s.abs() < 100.0 {
        format!("{s:.1} s")
    } else if s.abs() < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.1} min", s / 60.0)
    }
}

/// Estimated width in pixels of `text` at plotters font size `size` (see the module docs).
pub fn text_width(text: &str, size: u32) -> i32 {
    (f64::from(size) * 0.5 * text.chars().count() as f64).ceil() as i32
}

/// Places labels so they do not overlap: each label asks for a spot and is moved by one line
/// (up or down) until it is clear of the labels placed before it.
#[derive(Debug, Default)]
pub struct Placer {
    boxes: Vec<(i32, i32, i32, i32)>,
}

impl Placer {
    /// Finds a free spot for a box `w`×`h` whose top-left corner would be at (`x`, `y`);
    /// `step` is the vertical move (negative: upwards). Returns the y of the top edge.
    pub fn place(&mut self, x: i32, y: i32, w: i32, h: i32, step: i32) -> i32 {
        let mut y = y;
        for _ in 0..40 {
            let clash = self
                .boxes
                .iter()
                .any(|&(bx, by, bw, bh)| x < bx + bw && bx < x + w && y < by + bh && by < y + h);
            if !clash {
                break;
            }
            y += step;
        }
        self.boxes.push((x, y, w, h));
        y
    }
}

/// The look of a legend entry's swatch.
#[derive(Debug, Clone, Copy)]
pub enum Swatch {
    /// A solid line.
    Line(ShapeStyle),
    /// A dashed line.
    Dashed(ShapeStyle),
    /// A filled box.
    Fill(ShapeStyle),
}

/// Height of the title row.
const TITLE_ROW: i32 = 34;
/// Height of a legend row.
const LEGEND_ROW: i32 = 20;

/// Lays the legend out in centred rows across `width`: (row, x offset within the row, width)
/// per entry, and each row's total width.
fn legend_rows(entries: &[(Swatch, String)], width: i32) -> (Vec<(usize, i32, i32)>, Vec<i32>) {
    let gap = 22;
    let mut placed = Vec::with_capacity(entries.len());
    let mut rows = vec![0i32];
    for (_, text) in entries {
        let w = 20 + text_width(text, NOTE_SIZE);
        let row = rows.len() - 1;
        let used = rows[row];
        if used > 0 && used + gap + w > width {
            rows.push(w);
            placed.push((rows.len() - 1, 0, w));
        } else {
            let x = if used > 0 { used + gap } else { 0 };
            rows[row] = x + w;
            placed.push((row, x, w));
        }
    }
    (placed, rows)
}

/// Draws the title and, under it, the legend in centred rows; returns the area left for the
/// chart. The legend sits outside the plot so it never hides data.
pub fn header<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    title: &str,
    legend: &[(Swatch, String)],
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, SvgError> {
    let width = WIDTH as i32 - 2 * MARGIN as i32;
    let (placed, rows) = legend_rows(legend, width);
    let legend_h = if legend.is_empty() {
        0
    } else {
        LEGEND_ROW * rows.len() as i32 + 4
    };
    let (top, rest) = root.split_vertically(TITLE_ROW + legend_h);
    top.draw(&Text::new(
        clean(title, 110),
        (WIDTH as i32 / 2, 8),
        text_style(TITLE_SIZE, BLACK, Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(draw_err)?;
    let label = text_style(NOTE_SIZE, BLACK, Pos::new(HPos::Left, VPos::Center));
    for ((swatch, text), (row, x, _)) in legend.iter().zip(placed) {
        let row_w = rows.get(row).copied().unwrap_or(0);
        let x0 = MARGIN as i32 + (width - row_w) / 2 + x;
        let y = TITLE_ROW + LEGEND_ROW * row as i32 + LEGEND_ROW / 2;
        match *swatch {
            Swatch::Line(style) => top
                .draw(&PathElement::new(vec![(x0, y), (x0 + 14, y)], style))
                .map_err(draw_err)?,
            Swatch::Dashed(style) => {
                for (a, b) in [(0, 4), (6, 10), (12, 14)] {
                    top.draw(&PathElement::new(vec![(x0 + a, y), (x0 + b, y)], style))
                        .map_err(draw_err)?;
                }
            }
            Swatch::Fill(style) => top
                .draw(&Rectangle::new([(x0, y - 5), (x0 + 14, y + 5)], style))
                .map_err(draw_err)?,
        }
        top.draw(&Text::new(clean(text, 120), (x0 + 20, y), label.clone()))
            .map_err(draw_err)?;
    }
    Ok(rest)
}

/// A text style of `size` in `color`, anchored at `pos`.
pub fn text_style(size: u32, color: RGBColor, pos: Pos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: color.to_backend_color(),
        pos,
    }
}

/// Draws `lines` centred in the rectangle (x0, y0)–(x1, y1) of `root`: the explanation shown
/// in place of missing data.
pub fn draw_message<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lines: &[String],
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
) -> Result<(), SvgError> {
    let line_h = (LABEL_SIZE as i32) + 4;
    let total = line_h * lines.len() as i32;
    let cx = (x0 + x1) / 2;
    let mut y = (y0 + y1) / 2 - total / 2 + line_h / 2;
    let style = text_style(LABEL_SIZE, MESSAGE, Pos::new(HPos::Center, VPos::Center));
    for line in lines {
        root.draw(&Text::new(clean(line, 200), (cx, y), style.clone()))
            .map_err(draw_err)?;
        y += line_h;
    }
    Ok(())
}

/// A chart whose x axis is time since the first packet: the shared frame of `rates`,
/// `suppliers` and `buffer` (margins, light grid, tick labels, axis descriptions).
pub type TimeChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Builds and draws the frame of a time chart on `area`: x from 0 to `x_end` seconds, y over
/// `y`, described as `y_desc`.
pub fn time_chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x_end: f64,
    y: std::ops::Range<f64>,
    y_desc: &str,
) -> Result<TimeChart<'a, 'b>, SvgError> {
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..x_end, y)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc("time since the first packet (s)")
        .y_desc(y_desc)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    Ok(chart)
}

/// Picks kb/s, Mb/s or Gb/s so the axis numbers stay short: (divisor, name). Every figure
/// (report, compare, plan) scales its rates with this one rule.
pub fn rate_unit(max_kbps: f64) -> (f64, &'static str) {
    if max_kbps >= 1e6 {
        (1e6, "Gb/s")
    } else if max_kbps >= 1e4 {
        (1e3, "Mb/s")
    } else {
        (1.0, "kb/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_and_wrap() {
        assert_eq!(clean("a\u{1}b", 10), "a\u{fffd}b");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(
            wrap("one two three four", 9),
            vec!["one two", "three", "four"]
        );
        assert!(wrap("", 9).is_empty());
    }

    #[test]
    fn placer_moves_overlapping_boxes() {
        let mut p = Placer::default();
        assert_eq!(p.place(0, 100, 50, 10, -12), 100);
        assert_eq!(p.place(20, 100, 50, 10, -12), 88);
        assert_eq!(p.place(200, 100, 50, 10, -12), 100);
    }

    #[test]
    fn units() {
        assert_eq!(byte_unit(2.5e6), (1e6, "MB"));
        assert_eq!(fmt_seconds(37.4), "37.4 s");
        assert_eq!(fmt_seconds(110.2), "110 s");
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&6000.0), "6000");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(fmt_seconds(150.0), "2.5 min");
        assert_eq!(axis_top(f64::NAN, 1.0), 1.0);
    }
}
