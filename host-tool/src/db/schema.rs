//! The asset database's schema, as an ordered list of migrations.
//!
//! A migration is never edited once released: a change of shape is a new entry at the end.
//! `schema_migrations` records which ones ran; each runs in its own transaction together with
//! its row there, so a crash mid-migration leaves the previous version intact.
//!
//! Times are µs since the Unix epoch (BIGINT). MACs are lowercase `aa:bb:..`. An asset's
//! latest full record is kept as its postcard encoding (`wardtap-proto`'s `AssetRecord`, the
//! same bytes a tap sends), and rendered to the document shape when read.
//!
//! Dialect placeholders: `{id}` (auto-increment key), `{mac_key}` (a 64-bit integer key given
//! by the writer: SQLite's row id), `{blob}` (BLOB / BYTEA), `{without_rowid}` (SQLite stores
//! tables keyed by their primary key only), `{json_agg(x ORDER BY ..)}` (a JSON array of `x` per
//! group, as text: SQLite's `json_group_array(x ..)` / PostgreSQL's `json_agg(x ..)::text`, with
//! `json_array` spelled `json_build_array`), `{mac_id(x)}` (the MAC text `x` as the integer of
//! its six bytes, big-endian) and `{restart_id(t)}` (after rows were copied with their ids into
//! `t`: PostgreSQL's identity sequence continues after the highest; nothing for SQLite).
//!
//! Since version 4 an asset's id is its MAC as that integer (`merge::mac_id`).

/// One step of the schema.
pub struct Migration {
    /// Version reached after it (1, 2, ...).
    pub version: i64,
    /// What it does.
    pub name: &'static str,
    /// DDL with the dialect placeholders above.
    pub sql: &'static str,
}

/// Every migration in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "assets, sightings per tap and ward, value history, edges, alerts, ledger",
        sql: "
