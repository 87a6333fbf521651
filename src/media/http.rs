//! Incremental HTTP/1.x over a reassembled TCP stream (RFC 9112): the player's request heads
//! ([`RequestParser`]: method, path) and the feeding side's responses ([`ResponseParser`]:
//! status, `Content-Type`, `Content-Length`, chunked transfer coding), several on one
//! keep-alive connection. The response bodies — de-chunked — go to a [`BodySink`].
//!
//! Heads are collected in a buffer of at most [`HEAD_MAX`] bytes and parsed with `httparse`;
//! a longer or malformed head makes the parser give up on HTTP for the rest of the
//! connection (`gave_up`), and what follows is passed on as raw body bytes. A stream that does
//! not start with `HTTP/` is a raw TCP feed: all of it is body. A gap in the stream inside a
//! head or inside the chunk framing also ends HTTP parsing (the framing cannot be recovered
//! honestly); inside a body of known length it is passed on as a gap in the body.

/// Longest request or response head accepted (request line or status line, headers, blank
/// line). RFC 9112 sets no limit; common servers refuse heads beyond 8–16 KiB.
pub const HEAD_MAX: usize = 16 * 1024;
/// Most header fields in a head.
const MAX_HEADERS: usize = 64;
/// Most hex digits of a chunk size (RFC 9112 §7.1): 15 keeps the value below 2^60.
const CHUNK_SIZE_DIGITS: u8 = 15;
/// Longest chunk-size line with extensions, or trailer line, before giving up.
const CHUNK_LINE_MAX: u32 = 4096;

/// What a request head said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Method token (`GET`).
    pub method: String,
    /// Request target as sent (`/tv.asf`), lossily decoded as UTF-8.
    pub path: String,
}

/// What a response head said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code (`200`).
    pub status: u16,
    /// `Content-Type` value, trimmed.
    pub content_type: Option<String>,
    /// `Content-Length`, when present and valid.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding` ends in `chunked`.
    pub chunked: bool,
}

/// Where response bodies go.
pub trait BodySink {
    /// A body starts: `head` is its response's head, `None` for a raw (non-HTTP) stream.
    fn start(&mut self, head: Option<&ResponseHead>);
    /// Body bytes, de-chunked, in order.
    fn data(&mut self, ts_ns: i64, bytes: &[u8]);
    /// `missing` body bytes were lost.
    fn gap(&mut self, ts_ns: i64, missing: u64);
    /// The body ended (its length reached, last chunk, or a new response follows).
    fn end(&mut self);
}

/// Finds the end of a head (`\r\n\r\n`, or a bare `\n\n`) in `buf`, scanning from `from`.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let tail = buf.get(start..)?;
    tail.windows(2).enumerate().find_map(|(i, w)| {
        if w == b"\n\n" {
            Some(start + i + 2)
        } else if w == b"\r\n" && tail.get(i + 2..i + 4) == Some(b"\r\n") {
            Some(start + i + 4)
        } else {
            None
        }
    })
}

