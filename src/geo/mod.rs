//! Offline IP databases for locality (issue 18): [`GeoDb`] reads one file the user supplies —
//! a MaxMind DB (`.mmdb`, through the `maxminddb` crate) or a CSV/TSV range table — and
//! [`Locator`] answers, per address, a [`GeoRecord`] (ASN, AS organisation, country) from an
//! ASN database and a country database together. Nothing is ever downloaded: without a file
//! there is no answer.
//!
//! Range tables, one range per line, `#` comments and blank lines skipped, comma- or
//! tab-separated, the last column may hold commas when the file is comma-separated:
//!
//! ```text
//! start,end,asn,org                 ip-location-db asn CSV (e.g. @ip-location-db/asn)
//! start,end,country                 ip-location-db country CSV (e.g. @ip-location-db/geolite2-country)
//! start<TAB>end<TAB>asn<TAB>country<TAB>org   iptoasn.com ip2asn-v4.tsv / ip2asn-combined.tsv
//! ```
//!
//! `start`/`end` are addresses (IPv4 or IPv6) or decimal numbers (the `-num` variants: a
//! number up to 2^32 − 1 is read as IPv4, a larger one as IPv6). An ASN may be written `AS123`;
//! ASN 0 (iptoasn's "not routed") and country `None`/`ZZ` are no answer. MaxMind records are
//! read for `autonomous_system_number`, `autonomous_system_organization` (GeoLite2-ASN and
//! ip-location-db's asn-mmdb), `country.iso_code` (GeoLite2-Country, DB-IP) and `country_code`
//! (ip-location-db's country mmdb files).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeoError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A MaxMind DB that the reader refused.
    #[error("{path} is not a usable MaxMind DB: {reason}")]
    Mmdb { path: PathBuf, reason: String },
    /// A line of a range table that does not parse.
    #[error("{path}, line {line}: {reason}")]
    Csv {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A range table without a single range.
    #[error("{path} holds no address range")]
    Empty { path: PathBuf },
}

/// What a database says of an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoRecord {
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
}

impl GeoRecord {
    fn is_empty(&self) -> bool {
        self.asn.is_none() && self.as_org.is_none() && self.country.is_none()
    }
}

/// Address ranges with their records, sorted by start.
#[derive(Debug, Clone, Default)]
struct RangeTable {
    v4: Vec<(u32, u32, u32)>,
    v6: Vec<(u128, u128, u32)>,
    records: Vec<GeoRecord>,
}

fn find<T: Ord + Copy>(ranges: &[(T, T, u32)], x: T) -> Option<u32> {
    let i = ranges.partition_point(|r| r.0 <= x);
    let r = ranges.get(i.checked_sub(1)?)?;
    (x <= r.1).then_some(r.2)
}

impl RangeTable {
    fn lookup(&self, ip: IpAddr) -> Option<&GeoRecord> {
        let idx = match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => find(&self.v4, u32::from(v4)),
                None => find(&self.v6, u128::from(v6)),
            },
        }?;
        self.records.get(idx as usize)
    }
}

/// An address or a decimal number (see the module doc).
fn parse_bound(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let n: u128 = s.parse().ok()?;
    Some(match u32::try_from(n) {
        Ok(v4) => IpAddr::from(std::net::Ipv4Addr::from(v4)),
        Err(_) => IpAddr::from(std::net::Ipv6Addr::from(n)),
    })
}

fn parse_asn(s: &str) -> Option<Option<u32>> {
    let s = s.trim().trim_matches('"');
    let digits = s
        .strip_prefix("AS")
        .or_else(|| s.strip_prefix("as"))
        .unwrap_or(s);
    let n: u32 = digits.parse().ok()?;
    Some((n != 0).then_some(n))
}

fn country(s: &str) -> Option<String> {
    let s = s.trim().trim_matches('"');
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) && !s.eq_ignore_ascii_case("ZZ"))
        .then(|| s.to_ascii_uppercase())
}

fn text(s: &str) -> Option<String> {
    let s = s.trim().trim_matches('"').trim();
    (!s.is_empty() && s != "Not routed" && s != "None").then(|| s.to_string())
}

/// One line of a range table: the range and its record.
fn parse_line(line: &str) -> Result<(IpAddr, IpAddr, GeoRecord), String> {
    let sep = if line.contains('\t') { '\t' } else { ',' };
    let cols: Vec<&str> = line.splitn(5, sep).collect();
    if cols.len() < 3 {
        return Err(format!(
            "expected start{sep}end{sep}value…, got {} column(s)",
            cols.len()
        ));
    }
    let start = parse_bound(cols[0]).ok_or_else(|| format!("bad range start {:?}", cols[0]))?;
    let end = parse_bound(cols[1]).ok_or_else(|| format!("bad range end {:?}", cols[1]))?;
    if start.is_ipv4() != end.is_ipv4() {
        return Err("range start and end are of different IP versions".into());
    }
    let mut rec = GeoRecord::default();
    match parse_asn(cols[2]) {
        Some(asn) => {
            rec.asn = asn;
            match (sep, cols.len()) {
                // iptoasn: asn, country, description.
                ('\t', 5) => {
                    rec.country = country(cols[3]);
                    rec.as_org = text(cols[4]);
                }
                ('\t', 4) => rec.as_org = text(cols[3]),
                // ip-location-db: asn, organisation (which may hold commas).
                (_, n) if n >= 4 => rec.as_org = text(&cols[3..].join(",")),
                _ => {}
            }
        }
        None => {
            rec.country = country(cols[2]);
            if rec.country.is_none() && text(cols[2]).is_some_and(|c| c.len() != 2) {
                return Err(format!("neither an ASN nor a country code: {:?}", cols[2]));
            }
        }
    }
    Ok((start, end, rec))
}

