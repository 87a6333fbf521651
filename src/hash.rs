//! The hash maps and sets of the crate: std's, with foldhash's fast hasher under a fixed seed.
//!
//! FxHash (rustc-hash), used before, spreads IPv6 addresses that differ only in their last
//! bytes over almost no buckets (747 such addresses fell into 2 values of the low 11 bits,
//! so a map of them probed hundreds of entries per lookup: gateway mode's client index spent
//! a third of its reading thread there). foldhash is as fast on short keys and mixes every
//! input bit. The seed is fixed, so iteration order is the same from run to run (reports are
//! reproducible).

/// A hash map with [`FixedState`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, FixedState>;
/// A hash set with [`FixedState`].
pub type FastSet<T> = std::collections::HashSet<T, FixedState>;
/// foldhash's fast hasher, fixed seed.
pub use foldhash::fast::FixedState;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;
    use std::net::IpAddr;

    #[test]
    fn sequential_ipv6_addresses_spread_over_buckets() {
        let state = FixedState::default();
        let low: FastSet<u64> = (1..=747u16)
            .map(|i| {
                let mut o = [0u8; 16];
                o[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff]);
                o[14..].copy_from_slice(&i.to_be_bytes());
                state.hash_one(IpAddr::from(o)) & 2047
            })
            .collect();
        // A random function gives about 580 distinct values of 2,048 for 747 keys.
        assert!(low.len() > 500, "{}", low.len());
    }
}
