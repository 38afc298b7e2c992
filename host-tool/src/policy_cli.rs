//! `wardtap policy push` and `wardtap baseline approve`.
//!
//! - `policy push --tap ID --policy FILE`: the policy file (format: [`crate::policy`]) sent to
//!   a tap from `taps.toml` in chunks; the tap installs it whole when the last chunk arrives.
//!   (Thresholds in the file are applied by `replay`/`live`; the management protocol has no
//!   request for them yet.)
//! - `baseline approve --tap ID --policy FILE`: what the tap learned and allowed without the
//!   policy — outbound connection points it reported as allowed that no rule of the file covers
//!   — turned into `[[allow]]` blocks (one per device, scoped to its MAC), appended to the file.
//!   Without `--write` only the diff is printed, for review; with it the file is rewritten
//!   (the new text is parsed first; people's comments are kept, nothing is removed).

use crate::db::{cli::DbArg, query::LedgerView, DbError};
use crate::link::{Client, Line, LinkError, TapKey};
use crate::policy::{Policy, PolicyError};
use crate::taps::{TapEntry, TapsError};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use wardtap_proto::mgmt::{Request, Response, POLICY_RULES_PER_CHUNK};
use wardtap_proto::{Allow, IpAddr, PolicyRule, Scope};

/// Why a policy command failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyCliError {
    /// The policy file.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// taps.toml or the link.
    #[error(transparent)]
    Taps(#[from] TapsError),
    /// The link.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No such tap in taps.toml.
    #[error("no tap {0:?} in the taps file")]
    NoTap(String),
    /// The tap did not install the policy.
    #[error("tap {tap} did not install the policy: {why}")]
    NotInstalled {
        /// Tap.
        tap: String,
        /// Its answer.
        why: String,
    },
    /// Reading or writing a file / the output.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PolicyCliError + '_ {
    move |source| PolicyCliError::Io { path: path.to_owned(), source }
}

/// `wardtap policy …`.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    cmd: PolicyCmd,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum PolicyCmd {
    /// Send a policy file to a tap (installed whole, or not at all).
    Push {
        /// The tap's id in the taps file.
        #[arg(long)]
        tap: String,
        /// The policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// The taps file.
        #[arg(long, default_value = "taps.toml")]
        config: PathBuf,
    },
}

/// `wardtap baseline …`.
#[derive(Debug, Clone, clap::Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    cmd: BaselineCmd,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum BaselineCmd {
    /// Turn what a tap learned into policy rules: prints the diff; --write applies it.
    Approve {
        #[command(flatten)]
        db: DbArg,
        /// The tap whose baseline to approve (every tap if not given).
        #[arg(long)]
        tap: Option<String>,
        /// The policy file to extend (created if missing).
        #[arg(long)]
        policy: PathBuf,
        /// Write the file after printing the diff.
        #[arg(long)]
        write: bool,
    },
}

/// Sends `policy`'s rules to a tap; returns how many it installed.
pub fn push_rules<L: Line>(c: &mut Client<L>, rules: &[PolicyRule]) -> Result<u16, PolicyCliError> {
    let chunks: Vec<&[PolicyRule]> =
        if rules.is_empty() { vec![&[][..]] } else { rules.chunks(POLICY_RULES_PER_CHUNK).collect() };
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let last = i + 1 == n;
        let mut req =
            Request::SetPolicy { chunk: u16::try_from(i).unwrap_or(u16::MAX), last, rules: Default::default() };
        if let Request::SetPolicy { rules, .. } = &mut req {
            for r in chunk {
                // Cannot fail: chunks are at most POLICY_RULES_PER_CHUNK long.
                let _ = rules.push(r.clone());
            }
        }
        match c.call(&req)? {
            Response::Policy { rules, installed } if last && installed => return Ok(rules),
            Response::Policy { .. } if !last => {}
            r => return Err(PolicyCliError::NotInstalled { tap: String::new(), why: format!("{r:?}") }),
        }
    }
    Ok(0)
}

