//! `wardtap pull`: fetch a tap's whole summary over the management link and build the same
//! [`Document`] `wardtap replay` builds, so both print the same formats and JSON schema.
//!
//! Order: hello (protocol version check), status, assets, edges, alerts, ledger, then (only
//! once everything is in hand) acknowledge the alerts fetched. The document shows the alerts
//! as they were when fetched (unacknowledged), as `replay` does.

use crate::link::{Client, Line, LinkError};
use crate::model::Document;
use wardtap_proto::mgmt::{Request, Response, Status};
use wardtap_proto::{AlertRecord, AssetRecord, EdgeRecord, LedgerRecord, PROTOCOL_VERSION};

/// Everything fetched from one tap.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// Status at the start of the pull.
    pub status: Status,
    /// Assets.
    pub assets: Vec<AssetRecord>,
    /// Edges.
    pub edges: Vec<EdgeRecord>,
    /// Alerts (as fetched, before acknowledgement).
    pub alerts: Vec<AlertRecord>,
    /// Connection-point ledger.
    pub ledger: Vec<LedgerRecord>,
}

impl Pulled {
    /// The document, as `replay` would print it.
    pub fn document(&self) -> Document {
        Document::build(
            self.assets.iter().cloned(),
            self.edges.iter().copied(),
            &self.status.counters,
            Some(&self.status.fill),
        )
        .with_alerts_and_ledger(self.alerts.iter().cloned(), self.ledger.iter().cloned())
    }
}

fn unexpected(r: Response) -> LinkError {
    LinkError::Unexpected(format!("{r:?}").chars().take(200).collect())
}

/// The tap's status.
pub fn status<L: Line>(c: &mut Client<L>) -> Result<Status, LinkError> {
    match c.call(&Request::Status)? {
        Response::Status(s) => Ok(s),
        r => Err(unexpected(r)),
    }
}

/// Fetches everything; acknowledges the fetched alerts when `acknowledge` is set.
pub fn pull<L: Line>(c: &mut Client<L>, acknowledge: bool) -> Result<Pulled, LinkError> {
    match c.call(&Request::Hello)? {
        Response::Hello(h) if h.protocol_version == PROTOCOL_VERSION => {}
        Response::Hello(h) => {
            return Err(LinkError::Unexpected(format!(
                "tap speaks protocol {}, this host {} (update one of them)",
                h.protocol_version, PROTOCOL_VERSION
            )))
        }
        r => return Err(unexpected(r)),
    }
    let status = status(c)?;
    let mut assets = Vec::new();
    let mut cursor = Some(0u16);
    while let Some(at) = cursor {
        match c.call(&Request::Assets { cursor: at })? {
            Response::Assets(p) => {
                assets.extend(p.record);
                cursor = p.next.filter(|n| *n > at);
            }
            r => return Err(unexpected(r)),
        }
    }
    let mut edges = Vec::new();
    let mut cursor = Some(0u32);
    while let Some(at) = cursor {
        match c.call(&Request::Edges { cursor: at })? {
            Response::Edges(p) => {
                edges.extend(p.records);
                cursor = p.next.filter(|n| *n > at);
            }
            r => return Err(unexpected(r)),
        }
    }
    let mut alerts: Vec<AlertRecord> = Vec::new();
    loop {
        let since = alerts.last().map_or(0, |a| a.seq);
        match c.call(&Request::AlertsSince { seq: since })? {
            Response::Alerts(p) => {
                let got = p.records.len();
                alerts.extend(p.records.into_iter().filter(|a| a.seq > since));
                if !p.more || got == 0 {
                    break;
                }
            }
            r => return Err(unexpected(r)),
        }
    }
    let mut ledger = Vec::new();
    let mut cursor = Some(0u32);
    while let Some(at) = cursor {
        match c.call(&Request::Ledger { cursor: at })? {
            Response::Ledger(p) => {
                ledger.extend(p.records);
                cursor = p.next.filter(|n| *n > at);
            }
            r => return Err(unexpected(r)),
        }
    }
    if acknowledge {
        if let Some(last) = alerts.last() {
            match c.call(&Request::Acknowledge { seq: last.seq })? {
                Response::Acknowledged { .. } => {}
                r => return Err(unexpected(r)),
            }
        }
    }
    Ok(Pulled { status, assets, edges, alerts, ledger })
}

/// `wardtap pull` arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("link").required(true).args(["serial", "tcp"])))]
pub struct PullArgs {
    /// Serial device of the tap's management line (e.g. /dev/ttyACM0).
    #[arg(long)]
    pub serial: Option<std::path::PathBuf>,
    /// TCP address of the tap's management line (a serial server, or QEMU's chardev socket).
    #[arg(long)]
    pub tcp: Option<String>,
    /// The tap's key file (from `wardtap provision`).
    #[arg(long)]
    pub key: std::path::PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::output::Format::Table)]
    pub format: crate::output::Format,
    /// Leave the fetched alerts unacknowledged on the tap.
    #[arg(long)]
    pub no_ack: bool,
    /// Set the tap's clock to this host's before pulling (the tap has no battery clock).
    #[arg(long)]
    pub set_clock: bool,
}

/// Why `wardtap pull` failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The link or the tap.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Writing the output.
    #[error("writing the summary: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs `wardtap pull`: prints the document to `out`.
pub fn cli(args: &PullArgs, out: &mut dyn std::io::Write) -> Result<(), PullError> {
    let key = crate::link::TapKey::load(&args.key)?;
    let pulled = match (&args.serial, &args.tcp) {
        (Some(path), _) => run(Client::new(crate::link::Serial::open(path).map_err(LinkError::Io)?, key)?, args)?,
        (None, Some(addr)) => run(Client::new(crate::link::connect_tcp(addr)?, key)?, args)?,
        (None, None) => return Err(LinkError::Unexpected("give --serial PATH or --tcp HOST:PORT".into()).into()),
    };
    crate::output::write(&pulled.document(), args.format, out)?;
    out.flush()?;
    Ok(())
}

fn run<L: Line>(mut c: Client<L>, args: &PullArgs) -> Result<Pulled, LinkError> {
    if args.set_clock {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        match c.call(&Request::SetClock { epoch_us: now })? {
            Response::Done => {}
            r => return Err(unexpected(r)),
        }
    }
    pull(&mut c, !args.no_ack)
}