/// Appends `data` to the head buffer until a head is complete. Returns the head's length in
/// the buffer and how many bytes of `data` it took, or `Err(())` when the head grows beyond
/// [`HEAD_MAX`]; `Ok(None)` when more bytes are needed (all of `data` was taken).
fn collect_head(buf: &mut Vec<u8>, data: &[u8]) -> Result<Option<(usize, usize)>, ()> {
    let before = buf.len();
    let room = HEAD_MAX - before.min(HEAD_MAX);
    let take = data.len().min(room);
    buf.extend_from_slice(data.get(..take).unwrap_or_default());
    match head_end(buf, before) {
        Some(end) => Ok(Some((end, end - before))),
        None if buf.len() >= HEAD_MAX => Err(()),
        None => Ok(None),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReqState {
    Head,
    Body(u64),
    NotHttp,
}

/// The player → server direction: request heads.
#[derive(Debug, Clone)]
pub struct RequestParser {
    state: ReqState,
    buf: Vec<u8>,
    first: Option<RequestHead>,
    /// Target of the latest request (reused buffer).
    last_path: String,
    requests: u64,
    gave_up: bool,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    /// A parser expecting a request head.
    pub fn new() -> Self {
        RequestParser {
            state: ReqState::Head,
            buf: Vec::new(),
            first: None,
            last_path: String::new(),
            requests: 0,
            gave_up: false,
        }
    }

    /// The latest request's target.
    pub fn last_path(&self) -> Option<&str> {
        (self.requests > 0).then_some(self.last_path.as_str())
    }

    /// The first request's head.
    pub fn first(&self) -> Option<&RequestHead> {
        self.first.as_ref()
    }

    /// Request heads parsed.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Whether the direction stopped being parsed as HTTP (malformed or oversized head, gap).
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// In-order bytes of the direction.
    pub fn data(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                ReqState::NotHttp => return,
                ReqState::Body(rem) => {
                    let n = (data.len() as u64).min(rem);
                    data = data.get(n as usize..).unwrap_or_default();
                    self.state = if rem > n {
                        ReqState::Body(rem - n)
                    } else {
                        ReqState::Head
                    };
                }
                ReqState::Head => {
                    let Ok(found) = collect_head(&mut self.buf, data) else {
                        self.give_up();
                        return;
                    };
                    let Some((end, took)) = found else {
                        return;
                    };
                    data = data.get(took..).unwrap_or_default();
                    self.parse_head(end);
                    self.buf.clear();
                }
            }
        }
    }

    /// A gap in the direction: framing is lost.
    pub fn gap(&mut self) {
        match self.state {
            ReqState::NotHttp => {}
            ReqState::Head if self.buf.is_empty() && self.requests > 0 => {
                // Between requests: the next one may still be found only by luck; stop.
                self.give_up();
            }
            _ => self.give_up(),
        }
    }

    fn give_up(&mut self) {
        self.state = ReqState::NotHttp;
        self.gave_up = true;
        self.buf = Vec::new();
    }

    fn parse_head(&mut self, end: usize) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let head = self.buf.get(..end).unwrap_or_default();
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => {
                self.give_up();
                return;
            }
        }
        self.requests += 1;
        self.last_path.clear();
        self.last_path.push_str(req.path.unwrap_or_default());
        let length = content_length(req.headers);
        if self.first.is_none() {
            self.first = Some(RequestHead {
                method: req.method.unwrap_or_default().to_owned(),
                path: req.path.unwrap_or_default().to_owned(),
            });
        }
        self.state = match length {
            Some(n) if n > 0 => ReqState::Body(n),
            _ => ReqState::Head,
        };
    }
}

