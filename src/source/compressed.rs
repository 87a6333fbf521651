//! Compressed captures (`.pcap.gz`, `.pcap.zst`, `.pcap.xz`, from files or standard input),
//! recognised by their magic bytes, never by the file name, and decompressed on a thread of
//! their own — as `zcat | peerscope analyze -` would, so reading a compressed file is as fast
//! as that pipe — into the pcap/pcapng reader.
//!
//! Concatenated members/frames/streams are read in full, as `zcat`, `zstdcat` and `xzcat` do.
//! Memory is bounded: at most [`CHUNKS_IN_FLIGHT`] chunks of [`CHUNK_BYTES`] wait between the
//! threads.
//!
//! Standard input is read through the same [`Threaded`] reader, made stoppable: while it waits
//! for a pipe that has gone quiet it looks every [`STOP_POLL`] for a stop request
//! ([`super::interrupt`]), so SIGINT ends the input even when the writer sends nothing more.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use super::interrupt;

/// How often a stoppable reader waiting for input looks for a stop request.
pub const STOP_POLL: Duration = Duration::from_millis(50);

/// gzip member header (RFC 1952 §2.3.1: ID1 ID2 CM=8 deflate).
const MAGIC_GZIP: [u8; 3] = [0x1f, 0x8b, 0x08];
/// zstd frame magic 0xFD2FB528, little-endian (RFC 8878 §3.1.1).
const MAGIC_ZSTD: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// xz stream header magic (The .xz File Format 1.1.0, §2.1.1.1).
const MAGIC_XZ: [u8; 6] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/// Decompressed bytes handed over per chunk.
pub const CHUNK_BYTES: usize = 256 << 10;
/// Chunks waiting between the decompressing thread and the reader.
pub const CHUNKS_IN_FLIGHT: usize = 4;
/// Bytes per read of a stoppable stream: a pipe's buffer (pipe(7): 64 KiB), so each read is
/// handed over as it comes without zeroing much more than it fills.
pub const PIPE_CHUNK_BYTES: usize = 64 << 10;

/// A compression format recognised at the start of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    /// The format whose magic bytes start `head`, if any.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&MAGIC_GZIP) {
            Some(Compression::Gzip)
        } else if head.starts_with(&MAGIC_ZSTD) {
            Some(Compression::Zstd)
        } else if head.starts_with(&MAGIC_XZ) {
            Some(Compression::Xz)
        } else {
            None
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }

    /// A decoder of this format over `input` (the compressed bytes, from the first).
    pub fn decoder(
        self,
        input: Box<dyn Read + Send>,
    ) -> io::Result<Box<dyn Read + Send + 'static>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(input)),
        })
    }
}

/// The decompressed stream, read from a thread that runs the decoder.
pub struct Threaded {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
    /// A stop request ends the stream (as an end of input) while waiting.
    stoppable: bool,
}

impl Threaded {
    /// Starts decompressing `decoder` on a new thread. The thread ends at the end of the
    /// stream, on an error (handed to the reader), or when this reader is dropped.
    pub fn spawn(decoder: Box<dyn Read + Send>) -> io::Result<Threaded> {
        Self::start(decoder, false)
    }

    /// As [`Threaded::spawn`], but a stop request ([`interrupt::request`]) ends the stream
    /// while it waits for input (for standard input: a quiet pipe cannot hold the run).
    pub fn spawn_stoppable(input: Box<dyn Read + Send>) -> io::Result<Threaded> {
        Self::start(input, true)
    }

    fn start(mut decoder: Box<dyn Read + Send>, stoppable: bool) -> io::Result<Threaded> {
        let (tx, rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
        let chunk_bytes = if stoppable {
            PIPE_CHUNK_BYTES
        } else {
            CHUNK_BYTES
        };
        std::thread::Builder::new()
            .name("peerscope-decompress".into())
            .spawn(move || loop {
                let mut chunk = vec![0u8; chunk_bytes];
                let mut filled = 0;
                let result = loop {
                    match decoder.read(&mut chunk[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            // A stoppable stream hands over what it has at once: a quiet
                            // pipe's last bytes must not wait for a full chunk.
                            if stoppable || filled == chunk.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => break Err(e),
                    }
                };
                chunk.truncate(filled);
                let last = filled == 0 || result.is_err();
                let sent = match result {
                    Ok(()) if filled == 0 => Ok(()),
                    Ok(()) => tx.send(Ok(chunk)),
                    Err(e) => {
                        // What was decompressed before the error comes first.
                        let _ = if filled > 0 {
                            tx.send(Ok(chunk))
                        } else {
                            Ok(())
                        };
                        tx.send(Err(e))
                    }
                };
                if last || sent.is_err() {
                    return;
                }
            })?;
        Ok(Threaded {
            rx,
            chunk: Vec::new(),
            at: 0,
            ended: false,
            stoppable,
        })
    }
}

impl Read for Threaded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.ended {
                return Ok(0);
            }
            let next = if self.stoppable {
                match self.rx.recv_timeout(STOP_POLL) {
                    Ok(x) => Some(x),
                    Err(RecvTimeoutError::Timeout) if interrupt::requested() => None,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            } else {
                self.rx.recv().ok()
            };
            match next {
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                None => {
                    self.ended = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(kind: Compression, compressed: Vec<u8>, plain: &[u8]) {
        assert_eq!(Compression::detect(&compressed), Some(kind));
        let dec = kind.decoder(Box::new(io::Cursor::new(compressed))).unwrap();
        let mut out = Vec::new();
        Threaded::spawn(dec).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, plain);
    }

    /// 4 MB that compress little (an LCG's high bytes), so half a stream decodes to data.
    fn plain() -> Vec<u8> {
        let mut x: u64 = 1;
        (0..4_000_000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (x >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn gzip_two_members() {
        let p = plain();
        let mut all = Vec::new();
        for half in [&p[..1000], &p[1000..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(half).unwrap();
            all.extend(e.finish().unwrap());
        }
        roundtrip(Compression::Gzip, all, &p);
    }

    #[test]
    fn zstd_and_xz() {
        let p = plain();
        roundtrip(Compression::Zstd, zstd::encode_all(&p[..], 1).unwrap(), &p);
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
        e.write_all(&p).unwrap();
        roundtrip(Compression::Xz, e.finish().unwrap(), &p);
    }

    #[test]
    fn corrupt_stream_is_an_error_after_its_good_part() {
        let p = plain();
        let mut c = zstd::encode_all(&p[..], 1).unwrap();
        let n = c.len();
        c.truncate(n / 2);
        let dec = Compression::Zstd
            .decoder(Box::new(io::Cursor::new(c)))
            .unwrap();
        let mut t = Threaded::spawn(dec).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 100_000];
        let err = loop {
            match t.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => break Some(e),
            }
        };
        assert!(err.is_some());
        assert!(
            !out.is_empty() && out.len() < p.len(),
            "{} of {}",
            out.len(),
            p.len()
        );
        assert_eq!(out[..], p[..out.len()]);
    }

    #[test]
    fn plain_captures_are_not_compressed() {
        assert_eq!(Compression::detect(&[0xd4, 0xc3, 0xb2, 0xa1]), None);
        assert_eq!(Compression::detect(&[0x0a, 0x0d, 0x0d, 0x0a]), None);
        assert_eq!(Compression::detect(&[0x1f]), None);
    }
}
