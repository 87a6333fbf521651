//! `peers.svg`: peers ranked by the video they sent the local host, with two bars each (video
//! received from the peer, video sent to it) and the cumulative share of all video received
//! as a line on the right axis — "the lion's share from two peers" reads off the first two
//! points. Only peers that exchanged video are drawn, at most [`TOP`]; the title says when the
//! list is cut.

use std::io::Write;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{
    byte_unit, clean, draw_err, draw_message, header, text_style, text_width, tick, Swatch,
    CUMULATIVE, DOWN, FONT, LABEL_SIZE, MARGIN, NOTE_SIZE, UP, Y_LABEL_AREA,
};
use super::SvgError;
use crate::metrics::peers::Peer;
use crate::report::Report;

/// Most peers drawn.
pub const TOP: usize = 20;
/// Longest address label under a bar, in characters.
pub const LABEL_CHARS: usize = 24;

/// The figure as SVG text. A shortened address label carries the full address in a
/// `<title>` (shown on hover, read by screen readers).
pub fn svg(report: &Report) -> Result<String, SvgError> {
    let mut svg = super::canvas(|root| draw(root, report))?;
    let ranked = ranked(&report.peers.list);
    for p in &ranked[..ranked.len().min(TOP)] {
        let full = clean(&p.ip, 64);
        let short = short_address(&full, LABEL_CHARS);
        if short != full {
            let (short, full) = (svg_escape(&short), svg_escape(&full));
            let from = format!("\n{short}\n</text>");
            let to = format!("\n{short}\n<title>{full}</title></text>");
            svg = svg.replacen(&from, &to, 1);
        }
    }
    Ok(svg)
}

/// Text escaped as plotters escapes `<text>` content, so a label can be found in its output.
fn svg_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

