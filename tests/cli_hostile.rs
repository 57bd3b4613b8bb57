//! Issue 15: hostile or mistaken input ends in a clear message and the conventional exit code,
//! never a crash. Each test replays one of the issue's reproductions against the real binary.

mod common;

use common::{bad_input, p, run};
use ed25519_dalek::SigningKey;
use healthcode_registry::event::Role;
use healthcode_registry::{Event, HolderFile, LogExport, Registry};
use std::path::{Path, PathBuf};

const POLICY: &str = include_str!("../policies/henan-2022.toml");
/// 2022-06-14 12:00:00 UTC.
const T0: u64 = 1_655_208_000;
const HOUR: u64 = 3_600;

/// The example policy with its first rule's condition wrapped in `depth` parentheses, or
/// preceded by `depth` pairs of `!` (which keep its meaning).
fn deep_policy(depth: usize, nots: bool) -> String {
    let when = "when = \"";
    let at = POLICY.find(when).expect("the example policy has a rule") + when.len();
    let end = at + POLICY[at..].find('"').unwrap();
    let cond = &POLICY[at..end];
    let deep = if nots {
        format!("{}({cond})", "!".repeat(depth))
    } else {
        format!("{}{cond}{}", "(".repeat(depth), ")".repeat(depth))
    };
    format!("{}{deep}{}", &POLICY[..at], &POLICY[end..])
}

/// `line:column:` of the 129th `(` or `!` of [`deep_policy`]'s first rule: where the error is.
fn location_of_129th_opening() -> String {
    let at = POLICY.find("when = \"").unwrap() + "when = \"".len();
    let line = POLICY[..at].matches('\n').count() + 1;
    let column = at - POLICY[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{}:", column + 128)
}

/// A registry over the example policy with a lab, one holder, and two published epochs with an
/// event in each; returns it with its directory.
fn registry() -> (tempfile::TempDir, PathBuf, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let mut reg = Registry::init(&db, POLICY, T0 - 2 * HOUR).unwrap();
    let lab = SigningKey::from_bytes(&[7; 32]);
    reg.add_signer("Lab", Role::Lab, lab.verifying_key(), 0, T0 - 2 * HOUR).unwrap();
    let leaf = reg.enroll(HolderFile::generate("E1").commitment, T0 - 2 * HOUR).unwrap();
    for (i, t) in [T0 - HOUR, T0].into_iter().enumerate() {
        let ev = Event::signed_by(&lab, reg.public_key(), leaf, "negative_test", t - 60 - i as u64, None);
        reg.submit(&ev, t - 30).unwrap();
        reg.publish(t).unwrap();
    }
    (dir, db, reg)
}

/// Item 1: a policy nesting 10,000 parentheses, or 50,000 `!`, is refused with its line and
/// column by every command that reads a policy (it used to overflow the stack: SIGABRT).
#[test]
fn deeply_nested_policies_are_refused_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    std::fs::write(d("parens.toml"), deep_policy(10_000, false)).unwrap();
    std::fs::write(d("nots.toml"), deep_policy(50_000, true)).unwrap();
    std::fs::write(d("state.json"), "{}").unwrap();
    std::fs::write(d("x.ptau"), "not read: the policy is refused first").unwrap();
    std::fs::write(d("export.json"), "{}").unwrap();
    let key = "00".repeat(32);
    let (state, ptau, export) = (d("state.json"), d("x.ptau"), d("export.json"));
    for policy in ["parens.toml", "nots.toml"] {
        let policy = d(policy);
        let policy = p(&policy);
        let out = |n: &str| d(&format!("{n}-out"));
        let (bundle, db) = (out("bundle"), out("db"));
        let commands: Vec<Vec<&str>> = vec![
            vec!["policy", "check", policy],
            vec!["circuit", "info", "--policy", policy],
            vec!["policy", "eval", policy, "--state", p(&state), "--now", "0"],
            vec!["registry", "init", p(&db), "--policy", policy],
            vec!["setup", "--policy", policy, "--out", p(&bundle)],
            vec!["audit", "circuit", "--policy", policy, "--bundle", p(&bundle), "--ptau", p(&ptau)],
            vec!["audit", "registry", "--export", p(&export), "--policy", policy, "--registry-key", &key],
        ];
        for args in commands {
            bad_input(&args, &["more than 128 deep", &location_of_129th_opening()]);
        }
    }
}

