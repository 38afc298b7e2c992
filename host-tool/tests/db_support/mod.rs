//! Shared helpers for the database tests: a throw-away PostgreSQL server, temp dirs, the binary.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wardtap::link::TapKey;
use wardtap_core::Tap;
use wardtap_link::{Board, Server};
use wardtap_proto::mgmt::NicCounters;

/// A temp directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "wardtap-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn capture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures").join(name).display().to_string()
}

pub fn wardtap(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("run wardtap")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// A PostgreSQL server on 127.0.0.1 in a temp directory, stopped on drop. As root (CI) it runs
/// as the `postgres` system user, which Debian's `postgresql` package creates.
pub struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    root: bool,
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries (Debian package postgresql; scripts/test.sh installs it)")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("pg_ctl").exists())
            .max()
            .expect("no /usr/lib/postgresql/*/bin/pg_ctl");
        let dir = TempDir::new("pg");
        let root = is_root();
        if root {
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(ok.success());
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pg = Postgres { dir, bin, port, root };
        let data = pg.dir.file("data");
        let out = pg.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            pg.dir.path().display()
        );
        let log = pg.dir.file("log");
        let out = pg.run("pg_ctl", &["-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "60", "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        pg
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let mut c = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.args(args).current_dir(self.dir.path()).output().unwrap()
    }

    /// A fresh database on the server; returns its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connect to test PostgreSQL");
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.file("data");
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

pub struct Clock;

impl Board for Clock {
    fn uptime_s(&self) -> u32 {
        60
    }
    fn clock_us(&self) -> u64 {
        1_767_225_600_000_000
    }
    fn set_clock(&mut self, _: u64) {}
    fn nic(&self) -> NicCounters {
        NicCounters::default()
    }
}

/// A software tap on 127.0.0.1: the real core fed with a shared capture (learning all of it
/// as its baseline when `learn`) behind the real management server. Serves one connection
/// after another, keeping its state (and its alert ring) across them, like a board across
/// pulls. Lives until the test ends.
pub fn soft_tap(name: &str, key: &TapKey, learn: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let frames = wardtap::capture::CaptureReader::open(std::path::Path::new(&capture(name))).map(|mut r| {
        let mut v = Vec::new();
        while let Ok(Some(f)) = r.next_frame() {
            v.push((f.ts_us, f.data.to_vec()));
        }
        v
    });
    let frames = frames.unwrap();
    let key = key.clone();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut tap = Box::new(Tap::new(0));
            if learn {
                tap.learn_for(u32::MAX);
            }
            for (ts, f) in &frames {
                tap.process(*ts, f);
            }
            let mut server = Box::new(Server::new(Some(key.key), key.tap_id, 0, "soft", "test"));
            let mut board = Clock;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut buf = [0u8; 4096];
                'conn: loop {
                    let n = match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    for b in &buf[..n] {
                        if server.push(*b, &mut tap, &mut board) {
                            while !server.ready() {
                                let out = server.output().to_vec();
                                if conn.write_all(&out).is_err() {
                                    break 'conn;
                                }
                                server.consumed(out.len());
                            }
                        }
                    }
                }
            }
        })
        .unwrap();
    addr
}

pub fn key_file(dir: &TempDir, name: &str, tap_id: u32) -> TapKey {
    let key = TapKey { tap_id, key: [tap_id as u8; 32] };
    std::fs::write(dir.path().join(name), key.to_text()).unwrap();
    key
}
