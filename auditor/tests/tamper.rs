//! The audit catches each tampered artefact and names it; the honest artefacts are clean.

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_snark::CircuitSpecificSetupSNARK;
use ed25519_dalek::SigningKey;
use healthcode_auditor::{circuit, registry, Report};
use healthcode_circuits::policy::Policy;
use healthcode_circuits::statement::{circuit_info, HealthCodeCircuit};
use healthcode_registry::event::{Entry, EntryBody, Role};
use healthcode_registry::head::{HeadFields, SignedHead};
use healthcode_registry::store::log_pages;
use healthcode_registry::{Event, HolderFile, Registry, SignedEvent};
use healthcode_verifier::bundle::Manifest;
use healthcode_verifier::keyfile::{encode, KeyKind};
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const FAST: circuit::Options = circuit::Options { seed: 1, random_cases: 4 };

fn failed(r: &Report) -> Vec<String> {
    r.failed().map(|c| format!("{}: {}", c.name, c.detail)).collect()
}

fn assert_fails(r: &Report, check: &str, evidence: &str) {
    let f = failed(r);
    assert!(
        f.iter().any(|m| m.starts_with(check) && m.contains(evidence)),
        "expected `{check}` to fail with `{evidence}`, failures: {f:#?}"
    );
}

struct Bundles {
    _dir: tempfile::TempDir,
    honest: PathBuf,
    ptau: Vec<u8>,
}

fn bundles() -> &'static Bundles {
    static B: OnceLock<Bundles> = OnceLock::new();
    B.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let honest = dir.path().join("honest");
        let (ptau, zkey) = healthcode_prover::fixtures::small_ceremony(&Policy::parse(POLICY).unwrap(), 1);
        healthcode_prover::setup::finalize(POLICY, zkey, &honest).unwrap();
        Bundles { _dir: dir, honest, ptau }
    })
}

fn copy_bundle(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Replaces the bundle's keys with keys for `evil`'s circuit, labelled with `label` as the
/// circuit digest (in key headers and manifest).
fn swap_keys(bundle: &Path, evil: &Policy, label: [u8; 32]) {
    let (pk, vk) = Groth16::<Bn254>::setup(
        HealthCodeCircuit::for_setup(evil),
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(9),
    )
    .unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    for (kind, key, entry) in [
        (KeyKind::Proving, encode(KeyKind::Proving, &label, &pk, false), "proving_key"),
        (KeyKind::Verifying, encode(KeyKind::Verifying, &label, &vk, true), "verifying_key"),
    ] {
        let _ = kind;
        let file = m[entry]["file"].as_str().unwrap().to_string();
        let body = &key[81..];
        m[entry]["body_sha256"] = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)).into();
        m[entry]["bytes"] = serde_json::Value::from(key.len());
        std::fs::write(bundle.join(file), &key).unwrap();
    }
    m["circuit"]["digest"] = hex::encode(label).into();
    std::fs::write(bundle.join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    Manifest::read(bundle).unwrap();
}

/// An issuer's undisclosed criterion: an extra private input (a "bank depositor" time) that
/// forces red, compiled into the circuit that is shipped with the honest policy file.
fn undisclosed_criterion() -> Policy {
    let evil = POLICY.replace(
        "events = [\"positive_test\", \"negative_test\", \"close_contact\", \"secondary_contact\"]",
        "events = [\"positive_test\", \"negative_test\", \"close_contact\", \"secondary_contact\", \"bank_depositor\"]",
    ) + "\n[[rules]]\ncolour = \"red\"\nbecause = \"undisclosed\"\nwhen = \"within(bank_depositor, 3650d)\"\n";
    Policy::parse(&evil).unwrap()
}

fn digest_bytes(p: &Policy) -> [u8; 32] {
    hex::decode(circuit_info(p).unwrap().digest).unwrap().try_into().unwrap()
}

#[test]
fn honest_bundle_is_clean() {
    let r = circuit::audit(POLICY, &bundles().honest, &bundles().ptau, FAST).unwrap();
    assert!(r.clean(), "{r}");
    // Digests (3), key headers (2), verifying key, setup, transcript file, phase 1, transcript,
    // keys against the transcript, sample codes, semantic check.
    assert_eq!(r.checks.len(), 13, "{r}");
}