/// Item 2: every numeric option is bounded by the parser, with a message naming the range.
#[test]
fn numeric_options_out_of_range_are_refused() {
    for samples in ["18446744073709551615", "4294967296", "100001"] {
        let o =
            run(["audit", "circuit", "--policy", "p", "--bundle", "b", "--ptau", "t", "--samples", samples]);
        assert_eq!(o.code, 2, "{o:?}");
        assert!(o.stderr.contains("--samples") && o.stderr.contains("0..=100000"), "{o:?}");
    }
    let too_late = (healthcode_circuits::time::MAX_TIME + 1).to_string();
    for args in [
        vec!["policy", "eval", "p.toml", "--state", "s.json", "--now", &too_late],
        vec![
            "sign-event",
            "--key",
            "k",
            "--registry",
            "r",
            "--holder",
            "0",
            "--kind",
            "x",
            "--time",
            &too_late,
        ],
        vec!["registry", "head", "db", "--epoch", "9223372036854775808"],
        vec!["registry", "consistency", "db", "--from", "0", "--to", "18446744073709551615"],
        vec!["ceremony", "verify-ptau", "f.ptau", "--power", "4294967295"],
    ] {
        let o = run(&args);
        assert_eq!(o.code, 2, "{args:?}: {o:?}");
        assert!(o.stderr.contains("is not in"), "{args:?}: {o:?}");
    }
}

/// Item 3: a closed stdout ends the program quietly by SIGPIPE, as it ends `cat`, not with a
/// "Broken pipe" panic (exit 101); work done before the output (an epoch) is kept.
#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (dir, db, _) = registry();
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/henan-2022.toml");
    let key = dir.path().join("lab.key");
    let closed = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // the reader is gone before the program writes anything
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("healthcode"));
        let out = cmd.args(args).stdout(writer).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{args:?}: {:?} {stderr}", out.status);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    };
    closed(&["policy", "check", p(&policy)]);
    closed(&["signer", "keygen", "-o", p(&key)]);
    assert!(key.exists(), "the key file is written before its public key is printed");
    closed(&["registry", "head", p(&db)]);
    closed(&["registry", "head", p(&db), "--all", "--json"]);
    closed(&["registry", "publish", p(&db)]);
    // The epoch was committed before its summary could not be printed.
    assert_eq!(Registry::open(&db).unwrap().head().unwrap().epoch, 3);
}

/// Item 4: an endless or huge input is cut at a limit suited to its kind.
#[test]
fn endless_inputs_are_refused_at_their_limit() {
    let zero = "/dev/zero";
    if !Path::new(zero).exists() {
        return;
    }
    let (_dir, db, _) = registry();
    let key = "00".repeat(32);
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/henan-2022.toml");
    for args in [
        vec!["policy", "check", zero],
        vec!["registry", "submit", p(&db), zero],
        vec!["receipt", "check", "--receipt", zero, "--export", zero, "--registry-key", &key],
        vec!["audit", "registry", "--export", zero, "--policy", p(&policy), "--registry-key", &key],
    ] {
        bad_input(&args, &["/dev/zero", "larger than the limit"]);
    }
}

/// Item 6: a file that is no registry, or a directory, is named with exit 2.
#[test]
fn a_file_that_is_no_registry_is_named() {
    let (dir, db, _) = registry();
    let d = |n: &str| dir.path().join(n);
    let whole = std::fs::read(&db).unwrap();
    std::fs::write(d("empty.db"), b"").unwrap();
    std::fs::write(
        d("random.db"),
        (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(d("truncated.db"), &whole[..whole.len().min(3000)]).unwrap();
    rusqlite::Connection::open(d("other.db")).unwrap().execute_batch("CREATE TABLE t (x);").unwrap();
    std::fs::create_dir(d("dir.db")).unwrap();
    for name in ["empty.db", "random.db", "truncated.db", "other.db", "dir.db"] {
        let file = d(name);
        for args in [
            vec!["registry", "head", p(&file)],
            vec!["registry", "publish", p(&file)],
            vec!["registry", "audit", p(&file)],
            vec!["audit", "registry", "--db", p(&file)],
        ] {
            bad_input(&args, &[name]);
        }
    }
}

/// Item 6: a read-only registry is named when a write is refused. (Root ignores file modes, so
/// the check only runs where the mode is enforced: it says so when it cannot.)
#[cfg(unix)]
#[test]
fn a_read_only_registry_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, db, _) = registry();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    if std::fs::OpenOptions::new().write(true).open(&db).is_ok() {
        eprintln!("skipped: this user can write a 0444 file (root); read-only is not enforced here");
        return;
    }
    let o = bad_input(&["registry", "publish", p(&db)], &["registry.db", "readonly"]);
    assert!(!o.stderr.contains("panicked"), "{o:?}");
}