fn parse_table(path: &Path, body: &str) -> Result<RangeTable, GeoError> {
    let mut t = RangeTable::default();
    for (i, line) in body.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (start, end, rec) = match parse_line(line) {
            Ok(v) => v,
            // A header row (`ip_range_start,…`): skipped when it is the first line.
            Err(_) if t.records.is_empty() && i == 0 => continue,
            Err(reason) => {
                return Err(GeoError::Csv {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason,
                })
            }
        };
        if rec.is_empty() {
            continue;
        }
        let idx = t.records.len() as u32;
        t.records.push(rec);
        match (start, end) {
            (IpAddr::V4(a), IpAddr::V4(b)) => t.v4.push((u32::from(a), u32::from(b), idx)),
            (IpAddr::V6(a), IpAddr::V6(b)) => t.v6.push((u128::from(a), u128::from(b), idx)),
            _ => {}
        }
    }
    if t.records.is_empty() {
        return Err(GeoError::Empty {
            path: path.to_path_buf(),
        });
    }
    t.v4.sort_unstable();
    t.v6.sort_unstable();
    Ok(t)
}

#[derive(Debug, Deserialize, Default)]
struct MmdbCountry {
    #[serde(default)]
    iso_code: Option<String>,
}

/// The fields read from a MaxMind record (every other field is ignored).
#[derive(Debug, Deserialize, Default)]
struct MmdbRecord {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(default)]
    autonomous_system_organization: Option<String>,
    #[serde(default)]
    country: Option<MmdbCountry>,
    #[serde(default)]
    country_code: Option<String>,
}

enum Kind {
    Ranges(RangeTable),
    Mmdb(Box<maxminddb::Reader<Vec<u8>>>),
}

/// One database file.
pub struct GeoDb {
    path: PathBuf,
    kind: Kind,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Ranges(t) => format!("ranges ({})", t.records.len()),
            Kind::Mmdb(_) => "mmdb".to_string(),
        };
        f.debug_struct("GeoDb")
            .field("path", &self.path)
            .field("kind", &kind)
            .finish()
    }
}

/// The marker before a MaxMind DB's metadata (MaxMind DB spec, "Database Metadata").
const MMDB_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