CREATE TABLE taps (
    id TEXT PRIMARY KEY,
    ward TEXT NOT NULL,
    first_pull BIGINT NOT NULL,
    last_pull BIGINT NOT NULL,
    alert_seq BIGINT NOT NULL DEFAULT 0,
    counters TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE assets (
    id {id},
    mac TEXT NOT NULL UNIQUE,
    vendor TEXT,
    class TEXT NOT NULL,
    name TEXT,
    ips TEXT NOT NULL,
    software TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    doc {blob} NOT NULL
);
CREATE TABLE sightings (
    asset BIGINT NOT NULL REFERENCES assets(id),
    tap TEXT NOT NULL,
    ward TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    frames_tx BIGINT NOT NULL,
    frames_rx BIGINT NOT NULL,
    bytes_tx BIGINT NOT NULL,
    bytes_rx BIGINT NOT NULL,
    fingerprint BIGINT NOT NULL,
    PRIMARY KEY (asset, tap, ward)
){without_rowid};
CREATE TABLE asset_values (
    asset BIGINT NOT NULL REFERENCES assets(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    tap TEXT NOT NULL,
    PRIMARY KEY (asset, kind, value)
){without_rowid};
CREATE TABLE asset_changes (
    id {id},
    asset BIGINT NOT NULL REFERENCES assets(id),
    time BIGINT NOT NULL,
    tap TEXT NOT NULL,
    ward TEXT NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT
);
CREATE INDEX asset_changes_asset ON asset_changes (asset, time);
CREATE TABLE edges (
    asset BIGINT NOT NULL REFERENCES assets(id),
    tap TEXT NOT NULL,
    peer TEXT NOT NULL,
    transport TEXT NOT NULL,
    port BIGINT NOT NULL,
    direction TEXT NOT NULL,
    external BIGINT NOT NULL,
    frames BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (asset, tap, peer, transport, port, direction)
){without_rowid};
CREATE TABLE alerts (
    id {id},
    tap TEXT NOT NULL,
    ward TEXT NOT NULL,
    seq BIGINT NOT NULL,
    time BIGINT NOT NULL,
    last_time BIGINT NOT NULL,
    severity TEXT NOT NULL,
    kind TEXT NOT NULL,
    device TEXT NOT NULL,
    device_ip TEXT,
    peer TEXT,
    transport TEXT NOT NULL,
    port BIGINT NOT NULL,
    count BIGINT NOT NULL,
    evidence TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    UNIQUE (tap, seq)
);
CREATE TABLE ledger (
    tap TEXT NOT NULL,
    ward TEXT NOT NULL,
    device TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    transport TEXT NOT NULL,
    port BIGINT NOT NULL,
    direction TEXT NOT NULL,
    name TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    frames BIGINT NOT NULL,
    allowed BIGINT NOT NULL,
    PRIMARY KEY (tap, device, endpoint, transport, port, direction)
){without_rowid};
",
    },
    Migration {
        version: 2,
        name: "alert acknowledgement (by whom, when, and whether the tap was told) and SIEM forwarding state",
        sql: "
ALTER TABLE alerts ADD COLUMN acked_by TEXT;
ALTER TABLE alerts ADD COLUMN acked_at BIGINT;
ALTER TABLE alerts ADD COLUMN tap_acked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN forwarded BIGINT NOT NULL DEFAULT 0;
CREATE INDEX alerts_state ON alerts (state, time);
CREATE INDEX alerts_device ON alerts (device);
",
    },
    Migration {
        version: 3,
        name: "value history kept per asset as one JSON array instead of one row per value",
        // Same content as the `asset_values` rows (kind, value, source, first and last seen, tap),
        // sorted by kind and value; five fewer rows per asset makes merging twice as fast.
        sql: "
ALTER TABLE assets ADD COLUMN value_history TEXT NOT NULL DEFAULT '[]';
UPDATE assets SET value_history = COALESCE((
    SELECT {json_agg(json_array(v.kind, v.value, v.source, v.first_seen, v.last_seen, v.tap) ORDER BY v.kind, v.value)}
    FROM asset_values v WHERE v.asset = assets.id), '[]');
DROP TABLE asset_values;
",
    },
    Migration {
        version: 4,
        name: "an asset's id is its MAC as a 48-bit integer (no separate MAC index, ids known before inserting)",
        // Tables are rebuilt with the asset ids renumbered; the MAC text column stays for
        // readers but is no longer indexed. Change rows keep their ids.
        sql: "
CREATE TABLE assets_v4 (
    id {mac_key},
    mac TEXT NOT NULL,
    vendor TEXT,
    class TEXT NOT NULL,
    name TEXT,
    ips TEXT NOT NULL,
    software TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    doc {blob} NOT NULL,
    value_history TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO assets_v4 (id, mac, vendor, class, name, ips, software, first_seen, last_seen, doc, value_history)
    SELECT {mac_id(mac)}, mac, vendor, class, name, ips, software, first_seen, last_seen, doc, value_history
    FROM assets ORDER BY mac;
CREATE TABLE sightings_v4 (
    asset BIGINT NOT NULL REFERENCES assets_v4(id),
    tap TEXT NOT NULL,
    ward TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    frames_tx BIGINT NOT NULL,
    frames_rx BIGINT NOT NULL,
    bytes_tx BIGINT NOT NULL,
    bytes_rx BIGINT NOT NULL,
    fingerprint BIGINT NOT NULL,
    PRIMARY KEY (asset, tap, ward)
){without_rowid};
INSERT INTO sightings_v4 (asset, tap, ward, first_seen, last_seen, frames_tx, frames_rx, bytes_tx, bytes_rx, fingerprint)
    SELECT {mac_id(a.mac)}, s.tap, s.ward, s.first_seen, s.last_seen, s.frames_tx, s.frames_rx, s.bytes_tx, s.bytes_rx,
    s.fingerprint FROM sightings s JOIN assets a ON a.id = s.asset;
CREATE TABLE asset_changes_v4 (
    id {id},
    asset BIGINT NOT NULL REFERENCES assets_v4(id),
    time BIGINT NOT NULL,
    tap TEXT NOT NULL,
    ward TEXT NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT
);
INSERT INTO asset_changes_v4 (id, asset, time, tap, ward, field, old, new)
    SELECT c.id, {mac_id(a.mac)}, c.time, c.tap, c.ward, c.field, c.old, c.new
    FROM asset_changes c JOIN assets a ON a.id = c.asset ORDER BY c.id;
CREATE TABLE edges_v4 (
    asset BIGINT NOT NULL REFERENCES assets_v4(id),
    tap TEXT NOT NULL,
    peer TEXT NOT NULL,
    transport TEXT NOT NULL,
    port BIGINT NOT NULL,
    direction TEXT NOT NULL,
    external BIGINT NOT NULL,
    frames BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (asset, tap, peer, transport, port, direction)
){without_rowid};
INSERT INTO edges_v4 (asset, tap, peer, transport, port, direction, external, frames, bytes, first_seen, last_seen)
    SELECT {mac_id(a.mac)}, e.tap, e.peer, e.transport, e.port, e.direction, e.external, e.frames, e.bytes,
    e.first_seen, e.last_seen FROM edges e JOIN assets a ON a.id = e.asset;
DROP TABLE sightings;
DROP TABLE asset_changes;
DROP TABLE edges;
DROP TABLE assets;
ALTER TABLE assets_v4 RENAME TO assets;
ALTER TABLE sightings_v4 RENAME TO sightings;
ALTER TABLE asset_changes_v4 RENAME TO asset_changes;
ALTER TABLE edges_v4 RENAME TO edges;
CREATE INDEX asset_changes_asset ON asset_changes (asset, time);
{restart_id(asset_changes)}
",
    },
    Migration {
        version: 5,
        name: "where a pulled tap's alert numbers go: a base added to them, moved on when the tap restarted",
        // `tap_uptime` is the tap's uptime (s) read at `tap_uptime_at` (µs): a later pull that
        // finds less uptime than the time since then means the tap restarted in between.
        sql: "
ALTER TABLE taps ADD COLUMN alert_base BIGINT NOT NULL DEFAULT 0;
ALTER TABLE taps ADD COLUMN tap_uptime BIGINT;
ALTER TABLE taps ADD COLUMN tap_uptime_at BIGINT;
",
    },
    Migration {
        version: 6,
        name: "value history entries leave out first seen, last seen and tap when they equal the entry before",
        // `[kind, value, source]` after an entry with the same times and tap: a new asset's
        // history is a third shorter. Nothing to convert: full entries stay valid, and a history
        // is written in the short form the next time it changes. The version tells an older
        // wardtap, which reads only full entries, to leave the database alone.
        sql: "",
    },
];

/// The newest schema version this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}
