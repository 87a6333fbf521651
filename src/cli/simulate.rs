//! `peerscope simulate`: turns the command line into a [`SimConfig`], writes the capture and
//! its truth file, and prints one line saying what was written. Every file is written
//! atomically (a temporary file renamed into place once complete), so a stopped or failed
//! run never leaves a half-written capture under the name asked for.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::output::{write_atomic, AtomicFile};
use super::units::{
    parse_duration_s, parse_positive_duration_s, parse_positive_rate_kbps, parse_size_bytes,
    parse_unit_fraction,
};
use crate::sim::{self, Feed, Format, Link, SimConfig, Starvation};

/// Link layer choices on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LinkArg {
    /// Ethernet II (LINKTYPE 1): what a capture on a network interface gives.
    Ethernet,
    /// Linux cooked v2 (LINKTYPE 276): `tcpdump -i any`, loopback included.
    Sll2,
}

/// What the player is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedArg {
    /// Random bytes (no container).
    Random,
    /// A constant-rate MPEG-TS at the stream rate: PAT/PMT, PCR, continuity counters.
    Mpegts,
}

/// How video reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OverlayArg {
    /// Mesh pull: chunk requests to every supplier ahead of the data, each packet acknowledged
    Mesh,
    /// Tree push: one parent pushes the stream, the client only acknowledges (one supplier)
    Tree,
}

/// What carries the peer traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeerTransportArg {
    /// UDP datagrams, each video packet acknowledged by a small datagram
    Udp,
    /// One TCP connection per peer; TCP's own ACKs, no application acknowledgement
    Tcp,
}

/// Capture format choices on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Legacy pcap, microsecond timestamps.
    Pcap,
    /// Legacy pcap, nanosecond timestamps.
    PcapNs,
    /// pcapng, microsecond timestamps.
    Pcapng,
    /// pcapng, nanosecond timestamps.
    PcapngNs,
}

