//! Parsing of quantities given on the command line: rates, durations and sizes with units.
//!
//! Rates come back in kb/s (1000 bit/s), durations in seconds, sizes in bytes. A bare number
//! means the base unit of each (kb/s, seconds, bytes). Anything else is a clear error.

/// Splits "12.5kbps" into (12.5, "kbps").
fn split_number(text: &str) -> Result<(f64, String), String> {
    let text = text.trim();
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '-' || *c == '+' || *c == 'e'))
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    // 'e' is only part of the number when followed by a digit or sign (1e3); otherwise a unit.
    let (mut num, mut unit) = text.split_at(end);
    if let Some(pos) = num.find('e') {
        let after = &num[pos + 1..];
        if after.is_empty()
            || !after
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '+')
        {
            num = &text[..pos];
            unit = &text[pos..];
        }
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' does not start with a number"))?;
    if !value.is_finite() {
        return Err(format!("'{text}' is not a finite number"));
    }
    Ok((value, unit.trim().to_string()))
}

/// A rate such as `360kbps`, `7.5Mbps`, `2.6Mb/s`, `700k`, `1G`; a bare number is kb/s.
/// Returns kb/s.
pub fn parse_rate_kbps(text: &str) -> Result<f64, String> {
    let (value, unit) = split_number(text)?;
    let lower = unit.to_ascii_lowercase();
    let stem = lower
        .trim_end_matches("/s")
        .trim_end_matches("ps")
        .trim_end_matches("it");
    let factor = match stem {
        "" | "k" | "kb" => 1.0,
        "b" => 0.001,
        "m" | "mb" => 1_000.0,
        "g" | "gb" => 1_000_000.0,
        _ => {
            return Err(format!(
                "'{text}': unknown rate unit '{unit}' (use bps, kbps, Mbps or Gbps, e.g. 360kbps)"
            ))
        }
    };
    if value < 0.0 {
        return Err(format!("'{text}': a rate cannot be negative"));
    }
    Ok(value * factor)
}

/// A duration such as `20s`, `2min`, `1.5m`, `500ms`, `1h`; a bare number is seconds.
pub fn parse_duration_s(text: &str) -> Result<f64, String> {
    let (value, unit) = split_number(text)?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        _ => {
            return Err(format!(
                "'{text}': unknown time unit '{unit}' (use ms, s, min or h, e.g. 20s)"
            ))
        }
    };
    if value < 0.0 {
        return Err(format!("'{text}': a duration cannot be negative"));
    }
    Ok(value * factor)
}

/// A size such as `256KiB`, `16KB`, `1.75MB`, `100B`; a bare number is bytes.
/// KB/MB/GB are decimal (1000), KiB/MiB/GiB binary (1024).
pub fn parse_size_bytes(text: &str) -> Result<f64, String> {
    let (value, unit) = split_number(text)?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "'{text}': unknown size unit '{unit}' (use B, KB, KiB, MB or MiB, e.g. 256KiB)"
            ))
        }
    };
    if value < 0.0 {
        return Err(format!("'{text}': a size cannot be negative"));
    }
    Ok(value * factor)
}

/// The largest rate any option takes: 10 Gb/s, in kb/s.
pub const MAX_RATE_KBPS: f64 = 1e7;

/// A rate more than 0 and at most 10 Gb/s (`--stream-rate`, `plan --rate`).
pub fn parse_positive_rate_kbps(text: &str) -> Result<f64, String> {
    let v = parse_rate_kbps(text)?;
    if !(v > 0.0 && v <= MAX_RATE_KBPS) {
        return Err(format!(
            "'{text}': the rate must be more than 0 and at most 10Gbps, e.g. 360kbps"
        ));
    }
    Ok(v)
}

