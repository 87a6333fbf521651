//! Names from captured DNS answers: which address was looked up under which name.
//!
//! Parsing is done by the `simple-dns` crate; this module only picks out A/AAAA answers of
//! responses and names each address by the question that was asked (so a CNAME chain still
//! names the address by what the client asked for, e.g. `broker.sopcast.com`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Packet, PacketFlag};

/// Longest name kept; longer ones are cut (names are shown in reports, not trusted).
const MAX_NAME_LEN: usize = 253;
/// Most answers taken from one response.
const MAX_ANSWERS: usize = 64;

/// Calls `f(address, name)` for every A/AAAA answer in a DNS response message (`payload` is
/// the UDP payload). Queries, malformed messages and answers without a question are ignored.
pub fn answers(payload: &[u8], mut f: impl FnMut(IpAddr, &str)) {
    let Ok(packet) = Packet::parse(payload) else {
        return;
    };
    if !packet.has_flags(PacketFlag::RESPONSE) {
        return;
    }
    let asked = match packet.questions.first() {
        Some(q) => q.qname.to_string(),
        None => return,
    };
    let mut name = asked.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return;
    }
    if name.len() > MAX_NAME_LEN {
        let mut cut = MAX_NAME_LEN;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    for answer in packet.answers.iter().take(MAX_ANSWERS) {
        let ip = match &answer.rdata {
            RData::A(a) => IpAddr::V4(Ipv4Addr::from(a.address)),
            RData::AAAA(a) => IpAddr::V6(Ipv6Addr::from(a.address)),
            _ => continue,
        };
        f(ip, &name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for broker.sopcast.com A 198.51.100.7, built by hand (RFC 1035 §4.1).
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        for label in ["broker", "sopcast", "com"] {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 198, 51, 100, 7]);
        m
    }

    #[test]
    fn names_the_answer() {
        let mut got = Vec::new();
        answers(&response(), |ip, name| got.push((ip, name.to_string())));
        assert_eq!(
            got,
            vec![(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
                "broker.sopcast.com".to_string()
            )]
        );
    }

    #[test]
    fn ignores_queries_and_garbage() {
        let mut query = response();
        query[2] = 0x01;
        let mut n = 0;
        answers(&query, |_, _| n += 1);
        answers(&[1, 2, 3], |_, _| n += 1);
        answers(&response()[..20], |_, _| n += 1);
        assert_eq!(n, 0);
    }
}
