//! Capture filters (`-f EXPR`, BPF syntax as in tcpdump) applied to frames read from files.
//! libpcap compiles the expression once per link type (a filter is compiled against a link
//! layer); a link type on which the expression cannot compile has all its frames rejected,
//! with a warning.

use crate::hash::FastMap;
use pcap::{BpfProgram, Capture, Linktype};

use super::RawPacket;

/// A compiled filter.
pub struct Filter {
    expr: String,
    programs: FastMap<u16, Option<BpfProgram>>,
    /// Warnings about link types the expression does not compile for.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter").field("expr", &self.expr).finish()
    }
}

fn compile(expr: &str, link: u16) -> Result<BpfProgram, String> {
    let dead = Capture::dead(Linktype(i32::from(link))).map_err(|e| e.to_string())?;
    dead.compile(expr, true).map_err(|e| e.to_string())
}

impl Filter {
    /// Compiles `expr` for Ethernet to check its syntax; other link types compile on first use.
    pub fn new(expr: &str) -> Result<Self, String> {
        let eth = compile(expr, super::linktype::ETHERNET)
            .map_err(|e| format!("bad filter expression '{expr}': {e}"))?;
        let mut programs = FastMap::default();
        programs.insert(super::linktype::ETHERNET, Some(eth));
        Ok(Filter {
            expr: expr.to_string(),
            programs,
            warnings: Vec::new(),
        })
    }

    /// The expression.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// True when the frame passes the filter.
    pub fn matches(&mut self, p: &RawPacket<'_>) -> bool {
        let program = self.programs.entry(p.link_type).or_insert_with(|| {
            match compile(&self.expr, p.link_type) {
                Ok(prog) => Some(prog),
                Err(e) => {
                    self.warnings.push(format!(
                        "filter '{}' does not compile for link type {} ({e}); its frames are rejected",
                        self.expr,
                        super::linktype::name(p.link_type)
                    ));
                    None
                }
            }
        });
        program.as_ref().is_some_and(|prog| prog.filter(p.data))
    }
}
