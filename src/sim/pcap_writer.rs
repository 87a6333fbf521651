//! A small capture-file writer: legacy pcap (microsecond and nanosecond magic) and pcapng
//! (one section header, one interface description, enhanced packet blocks).
//!
//! [`PcapWriter`] owns the file header and the per-record framing; it knows nothing about the
//! frames it is given. Tests elsewhere use it to craft odd captures (big-endian files, records
//! cut by a small snaplen, unusual link types), so those knobs are public: see
//! [`WriterOptions`] and [`PcapWriter::write_record`].
//!
//! References: the pcap format (draft-ietf-opsawg-pcap), pcapng (draft-ietf-opsawg-pcapng),
//! link-type numbers from tcpdump.org/linktypes.html.

use std::io::{self, Write};

/// The container format and its timestamp resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Legacy pcap, magic 0xa1b2c3d4, microsecond timestamps.
    Pcap,
    /// Legacy pcap, magic 0xa1b23c4d, nanosecond timestamps.
    PcapNs,
    /// pcapng with microsecond timestamps (`if_tsresol` = 6, written explicitly).
    Pcapng,
    /// pcapng with nanosecond timestamps (`if_tsresol` = 9).
    PcapngNs,
}

impl Format {
    /// Nanoseconds per timestamp unit of this format (1000 or 1).
    pub fn resolution_ns(self) -> u64 {
        match self {
            Format::Pcap | Format::Pcapng => 1_000,
            Format::PcapNs | Format::PcapngNs => 1,
        }
    }

    /// The name used on the command line and in truth files.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNs => "pcap-ns",
            Format::Pcapng => "pcapng",
            Format::PcapngNs => "pcapng-ns",
        }
    }
}

/// Link-layer header type of the frames (LINKTYPE_* numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// BSD loopback, 4-byte address family in host byte order (0).
    Null,
    /// Ethernet II (1).
    Ethernet,
    /// Raw IP, version from the first nibble (101).
    Raw,
    /// Linux cooked capture v1, 16-byte header (113).
    LinuxSll,
    /// Raw IPv4 (228).
    Ipv4,
    /// Linux cooked capture v2, 20-byte header (276): what `tcpdump -i any` writes.
    LinuxSll2,
    /// Any other number, written as given.
    Other(u16),
}

impl LinkType {
    /// The LINKTYPE_ number written in the file header.
    pub fn code(self) -> u16 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::LinuxSll => 113,
            LinkType::Ipv4 => 228,
            LinkType::LinuxSll2 => 276,
            LinkType::Other(code) => code,
        }
    }
}

/// Knobs for crafting captures; the defaults are what a normal capture looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Snapshot length written in the header. Records longer than this are cut, keeping
    /// their original length (as a capture with `-s` would).
    pub snaplen: u32,
    /// Write every multi-byte field big-endian (as a capture made on a big-endian host).
    pub big_endian: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            snaplen: 262_144,
            big_endian: false,
        }
    }
}

/// Writes one capture file to `W`. Buffer `W` yourself (a `BufWriter` of about 1 MiB) when it
/// is a file: every record is two `write_all` calls.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    format: Format,
    opts: WriterOptions,
    records: u64,
}

/// pcapng block types and option codes (draft-ietf-opsawg-pcapng §4).
const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_EPB: u32 = 0x0000_0006;
const PCAPNG_BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const PCAPNG_OPT_IF_TSRESOL: u16 = 9;
const PCAPNG_OPT_END: u16 = 0;

impl<W: Write> PcapWriter<W> {
    /// Writes the file header (pcap) or section header and interface block (pcapng).
    pub fn new(out: W, format: Format, link: LinkType) -> io::Result<Self> {
        Self::with_options(out, format, link, WriterOptions::default())
    }