#[test]
fn undisclosed_criterion_keys_are_caught_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    copy_bundle(&bundles().honest, dir.path());
    let evil = undisclosed_criterion();
    swap_keys(dir.path(), &evil, digest_bytes(&evil));
    let r = circuit::audit(POLICY, dir.path(), &bundles().ptau, FAST).unwrap();
    assert_fails(&r, "circuit digest", &circuit_info(&evil).unwrap().digest);
    assert_fails(&r, "verifying key header", "");
    assert_fails(&r, "proving key header", "");
}

/// Keys for a circuit with an undisclosed criterion, relabelled with the honest circuit digest:
/// the headers cannot tell (the digest is only a label), the transcript comparison and the sample
/// codes can, each on its own.
#[test]
fn undisclosed_criterion_keys_relabelled_as_honest_are_caught_by_transcript_and_sample_codes() {
    let dir = tempfile::tempdir().unwrap();
    copy_bundle(&bundles().honest, dir.path());
    let honest = Policy::parse(POLICY).unwrap();
    swap_keys(dir.path(), &undisclosed_criterion(), digest_bytes(&honest));
    let r = circuit::audit(POLICY, dir.path(), &bundles().ptau, FAST).unwrap();
    assert_fails(&r, "keys match the transcript", "proving key A query");
    assert_fails(&r, "sample codes", "does not fit this policy's circuit");
    let f = failed(&r);
    assert!(
        !f.iter().any(|m| m.starts_with("verifying key header") || m.starts_with("proving key header")),
        "the header lie itself is not detectable: {f:#?}"
    );
}

#[test]
fn verifying_key_of_another_policy_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    copy_bundle(&bundles().honest, dir.path());
    let other =
        Policy::parse(&POLICY.replace("within(secondary_contact, 7d)", "within(secondary_contact, 8d)"))
            .unwrap();
    swap_keys(dir.path(), &other, digest_bytes(&other));
    let r = circuit::audit(POLICY, dir.path(), &bundles().ptau, FAST).unwrap();
    assert_fails(&r, "verifying key header", "circuit");
}

#[test]
fn policy_edited_after_setup_is_caught() {
    let edited = POLICY.replace("within(close_contact, 14d)", "within(close_contact, 10d)");
    let r = circuit::audit(&edited, &bundles().honest, &bundles().ptau, FAST).unwrap();
    assert_fails(&r, "policy digest", "published");
    assert_fails(&r, "bundled policy", "different policy");
    assert_fails(&r, "circuit digest", "recompiled");
}

// ---- registry ----

const T0: u64 = 1_655_164_800;
const DAY: u64 = 86_400;

struct Reg {
    _dir: tempfile::TempDir,
    path: PathBuf,
    lab: SigningKey,
}

fn event(
    reg: &Registry,
    key: &SigningKey,
    holder: u32,
    kind: &str,
    time: u64,
    case: Option<[u8; 32]>,
) -> SignedEvent {
    Event::signed_by(key, reg.public_key(), holder, kind, time, case)
}

/// Epoch 1: four holders. Epoch 2: a positive test, a contact, a negative test. Epoch 3: the
/// lab's revocation and a negative test for holder 3.
fn registry() -> Reg {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let mut reg = Registry::init(&path, POLICY, T0 - 20 * DAY).unwrap();
    let (lab, lab2, tracer) = (
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[3; 32]),
        SigningKey::from_bytes(&[2; 32]),
    );
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, T0 - 20 * DAY).unwrap();
    reg.add_signer("lab two", Role::Lab, lab2.verifying_key(), 0, T0 - 20 * DAY).unwrap();
    reg.add_signer("tracer", Role::Tracer, tracer.verifying_key(), 0, T0 - 20 * DAY).unwrap();
    for i in 0..4u64 {
        reg.enroll(HolderFile::from_secret((100 + i).into(), (7 + i).into()).commitment, T0 - 20 * DAY)
            .unwrap();
    }
    reg.publish(T0 - 20 * DAY).unwrap();
    let pos = reg.submit(&event(&reg, &lab, 0, "positive_test", T0 - 2 * DAY, None), T0).unwrap();
    reg.submit(&event(&reg, &tracer, 1, "close_contact", T0 - DAY, Some(pos)), T0).unwrap();
    reg.submit(&event(&reg, &lab, 3, "negative_test", T0 - 3 * DAY, None), T0).unwrap();
    reg.publish(T0).unwrap();
    reg.revoke_signer("lab", T0 + 10).unwrap();
    reg.submit(&event(&reg, &lab2, 3, "negative_test", T0 - DAY, None), T0 + 20).unwrap();
    reg.publish(T0 + 30).unwrap();
    Reg { _dir: dir, path, lab }
}