fn entry(config: &Path, tap: &str) -> Result<TapEntry, PolicyCliError> {
    crate::taps::load(config)?.into_iter().find(|t| t.id == tap).ok_or_else(|| PolicyCliError::NoTap(tap.into()))
}

fn push(tap: &str, policy_path: &Path, config: &Path, out: &mut dyn Write) -> Result<(), PolicyCliError> {
    let policy = crate::policy::load(policy_path)?;
    let t = entry(config, tap)?;
    let key = TapKey::load(&t.key)?;
    let installed = match (&t.serial, &t.tcp) {
        (Some(p), _) => {
            push_rules(&mut Client::new(crate::link::Serial::open(p).map_err(LinkError::Io)?, key)?, &policy.rules)
        }
        (None, Some(a)) => push_rules(&mut Client::new(crate::link::connect_tcp(a)?, key)?, &policy.rules),
        (None, None) => return Err(PolicyCliError::NoTap(tap.into())),
    }
    .map_err(|e| match e {
        PolicyCliError::NotInstalled { why, .. } => PolicyCliError::NotInstalled { tap: tap.into(), why },
        e => e,
    })?;
    writeln!(out, "tap {tap}: policy installed, {installed} rules ({} in the file)", policy.rules.len())
        .map_err(io(Path::new("<stdout>")))
}

/// Whether a rule of `policy` already allows `device` to reach this ledger entry.
pub fn covered(policy: &Policy, l: &LedgerView) -> bool {
    let device = crate::policy::parse_mac(&l.device);
    let endpoint: Option<IpAddr> = l.endpoint.parse::<std::net::IpAddr>().ok().map(|ip| match ip {
        std::net::IpAddr::V4(v) => IpAddr::V4(v.octets()),
        std::net::IpAddr::V6(v) => IpAddr::V6(v.octets()),
    });
    let class = l.device_class.as_deref().and_then(crate::policy::parse_class);
    policy.rules.iter().any(|r| {
        let in_scope = match r.scope {
            Scope::Any => true,
            Scope::Class(c) => Some(c) == class,
            Scope::Mac(m) => Some(m) == device,
        };
        in_scope
            && match &r.allow {
                Allow::Domain(d) => {
                    let d = String::from_utf8_lossy(d).to_ascii_lowercase();
                    let name = l.name.to_ascii_lowercase();
                    !name.is_empty()
                        && match d.strip_prefix("*.") {
                            Some(parent) => name.ends_with(&format!(".{parent}")),
                            None => name == d,
                        }
                }
                Allow::Network { addr, prefix } => endpoint.is_some_and(|e| {
                    let b = e.to_bytes16();
                    let bits = usize::from(*prefix).min(128);
                    (0..bits).all(|i| (b[i / 8] >> (7 - i % 8)) & 1 == (addr[i / 8] >> (7 - i % 8)) & 1)
                }),
                Allow::Port { transport, port } => transport.name() == l.transport && i64::from(*port) == l.port,
            }
    })
}