    /// As [`PcapWriter::new`], with explicit [`WriterOptions`].
    pub fn with_options(
        out: W,
        format: Format,
        link: LinkType,
        opts: WriterOptions,
    ) -> io::Result<Self> {
        let mut w = PcapWriter {
            out,
            format,
            opts,
            records: 0,
        };
        w.write_header(link)?;
        Ok(w)
    }

    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.opts.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.opts.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn write_header(&mut self, link: LinkType) -> io::Result<()> {
        let mut h: Vec<u8> = Vec::with_capacity(64);
        match self.format {
            Format::Pcap | Format::PcapNs => {
                let magic = if self.format == Format::Pcap {
                    0xA1B2_C3D4
                } else {
                    0xA1B2_3C4D
                };
                h.extend_from_slice(&self.u32b(magic));
                h.extend_from_slice(&self.u16b(2)); // version major
                h.extend_from_slice(&self.u16b(4)); // version minor
                h.extend_from_slice(&self.u32b(0)); // thiszone
                h.extend_from_slice(&self.u32b(0)); // sigfigs
                h.extend_from_slice(&self.u32b(self.opts.snaplen));
                h.extend_from_slice(&self.u32b(u32::from(link.code())));
            }
            Format::Pcapng | Format::PcapngNs => {
                // Section header block, 28 bytes, no options, section length unknown (-1).
                h.extend_from_slice(&self.u32b(PCAPNG_SHB));
                h.extend_from_slice(&self.u32b(28));
                h.extend_from_slice(&self.u32b(PCAPNG_BYTE_ORDER_MAGIC));
                h.extend_from_slice(&self.u16b(1));
                h.extend_from_slice(&self.u16b(0));
                h.extend_from_slice(&[0xFF; 8]);
                h.extend_from_slice(&self.u32b(28));
                // Interface description block with if_tsresol and opt_endofopt: 32 bytes.
                let tsresol: u8 = if self.format == Format::Pcapng { 6 } else { 9 };
                h.extend_from_slice(&self.u32b(PCAPNG_IDB));
                h.extend_from_slice(&self.u32b(32));
                h.extend_from_slice(&self.u16b(link.code()));
                h.extend_from_slice(&self.u16b(0)); // reserved
                h.extend_from_slice(&self.u32b(self.opts.snaplen));
                h.extend_from_slice(&self.u16b(PCAPNG_OPT_IF_TSRESOL));
                h.extend_from_slice(&self.u16b(1));
                h.extend_from_slice(&[tsresol, 0, 0, 0]);
                h.extend_from_slice(&self.u16b(PCAPNG_OPT_END));
                h.extend_from_slice(&self.u16b(0));
                h.extend_from_slice(&self.u32b(32));
            }
        }
        self.out.write_all(&h)
    }

    /// Writes one packet whose timestamp is `ts_ns` nanoseconds since the Unix epoch,
    /// cutting it to the snaplen if needed. Microsecond formats truncate the timestamp.
    pub fn write_packet(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let keep = frame.len().min(self.opts.snaplen as usize);
        self.write_record(ts_ns, &frame[..keep], orig)
    }