fn db(r: &Reg) -> rusqlite::Connection {
    rusqlite::Connection::open(&r.path).unwrap()
}

/// Every stored log entry, in order (from the log's pages).
fn log_entries(r: &Reg) -> Vec<Vec<u8>> {
    let c = db(r);
    let mut st = c.prepare("SELECT entries FROM log_pages ORDER BY page").unwrap();
    let pages = st.query_map([], |row| row.get::<_, Vec<u8>>(0)).unwrap();
    pages.flat_map(|p| log_pages::decode(&p.unwrap()).unwrap()).collect()
}

/// Stores `entries` as the whole log, behind the registry's back.
fn set_log_entries(r: &Reg, entries: &[Vec<u8>]) {
    let c = db(r);
    c.execute("DELETE FROM log_pages", []).unwrap();
    for (page, chunk) in entries.chunks(log_pages::PAGE as usize).enumerate() {
        c.execute(
            "INSERT INTO log_pages (page, entries) VALUES (?1, ?2)",
            rusqlite::params![page as i64, log_pages::encode(chunk)],
        )
        .unwrap();
    }
}

fn log_entry(r: &Reg, idx: i64) -> Vec<u8> {
    log_entries(r)[idx as usize].clone()
}

/// Replaces entry `idx` of the stored log.
fn set_log_entry(r: &Reg, idx: i64, bytes: Vec<u8>) {
    let mut entries = log_entries(r);
    entries[idx as usize] = bytes;
    set_log_entries(r, &entries);
}

fn find_entry(r: &Reg, pred: impl Fn(&Entry) -> bool) -> i64 {
    let entries = log_entries(r);
    entries.iter().position(|e| pred(&Entry::from_bytes(e).unwrap())).unwrap() as i64
}

#[test]
fn honest_registry_is_clean_with_counts() {
    let r = registry();
    let report = registry::audit(&r.path).unwrap();
    assert!(report.clean(), "{report}");
    let counts = report.evidence["events_per_signer"].as_array().unwrap();
    assert!(counts.iter().any(|c| c["epoch"] == 2
        && c["signer"] == "lab"
        && c["kind"] == "positive_test"
        && c["events"] == 1));
    assert!(counts
        .iter()
        .any(|c| c["epoch"] == 3 && c["signer"] == "lab two" && c["kind"] == "negative_test"));
}

#[test]
fn leaf_turned_red_without_an_event_is_caught() {
    let r = registry();
    // The depositor (holder 3) gets a leaf whose state says "positive test yesterday".
    let cm = HolderFile::from_secret(103u64.into(), 10u64.into()).commitment;
    let red =
        healthcode_circuits::hashes::leaf(cm, &healthcode_circuits::state::pack(&[T0 - DAY, T0 - DAY, 0, 0]));
    // Leaf 3 is the last child of the first leaf group.
    let c = db(&r);
    let mut group: Vec<u8> =
        c.query_row("SELECT hashes FROM tree_groups WHERE level = 0 AND idx = 0", [], |r| r.get(0)).unwrap();
    group[96..128].copy_from_slice(&healthcode_circuits::field::to_bytes(&red));
    let n = c.execute("UPDATE tree_groups SET hashes = ?1 WHERE level = 0 AND idx = 0", [group]).unwrap();
    assert_eq!(n, 1);
    let report = registry::audit(&r.path).unwrap();
    assert_fails(&report, "stored holder tree", "leaf 3");
}

#[test]
fn forged_signature_is_caught_with_epoch_and_event() {
    let r = registry();
    let i = find_entry(&r, |e| matches!(&e.body, EntryBody::Event(se) if se.event.kind == "negative_test"));
    let mut bytes = log_entry(&r, i);
    let n = bytes.len();
    bytes[n - 1] ^= 1; // the last signature byte
    set_log_entry(&r, i, bytes);
    let report = registry::audit(&r.path).unwrap();
    assert_fails(&report, "log entries backed by signatures", &format!("epoch 2 entry {i} leaf 3 event"));
    assert_fails(&report, "log entries backed by signatures", "signature does not verify");
}

