//! Merging 100 tap summaries of 1,024 assets each into a fresh SQLite database (the goal in
//! issue 5: ≤ 1 s), and re-merging them all unchanged (the steady state of hourly pulls).
//!
//! `cargo bench -p wardtap --bench merge`

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};
use wardtap::db::{synthetic, Db, Summary};

const TAPS: u16 = 100;
const ASSETS: u16 = 1024;
const T0: u64 = 1_767_225_600_000_000;

fn summaries() -> Vec<Summary> {
    (0..TAPS).map(|t| synthetic::summary(t, ASSETS, 0, T0)).collect()
}

fn fresh(dir: &std::path::Path, i: u64) -> (Db, std::path::PathBuf) {
    let p = dir.join(format!("bench-{i}.db"));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", p.display()));
    }
    (Db::open(&p.display().to_string()).expect("open"), p)
}

fn bench(c: &mut Criterion) {
    let all = summaries();
    let dir = std::env::temp_dir().join(format!("wardtap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut g = c.benchmark_group("merge");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("100 summaries x 1024 assets, new database", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let (mut db, p) = fresh(&dir, i);
                let t = Instant::now();
                for s in &all {
                    db.merge(s).expect("merge");
                }
                total += t.elapsed();
                drop(db);
                let _ = std::fs::remove_file(p);
            }
            total
        })
    });
    let (mut db, _) = fresh(&dir, 999_999);
    for s in &all {
        db.merge(s).expect("merge");
    }
    g.bench_function("100 summaries x 1024 assets, unchanged re-merge", |b| {
        b.iter(|| {
            for s in &all {
                db.merge(s).expect("merge");
            }
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