/// Item 7: a database whose schema was altered (the `heads` table dropped) refuses every
/// command, instead of accepting signers and events it could never publish.
#[test]
fn an_altered_schema_is_refused() {
    let (_dir, db, _) = registry();
    rusqlite::Connection::open(&db).unwrap().execute_batch("DROP TABLE heads;").unwrap();
    let key = hex::encode(SigningKey::from_bytes(&[9; 32]).verifying_key().as_bytes());
    for args in [
        vec!["registry", "signer", "add", p(&db), "--name", "X", "--role", "lab", "--key", &key],
        vec!["registry", "enroll", p(&db), "--commitment", &format!("0x{}01", "00".repeat(31))],
        vec!["registry", "head", p(&db)],
    ] {
        bad_input(&args, &["registry.db", "schema was altered", "heads"]);
    }
}

/// Item 8: the operator's `registry audit` and the auditor's `audit registry --db` are one
/// replay: a database whose latest head row was deleted fails both, with the same finding.
#[test]
fn both_registry_audits_flag_a_deleted_head() {
    let (_dir, db, _) = registry();
    for args in [vec!["registry", "audit", p(&db)], vec!["audit", "registry", "--db", p(&db)]] {
        assert_eq!(run(&args).code, 0, "{args:?}");
    }
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DELETE FROM heads WHERE epoch = (SELECT max(epoch) FROM heads);")
        .unwrap();
    let reports: Vec<String> =
        [vec!["registry", "audit", p(&db), "--json"], vec!["audit", "registry", "--db", p(&db), "--json"]]
            .iter()
            .map(|args| {
                let o = run(args);
                assert_eq!(o.code, 1, "{args:?}: {o:?}");
                assert_eq!(o.json()["clean"], false);
                let text = o.json()["report"].to_string();
                assert!(text.contains("covered by no signed head"), "{text}");
                text
            })
            .collect();
    assert_eq!(reports[0], reports[1], "the two audits must be the same replay");
}

/// Item 9: an export cut down to its first head, with every later entry kept, names the entries
/// that no signed head covers.
#[test]
fn entries_no_head_covers_are_named() {
    let (dir, _db, reg) = registry();
    let mut export = LogExport::of(&reg).unwrap();
    let key = hex::encode(reg.public_key().as_bytes());
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/henan-2022.toml");
    let file = dir.path().join("export.json");
    let audit =
        || run(["audit", "registry", "--export", p(&file), "--policy", p(&policy), "--registry-key", &key]);
    std::fs::write(&file, export.to_json()).unwrap();
    assert_eq!(audit().code, 0, "{:?}", audit());
    // Without its early heads (which could hide a fork) the export is named too.
    let full = export.clone();
    export.heads.remove(0);
    std::fs::write(&file, export.to_json()).unwrap();
    let o = audit();
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("the heads start at epoch 1 instead of 0"), "{o:?}");
    let mut export = full;
    let covered = export.heads[0].log_size;
    assert!((export.entries.len() as u64) > covered, "the fixture logs entries after epoch 0");
    export.heads.truncate(1);
    std::fs::write(&file, export.to_json()).unwrap();
    let o = audit();
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stdout.contains(&format!("log entries {covered} to"))
            && o.stdout.contains("covered by no signed head"),
        "{o:?}"
    );
}