#[test]
fn event_from_a_revoked_signer_is_caught() {
    let r = registry();
    // The operator slips in an event signed by the revoked lab, accepted after the revocation,
    // replacing holder 3's epoch-3 negative test.
    let i = find_entry(
        &r,
        |e| matches!(&e.body, EntryBody::Event(se) if se.event.signer != r.lab.verifying_key() && se.event.kind == "negative_test"),
    );
    let reg = Registry::open(&r.path).unwrap();
    let forged = Entry {
        at: T0 + 20,
        body: EntryBody::Event(event(&reg, &r.lab, 3, "negative_test", T0 - DAY, None)),
    };
    set_log_entry(&r, i, forged.to_bytes());
    let report = registry::audit(&r.path).unwrap();
    assert_fails(
        &report,
        "log entries backed by signatures",
        "signer `lab` was not accredited at acceptance time",
    );
    assert_fails(&report, "log entries backed by signatures", &format!("epoch 3 entry {i} leaf 3"));
}

#[test]
fn head_resigned_over_a_rewritten_log_is_caught() {
    let r = registry();
    // Drop holder 3's epoch-2 negative test from the log, then re-sign the latest head over the
    // rewritten log, with roots recomputed so that head alone looks consistent.
    let i = find_entry(&r, |e| matches!(&e.body, EntryBody::Event(se) if se.event.kind == "negative_test"));
    let mut entries = log_entries(&r);
    entries.remove(i as usize);
    set_log_entries(&r, &entries);
    let conn = db(&r);
    let reg = Registry::open(&r.path).unwrap();
    let heads = reg.heads().unwrap();
    let entries = reg.log_entries(0, u64::MAX >> 1).unwrap();
    let replay = healthcode_registry::audit::replay_all(&entries, &[], &reg.public_key(), reg.policy());
    let last = heads.last().unwrap();
    let key_bytes: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'registry_secret_key'", [], |row| row.get(0))
        .unwrap();
    let key = SigningKey::from_bytes(&key_bytes.try_into().unwrap());
    let resigned = SignedHead::sign(
        &key,
        reg.policy().digest(),
        HeadFields {
            epoch: last.epoch,
            issued_at: last.issued_at,
            root: replay.tree.root(),
            holders: last.holders,
            log_size: entries.len() as u64,
            log_root: replay.log.root(),
        },
    );
    conn.execute(
        "UPDATE heads SET head = ?1 WHERE epoch = ?2",
        rusqlite::params![serde_json::to_string(&resigned).unwrap(), last.epoch],
    )
    .unwrap();
    let report = registry::audit(&r.path).unwrap();
    assert_fails(
        &report,
        "heads match the replayed log and tree",
        "epoch 2 log root differs from the replayed log",
    );
}

// ---- registry, from its public export only ----

/// The registry's public export, its key, and the published policy; the database is gone.
fn export(r: &Reg) -> (String, ed25519_dalek::VerifyingKey) {
    let reg = Registry::open(&r.path).unwrap();
    (healthcode_registry::LogExport::of(&reg).unwrap().to_json(), reg.public_key())
}

#[test]
fn honest_export_is_clean_without_the_database() {
    let r = registry();
    let (text, key) = export(&r);
    std::fs::remove_file(&r.path).unwrap();
    let report = registry::audit_export(&text, &Policy::parse(POLICY).unwrap(), &key).unwrap();
    assert!(report.clean(), "{report}");
    assert_eq!(report.checks.len(), 6);
    let counts = report.evidence["events_per_signer"].as_array().unwrap();
    assert!(counts.iter().any(|c| c["epoch"] == 2 && c["signer"] == "lab" && c["kind"] == "positive_test"));
}

#[test]
fn export_of_another_registry_key_or_policy_is_caught() {
    let r = registry();
    let (text, _) = export(&r);
    let policy = Policy::parse(POLICY).unwrap();
    let stranger = SigningKey::from_bytes(&[9; 32]).verifying_key();
    let report = registry::audit_export(&text, &policy, &stranger).unwrap();
    assert_fails(&report, "heads name the pinned registry key", "epoch 0, epoch 1, epoch 2, epoch 3");
    assert_fails(&report, "head signatures and order", "epoch 0");

    let (_, key) = export(&r);
    let report = registry::audit_export(&text, &undisclosed_criterion(), &key).unwrap();
    assert_fails(&report, "heads name the published policy", "epoch 3");
}

