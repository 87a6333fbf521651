#!/usr/bin/env python3
"""Writes the two tiny MaxMind DB fixtures of tests/fixtures/ (geo-asn.mmdb, geo-country.mmdb)
with documentation addresses only, for the maxminddb reader test of `peerscope::geo`.

Needs the mmdb-writer package from PyPI (pip install mmdb-writer); the files are committed, so
the tests do not need it. Layout: GeoLite2-ASN's fields (autonomous_system_number,
autonomous_system_organization) and GeoLite2-Country's (country.iso_code), plus one range in
ip-location-db's country layout (country_code).
"""
import sys
from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbU32
from netaddr import IPSet

out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")

asn = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
asn.insert_network(IPSet(["198.51.100.0/25"]), {
    "autonomous_system_number": MmdbU32(64500),
    "autonomous_system_organization": "Example Net A",
})
asn.insert_network(IPSet(["2001:db8::/32"]), {
    "autonomous_system_number": MmdbU32(64501),
    "autonomous_system_organization": "Example Net Six",
})
asn.to_db_file(str(out / "geo-asn.mmdb"))

geo = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
geo.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "FR"}})
geo.insert_network(IPSet(["203.0.113.0/24"]), {"country_code": "de"})
geo.to_db_file(str(out / "geo-country.mmdb"))
