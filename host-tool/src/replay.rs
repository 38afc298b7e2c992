//! `wardtap replay`: runs the tap core over capture files, in order, as the tap would.

use crate::capture::{CaptureError, CaptureReader};
use crate::model::Document;
use std::io::IsTerminal;
use std::path::PathBuf;
use wardtap_core::Tap;

/// What to replay.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Capture files, processed in the order given.
    pub files: Vec<PathBuf>,
    /// Local IPv4 subnets to declare (`net`, `prefix`).
    pub subnets: Vec<([u8; 4], u8)>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Learn for this many seconds of capture time from the first frame, then lock.
    pub learn_secs: Option<u32>,
    /// Outbound policy (rules and thresholds).
    pub policy: Option<crate::policy::Policy>,
}

/// The outcome: the document for everything read, and the files that failed part-way.
#[derive(Debug)]
pub struct Outcome {
    /// The inventory of every frame read, including those before a file's error.
    pub document: Document,
    /// One error per file that could not be read to its end.
    pub errors: Vec<CaptureError>,
    /// Frames processed.
    pub frames: u64,
}

/// Stack for the thread that owns the core (its state is one large value).
const CORE_STACK: usize = 64 << 20;

/// Runs `f` on a thread with a stack big enough to build and own a [`Tap`].
pub fn on_core_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> std::io::Result<T> {
    std::thread::Builder::new()
        .name("wardtap-core".into())
        .stack_size(CORE_STACK)
        .spawn(f)?
        .join()
        .map_err(|_| std::io::Error::other("core thread panicked"))
}

/// A tap configured with declared subnets, a policy and a learning window.
pub fn configured_tap(
    subnets: &[([u8; 4], u8)],
    policy: Option<&crate::policy::Policy>,
    learn_secs: Option<u32>,
) -> Box<Tap> {
    let mut tap = Box::new(Tap::new(0));
    for (net, prefix) in subnets {
        tap.add_subnet(*net, *prefix);
    }
    if let Some(p) = policy {
        tap.set_policy(&p.rules);
        tap.set_thresholds(p.thresholds);
    }
    if let Some(secs) = learn_secs {
        tap.learn_for(secs);
    }
    tap
}

/// What feeding capture files to a tap did.
#[derive(Debug, Default)]
pub struct Fed {
    /// Frames processed.
    pub frames: u64,
    /// Latest capture timestamp seen, µs.
    pub last_ts: u64,
    /// One error per file that could not be read to its end (what came before still counts).
    pub errors: Vec<CaptureError>,
}

/// Feeds every frame of `files`, in order, to `tap`; a progress bar is drawn when `progress`
/// is set, stderr is a terminal and the input is large.
pub fn feed(tap: &mut Tap, files: &[PathBuf], progress: bool) -> Fed {
    let mut fed = Fed::default();
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = (progress && std::io::stderr().is_terminal() && total > 4 << 20).then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut done_before = 0u64;
    for path in files {
        let mut reader = match CaptureReader::open(path) {
            Ok(r) => r,
            Err(e) => {
                fed.errors.push(e);
                continue;
            }
        };
        if let Some(b) = &bar {
            b.set_message(path.display().to_string());
        }
        loop {
            match reader.next_frame() {
                Ok(Some(f)) => {
                    tap.process(f.ts_us, f.data);
                    fed.last_ts = fed.last_ts.max(f.ts_us);
                    fed.frames += 1;
                    if fed.frames.is_multiple_of(4096) {
                        if let Some(b) = &bar {
                            b.set_position(done_before + reader.bytes_read());
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    fed.errors.push(e);
                    break;
                }
            }
        }
        done_before += reader.total_bytes();
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    fed
}

/// Runs the replay. Errors in one file do not stop the others.
pub fn run(opts: &Options) -> Outcome {
    let opts = opts.clone();
    on_core_thread(move || {
        let mut tap = configured_tap(&opts.subnets, opts.policy.as_ref(), opts.learn_secs);
        let fed = feed(&mut tap, &opts.files, opts.progress);
        let document = Document::build(tap.assets(), tap.edges(), &tap.counters(), Some(&tap.fill()))
            .with_alerts_and_ledger(tap.alerts_since(0).cloned(), tap.ledger());
        Outcome { document, errors: fed.errors, frames: fed.frames }
    })
    .unwrap_or_else(|e| Outcome {
        document: Document::build([], [], &Default::default(), None),
        errors: vec![CaptureError { path: PathBuf::new(), offset: 0, kind: crate::capture::ErrorKind::Io(e) }],
        frames: 0,
    })
}
