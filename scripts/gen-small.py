#!/usr/bin/env python3
"""Writes a pcap of N small packets for the benchmark: 70-byte Ethernet frames (IPv4 + UDP +
28-byte payload, the size of an application-layer ack) between one client 192.0.2.10 and 200
peers in 203.0.113.0/24 and 198.51.100.0/24, both directions, 100 µs apart.

    python3 scripts/gen-small.py OUT.pcap [PACKETS]
"""
import struct
import sys


def checksum(header: bytes) -> int:
    s = sum(struct.unpack("!10H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000
    client = bytes([192, 0, 2, 10])
    peers = [bytes([203, 0, 113, i + 1]) for i in range(100)] + [
        bytes([198, 51, 100, i + 1]) for i in range(100)
    ]
    frames = []
    for i, peer in enumerate(peers):
        for src, dst, sport, dport in ((peer, client, 10000 + i, 3908), (client, peer, 3908, 10000 + i)):
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 56, i, 0, 64, 17, 0, src, dst)
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            udp = struct.pack("!HHHH", sport, dport, 36, 0) + bytes(28)
            eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
            frames.append(eth + ip + udp)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t = 1_767_225_600 * 1_000_000
        buf = []
        for k in range(n):
            frame = frames[k % len(frames)]
            ts = t + k * 100
            buf.append(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, 70, 70) + frame)
            if len(buf) == 65536:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))


if __name__ == "__main__":
    main()