const EXAMPLES: &str = "\
Examples:
  peerscope simulate -o sopcast.pcap
      60 s Ethernet capture, 30 peers, truth in sopcast.truth.json
  peerscope simulate -o any.pcapng --link sll2 --format pcapng --seed 7 --duration 2min
      `tcpdump -i any`-like capture with the local player on 127.0.0.1:8902
  peerscope simulate -o starved.pcap --link sll2 --starve-at 15s --starve-for 40s \\
      --starve-fraction 0.2
      supply drops to 20 % of the stream rate for 40 s: the player stalls
  peerscope simulate -o ts.pcap --link sll2 --feed mpegts --ts-loss 25
      the player is fed a real MPEG-TS from which 25 packets were lost (truth: feed)
  peerscope simulate -o tree.pcap --overlay tree
      one parent pushes the stream, the client only acknowledges (truth: overlay push/tree)
  peerscope simulate -o tcp.pcap --peer-transport tcp
      every peer over its own TCP connection (TCP's ACKs, requests as segments)
  peerscope simulate --lab --receivers 6 -o lab/ --hold 2s --net-delay 30ms
      a source and 6 receivers in a forwarding tree: lab/source.pcap, lab/r1.pcap, …,
      lab/lab.truth.json (input of `peerscope compare`)
  peerscope simulate --gateway 100 -o tap.pcap --duration 30s
      100 clients behind a tap in one capture, per-client truth in tap.truth.json
      (input of `peerscope analyze --clients 192.0.2.0/24`)";

/// Arguments of `peerscope simulate` (boxed: they are large next to the other subcommands').
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct SimulateArgs {
    /// The options themselves.
    #[command(flatten)]
    pub opts: Box<SimulateOptions>,
}

/// The options of `peerscope simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateOptions {
    /// Capture file to write (with --lab: the directory to write the lab into)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Truth file to write [default: the capture path with extension .truth.json]
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Seed of every random draw: same seed and options, byte-identical files
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Link layer of the capture
    #[arg(long, value_enum, default_value_t = LinkArg::Ethernet)]
    pub link: LinkArg,
    /// Capture file format
    #[arg(long, value_enum, default_value_t = FormatArg::Pcap)]
    pub format: FormatArg,
    /// The client's IPv4 address
    #[arg(long, value_name = "IP", default_value = "192.0.2.10")]
    pub local_ip: Ipv4Addr,
    /// Capture length, more than 0 up to 24 h (e.g. 60s, 2min)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_positive_duration_s)]
    pub duration: f64,
    /// Distinct peers contacted over UDP
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub peers: usize,
    /// Supplier shares, one per supplier (weights, normalised) [default: 0.46,0.31,0.12,0.07,0.04;
    /// with --overlay tree: 1]
    #[arg(long, value_name = "LIST", value_parser = shares)]
    pub suppliers: Option<Shares>,
    /// How video reaches the client (truth: overlay)
    #[arg(long, value_enum, default_value_t = OverlayArg::Mesh)]
    pub overlay: OverlayArg,
    /// What carries the peer traffic (truth: overlay.transport)
    #[arg(long, value_enum, default_value_t = PeerTransportArg::Udp)]
    pub peer_transport: PeerTransportArg,
    /// Peers the client uploads video to
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub consumers: usize,
    /// Upload video rate as a fraction of the stream rate
    #[arg(long, value_name = "F", default_value_t = 0.3)]
    pub upload_share: f64,
    /// UDP payload bytes of every video packet
    #[arg(long, value_name = "BYTES", default_value = "1320", value_parser = size16)]
    pub video_size: u16,
    /// UDP payload bytes of every video acknowledgment
    #[arg(long, value_name = "BYTES", default_value = "28", value_parser = size16)]
    pub ack_size: u16,
    /// Stream rate (application bytes handed to the player), more than 0 up to 10 Gb/s
    #[arg(long, value_name = "RATE", default_value = "360kbps", value_parser = parse_positive_rate_kbps)]
    pub stream_rate: f64,
    /// Video rate before playback starts [default: 2 × stream rate]
    #[arg(long, value_name = "RATE", value_parser = parse_positive_rate_kbps)]
    pub prefill_rate: Option<f64>,
    /// Earliest first video packet [default: 2.0–2.6 s, from the seed]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub first_video: Option<f64>,
    /// Playback start after tune-in
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub startup_delay: f64,
    /// Simulate the local media player on 127.0.0.1:8902 [default with --link sll2]
    #[arg(long, overrides_with = "no_player")]
    pub player: bool,
    /// No local media player traffic [default with --link ethernet]
    #[arg(long, overrides_with = "player")]
    pub no_player: bool,
    /// Stream handed to the player at once when playback starts
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub player_burst: f64,
    /// Start of a supply shortfall
    #[arg(long, value_name = "DURATION", value_parser = duration, requires = "starve_for")]
    pub starve_at: Option<f64>,
    /// Length of the supply shortfall
    #[arg(long, value_name = "DURATION", value_parser = duration, requires = "starve_at")]
    pub starve_for: Option<f64>,
    /// Fraction of the stream rate delivered during the shortfall, 0 to 1 (or 0 % to 100 %)
    #[arg(long, value_name = "F", default_value = "0.5", value_parser = parse_unit_fraction)]
    pub starve_fraction: f64,
    /// What the player is fed
    #[arg(long, value_enum, default_value_t = FeedArg::Random)]
    pub feed: FeedArg,
    /// With --feed mpegts: video TS packets lost from the feed, spread evenly (truth: feed)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub ts_loss: u64,
    /// Churn: peers arriving per minute from 5 s on (Poisson), each leaving after its lifetime
    /// (--lifetime); truth: swarm
    #[arg(long, value_name = "N", default_value_t = 0.0, requires = "lifetime")]
    pub arrivals_per_min: f64,
    /// Churn: median lifetime of an arriving peer (exponentially distributed), e.g. 40s
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration_s, requires = "arrivals_per_min")]
    pub lifetime: Option<f64>,
    /// Peers (that supply nothing) that also complete a TCP handshake with the client, half
    /// opened by each side: RTTs by the handshake (truth: swarm.rtt_ms)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub tcp_peers: usize,
    /// The N largest suppliers also receive the client's upload (tit-for-tat)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reciprocal: usize,
    /// Also write an ASN table (CAPTURE.asn.csv) and a country table (CAPTURE.geo.csv) of
    /// the capture's addresses, for analyze --asn-db/--geo-db; the largest suppliers share the
    /// client's AS
    #[arg(long)]
    pub locality: bool,
    /// Write a lab instead: a source and receivers in a forwarding tree, one capture per node
    /// in the -o directory (source.pcap, r1.pcap, …) and lab.truth.json
    #[arg(long)]
    pub lab: bool,
    /// Lab: receivers besides the source, 1 to 1000
    #[arg(long, value_name = "N", default_value_t = 4, requires = "lab", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub receivers: u64,
    /// Lab: nominal time a receiver holds a chunk before forwarding it (× 0.75–1.25 per node)
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration, requires = "lab")]
    pub hold: f64,
    /// Lab: one-way delay of every link
    #[arg(long, value_name = "DURATION", default_value = "30ms", value_parser = duration, requires = "lab")]
    pub net_delay: f64,
    /// Lab: every sender rewrites the chunk bytes, so payloads match only one hop apart
    #[arg(long, requires = "lab")]
    pub rewrite_payload: bool,
    /// Write a gateway capture instead: N clients behind a tap (192.0.2.2–254, then
    /// 2001:db8:ffff::N), most of them SopCast-like sessions (every tenth from the fourth
    /// starved), every tenth from the seventh a download and from the tenth a call; per-client
    /// truth in the truth file's `clients` (input of `analyze --clients`)
    #[arg(long, value_name = "N", conflicts_with_all = ["lab", "local_ip", "starve_at", "player", "feed"], value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub gateway: Option<u64>,
}