impl GeoDb {
    /// Reads a database: a MaxMind DB when the file carries the MaxMind metadata marker, a
    /// range table otherwise.
    pub fn open(path: &Path) -> Result<GeoDb, GeoError> {
        let bytes = std::fs::read(path).map_err(|source| GeoError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let is_mmdb = bytes.windows(MMDB_MARKER.len()).any(|w| w == MMDB_MARKER);
        let kind = if is_mmdb {
            let reader = maxminddb::Reader::from_source(bytes).map_err(|e| GeoError::Mmdb {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            Kind::Mmdb(Box::new(reader))
        } else {
            let body = String::from_utf8_lossy(&bytes);
            Kind::Ranges(parse_table(path, &body)?)
        };
        Ok(GeoDb {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the database says of `ip` (`None`: nothing).
    pub fn lookup(&self, ip: IpAddr) -> Option<GeoRecord> {
        match &self.kind {
            Kind::Ranges(t) => t.lookup(ip).cloned(),
            Kind::Mmdb(r) => {
                let rec: MmdbRecord = r.lookup(ip).ok()?.decode().ok()??;
                let out = GeoRecord {
                    asn: rec.autonomous_system_number.filter(|&n| n != 0),
                    as_org: rec.autonomous_system_organization.and_then(|s| text(&s)),
                    country: rec
                        .country
                        .and_then(|c| c.iso_code)
                        .or(rec.country_code)
                        .and_then(|c| country(&c)),
                };
                (!out.is_empty()).then_some(out)
            }
        }
    }
}

/// The ASN database and the country database together (either may be absent).
#[derive(Debug, Default)]
pub struct Locator {
    pub asn: Option<GeoDb>,
    pub geo: Option<GeoDb>,
}

impl Locator {
    /// Opens the files given (`--asn-db`, `--geo-db`).
    pub fn open(asn: Option<&Path>, geo: Option<&Path>) -> Result<Locator, GeoError> {
        Ok(Locator {
            asn: asn.map(GeoDb::open).transpose()?,
            geo: geo.map(GeoDb::open).transpose()?,
        })
    }

    /// True when no database was given.
    pub fn is_empty(&self) -> bool {
        self.asn.is_none() && self.geo.is_none()
    }

    /// ASN and organisation from the ASN database (or the country database, when it has
    /// them); country from the country database (or the ASN database, as iptoasn's has one).
    pub fn lookup(&self, ip: IpAddr) -> GeoRecord {
        let a = self
            .asn
            .as_ref()
            .and_then(|d| d.lookup(ip))
            .unwrap_or_default();
        let g = self
            .geo
            .as_ref()
            .and_then(|d| d.lookup(ip))
            .unwrap_or_default();
        GeoRecord {
            asn: a.asn.or(g.asn),
            as_org: a.as_org.or(g.as_org),
            country: g.country.or(a.country),
        }
    }

    /// Whether ASNs / countries can be known at all.
    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    pub fn has_country(&self) -> bool {
        self.geo.is_some() || self.asn.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(body: &str) -> RangeTable {
        parse_table(Path::new("t.csv"), body).unwrap()
    }

    #[test]
    fn ip_location_db_asn_and_country() {
        let asn = table(
            "ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\n\
             198.51.100.0,198.51.100.127,64500,\"Example, Inc.\"\n\
             198.51.100.128,198.51.100.255,AS64501,Other Net\n\
             2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64502,Six\n",
        );
        let r = asn
            .lookup("198.51.100.5".parse().unwrap())
            .cloned()
            .unwrap();
        assert_eq!(
            (r.asn, r.as_org.as_deref()),
            (Some(64500), Some("Example, Inc."))
        );
        let r = asn
            .lookup("198.51.100.200".parse().unwrap())
            .cloned()
            .unwrap();
        assert_eq!(r.asn, Some(64501));
        assert_eq!(
            asn.lookup("2001:db8::1".parse().unwrap())
                .and_then(|r| r.asn),
            Some(64502)
        );
        assert!(asn.lookup("203.0.113.1".parse().unwrap()).is_none());
        let geo = table("3325256704,3325256959,FR\n203.0.113.0,203.0.113.255,de\n");
        let r = geo
            .lookup("198.51.100.9".parse().unwrap())
            .cloned()
            .unwrap();
        assert_eq!(r.country.as_deref(), Some("FR"));
        let r = geo.lookup("203.0.113.9".parse().unwrap()).cloned().unwrap();
        assert_eq!(r.country.as_deref(), Some("DE"));
    }

    #[test]
    fn iptoasn_tsv() {
        let t = table(
            "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n",
        );
        let r = t.lookup("1.0.0.1".parse().unwrap()).cloned().unwrap();
        assert_eq!(r.asn, Some(13335));
        assert_eq!(r.country.as_deref(), Some("US"));
        assert_eq!(r.as_org.as_deref(), Some("CLOUDFLARENET"));
        assert!(t.lookup("1.0.2.1".parse().unwrap()).is_none());
    }

    /// The MaxMind fixtures written by `scripts/make-geo-fixtures.py`.
    #[test]
    fn maxmind_databases() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let asn = GeoDb::open(&dir.join("geo-asn.mmdb")).unwrap();
        let r = asn.lookup("198.51.100.9".parse().unwrap()).unwrap();
        assert_eq!(
            (r.asn, r.as_org.as_deref()),
            (Some(64500), Some("Example Net A"))
        );
        assert!(asn.lookup("198.51.100.200".parse().unwrap()).is_none());
        let r = asn.lookup("2001:db8::7".parse().unwrap()).unwrap();
        assert_eq!(r.asn, Some(64501));
        let loc = Locator::open(
            Some(&dir.join("geo-asn.mmdb")),
            Some(&dir.join("geo-country.mmdb")),
        )
        .unwrap();
        let r = loc.lookup("198.51.100.9".parse().unwrap());
        assert_eq!((r.asn, r.country.as_deref()), (Some(64500), Some("FR")));
        // ip-location-db's country layout (`country_code`), lower case in the file.
        let r = loc.lookup("203.0.113.1".parse().unwrap());
        assert_eq!((r.asn, r.country.as_deref()), (None, Some("DE")));
        // A file that only looks like a MaxMind DB is refused, not misread.
        let bad = std::env::temp_dir().join(format!("peerscope-bad-{}.mmdb", std::process::id()));
        std::fs::write(&bad, b"junk\xAB\xCD\xEFMaxMind.comjunk").unwrap();
        assert!(matches!(GeoDb::open(&bad), Err(GeoError::Mmdb { .. })));
        let _ = std::fs::remove_file(&bad);
    }

    #[test]
    fn bad_lines_are_errors_with_their_number() {
        let e = parse_table(Path::new("x.csv"), "1.0.0.0,1.0.0.255,US\nfoo,bar\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_table(Path::new("x.csv"), "# nothing\n").is_err());
    }
}
