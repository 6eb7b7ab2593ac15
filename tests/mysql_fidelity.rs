//! The differential oracle on MariaDB / MySQL: what `zerodown apply --until
//! contract` leaves equals what the same DDL run by hand leaves, as `SHOW
//! CREATE TABLE` prints it, rows included, byte for byte; and a run killed
//! inside such a backfill resumes from its checkpoint to the same database.
//!
//! The tables here are keyed by VARBINARY(16) (a binary UUID, the usual
//! reason for a binary key): the rename's backfill walks that key, and its
//! checkpoint in the state file holds bytes that are not UTF-8.

mod support;

use support::kill::{batches, each_point, kill_and_resume, outcome};
use support::mysql::{zd_leftovers, MyDb};
use support::oracle::{assert_same, my_rows, my_show_create, plan_dir};
use support::run::{apply, state_json};
use support::Scratch;

/// 12,000 devices keyed by the 16 bytes of an MD5 (every byte value, zero
/// bytes and 0xff among them), a tenth of them starting with a zero byte;
/// readings keyed by (device, day, seconds).
const DEVICES: &str = "
CREATE TABLE devices (
    id VARBINARY(16) NOT NULL,
    seen DATETIME(6) NOT NULL,
    name VARCHAR(50) NOT NULL,
    PRIMARY KEY (id),
    KEY devices_name_idx (name)
);
INSERT INTO devices (id, seen, name)
    SELECT IF(seq % 10 = 0, CONCAT(0x00, SUBSTR(UNHEX(MD5(seq)), 2)), UNHEX(MD5(seq))),
           '2024-01-01 00:00:00' + INTERVAL seq * 1000001 MICROSECOND, CONCAT('device ', seq)
    FROM seq_1_to_12000;
CREATE TABLE readings (
    device VARBINARY(16) NOT NULL,
    day DATE NOT NULL,
    at TIME(3) NOT NULL,
    value INT NOT NULL,
    PRIMARY KEY (device, day, at)
);
INSERT INTO readings (device, day, at, value)
    SELECT UNHEX(MD5(seq % 40)), '2024-02-27' + INTERVAL seq % 4 DAY, SEC_TO_TIME(CAST(seq AS SIGNED) - 3000 + 0.25), seq * 7
    FROM seq_1_to_6000;
";

/// A rename on each table: a twin column filled by a backfill that walks
/// the binary key (alone, and first of a composite key with a DATE and a
/// TIME). The renamed columns are the last ones: the twin column is added
/// at the end, where `RENAME COLUMN` by hand keeps a column's position.
const CHANGES: &[&str] = &[
    "ALTER TABLE devices RENAME COLUMN name TO label",
    "ALTER TABLE readings RENAME COLUMN value TO reading",
];
const BY_HAND: &str = "ALTER TABLE devices RENAME COLUMN name TO label;
ALTER TABLE readings RENAME COLUMN value TO reading";

fn seeded() -> MyDb {
    let db = MyDb::new();
    db.exec(DEVICES);
    db
}

#[test]
fn a_rename_on_a_table_keyed_by_varbinary_ends_as_the_direct_ddl() {
    let (by_hand, by_zerodown) = (seeded(), seeded());
    by_hand.exec(BY_HAND);
    let scratch = Scratch::new();
    let dir = plan_dir(&scratch, "mysql", 2, CHANGES);
    let state = scratch.path("state.json");
    apply(
        &dir,
        &by_zerodown,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    )
    .expect(0, "apply --until contract");
    assert_same(
        "SHOW CREATE TABLE",
        &my_show_create(&by_hand),
        &my_show_create(&by_zerodown),
    );
    assert_same("rows", &my_rows(&by_hand), &my_rows(&by_zerodown));
    assert!(
        zd_leftovers(&by_zerodown).is_empty(),
        "{:?}",
        zd_leftovers(&by_zerodown)
    );
    // Both backfills ran in batches (12,000 and 6,000 rows, 5,000 a batch),
    // so each resumed from a binary key at least once.
    let batches = batches(&state);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert!(batches.values().all(|&n| n >= 2), "{batches:?}");
}

#[test]
fn a_run_killed_inside_a_varbinary_keyed_backfill_resumes_from_its_checkpoint() {
    let scratch = Scratch::new();
    let dir = plan_dir(&scratch, "mysql", 2, CHANGES);

    // The reference: one run that nothing interrupts.
    let db = seeded();
    let state = scratch.path("state.json");
    apply(&dir, &db, &state, &["--until", "contract"], &scratch, &[]).expect(0, "reference run");
    let reference = outcome(&db, &scratch, &[]);
    let reference_rows = my_rows(&db);
    let batches = batches(&state);
    drop(db);

    // After each batch of each backfill commits, before its checkpoint is
    // saved: the resume starts from the key the batch before saved.
    let mut points = Vec::new();
    for (id, &n) in &batches {
        assert!(n >= 2, "{id}: {n} batches");
        points.extend((1..=n).map(|k| format!("batch:{id}:{k}")));
    }
    each_point(&points, 2, |point| {
        kill_and_resume(&dir, point, &seeded, &[], &reference)
    });

    // One case by hand, to look at the checkpoint (saved after batch 1,
    // killed after batch 2) and the rows.
    let (id, _) = batches.iter().next().unwrap();
    let db = seeded();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let killed = apply(
        &dir,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[("ZERODOWN_FAILPOINT", &format!("batch:{id}:2"))],
    );
    assert_eq!(killed.signal, Some(6), "{}", killed.stderr);
    let checkpoint = state_json(&state)["backfills"][id].clone();
    let key = &checkpoint["last_key"];
    assert!(
        key.as_array()
            .is_some_and(|k| k.len() == 1 && k[0]["hex"].as_str().is_some_and(|h| h.len() == 32)),
        "a 16-byte key in the checkpoint: {checkpoint}"
    );
    support::run::resume(&db, &state, &[], &scratch).expect(0, "resume");
    assert_same("rows after resume", &reference_rows, &my_rows(&db));
}
