//! Which container a response body holds ([`Container`]), from its first bytes (strongest),
//! else its `Content-Type`, else the request path's extension. Only MPEG-TS gets a clock; the
//! others are named so the report can say what the feed was.

/// Bytes of a body looked at: enough for two MPEG-TS sync bytes a packet apart from any start.
pub const SNIFF_LEN: usize = 2 * super::ts::TS_PACKET + 1;

/// ASF header object GUID 75B22630-668E-11CF-A6D9-00AA0062CE6C, as it appears on the wire
/// (ASF specification 1.20, §3.1).
const ASF_HEADER_GUID: [u8; 16] = [
    0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];

/// A media container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Container {
    /// MPEG transport stream (ISO/IEC 13818-1).
    MpegTs,
    /// HTTP Live Streaming (RFC 8216): `#EXTM3U` playlists; its segments are MPEG-TS.
    Hls,
    /// Flash Video (`FLV\x01`).
    Flv,
    /// Advanced Systems Format (header object GUID).
    Asf,
    /// ISO base media file format (`ftyp` / `styp` box).
    Mp4,
    /// None of these.
    #[default]
    Unknown,
}

impl Container {
    /// Every container, in a fixed order (index = [`Container::index`]).
    pub const ALL: [Container; 6] = [
        Container::MpegTs,
        Container::Hls,
        Container::Flv,
        Container::Asf,
        Container::Mp4,
        Container::Unknown,
    ];

    /// The report's name: `mpegts`, `hls`, `flv`, `asf`, `mp4`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Container::MpegTs => "mpegts",
            Container::Hls => "hls",
            Container::Flv => "flv",
            Container::Asf => "asf",
            Container::Mp4 => "mp4",
            Container::Unknown => "unknown",
        }
    }

    /// Position in [`Container::ALL`].
    pub fn index(self) -> usize {
        match self {
            Container::MpegTs => 0,
            Container::Hls => 1,
            Container::Flv => 2,
            Container::Asf => 3,
            Container::Mp4 => 4,
            Container::Unknown => 5,
        }
    }
}

/// Offset of the first MPEG-TS sync byte that has another one a packet later (and, when the
/// bytes reach that far, a third one more).
pub fn ts_sync_offset(body: &[u8]) -> Option<usize> {
    const P: usize = super::ts::TS_PACKET;
    (0..P).find(|&i| {
        body.get(i) == Some(&super::ts::SYNC)
            && body.get(i + P) == Some(&super::ts::SYNC)
            && body.get(i + 2 * P).is_none_or(|&b| b == super::ts::SYNC)
    })
}

/// The container the first bytes prove, if any.
pub fn by_magic(body: &[u8]) -> Option<Container> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.starts_with(b"#EXTM3U") {
        return Some(Container::Hls);
    }
    if body.starts_with(b"FLV\x01") {
        return Some(Container::Flv);
    }
    if body.starts_with(&ASF_HEADER_GUID) {
        return Some(Container::Asf);
    }
    if matches!(body.get(4..8), Some(b"ftyp" | b"styp")) {
        return Some(Container::Mp4);
    }
    ts_sync_offset(body).map(|_| Container::MpegTs)
}

/// The container a `Content-Type` names, if any.
pub fn by_content_type(content_type: &str) -> Option<Container> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Some(match mime.as_str() {
        "video/mp2t" | "video/mpeg-ts" | "video/x-mpegts" => Container::MpegTs,
        "application/vnd.apple.mpegurl"
        | "application/x-mpegurl"
        | "audio/mpegurl"
        | "audio/x-mpegurl" => Container::Hls,
        "video/x-flv" | "video/flv" => Container::Flv,
        "video/x-ms-asf" | "application/vnd.ms-asf" | "video/x-ms-wmv" | "audio/x-ms-wma" => {
            Container::Asf
        }
        "video/mp4" | "audio/mp4" | "video/iso.segment" => Container::Mp4,
        _ => return None,
    })
}

/// The container a request path's extension names, if any (query and fragment ignored).
pub fn by_path(path: &str) -> Option<Container> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match ext.as_str() {
        "ts" | "m2ts" | "mts" => Container::MpegTs,
        "m3u8" | "m3u" => Container::Hls,
        "flv" => Container::Flv,
        "asf" | "wmv" | "wma" => Container::Asf,
        "mp4" | "m4s" | "m4v" => Container::Mp4,
        _ => return None,
    })
}

/// Names the container of a body: first bytes, then `Content-Type`, then path.
pub fn sniff(body: &[u8], content_type: Option<&str>, path: Option<&str>) -> Container {
    by_magic(body)
        .or_else(|| content_type.and_then(by_content_type))
        .or_else(|| path.and_then(by_path))
        .unwrap_or(Container::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_wins_over_labels() {
        let mut ts = vec![0u8; SNIFF_LEN];
        ts[5] = 0x47;
        ts[5 + 188] = 0x47;
        assert_eq!(ts_sync_offset(&ts), Some(5));
        assert_eq!(
            sniff(&ts, Some("application/octet-stream"), Some("/tv.asf")),
            Container::MpegTs
        );
        assert_eq!(
            sniff(b"#EXTM3U\n#EXT-X-VERSION:3", None, None),
            Container::Hls
        );
        assert_eq!(sniff(b"FLV\x01\x05", None, None), Container::Flv);
        let mut asf = ASF_HEADER_GUID.to_vec();
        asf.extend([0; 20]);
        assert_eq!(sniff(&asf, None, None), Container::Asf);
        assert_eq!(sniff(b"\0\0\0\x18ftypisom", None, None), Container::Mp4);
    }

    #[test]
    fn labels_when_the_bytes_say_nothing() {
        assert_eq!(
            sniff(b"xx", Some("video/MP2T; charset=x"), None),
            Container::MpegTs
        );
        assert_eq!(
            sniff(b"xx", None, Some("/ace/manifest.m3u8?id=3")),
            Container::Hls
        );
        assert_eq!(sniff(b"xx", None, Some("/tv.asf")), Container::Asf);
        assert_eq!(
            sniff(b"xx", Some("text/html"), Some("/")),
            Container::Unknown
        );
        // A lone sync byte a packet apart from a different byte is not TS.
        let mut not_ts = vec![0u8; SNIFF_LEN];
        not_ts[0] = 0x47;
        not_ts[188] = 0x47;
        not_ts[376] = 0x00;
        assert_eq!(by_magic(&not_ts), None);
    }
}