#[test]
fn forged_signature_in_an_export_is_caught() {
    let r = registry();
    let i = find_entry(&r, |e| matches!(&e.body, EntryBody::Event(se) if se.event.kind == "negative_test"));
    let (text, key) = export(&r);
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut bytes = hex::decode(json["entries"][i as usize].as_str().unwrap()).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    json["entries"][i as usize] = hex::encode(bytes).into();
    let report = registry::audit_export(&json.to_string(), &Policy::parse(POLICY).unwrap(), &key).unwrap();
    assert_fails(&report, "log entries backed by signatures", &format!("epoch 2 entry {i} leaf 3 event"));
    assert_fails(&report, "heads match the replayed log and tree", "log root differs");
}

#[test]
fn malformed_export_is_refused_as_bad_input() {
    let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
    let policy = Policy::parse(POLICY).unwrap();
    let err = registry::audit_export("{\"format\": 1", &policy, &key).unwrap_err();
    assert!(err.contains("not a registry log export") && err.contains("line 1"), "{err}");
}

// ---- issue 11: the time window and unknown signers ----

/// Puts `entry` straight into the registry's queue, as an operator who bypasses (or reconfigures)
/// the acceptance checks would, and publishes it at `at`: the registry signs a head over it.
fn smuggle_and_publish(r: &Reg, entry: Entry, at: u64) {
    db(r).execute("INSERT INTO queue (entry) VALUES (?1)", [entry.to_bytes()]).unwrap();
    Registry::open(&r.path).unwrap().publish(at).unwrap();
}

/// Issue 11, item 3: the operator widens its time window and accepts a positive test dated 13
/// days after its acceptance (it keeps the holder red for ~27 days). The log holds both times;
/// before, both audits reported clean. The published policy's window (`max_event_ahead`) flags
/// it, naming the event, its signer and both times.
#[test]
fn an_event_dated_outside_the_published_window_is_named() {
    let r = registry();
    let lab2 = SigningKey::from_bytes(&[3; 32]);
    let reg = Registry::open(&r.path).unwrap();
    let at = T0 + 40;
    let ahead = event(&reg, &lab2, 3, "positive_test", at + 13 * DAY, None);
    let id = hex::encode(ahead.event.id());
    drop(reg);
    smuggle_and_publish(&r, Entry { at, body: EntryBody::Event(ahead) }, T0 + 50);
    let (text, key) = export(&r);
    let policy = Policy::parse(POLICY).unwrap();
    for report in [registry::audit(&r.path).unwrap(), registry::audit_export(&text, &policy, &key).unwrap()] {
        assert!(!report.clean(), "a positive test dated 13 days ahead passed the audit: {report}");
        let f = failed(&report).join("\n");
        assert!(f.contains(&id[..16]) && f.contains("lab two"), "{f}");
        assert!(f.contains(&(at + 13 * DAY).to_string()) && f.contains(&at.to_string()), "{f}");
        let json = report.evidence["findings"].to_string();
        assert!(json.contains(&id) && json.contains("lab two"), "{json}");
    }
    // Dated too long before its acceptance (a "late lab report" older than max_event_behind).
    let r = registry();
    let reg = Registry::open(&r.path).unwrap();
    let old = event(&reg, &lab2, 2, "positive_test", at - 31 * DAY, None);
    drop(reg);
    smuggle_and_publish(&r, Entry { at, body: EntryBody::Event(old) }, T0 + 50);
    let report = registry::audit(&r.path).unwrap();
    assert!(!report.clean(), "{report}");
    assert!(failed(&report).join("\n").contains(&(at - 31 * DAY).to_string()), "{report}");
}

/// Issue 11, item 4: an event signed by a key that was never accredited gets into the log. The
/// audit names it by its key, in text and in `--json`, not only as "an unknown signer".
#[test]
fn an_unknown_signer_is_named_by_its_key() {
    let r = registry();
    let stranger = SigningKey::from_bytes(&[0x5a; 32]);
    let stranger_hex = hex::encode(stranger.verifying_key().as_bytes());
    let reg = Registry::open(&r.path).unwrap();
    let forged = event(&reg, &stranger, 0, "negative_test", T0, None);
    drop(reg);
    smuggle_and_publish(&r, Entry { at: T0 + 40, body: EntryBody::Event(forged) }, T0 + 50);
    let report = registry::audit(&r.path).unwrap();
    let f = failed(&report).join("\n");
    assert!(f.contains("unknown signer") && f.contains(&stranger_hex), "{f}");
    let json = report.evidence["findings"].to_string();
    assert!(json.contains(&stranger_hex), "{json}");
}

