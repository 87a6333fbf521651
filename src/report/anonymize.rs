//! Anonymised reports: every IP address in a report is replaced by a keyed, prefix-preserving
//! pseudonym (Crypto-PAn: Xu, Fan, Ammar, Moon, "Prefix-preserving IP address anonymization",
//! ICNP 2002), so reports can be shared without exposing viewers' addresses.
//!
//! Two addresses that share a k-bit prefix get pseudonyms that share a k-bit prefix; the same
//! key gives the same pseudonym, so every report and figure of one run (and of runs given the
//! same `--anonymize-key`) agree. The pass works on the finished model: every string of the
//! report is scanned for IPv4 and IPv6 addresses (fields such as `local.how` name addresses in
//! prose), and nothing else changes — sizes, rates, shares and the order of lists stay as they
//! were.
//!
//! Loopback addresses (127.0.0.0/8, ::1) stay as they are: they name no host, and a reader
//! needs to recognise the local player's traffic. An anonymised report says so in
//! `anonymized` ([`Anonymized`]), with a fingerprint of the key — never the key itself — so two
//! reports can be seen to share pseudonyms.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use serde_json::Value;

use super::{Anonymized, Report};

/// The method named in `anonymized.method`.
pub const METHOD: &str = "crypto-pan";
/// The block whose encryption, with the pad's, makes the key fingerprint.
const FINGERPRINT_BLOCK: [u8; 16] = *b"peerscope-key-fp";

/// A Crypto-PAn key: 16 bytes of AES key and 16 bytes from which the pad is made.
pub const KEY_BYTES: usize = 32;

/// A keyed, prefix-preserving address anonymiser.
pub struct Anonymizer {
    cipher: Aes128,
    pad: [u8; 16],
    cache: HashMap<IpAddr, IpAddr>,
}

impl std::fmt::Debug for Anonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anonymizer").finish_non_exhaustive()
    }
}

impl Anonymizer {
    /// An anonymiser for a 32-byte key.
    pub fn new(key: &[u8; KEY_BYTES]) -> Self {
        let cipher = Aes128::new(GenericArray::from_slice(&key[..16]));
        let mut pad = GenericArray::clone_from_slice(&key[16..]);
        cipher.encrypt_block(&mut pad);
        let mut p = [0u8; 16];
        p.copy_from_slice(&pad);
        Anonymizer {
            cipher,
            pad: p,
            cache: HashMap::new(),
        }
    }

    /// A key from the operating system's random source.
    pub fn random_key() -> std::io::Result<[u8; KEY_BYTES]> {
        use std::io::Read;
        let mut key = [0u8; KEY_BYTES];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        Ok(key)
    }

    /// Reads a key file: 32 raw bytes, or 64 hexadecimal digits (whitespace ignored).
    pub fn key_from_bytes(bytes: &[u8]) -> Result<[u8; KEY_BYTES], String> {
        let mut key = [0u8; KEY_BYTES];
        if bytes.len() == KEY_BYTES {
            key.copy_from_slice(bytes);
            return Ok(key);
        }
        let hex: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if hex.len() != 2 * KEY_BYTES {
            return Err(format!(
                "an anonymisation key is {KEY_BYTES} bytes or {} hex digits, this one has {} bytes",
                2 * KEY_BYTES,
                bytes.len()
            ));
        }
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| "key: not hex".to_string())?;
            key[i] =
                u8::from_str_radix(text, 16).map_err(|_| format!("key: '{text}' is not hex"))?;
        }
        Ok(key)
    }

    /// The pseudonym of `bits` (the address, most significant bit first) of `width` bits.
    fn scramble(&self, addr: u128, width: u32) -> u128 {
        let shift = 128 - width;
        let addr = addr << shift; // left-aligned
        let pad = u128::from_be_bytes(self.pad);
        let mut flips: u128 = 0;
        for i in 0..width {
            // The first i bits of the address, the rest from the pad.
            let mask: u128 = if i == 0 { 0 } else { !0u128 << (128 - i) };
            let input = (addr & mask) | (pad & !mask);
            let mut block = GenericArray::clone_from_slice(&input.to_be_bytes());
            self.cipher.encrypt_block(&mut block);
            let bit = u128::from(block[0] >> 7);
            flips |= bit << (127 - i);
        }
        (addr ^ flips) >> shift
    }

    /// A fingerprint of the key: 16 hex digits of AES-128 under the key of a constant block
    /// XOR the same of the pad. It tells keys apart and reveals nothing about them.
    pub fn fingerprint(&self) -> String {
        let mut a = GenericArray::clone_from_slice(&FINGERPRINT_BLOCK);
        self.cipher.encrypt_block(&mut a);
        let mut b = GenericArray::clone_from_slice(&self.pad);
        self.cipher.encrypt_block(&mut b);
        a.iter()
            .zip(b.iter())
            .take(8)
            .map(|(x, y)| format!("{:02x}", x ^ y))
            .collect()
    }

    /// What an anonymised report says about its anonymisation.
    pub fn section(&self) -> Anonymized {
        Anonymized {
            method: METHOD.to_string(),
            key_fingerprint: self.fingerprint(),
            loopback_kept: true,
        }
    }

    /// The pseudonym of an address (a loopback address is its own).
    pub fn address(&mut self, ip: IpAddr) -> IpAddr {
        if ip.is_loopback() {
            return ip;
        }
        if let Some(&p) = self.cache.get(&ip) {
            return p;
        }
        let p = match ip {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(
                self.scramble(u128::from(u32::from(v4)), 32) as u32,
            )),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(self.scramble(u128::from(v6), 128))),
        };
        self.cache.insert(ip, p);
        p
    }

    /// Replaces every address found in `text`.
    pub fn text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let starts_token = i == 0 || !is_addr_char(bytes[i - 1]);
            if starts_token && (c.is_ascii_hexdigit() || c == b':') {
                let end = (i..bytes.len())
                    .find(|&j| !is_addr_char(bytes[j]))
                    .unwrap_or(bytes.len());
                // Try the longest candidate, then shorter ones (a trailing ':' or '.' of prose).
                let mut matched = false;
                for stop in (i + 2..=end).rev() {
                    if let Ok(ip) = text[i..stop].parse::<IpAddr>() {
                        out.push_str(&self.address(ip).to_string());
                        out.push_str(&text[stop..end]);
                        matched = true;
                        break;
                    }
                }
                if !matched {
                    out.push_str(&text[i..end]);
                }
                i = end;
            } else {
                let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + ch_len]);
                i += ch_len;
            }
        }
        out
    }

    /// Replaces every address in every string of a JSON value.
    pub fn value(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|x| self.value(x)),
            Value::Object(map) => map.values_mut().for_each(|x| self.value(x)),
            _ => {}
        }
    }

    /// An anonymised copy of a report, saying so in `anonymized`.
    pub fn report(&mut self, report: &Report) -> Result<Report, serde_json::Error> {
        let mut v = serde_json::to_value(report)?;
        self.value(&mut v);
        let mut r: Report = serde_json::from_value(v)?;
        r.anonymized = Some(self.section());
        Ok(r)
    }
}