fn toml_str(s: &str) -> String {
    // A TOML basic string: quotes, backslashes and control characters escaped.
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_control() => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The `[[allow]]` blocks that approve what the tap learned (empty if nothing new).
pub fn proposal(policy: &Policy, ledger: &[LedgerView], today: &str) -> String {
    let mut per: BTreeMap<&str, Vec<&LedgerView>> = BTreeMap::new();
    for l in ledger.iter().filter(|l| l.allowed && l.direction == "outbound" && !covered(policy, l)) {
        per.entry(l.device.as_str()).or_default().push(l);
    }
    let mut out = String::new();
    for (device, entries) in per {
        let mut domains: Vec<String> = Vec::new();
        let mut networks: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        for l in &entries {
            if !l.name.is_empty() && l.name.contains('.') && l.name.len() <= wardtap_proto::STRING_LEN {
                if !domains.contains(&l.name.to_ascii_lowercase()) {
                    domains.push(l.name.to_ascii_lowercase());
                }
            } else {
                let net =
                    if l.endpoint.contains(':') { format!("{}/128", l.endpoint) } else { format!("{}/32", l.endpoint) };
                if !networks.contains(&net) {
                    networks.push(net);
                }
            }
            seen.push(format!(
                "{}/{} {}{}",
                l.transport,
                l.port,
                l.endpoint,
                if l.name.is_empty() { String::new() } else { format!(" ({})", l.name) }
            ));
        }
        let who = entries.first().and_then(|l| l.device_name.clone()).unwrap_or_default();
        let taps: Vec<&str> =
            entries.iter().map(|l| l.tap.as_str()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        out.push_str(&format!(
            "\n# Approved from the learned baseline of tap {} on {today} (wardtap baseline approve)\n[[allow]]\nscope = \"mac:{device}\"\n",
            taps.join(", ")
        ));
        if !domains.is_empty() {
            out.push_str(&format!(
                "domains = [{}]\n",
                domains.iter().map(|d| toml_str(d)).collect::<Vec<_>>().join(", ")
            ));
        }
        if !networks.is_empty() {
            out.push_str(&format!(
                "networks = [{}]\n",
                networks.iter().map(|d| toml_str(d)).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut note = format!("learned: {}", seen.join("; "));
        if !who.is_empty() {
            note = format!("{who}: {note}");
        }
        out.push_str(&format!("note = {}\n", toml_str(&note)));
    }
    out
}

fn approve(db: &DbArg, tap: Option<&str>, path: &Path, write: bool, out: &mut dyn Write) -> Result<(), PolicyCliError> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(path)(e)),
    };
    let policy = crate::policy::parse(&old, path)?;
    let mut d = db.open()?;
    let ledger: Vec<LedgerView> = d.ledger(None)?.into_iter().filter(|l| tap.is_none_or(|t| l.tap == t)).collect();
    let today = crate::model::rfc3339_s(u32::try_from(crate::db::now_us() / 1_000_000).unwrap_or(0));
    let add = proposal(&policy, &ledger, today.get(..10).unwrap_or(&today));
    let w = io(Path::new("<stdout>"));
    if add.is_empty() {
        writeln!(out, "nothing to approve: every allowed connection point is already in {}", path.display())
            .map_err(w)?;
        return Ok(());
    }
    let mut new = old.clone();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&add);
    // The result must be a valid policy before anyone sees it as a proposal.
    crate::policy::parse(&new, path)?;
    let old_lines = old.lines().count();
    let added: Vec<&str> = new.lines().skip(old_lines).collect();
    writeln!(
        out,
        "--- {}\n+++ {} (proposed)\n@@ -{},0 +{},{} @@",
        path.display(),
        path.display(),
        old_lines,
        old_lines + 1,
        added.len()
    )
    .map_err(io(Path::new("<stdout>")))?;
    for l in &added {
        writeln!(out, "+{l}").map_err(io(Path::new("<stdout>")))?;
    }
    if write {
        let tmp = path.with_extension("toml.partial");
        std::fs::write(&tmp, &new).and_then(|_| std::fs::rename(&tmp, path)).map_err(io(path))?;
        writeln!(out, "written: {}", path.display()).map_err(io(Path::new("<stdout>")))?;
    } else {
        writeln!(out, "(review, then run again with --write; then `wardtap policy push`)")
            .map_err(io(Path::new("<stdout>")))?;
    }
    Ok(())
}

/// Runs `wardtap policy …`.
pub fn policy(a: &PolicyArgs, out: &mut dyn Write) -> Result<(), PolicyCliError> {
    match &a.cmd {
        PolicyCmd::Push { tap, policy, config } => push(tap, policy, config, out),
    }
}

/// Runs `wardtap baseline …`.
pub fn baseline(a: &BaselineArgs, out: &mut dyn Write) -> Result<(), PolicyCliError> {
    match &a.cmd {
        BaselineCmd::Approve { db, tap, policy, write } => approve(db, tap.as_deref(), policy, *write, out),
    }
}