/// Red team: values at the end of their range in a database that passes the schema check (a head
/// whose epoch is 2^64 - 1, a holder state beyond 2^40 - 1) are named as damage; `publish` used
/// to panic on both (an overflow, and a worker thread hashing the tree).
#[test]
fn values_out_of_range_in_the_database_are_damage_not_panics() {
    let (_dir, db, reg) = registry();
    let mut head: serde_json::Value = serde_json::to_value(reg.head().unwrap()).unwrap();
    drop(reg);
    head["epoch"] = u64::MAX.into();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("INSERT INTO heads (epoch, head) VALUES (99, ?1)", [head.to_string()]).unwrap();
    let o = run(["registry", "publish", p(&db)]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("registry.db") && o.stderr.contains("epoch is at its maximum"), "{o:?}");
    conn.execute("DELETE FROM heads WHERE epoch = 99", []).unwrap();

    let state: Vec<u8> =
        conn.query_row("SELECT state FROM holders WHERE leaf_index = 0", [], |r| r.get(0)).unwrap();
    conn.execute("UPDATE holders SET state = ?1 WHERE leaf_index = 0", [vec![0xff; state.len()]]).unwrap();
    drop(conn);
    let mut reg = Registry::open(&db).unwrap();
    let lab = SigningKey::from_bytes(&[7; 32]);
    reg.submit(&Event::signed_by(&lab, reg.public_key(), 0, "negative_test", T0 + 10, None), T0 + 20)
        .unwrap();
    drop(reg);
    for args in [vec!["registry", "publish", p(&db)], vec!["registry", "witness", p(&db), "--leaf", "0"]] {
        let o = run(&args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert!(o.stderr.contains("beyond 2^40 - 1"), "{args:?}: {o:?}");
    }
}

/// Red team: holder states, log subtrees and event rows edited in the database (a red holder
/// served a green state; a log node that makes proofs and the next head's log root wrong; a
/// history showing another kind, or none) audited clean.
#[test]
fn stored_states_and_log_nodes_edited_in_place_are_named() {
    for (edit, named) in [
        ("UPDATE holders SET state = zeroblob(length(state)) WHERE leaf_index = 0", "state of leaf 0"),
        // (The lowest stored level: the ones below it are rehashed from the entries.)
        ("UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 4 AND idx = 0", "log node 4/0"),
        ("UPDATE events SET kind = 'positive_test' WHERE time = (SELECT max(time) FROM events)", "event row"),
        ("DELETE FROM events WHERE holder = 0", "logged but missing from the event rows"),
        // An index that hides holder 0's events from histories, disguised as the original one.
        (
            "DROP INDEX events_by_holder;
             CREATE INDEX events_by_holder ON events (holder) WHERE holder <> 0;
             PRAGMA writable_schema = ON;
             UPDATE sqlite_schema SET sql = 'CREATE INDEX events_by_holder ON events (holder)'
                 WHERE name = 'events_by_holder';
             PRAGMA writable_schema = OFF;",
            "SQLite integrity check",
        ),
    ] {
        let (_dir, db, mut reg) = registry();
        // Sixteen log entries or more, so that a log subtree is stored.
        for i in 0..12 {
            reg.enroll(HolderFile::generate(&format!("F{i}")).commitment, T0).unwrap();
        }
        reg.publish(T0 + 1).unwrap();
        drop(reg);
        assert_eq!(run(["registry", "audit", p(&db)]).code, 0);
        rusqlite::Connection::open(&db).unwrap().execute_batch(edit).unwrap();
        let o = run(["registry", "audit", p(&db)]);
        assert_eq!(o.code, 1, "{edit}: {o:?}");
        assert!(
            o.stdout.contains("stored states and log nodes") && o.stdout.contains(named),
            "{edit}: {o:?}"
        );
    }
}

/// Red team: `serve --web DIR` serves every file of DIR (and of --bundle) to anyone, so a
/// registry database (which holds the registry's signing key) inside one of them is refused
/// before anything is served (it used to be downloadable at /registry.db).
#[test]
fn a_database_inside_the_served_pages_is_refused() {
    let (dir, db, _reg) = registry();
    std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(bundle.join("manifest.json"), "{}").unwrap();
    let args = |db: &Path, web: &Path| {
        vec![
            "serve".into(),
            "--db".into(),
            db.as_os_str().to_owned(),
            "--listen".into(),
            "127.0.0.1:1".into(),
            "--web".into(),
            web.as_os_str().to_owned(),
            "--bundle".into(),
            bundle.as_os_str().to_owned(),
        ]
    };
    bad_input(&args(&db, dir.path()), &["--db", "is inside --web", "served to anyone"]);
    // Named relatively, or not created yet: the same.
    let relative: Vec<std::ffi::OsString> = args(Path::new("registry.db"), Path::new("."));
    let o = common::hc().current_dir(dir.path()).args(&relative).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("is inside --web"), "{o:?}");
    bad_input(&args(&bundle.join("new.db"), dir.path()), &["is inside --web"]);
    // Kept elsewhere, but with no witness: the checkpoint page could trust no head.
    let elsewhere = tempfile::tempdir().unwrap();
    bad_input(&args(&elsewhere.path().join("r.db"), dir.path()), &["--web needs at least one --witness"]);
}
