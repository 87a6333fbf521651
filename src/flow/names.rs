//! Names learnt from DNS answers (parsed on the reading side, see `decode::dns`): the first
//! name seen for an address is kept, up to a cap.

use std::net::IpAddr;

use crate::hash::FastMap;

/// Most names kept from DNS answers.
const MAX_NAMES: usize = 65_536;

/// Address → name, first answer wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    map: FastMap<IpAddr, String>,
}

impl Names {
    /// Remembers a name unless the address has one or the cap is reached.
    pub(crate) fn learn(&mut self, ip: IpAddr, name: &str) {
        if self.map.len() < MAX_NAMES {
            self.map.entry(ip).or_insert_with(|| name.to_string());
        }
    }

    /// The names.
    pub(crate) fn into_map(self) -> FastMap<IpAddr, String> {
        self.map
    }
}