/// A duration more than 0 and at most 1 day.
pub fn parse_positive_duration_s(text: &str) -> Result<f64, String> {
    let v = parse_duration_s(text)?;
    if !(v > 0.0 && v <= 86_400.0) {
        return Err(format!(
            "'{text}': the duration must be more than 0 s and at most 24 h, e.g. 20s"
        ));
    }
    Ok(v)
}

/// A series window: an exact multiple of the 0.1 s bin from 0.1 s to 1 h. Nothing is
/// rounded: 0.15 is refused rather than made 0.2.
pub fn parse_window(text: &str) -> Result<f64, String> {
    let s = parse_duration_s(text)?;
    let tenths = s * 10.0;
    let whole = tenths.round();
    if !(1.0..=36_000.0).contains(&whole) || (tenths - whole).abs() > 1e-6 {
        return Err(format!(
            "'{text}': the window must be a multiple of 0.1 s from 0.1 s to 1 h, e.g. 0.5 or 2s"
        ));
    }
    Ok(whole / 10.0)
}

/// A fraction from 0 to 1 inclusive: `0.2` or `20%`.
pub fn parse_unit_fraction(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let (number, divisor) = match trimmed.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (trimmed, 1.0),
    };
    let value = number
        .parse::<f64>()
        .map_err(|_| format!("'{text}' is not a number (use 0.2 or 20%)"))?
        / divisor;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("'{text}': must be from 0 to 1 (0 % to 100 %)"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate_kbps("360kbps"), Ok(360.0));
        assert_eq!(parse_rate_kbps("7.5Mbps"), Ok(7500.0));
        assert_eq!(parse_rate_kbps("2.6Mb/s"), Ok(2600.0));
        assert_eq!(parse_rate_kbps("700k"), Ok(700.0));
        assert_eq!(parse_rate_kbps("700"), Ok(700.0));
        assert_eq!(parse_rate_kbps("1G"), Ok(1_000_000.0));
        assert_eq!(parse_rate_kbps("64000bps"), Ok(64.0));
        assert_eq!(parse_rate_kbps("1e3kbps"), Ok(1000.0));
        assert!(parse_rate_kbps("360 furlongs").is_err());
        assert!(parse_rate_kbps("fast").is_err());
        assert!(parse_rate_kbps("-3k").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_s("20s"), Ok(20.0));
        assert_eq!(parse_duration_s("2min"), Ok(120.0));
        assert_eq!(parse_duration_s("500ms"), Ok(0.5));
        assert_eq!(parse_duration_s("1h"), Ok(3600.0));
        assert_eq!(parse_duration_s("7"), Ok(7.0));
        assert!(parse_duration_s("3 weeks").is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_window("0.5"), Ok(0.5));
        assert_eq!(parse_window("2s"), Ok(2.0));
        assert_eq!(parse_window("0.3"), Ok(0.3));
        assert!(parse_window("0.15")
            .unwrap_err()
            .contains("multiple of 0.1 s"));
        assert!(parse_window("0").is_err());
        assert!(parse_window("2h").is_err());
        assert!(parse_positive_rate_kbps("0kbps")
            .unwrap_err()
            .contains("more than 0"));
        assert!(parse_positive_rate_kbps("20Gbps").is_err());
        assert_eq!(parse_positive_rate_kbps("360kbps"), Ok(360.0));
        assert!(parse_positive_duration_s("0").is_err());
        assert_eq!(parse_unit_fraction("20%"), Ok(0.2));
        assert!(parse_unit_fraction("2")
            .unwrap_err()
            .contains("from 0 to 1"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size_bytes("256KiB"), Ok(262_144.0));
        assert_eq!(parse_size_bytes("16KB"), Ok(16_000.0));
        assert_eq!(parse_size_bytes("1.75MB"), Ok(1_750_000.0));
        assert_eq!(parse_size_bytes("100B"), Ok(100.0));
        assert_eq!(parse_size_bytes("100"), Ok(100.0));
        assert!(parse_size_bytes("3 parsecs").is_err());
    }
}