fn is_addr_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b'.' || b == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference key and address pairs published with the Crypto-PAn implementation
    /// (sample_trace_raw.dat → sample_trace_sanitized.dat).
    const KEY: [u8; 32] = [
        21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16, 216, 152, 143, 131,
        121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
    ];

    #[test]
    fn reference_vectors() {
        let mut a = Anonymizer::new(&KEY);
        for (raw, anon) in [
            ("128.11.68.132", "135.242.180.132"),
            ("129.118.74.4", "134.136.186.123"),
            ("130.132.252.244", "133.68.164.234"),
            ("141.223.7.43", "141.167.8.160"),
            ("192.102.249.13", "252.138.62.131"),
            ("63.14.55.111", "95.9.215.7"),
        ] {
            let ip: IpAddr = raw.parse().unwrap();
            assert_eq!(a.address(ip).to_string(), anon, "{raw}");
        }
    }

    #[test]
    fn prefixes_are_preserved() {
        let mut a = Anonymizer::new(&KEY);
        let x = u32::from_be_bytes([192, 0, 2, 10]);
        let y = u32::from_be_bytes([192, 0, 2, 200]);
        let ax = match a.address(IpAddr::V4(x.into())) {
            IpAddr::V4(v) => u32::from(v),
            _ => 0,
        };
        let ay = match a.address(IpAddr::V4(y.into())) {
            IpAddr::V4(v) => u32::from(v),
            _ => 0,
        };
        let common = (x ^ y).leading_zeros();
        assert_eq!((ax ^ ay).leading_zeros(), common);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let w6: IpAddr = "2001:db8::2".parse().unwrap();
        let (p, q) = match (a.address(v6), a.address(w6)) {
            (IpAddr::V6(p), IpAddr::V6(q)) => (u128::from(p), u128::from(q)),
            _ => (0, 0),
        };
        assert_eq!((p ^ q).leading_zeros(), 126);
    }

    #[test]
    fn text_replaces_addresses_in_prose() {
        let mut a = Anonymizer::new(&KEY);
        let t = a.text(
            "runner-up 128.11.68.132 with 3; flow 192.0.2.7:8902 -> 127.0.0.1:5000, at 12.5 s",
        );
        assert!(t.contains("135.242.180.132 with 3"), "{t}");
        assert!(!t.contains("192.0.2.7"), "{t}");
        assert!(t.contains("127.0.0.1:5000"), "loopback kept: {t}");
        assert!(t.contains("at 12.5 s"), "{t}");
        assert!(t.contains(":8902 -> "), "{t}");
    }

    #[test]
    fn loopback_is_kept_and_the_fingerprint_is_not_the_key() {
        let key = [7u8; KEY_BYTES];
        let mut a = Anonymizer::new(&key);
        for ip in ["127.0.0.1", "127.3.4.5", "::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(a.address(ip), ip);
        }
        assert_ne!(
            a.address("192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        let fp = a.fingerprint();
        assert_eq!(fp.len(), 16);
        assert!(!fp.contains("0707"));
        assert_eq!(fp, Anonymizer::new(&key).fingerprint());
        assert_ne!(fp, Anonymizer::new(&[8u8; KEY_BYTES]).fingerprint());
    }

    #[test]
    fn key_files() {
        assert!(Anonymizer::key_from_bytes(&[0u8; 32]).is_ok());
        let hex = "00".repeat(32);
        assert_eq!(Anonymizer::key_from_bytes(hex.as_bytes()), Ok([0u8; 32]));
        assert!(Anonymizer::key_from_bytes(b"short").is_err());
    }
}