/// A parsed `--suppliers` list (a newtype so clap treats it as one value).
#[derive(Debug, Clone, PartialEq)]
pub struct Shares(pub Vec<f64>);

fn duration(text: &str) -> Result<f64, String> {
    parse_duration_s(text)
}

fn size16(text: &str) -> Result<u16, String> {
    let v = parse_size_bytes(text)?;
    if v.fract() != 0.0 || v > f64::from(u16::MAX) {
        return Err(format!("'{text}': a whole number of bytes up to 65535"));
    }
    Ok(v as u16)
}

fn shares(text: &str) -> Result<Shares, String> {
    let v = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("'{s}' in '{text}' is not a number"))
        })
        .collect::<Result<Vec<f64>, String>>()?;
    if v.is_empty() || v.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
        return Err(format!(
            "'{text}': shares must be positive numbers, e.g. 0.6,0.4"
        ));
    }
    Ok(Shares(v))
}

impl SimulateOptions {
    /// The validated configuration these arguments describe.
    pub fn config(&self) -> anyhow::Result<SimConfig> {
        let player = if self.player {
            Some(true)
        } else if self.no_player {
            Some(false)
        } else {
            None
        };
        let starvation = match (self.starve_at, self.starve_for) {
            (Some(at_s), Some(for_s)) => Some(Starvation {
                at_s,
                for_s,
                fraction: self.starve_fraction,
            }),
            _ => None,
        };
        let cfg = SimConfig {
            seed: self.seed,
            link: match self.link {
                LinkArg::Ethernet => Link::Ethernet,
                LinkArg::Sll2 => Link::Sll2,
            },
            format: match self.format {
                FormatArg::Pcap => Format::Pcap,
                FormatArg::PcapNs => Format::PcapNs,
                FormatArg::Pcapng => Format::Pcapng,
                FormatArg::PcapngNs => Format::PcapngNs,
            },
            local_ip: self.local_ip,
            duration_s: self.duration,
            peers: self.peers,
            supplier_shares: match (&self.suppliers, self.overlay) {
                (Some(s), _) => s.0.clone(),
                (None, OverlayArg::Tree) => vec![1.0],
                (None, OverlayArg::Mesh) => SimConfig::default().supplier_shares,
            },
            peer_transport: match self.peer_transport {
                PeerTransportArg::Udp => sim::SimTransport::Udp,
                PeerTransportArg::Tcp => sim::SimTransport::Tcp,
            },
            overlay: match self.overlay {
                OverlayArg::Mesh => sim::Overlay::MeshPull,
                OverlayArg::Tree => sim::Overlay::TreePush,
            },
            consumers: self.consumers,
            upload_share: self.upload_share,
            video_size: self.video_size,
            ack_size: self.ack_size,
            stream_rate_kbps: self.stream_rate,
            prefill_rate_kbps: self.prefill_rate,
            first_video_s: self.first_video,
            startup_delay_s: self.startup_delay,
            player,
            player_burst_s: self.player_burst,
            starvation,
            feed: match self.feed {
                FeedArg::Random => Feed::Random,
                FeedArg::Mpegts => Feed::MpegTs,
            },
            ts_loss: self.ts_loss,
            swarm: self.swarm(),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

impl SimulateOptions {
    /// The swarm options (issue 18), when any is given.
    fn swarm(&self) -> Option<sim::SwarmSim> {
        let w = sim::SwarmSim {
            arrivals_per_min: self.arrivals_per_min,
            lifetime_median_s: self.lifetime.unwrap_or(0.0),
            tcp_peers: self.tcp_peers,
            reciprocal: self.reciprocal,
            locality: self.locality,
        };
        (w != sim::SwarmSim::default()).then_some(w)
    }
}

/// The ASN and country tables written beside a capture by `--locality`.
pub fn locality_paths(capture: &Path) -> (PathBuf, PathBuf) {
    (
        capture.with_extension("asn.csv"),
        capture.with_extension("geo.csv"),
    )
}

/// The default truth path: the capture path with its extension replaced by `.truth.json`.
pub fn default_truth_path(capture: &Path) -> PathBuf {
    capture.with_extension("truth.json")
}

/// Runs `peerscope simulate --lab`: one capture per node in the output directory.
fn run_lab(args: &SimulateOptions) -> anyhow::Result<ExitCode> {
    if args.link != LinkArg::Ethernet {
        anyhow::bail!("--lab writes Ethernet captures only");
    }
    let cfg = sim::LabConfig {
        seed: args.seed,
        receivers: args.receivers as usize,
        duration_s: args.duration,
        stream_rate_kbps: args.stream_rate,
        video_size: args.video_size,
        ack_size: args.ack_size,
        hold_s: args.hold,
        net_delay_s: args.net_delay,
        rewrite_payload: args.rewrite_payload,
        format: match args.format {
            FormatArg::Pcap => sim::Format::Pcap,
            FormatArg::PcapNs => sim::Format::PcapNs,
            FormatArg::Pcapng => sim::Format::Pcapng,
            FormatArg::PcapngNs => sim::Format::PcapngNs,
        },
        ..sim::LabConfig::default()
    };
    cfg.validate()?;
    let dir = &args.output;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    for i in 0..=cfg.receivers {
        files.push(AtomicFile::create(&dir.join(sim::LabConfig::file_name(i)))?);
    }
    let outs = files
        .iter_mut()
        .map(AtomicFile::writer)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let truth = sim::generate_lab(&cfg, outs)
        .with_context(|| format!("cannot write the lab in {}", dir.display()))?;
    for f in files {
        f.commit()?;
    }
    let mut json = serde_json::to_string_pretty(&truth)?;
    json.push('\n');
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| dir.join("lab.truth.json"));
    write_atomic(&truth_path, json.as_bytes())?;
    let packets: u64 = truth.nodes.iter().map(|n| n.packets).sum();
    println!(
        "wrote a lab of {} nodes ({packets} packets) in {}; truth in {}",
        truth.nodes.len(),
        dir.display(),
        truth_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `peerscope simulate --gateway N`: the clients' parts are generated beside the output
/// and merged into it.
fn run_gateway(args: &SimulateOptions, clients: u64) -> anyhow::Result<ExitCode> {
    if args.link != LinkArg::Ethernet {
        anyhow::bail!("--gateway writes Ethernet captures only (a tap sees MACs, not loopback)");
    }
    let cfg = sim::GatewaySimConfig {
        clients: usize::try_from(clients).unwrap_or(usize::MAX),
        session: args.config()?,
    };
    cfg.validate()?;
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| default_truth_path(&args.output));
    let mut parts = args.output.clone().into_os_string();
    parts.push(format!(".parts-{}", std::process::id()));
    let parts = PathBuf::from(parts);
    let mut file = AtomicFile::create(&args.output)?;
    let truth = sim::generate_gateway(&cfg, file.writer()?, &parts)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    file.commit()?;
    let mut json = serde_json::to_string_pretty(&truth)?;
    json.push('\n');
    write_atomic(&truth_path, json.as_bytes())?;
    let p2p = truth.clients.iter().filter(|c| c.p2p).count();
    println!(
        "wrote {} packets over {:.3} s from {} clients ({p2p} P2P) to {} (ethernet, {}); truth in {}",
        truth.packets,
        truth.duration_s,
        truth.clients.len(),
        args.output.display(),
        truth.format,
        truth_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `peerscope simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let args = args.opts;
    if args.lab {
        return run_lab(&args);
    }
    if let Some(n) = args.gateway {
        return run_gateway(&args, n);
    }
    let cfg = args.config()?;
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| default_truth_path(&args.output));
    let mut file = AtomicFile::create(&args.output)?;
    let truth = sim::generate(&cfg, file.writer()?)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    file.commit()?;
    let mut json = serde_json::to_string_pretty(&truth)?;
    json.push('\n');
    write_atomic(&truth_path, json.as_bytes())?;
    if let Some(w) = truth.swarm.as_ref().filter(|w| !w.asn_csv.is_empty()) {
        let (asn, geo) = locality_paths(&args.output);
        write_atomic(&asn, w.asn_csv.as_bytes())?;
        write_atomic(&geo, w.geo_csv.as_bytes())?;
        println!(
            "wrote the ASN table {} and the country table {}",
            asn.display(),
            geo.display()
        );
    }
    println!(
        "wrote {} packets over {:.3} s to {} ({}, {}); truth in {}",
        truth.packets,
        truth.duration_s,
        args.output.display(),
        truth.link,
        truth.format,
        truth_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn config(args: &[&str]) -> anyhow::Result<SimConfig> {
        let cli = Cli::try_parse_from(args)?;
        let Command::Simulate(s) = cli.command else {
            anyhow::bail!("not simulate");
        };
        s.opts.config()
    }

    #[test]
    fn feed_options() {
        let base = ["peerscope", "simulate", "-o", "x.pcap", "--link", "sll2"];
        let cfg = config(&base).unwrap();
        assert_eq!((cfg.feed, cfg.ts_loss), (Feed::Random, 0));
        let cfg = config(&[&base[..], &["--feed", "mpegts", "--ts-loss", "12"]].concat()).unwrap();
        assert_eq!((cfg.feed, cfg.ts_loss), (Feed::MpegTs, 12));
        assert!(config(&[&base[..], &["--ts-loss", "3"]].concat()).is_err());
        let eth = ["peerscope", "simulate", "-o", "x.pcap", "--feed", "mpegts"];
        assert!(config(&eth).is_err(), "no player on Ethernet");
    }
}
