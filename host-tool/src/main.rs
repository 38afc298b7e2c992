//! `wardtap`: the host tool. Thin on purpose: parsing arguments and printing errors; the
//! work is in the library.
//!
//! Exit codes: 0 success; 1 some input could not be read (what was read is still printed);
//! 2 usage error.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use wardtap::output::{self, Format};
use wardtap::replay;

#[derive(Parser)]
#[command(name = "wardtap", version, about = "Passive inventory of a ward network segment")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the tap core over capture files (pcap/pcapng) and print the inventory.
    Replay {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Declare a local IPv4 subnet (CIDR, repeatable); otherwise learned from DHCP and
        /// private ranges.
        #[arg(long = "subnet", value_parser = parse_cidr)]
        subnets: Vec<([u8; 4], u8)>,
        /// Do not draw a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Learn each device's normal traffic for this long of capture time (e.g. 90s, 15m,
        /// 8h, 7d) from the first frame, then lock and report what is unexpected.
        #[arg(long, value_parser = wardtap::policy::parse_duration)]
        learn: Option<u32>,
        /// Outbound policy file (TOML): allowed networks, domains and ports per class or MAC.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Capture files, processed in order as one stream.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Store a capture's summary in the asset database as if pulled from a tap.
    Ingest(wardtap::db::cli::IngestArgs),
    /// List assets from the database (filter by ward, class, vendor, seen since).
    Assets(wardtap::db::cli::AssetsArgs),
    /// List alerts from the database, or acknowledge them (--ack ID).
    Alerts(wardtap::db::cli::AlertsArgs),
    /// The connection-point ledger: every device's endpoints outside the segment.
    Ledger(wardtap::db::cli::LedgerArgs),
    /// One asset's history: addresses, names, class and software over time.
    History(wardtap::db::cli::HistoryArgs),
    /// Write the hospital report (HTML, CSV, JSON) with the health ministry checklist.
    Report(wardtap::report::ReportArgs),
    /// Run the core live on a mirror (SPAN) interface, flushing to the database (Linux; root
    /// or CAP_NET_RAW).
    Live(wardtap::live::LiveArgs),
    /// `pull --all`: pull every tap in taps.toml into the database; failures reported per tap.
    #[command(name = "pull-all")]
    PullAll(wardtap::taps::PullAllArgs),
    /// Outbound policy: `policy push --tap ID --policy FILE` sends it to a tap.
    Policy(wardtap::policy_cli::PolicyArgs),
    /// Learned baseline: `baseline approve` turns it into policy rules, shown as a diff first.
    Baseline(wardtap::policy_cli::BaselineArgs),
    /// Forward alerts to a SIEM as RFC 5424 syslog or CEF (UDP, TCP or stdout), each once.
    Siem(wardtap::siem::SiemArgs),
    /// Fetch a tap's summary over its management line; prints like `replay`.
    Pull(wardtap::pull::PullArgs),
    /// Make a tap's id and key at install: a key file for the host, a record for the tap.
    Provision(wardtap::provision::ProvisionArgs),
}

fn parse_cidr(s: &str) -> Result<([u8; 4], u8), String> {
    let (a, p) = s.split_once('/').ok_or("expected a.b.c.d/len")?;
    let ip: std::net::Ipv4Addr = a.parse().map_err(|e| format!("{a}: {e}"))?;
    let p: u8 = p.parse().map_err(|e| format!("{p}: {e}"))?;
    if p > 32 {
        return Err("prefix length above 32".into());
    }
    Ok((ip.octets(), p))
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(wardtap::taps::alias_pull_all(std::env::args_os()));
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`wardtap replay x | head`) is not an error worth a message.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("wardtap: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Replay { format, subnets, no_progress, learn, policy, files } => {
            let policy = match policy {
                Some(p) => Some(wardtap::policy::load(&p)?),
                None => None,
            };
            let outcome =
                replay::run(&replay::Options { files, subnets, progress: !no_progress, learn_secs: learn, policy });
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            output::write(&outcome.document, format, &mut out).context("writing the inventory")?;
            out.flush().context("writing the inventory")?;
            for e in &outcome.errors {
                eprintln!("wardtap: {e}");
            }
            Ok(if outcome.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Ingest(a) => Ok(ExitCode::from(wardtap::db::cli::ingest(&a, &mut std::io::stderr())?)),
        Command::Assets(a) => {
            Ok(wardtap::db::cli::assets(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?)
        }
        Command::Alerts(a) => {
            Ok(wardtap::db::cli::alerts(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?)
        }
        Command::Ledger(a) => {
            Ok(wardtap::db::cli::ledger(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?)
        }
        Command::History(a) => {
            Ok(wardtap::db::cli::history(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?)
        }
        Command::Report(a) => Ok(wardtap::report::run(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?),
        Command::Live(a) => Ok(wardtap::live::run(&a, &mut std::io::stderr()).map(|_| ExitCode::SUCCESS)?),
        Command::PullAll(a) => Ok(ExitCode::from(wardtap::taps::cli(&a, &mut std::io::stdout().lock())?)),
        Command::Policy(a) => {
            Ok(wardtap::policy_cli::policy(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?)
        }
        Command::Baseline(a) => {
            Ok(wardtap::policy_cli::baseline(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?)
        }
        Command::Siem(a) => {
            Ok(wardtap::siem::cli(&a, &mut std::io::stdout().lock(), &mut std::io::stderr())
                .map(|_| ExitCode::SUCCESS)?)
        }
        Command::Pull(a) => Ok(wardtap::pull::cli(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?),
        Command::Provision(a) => {
            Ok(wardtap::provision::cli(&a, &mut std::io::stdout().lock()).map(|_| ExitCode::SUCCESS)?)
        }
    }
}