    /// Writes one record as given: `data` is what was captured, `orig_len` the length on the
    /// wire (may be larger than `data`, or even smaller, to craft broken files).
    pub fn write_record(&mut self, ts_ns: u64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record over 4 GiB"))?;
        let mut h = [0u8; 28];
        let hlen = match self.format {
            Format::Pcap | Format::PcapNs => {
                let sec = (ts_ns / 1_000_000_000) as u32;
                let frac = (ts_ns % 1_000_000_000) / self.format.resolution_ns();
                h[0..4].copy_from_slice(&self.u32b(sec));
                h[4..8].copy_from_slice(&self.u32b(frac as u32));
                h[8..12].copy_from_slice(&self.u32b(caplen));
                h[12..16].copy_from_slice(&self.u32b(orig_len));
                16
            }
            Format::Pcapng | Format::PcapngNs => {
                let units = ts_ns / self.format.resolution_ns();
                let padded = (caplen + 3) & !3;
                let total = 32 + padded;
                h[0..4].copy_from_slice(&self.u32b(PCAPNG_EPB));
                h[4..8].copy_from_slice(&self.u32b(total));
                h[8..12].copy_from_slice(&self.u32b(0)); // interface 0
                h[12..16].copy_from_slice(&self.u32b((units >> 32) as u32));
                h[16..20].copy_from_slice(&self.u32b(units as u32));
                h[20..24].copy_from_slice(&self.u32b(caplen));
                h[24..28].copy_from_slice(&self.u32b(orig_len));
                28
            }
        };
        self.out.write_all(&h[..hlen])?;
        self.out.write_all(data)?;
        if matches!(self.format, Format::Pcapng | Format::PcapngNs) {
            let padded = (caplen + 3) & !3;
            let pad = (padded - caplen) as usize;
            let mut tail = [0u8; 8];
            let total = 32 + padded;
            tail[pad..pad + 4].copy_from_slice(&self.u32b(total));
            self.out.write_all(&tail[..pad + 4])?;
        }
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes and hands back the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn pcap_header_and_record() {
        let mut w = PcapWriter::new(Vec::new(), Format::Pcap, LinkType::Ethernet).unwrap();
        w.write_packet(1_767_268_800_123_456_789, &[1, 2, 3])
            .unwrap();
        let b = w.finish().unwrap();
        assert_eq!(b.len(), 24 + 16 + 3);
        assert_eq!(le32(&b, 0), 0xA1B2_C3D4);
        assert_eq!(le32(&b, 16), 262_144);
        assert_eq!(le32(&b, 20), 1);
        assert_eq!(le32(&b, 24), 1_767_268_800);
        assert_eq!(le32(&b, 28), 123_456);
        assert_eq!(le32(&b, 32), 3);
        assert_eq!(le32(&b, 36), 3);
        assert_eq!(&b[40..], &[1, 2, 3]);
    }

    #[test]
    fn pcap_ns_keeps_nanoseconds() {
        let mut w = PcapWriter::new(Vec::new(), Format::PcapNs, LinkType::LinuxSll2).unwrap();
        w.write_packet(5_000_000_123, &[0; 4]).unwrap();
        let b = w.finish().unwrap();
        assert_eq!(le32(&b, 0), 0xA1B2_3C4D);
        assert_eq!(le32(&b, 20), 276);
        assert_eq!(le32(&b, 24), 5);
        assert_eq!(le32(&b, 28), 123);
    }

    #[test]
    fn big_endian_and_snaplen() {
        let opts = WriterOptions {
            snaplen: 2,
            big_endian: true,
        };
        let mut w =
            PcapWriter::with_options(Vec::new(), Format::Pcap, LinkType::Raw, opts).unwrap();
        w.write_packet(0, &[9, 8, 7, 6]).unwrap();
        let b = w.finish().unwrap();
        assert_eq!(&b[0..4], &[0xA1, 0xB2, 0xC3, 0xD4]);
        assert_eq!(&b[32..40], &[0, 0, 0, 2, 0, 0, 0, 4]);
        assert_eq!(&b[40..], &[9, 8]);
    }

    #[test]
    fn pcapng_blocks_are_well_formed() {
        for (format, res) in [(Format::Pcapng, 6u8), (Format::PcapngNs, 9u8)] {
            let mut w = PcapWriter::new(Vec::new(), format, LinkType::Ethernet).unwrap();
            w.write_packet(3_000_000_000 + 1_500, &[0xAA; 5]).unwrap();
            w.write_packet(3_000_001_000, &[0xBB; 8]).unwrap();
            let b = w.finish().unwrap();
            assert_eq!(le32(&b, 0), PCAPNG_SHB);
            assert_eq!(le32(&b, 8), PCAPNG_BYTE_ORDER_MAGIC);
            assert_eq!(b[28 + 20], res);
            // Walk the blocks: each total length repeated at its end.
            let mut at = 0;
            let mut types = Vec::new();
            while at < b.len() {
                let ty = le32(&b, at);
                let len = le32(&b, at + 4) as usize;
                assert_eq!(len % 4, 0);
                assert_eq!(le32(&b, at + len - 4) as usize, len);
                types.push(ty);
                if ty == PCAPNG_EPB {
                    let units = (u64::from(le32(&b, at + 12)) << 32) | u64::from(le32(&b, at + 16));
                    let ns = units * if res == 6 { 1000 } else { 1 };
                    assert!(ns == 3_000_001_000 || ns == 3_000_001_500);
                }
                at += len;
            }
            assert_eq!(at, b.len());
            assert_eq!(types, vec![PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_EPB]);
        }
    }
}