/// The look-back bounds (`max_index_case_age`, `max_retraction_age`): an operator that accepts a
/// contact citing a positive test accepted 31 days before, or a retraction 31 days after its
/// event, breaks a published rule; the audit replay names it (before these bounds, both passed).
#[test]
fn a_contact_or_retraction_beyond_the_lookback_bounds_is_named() {
    use healthcode_registry::event::Retraction;
    let tracer = SigningKey::from_bytes(&[2; 32]);
    let lab2 = SigningKey::from_bytes(&[3; 32]);
    let policy = Policy::parse(POLICY).unwrap();

    // The positive test of holder 0 was accepted at T0; a contact for holder 2 cites it 31 days on.
    let r = registry();
    let reg = Registry::open(&r.path).unwrap();
    let pos = event(&reg, &r.lab, 0, "positive_test", T0 - 2 * DAY, None).event.id();
    let at = T0 + 31 * DAY;
    let late = event(&reg, &tracer, 2, "close_contact", at - DAY, Some(pos));
    let id = hex::encode(late.event.id());
    drop(reg);
    smuggle_and_publish(&r, Entry { at, body: EntryBody::Event(late) }, at + 10);
    let (text, key) = export(&r);
    for report in [registry::audit(&r.path).unwrap(), registry::audit_export(&text, &policy, &key).unwrap()] {
        let f = failed(&report).join("\n");
        assert!(f.contains("max_index_case_age") && f.contains(&id[..16]), "{f}");
    }
    // At 30 days, the boundary, the same contact is within the rule.
    let r = registry();
    let reg = Registry::open(&r.path).unwrap();
    let at = T0 + 30 * DAY;
    let ok = event(&reg, &tracer, 2, "close_contact", at - DAY, Some(pos));
    drop(reg);
    smuggle_and_publish(&r, Entry { at, body: EntryBody::Event(ok) }, at + 10);
    let report = registry::audit(&r.path).unwrap();
    assert!(!failed(&report).join("\n").contains("max_index_case_age"), "{report}");

    // Holder 3's negative test by `lab two` was accepted at T0 + 20; retracted 31 days later.
    let r = registry();
    let reg = Registry::open(&r.path).unwrap();
    let neg = event(&reg, &lab2, 3, "negative_test", T0 - DAY, None).event.id();
    let retraction =
        Retraction { registry: reg.public_key(), event: neg, signer: lab2.verifying_key() }.sign(&lab2);
    drop(reg);
    let at = T0 + 20 + 31 * DAY;
    smuggle_and_publish(&r, Entry { at, body: EntryBody::Retraction(retraction) }, at + 10);
    let (text, key) = export(&r);
    for report in [registry::audit(&r.path).unwrap(), registry::audit_export(&text, &policy, &key).unwrap()] {
        let f = failed(&report).join("\n");
        assert!(f.contains("max_retraction_age") && f.contains(&hex::encode(neg)[..16]), "{f}");
    }
}

/// Archiving (`Registry::archive`) removes June's event rows and keeps each holder's floor: the
/// database audit still agrees with the log (the archived rows are expected to be gone). Then
/// the attacks on what archiving adds: a floor raised in place (the depositor, holder 3, would
/// turn red at her next retraction with no positive test in the log) and a floor removed (holder
/// 0's archived positive test would drop out) are each named by leaf.
#[test]
fn archived_months_audit_clean_and_edited_floors_are_named() {
    let r = registry();
    let mut reg = Registry::open(&r.path).unwrap();
    reg.publish(T0 + 70 * DAY).unwrap();
    let a = reg.archive().unwrap();
    assert_eq!((a.events, a.floors), (4, 3), "{a:?}");
    drop(reg);
    let report = registry::audit(&r.path).unwrap();
    assert!(report.clean(), "{report}");
    let red: Vec<u8> = [T0 - DAY, 0, 0, 0].iter().flat_map(|t| t.to_be_bytes()).collect();
    db(&r).execute("UPDATE floors SET state = ?1 WHERE holder = 3", [red]).unwrap();
    assert_fails(&registry::audit(&r.path).unwrap(), "stored states and log nodes", "floor of leaf 3");
    db(&r).execute("DELETE FROM floors WHERE holder = 0", []).unwrap();
    assert_fails(&registry::audit(&r.path).unwrap(), "stored states and log nodes", "floor of leaf 0");
}