/// An address cut to at most `max` characters in the middle (`2001:db8:…:beef:1`), never at
/// the end: the start names the network, the end the host. IPv6 is cut between groups.
pub fn short_address(ip: &str, max: usize) -> String {
    let n = ip.chars().count();
    if n <= max || max < 3 {
        return ip.to_string();
    }
    let groups: Vec<&str> = ip.split(':').collect();
    if groups.len() > 2 {
        // Whole groups from both ends, alternately, while "head:…:tail" fits.
        let (mut h, mut t) = (0usize, 0usize);
        let len = |h: usize, t: usize| {
            let head: usize = groups[..h].iter().map(|g| g.len() + 1).sum();
            let tail: usize = groups[groups.len() - t..].iter().map(|g| g.len() + 1).sum();
            head + 1 + tail
        };
        loop {
            let grew_h = h + t < groups.len() && len(h + 1, t) <= max;
            if grew_h {
                h += 1;
            }
            let grew_t = h + t < groups.len() && len(h, t + 1) <= max;
            if grew_t {
                t += 1;
            }
            if !grew_h && !grew_t {
                break;
            }
        }
        if h > 0 && t > 0 && h + t < groups.len() {
            let head = groups[..h].join(":");
            let tail = groups[groups.len() - t..].join(":");
            return format!("{head}:…:{tail}");
        }
    }
    let keep = max - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let start: String = ip.chars().take(head).collect();
    let end: String = ip.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// Writes the figure to `out`.
pub fn write<W: Write>(report: &Report, mut out: W) -> Result<(), SvgError> {
    out.write_all(svg(report)?.as_bytes())?;
    Ok(())
}

/// Peers that exchanged video, ranked by video received, then sent, then address.
pub fn ranked(list: &[Peer]) -> Vec<&Peer> {
    let mut peers: Vec<&Peer> = list
        .iter()
        .filter(|p| p.video_in_bytes > 0 || p.video_out_bytes > 0)
        .collect();
    peers.sort_by(|a, b| {
        b.video_in_bytes
            .cmp(&a.video_in_bytes)
            .then(b.video_out_bytes.cmp(&a.video_out_bytes))
            .then(a.ip.cmp(&b.ip))
    });
    peers
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, report: &Report) -> Result<(), SvgError> {
    let list = &report.peers.list;
    let ranked = ranked(list);
    let shown = &ranked[..ranked.len().min(TOP)];
    let total_in = list
        .iter()
        .fold(0u64, |acc, p| acc.saturating_add(p.video_in_bytes)) as f64;
    let contacted = report.peers.contacted;
    let title = if ranked.is_empty() {
        format!("Video per peer: no peer exchanged video ({contacted} contacted)")
    } else if ranked.len() > shown.len() {
        format!(
            "Peers ranked by video received: top {} of {} peers that exchanged video",
            shown.len(),
            ranked.len()
        )
    } else {
        format!(
            "Peers ranked by video received: all {} that exchanged video ({contacted} contacted)",
            ranked.len()
        )
    };
    let max_bytes = shown
        .iter()
        .map(|p| p.video_in_bytes.max(p.video_out_bytes))
        .max()
        .unwrap_or(0) as f64;
    let (div, unit) = byte_unit(max_bytes);
    let y_top = (max_bytes / div * 1.15).max(1.0);
    let n = shown.len().max(1) as f64;
    // Room under the axis for addresses written bottom to top.
    let longest = shown
        .iter()
        .map(|p| {
            short_address(&clean(&p.ip, 64), LABEL_CHARS)
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0);
    let x_area = (text_width(&"0".repeat(longest), NOTE_SIZE) + 28).clamp(48, 200) as u32;
    let legend = if shown.is_empty() {
        Vec::new()
    } else {
        let mut l = vec![
            (
                Swatch::Fill(DOWN.filled()),
                "video received from the peer".to_string(),
            ),
            (
                Swatch::Fill(UP.filled()),
                "video sent to the peer".to_string(),
            ),
        ];
        if total_in > 0.0 {
            l.push((
                Swatch::Line(CUMULATIVE.stroke_width(2)),
                "cumulative share of all video received (right axis)".to_string(),
            ));
        }
        l
    };
    let area = header(root, &title, &legend)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(x_area)
        .y_label_area_size(Y_LABEL_AREA)
        .right_y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..n, 0.0..y_top)
        .map_err(draw_err)?
        .set_secondary_coord(0.0..n, 0.0..105.0);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_desc("peer (ranked by video received)")
        .y_desc(format!("video payload ({unit})"))
        .y_label_formatter(&tick)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    let pct_fmt = |v: &f64| format!("{v:.0} %");
    chart
        .configure_secondary_axes()
        .y_desc("cumulative share of video received")
        .y_label_formatter(&pct_fmt)
        .label_style((FONT, NOTE_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(draw_err)?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    if shown.is_empty() {
        let lines = vec![
            format!(
                "No peer sent or received video ({} peers in the list, {contacted} contacted).",
                list.len()
            ),
            match report.sizes.threshold {
                Some(t) => format!("Video: UDP payload of at least {t} bytes."),
                None => "No video threshold: no packet counts as video.".to_string(),
            },
        ];
        return draw_message(root, &lines, (px.start, py.start), (px.end, py.end));
    }
    chart
        .draw_series(shown.iter().enumerate().map(|(i, p)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.12, 0.0), (x + 0.5, p.video_in_bytes as f64 / div)],
                DOWN.filled(),
            )
        }))
        .map_err(draw_err)?;
    chart
        .draw_series(shown.iter().enumerate().map(|(i, p)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.5, 0.0), (x + 0.88, p.video_out_bytes as f64 / div)],
                UP.filled(),
            )
        }))
        .map_err(draw_err)?;
    if total_in > 0.0 {
        let mut sum = 0.0;
        let cumulative: Vec<(f64, f64)> = shown
            .iter()
            .enumerate()
            .map(|(i, p)| {
                sum += p.video_in_bytes as f64;
                (i as f64 + 0.5, (sum / total_in * 100.0).clamp(0.0, 100.0))
            })
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(
                cumulative.iter().copied(),
                CUMULATIVE.stroke_width(2),
            ))
            .map_err(draw_err)?;
        chart
            .draw_secondary_series(
                cumulative
                    .iter()
                    .map(|&p| Circle::new(p, 4, CUMULATIVE.filled())),
            )
            .map_err(draw_err)?;
        // The first two points carry the study's "lion's share from two peers".
        for (i, &(x, share)) in cumulative.iter().take(2).enumerate() {
            let (cx, cy) = chart.borrow_secondary().backend_coord(&(x, share));
            let text = format!("top {}: {share:.1} %", i + 1);
            let w = text_width(&text, NOTE_SIZE);
            let h = NOTE_SIZE as i32 + 2;
            root.draw(&Rectangle::new(
                [(cx + 6, cy + 4), (cx + 10 + w, cy + 4 + h)],
                WHITE.mix(0.85).filled(),
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(
                text,
                (cx + 8, cy + 5),
                text_style(NOTE_SIZE, CUMULATIVE, Pos::new(HPos::Left, VPos::Top)),
            ))
            .map_err(draw_err)?;
        }
    }
    // Addresses under the bars, written bottom to top.
    let label = text_style(NOTE_SIZE, BLACK, Pos::new(HPos::Right, VPos::Center))
        .transform(FontTransform::Rotate270);
    for (i, p) in shown.iter().enumerate() {
        let (x, _) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        let text = short_address(&clean(&p.ip, 64), LABEL_CHARS);
        root.draw(&Text::new(text, (x, py.end + 6), label.clone()))
            .map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::short_address;

    #[test]
    fn addresses_are_shortened_in_the_middle() {
        assert_eq!(short_address("192.0.2.10", 24), "192.0.2.10");
        let v6 = "2001:db8:85a3:1234:5678:8a2e:370:7334";
        let s = short_address(v6, 24);
        assert!(s.chars().count() <= 24, "{s}");
        assert_eq!(s, "2001:db8:85a3:…:370:7334");
        assert_eq!(
            short_address("a-very-long-name-of-a-host.example", 12)
                .chars()
                .count(),
            12
        );
    }
}
