//! The HTML report in a real browser: Debian's Chromium, headless, offline. It renders (a
//! screenshot is taken), its script runs, the filter hides rows, and the hostile strings in the
//! database end up as text in the DOM, never as elements.

mod db_support;
mod report_support;

use db_support::TempDir;
use report_support::*;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_wardtap");

fn chromium(dir: &TempDir, args: &[&str], url: &str) -> std::process::Output {
    let exe = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Chromium (Debian package chromium; scripts/test.sh installs it)");
    let profile = dir.file(&format!("profile-{}", args.len()));
    Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={profile}"))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium")
}

#[test]
fn report_renders_in_headless_chromium() {
    let dir = TempDir::new("chromium");
    let db = dir.file("assets.db");
    hostile_db(&db);
    let out = dir.file("report");
    let st = Command::new(BIN).args(["report", "--db", &db, "--format", "html", "--out", &out]).status().unwrap();
    assert!(st.success());
    let url = format!("file://{out}/wardtap-report.html");

    let shot = dir.file("report.png");
    let o = chromium(&dir, &["--window-size=1280,2000", &format!("--screenshot={shot}")], &url);
    let png = std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&o.stderr)));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "a real screenshot ({} bytes)", png.len());
    if let Ok(keep) = std::env::var("WARDTAP_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&shot, keep);
    }

    let o = chromium(&dir, &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.contains("data-ready=\"1\""), "the report's script ran: {}", String::from_utf8_lossy(&o.stderr));
    assert!(dom.contains("<title>wardtap report"), "title untouched by hostile strings");
    assert!(!dom.contains("<img"), "no injected element in the live DOM");
    assert_eq!(dom.matches("<script").count(), 1);
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"), "hostile name shown as text");
    assert!(dom.contains("id=\"assets-count\">64<"), "all 64 assets listed");
    assert!(dom.contains("id=\"class-plot\"") && dom.matches("<rect").count() >= 6, "class plot drawn");
    assert!(dom.contains("id=\"alert-plot\""), "alert timeline drawn");
    for id in ["inventory", "connection_points", "management_exposure", "failed_logins", "suspicious_domains"] {
        assert!(dom.contains(&format!("data-item=\"{id}\"")), "checklist item {id}");
    }

    // The client-side filter: one asset matches this name.
    let o = chromium(&dir, &["--dump-dom"], &format!("{url}#q=ward7-dev5-g0"));
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.contains("id=\"assets-count\">1<"), "filter leaves one asset");
    assert!(dom.contains("display: none"), "filtered rows hidden");
}