fn content_length(headers: &[httparse::Header<'_>]) -> Option<u64> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the chunk-size line: value so far, hex digits, past the digits (extension).
    Size {
        value: u64,
        digits: u8,
        ext: bool,
        len: u32,
    },
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// Trailer section: length of the current line (CR excluded).
    Trailer(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RespState {
    /// Nothing seen yet: `HTTP/` or raw.
    Start,
    Head,
    Length(u64),
    Chunked(Chunk),
    /// Body until the connection closes.
    UntilClose,
    /// Not HTTP (from the start, or given up): everything is body.
    Raw,
}

/// Counters of the response direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseStats {
    /// Response heads parsed.
    pub responses: u64,
    /// Body bytes passed on (de-chunked).
    pub body_bytes: u64,
    /// Whether HTTP parsing was abandoned (oversized or malformed head, broken chunk framing,
    /// a gap inside a head or the framing).
    pub gave_up: bool,
    /// Whether the stream was raw from its first byte (no HTTP at all).
    pub raw: bool,
}

/// The server → player direction: responses and their bodies.
#[derive(Debug, Clone)]
pub struct ResponseParser {
    state: RespState,
    buf: Vec<u8>,
    first: Option<ResponseHead>,
    stats: ResponseStats,
    in_body: bool,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    /// A parser that has seen nothing.
    pub fn new() -> Self {
        ResponseParser {
            state: RespState::Start,
            buf: Vec::new(),
            first: None,
            stats: ResponseStats::default(),
            in_body: false,
        }
    }

    /// The first response's head.
    pub fn first(&self) -> Option<&ResponseHead> {
        self.first.as_ref()
    }

    /// Counters so far.
    pub fn stats(&self) -> ResponseStats {
        self.stats
    }

    /// In-order bytes of the direction.
    pub fn data<S: BodySink>(&mut self, ts_ns: i64, mut data: &[u8], sink: &mut S) {
        while !data.is_empty() {
            match self.state {
                RespState::Start => {
                    // Decide on the first bytes: `HTTP/` (possibly split across segments).
                    let have = self.buf.len();
                    let need = 5 - have.min(5);
                    let take = data.len().min(need);
                    let probe = data.get(..take).unwrap_or_default();
                    let so_far = self.buf.iter().chain(probe).copied();
                    let is_prefix = so_far.zip(b"HTTP/".iter()).all(|(a, &b)| a == b);
                    if !is_prefix {
                        if self.stats.responses > 0 {
                            // After a response, something that is not one: framing is lost.
                            self.stats.gave_up = true;
                        } else {
                            self.stats.raw = true;
                        }
                        self.become_raw(sink);
                        // What the probe buffered is body too.
                        let held = std::mem::take(&mut self.buf);
                        self.pass(ts_ns, &held, sink);
                        continue;
                    }
                    if have + take < 5 {
                        self.buf.extend_from_slice(probe);
                        return;
                    }
                    self.state = RespState::Head;
                }
                RespState::Head => {
                    let Ok(found) = collect_head(&mut self.buf, data) else {
                        self.give_up(sink);
                        return;
                    };
                    let Some((end, took)) = found else {
                        return;
                    };
                    data = data.get(took..).unwrap_or_default();
                    if !self.parse_head(end, sink) {
                        // Malformed: the rest is raw body.
                        continue;
                    }
                    self.buf.clear();
                }
                RespState::Length(rem) => {
                    let n = (data.len() as u64).min(rem) as usize;
                    let (body, rest) = data.split_at(n);
                    self.pass(ts_ns, body, sink);
                    data = rest;
                    if rem - n as u64 == 0 {
                        self.end_body(sink);
                    } else {
                        self.state = RespState::Length(rem - n as u64);
                    }
                }
                RespState::Chunked(c) => {
                    data = self.chunked(ts_ns, c, data, sink);
                }
                RespState::UntilClose | RespState::Raw => {
                    self.pass(ts_ns, data, sink);
                    return;
                }
            }
        }
    }

    /// A gap of `missing` bytes in the direction.
    pub fn gap<S: BodySink>(&mut self, ts_ns: i64, missing: u64, sink: &mut S) {
        match self.state {
            RespState::Length(rem) if missing < rem => {
                sink.gap(ts_ns, missing);
                self.state = RespState::Length(rem - missing);
            }
            RespState::UntilClose | RespState::Raw => sink.gap(ts_ns, missing),
            RespState::Start if self.stats.responses == 0 && self.buf.is_empty() => {
                // The stream's beginning is missing: whatever follows is raw.
                self.stats.raw = true;
                self.become_raw(sink);
                sink.gap(ts_ns, missing);
            }
            _ => {
                self.give_up(sink);
                sink.gap(ts_ns, missing);
            }
        }
    }

    /// The connection ended: an open body ends with it.
    pub fn finish<S: BodySink>(&mut self, sink: &mut S) {
        if self.in_body {
            sink.end();
            self.in_body = false;
        }
    }

    fn pass<S: BodySink>(&mut self, ts_ns: i64, body: &[u8], sink: &mut S) {
        if !body.is_empty() {
            self.stats.body_bytes += body.len() as u64;
            sink.data(ts_ns, body);
        }
    }

    fn become_raw<S: BodySink>(&mut self, sink: &mut S) {
        if self.in_body {
            sink.end();
        }
        self.state = RespState::Raw;
        self.in_body = true;
        sink.start(None);
    }

    fn give_up<S: BodySink>(&mut self, sink: &mut S) {
        self.stats.gave_up = true;
        self.buf = Vec::new();
        self.become_raw(sink);
    }

    fn end_body<S: BodySink>(&mut self, sink: &mut S) {
        if self.in_body {
            sink.end();
            self.in_body = false;
        }
        self.state = RespState::Start;
    }

    /// Parses the head in `buf[..end]` and sets the body state; false when it is malformed
    /// (HTTP given up).
    fn parse_head<S: BodySink>(&mut self, end: usize, sink: &mut S) -> bool {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let head = self.buf.get(..end).unwrap_or_default();
        let status = match resp.parse(head) {
            Ok(httparse::Status::Complete(_)) => resp.code.unwrap_or(0),
            _ => {
                self.give_up(sink);
                return false;
            }
        };
        let content_type = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-type"))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned());
        let chunked = resp.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("transfer-encoding")
                && String::from_utf8_lossy(h.value)
                    .rsplit(',')
                    .next()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"))
        });
        let content_length = content_length(resp.headers);
        let head = ResponseHead {
            status,
            content_type,
            content_length,
            chunked,
        };
        self.stats.responses += 1;
        // RFC 9112 §6.3: 1xx, 204 and 304 have no body; chunked wins over a length.
        let no_body = (100..200).contains(&status) || status == 204 || status == 304;
        if no_body || (!chunked && content_length == Some(0)) {
            if !(100..200).contains(&status) {
                sink.start(Some(&head));
                sink.end();
            }
            self.state = RespState::Start;
        } else {
            sink.start(Some(&head));
            self.in_body = true;
            self.state = if chunked {
                RespState::Chunked(Chunk::Size {
                    value: 0,
                    digits: 0,
                    ext: false,
                    len: 0,
                })
            } else if let Some(n) = content_length {
                RespState::Length(n)
            } else {
                RespState::UntilClose
            };
        }
        if self.first.is_none() && !(100..200).contains(&status) {
            self.first = Some(head);
        }
        true
    }

    /// Runs the chunked decoder over `data`; returns what is left after a state change that
    /// the main loop must see (end of the body), or an empty slice.
    fn chunked<'d, S: BodySink>(
        &mut self,
        ts_ns: i64,
        mut c: Chunk,
        mut data: &'d [u8],
        sink: &mut S,
    ) -> &'d [u8] {
        while let Some((&b, rest)) = data.split_first() {
            match c {
                Chunk::Data(rem) => {
                    let n = (data.len() as u64).min(rem) as usize;
                    let (body, after) = data.split_at(n);
                    self.pass(ts_ns, body, sink);
                    data = after;
                    c = if rem - n as u64 == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(rem - n as u64)
                    };
                    continue;
                }
                Chunk::Size {
                    value,
                    digits,
                    ext,
                    len,
                } => {
                    data = rest;
                    if len >= CHUNK_LINE_MAX {
                        self.give_up(sink);
                        return data;
                    }
                    let len = len + 1;
                    if b == b'\n' {
                        if digits == 0 {
                            self.give_up(sink);
                            return data;
                        }
                        c = if value == 0 {
                            Chunk::Trailer(0)
                        } else {
                            Chunk::Data(value)
                        };
                    } else if !ext && (b as char).is_ascii_hexdigit() {
                        if digits >= CHUNK_SIZE_DIGITS {
                            self.give_up(sink);
                            return data;
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0);
                        c = Chunk::Size {
                            value: value * 16 + u64::from(d),
                            digits: digits + 1,
                            ext,
                            len,
                        };
                    } else if b == b';' || b == b' ' || b == b'\t' || b == b'\r' || ext {
                        c = Chunk::Size {
                            value,
                            digits,
                            ext: true,
                            len,
                        };
                    } else {
                        self.give_up(sink);
                        return data;
                    }
                }
                Chunk::DataEnd => {
                    data = rest;
                    match b {
                        b'\r' => {}
                        b'\n' => {
                            c = Chunk::Size {
                                value: 0,
                                digits: 0,
                                ext: false,
                                len: 0,
                            }
                        }
                        _ => {
                            self.give_up(sink);
                            return data;
                        }
                    }
                }
                Chunk::Trailer(len) => {
                    data = rest;
                    match b {
                        b'\n' if len == 0 => {
                            self.end_body(sink);
                            return data;
                        }
                        b'\n' => c = Chunk::Trailer(0),
                        b'\r' => {}
                        _ if len >= CHUNK_LINE_MAX => {
                            self.give_up(sink);
                            return data;
                        }
                        _ => c = Chunk::Trailer(len + 1),
                    }
                }
            }
        }
        self.state = RespState::Chunked(c);
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug)]
    struct Bodies {
        starts: Vec<Option<ResponseHead>>,
        body: Vec<u8>,
        gaps: u64,
        ends: usize,
    }

    impl BodySink for Bodies {
        fn start(&mut self, head: Option<&ResponseHead>) {
            self.starts.push(head.cloned());
        }
        fn data(&mut self, _ts: i64, bytes: &[u8]) {
            self.body.extend_from_slice(bytes);
        }
        fn gap(&mut self, _ts: i64, missing: u64) {
            self.gaps += missing;
        }
        fn end(&mut self) {
            self.ends += 1;
        }
    }

    fn feed_bytewise(p: &mut ResponseParser, s: &mut Bodies, data: &[u8]) {
        for b in data {
            p.data(0, std::slice::from_ref(b), s);
        }
    }

    #[test]
    fn request_head_in_pieces() {
        let mut r = RequestParser::new();
        let req = b"GET /ace/getstream?id=1 HTTP/1.1\r\nHost: 127.0.0.1:6878\r\n\r\n";
        r.data(&req[..10]);
        r.data(&req[10..]);
        r.data(b"GET /second HTTP/1.1\r\n\r\n");
        let first = r.first().unwrap();
        assert_eq!(first.method, "GET");
        assert_eq!(first.path, "/ace/getstream?id=1");
        assert_eq!(r.requests(), 2);
        assert!(!r.gave_up());
    }

    #[test]
    fn oversized_head_gives_up() {
        let mut r = RequestParser::new();
        r.data(b"GET / HTTP/1.1\r\nX: ");
        r.data(&vec![b'a'; HEAD_MAX]);
        assert!(r.gave_up());
        let mut p = ResponseParser::new();
        let mut s = Bodies::default();
        p.data(0, b"HTTP/1.1 200 OK\r\nX: ", &mut s);
        p.data(0, &vec![b'a'; HEAD_MAX], &mut s);
        p.data(0, b"after", &mut s);
        assert!(p.stats().gave_up);
        assert_eq!(s.starts, vec![None]);
        assert_eq!(s.body, b"after");
    }

    #[test]
    fn chunked_body_is_dechunked_bytewise_and_keep_alive_continues() {
        let mut p = ResponseParser::new();
        let mut s = Bodies::default();
        let resp =
            b"HTTP/1.1 200 OK\r\nContent-Type: video/MP2T\r\nTransfer-Encoding: chunked\r\n\r\n\
5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        feed_bytewise(&mut p, &mut s, resp);
        assert_eq!(s.body, b"hello worldabc");
        assert_eq!(s.ends, 2);
        assert_eq!(p.stats().responses, 2);
        let first = p.first().unwrap();
        assert_eq!(first.status, 200);
        assert_eq!(first.content_type.as_deref(), Some("video/MP2T"));
        assert!(first.chunked);
        assert!(!p.stats().gave_up);
    }

    #[test]
    fn raw_stream_and_gap_in_a_length_body() {
        let mut p = ResponseParser::new();
        let mut s = Bodies::default();
        p.data(0, &[0x47, 1, 2], &mut s);
        assert!(p.stats().raw);
        assert_eq!(s.body, [0x47, 1, 2]);

        let mut p = ResponseParser::new();
        let mut s = Bodies::default();
        p.data(
            0,
            b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nab",
            &mut s,
        );
        p.gap(0, 4, &mut s);
        p.data(0, b"ghij", &mut s);
        assert_eq!(s.body, b"abghij");
        assert_eq!(s.gaps, 4);
        assert_eq!(s.ends, 1);
        assert!(!p.stats().gave_up);
    }

    #[test]
    fn gap_in_chunk_framing_gives_up() {
        let mut p = ResponseParser::new();
        let mut s = Bodies::default();
        p.data(
            0,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",
            &mut s,
        );
        p.gap(0, 10, &mut s);
        p.data(0, b"zz", &mut s);
        assert!(p.stats().gave_up);
        assert_eq!(s.body, b"abzz");
    }

    #[test]
    fn junk_after_a_response_gives_up() {
        let mut p = ResponseParser::new();
        let mut s = Bodies::default();
        p.data(
            0,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabXYZ",
            &mut s,
        );
        assert!(p.stats().gave_up);
        assert!(!p.stats().raw);
        assert_eq!(s.body, b"abXYZ");
        assert_eq!(s.starts.len(), 2);
    }

    #[test]
    fn no_body_statuses() {
        let mut p = ResponseParser::new();
        let mut s = Bodies::default();
        p.data(
            0,
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody",
            &mut s,
        );
        assert_eq!(p.first().unwrap().status, 304);
        assert_eq!(s.body, b"body");
        assert_eq!(p.stats().responses, 3);
    }
}
