//! Issue 11: the abuses of a code that held on the command line before, each replayed as an
//! outside tester would, against the real `healthcode` binary.
//!
//! One bundle (single-party setup, development keys) is made once per test binary; each test
//! builds its own small registry through the library at the fixed clock [`T0`].

mod common;

use common::{p, run, Outcome};
use ed25519_dalek::SigningKey;
use healthcode_registry::event::Role;
use healthcode_registry::{Event, HolderFile, Registry, SignedEvent};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const POLICY: &str = include_str!("../policies/henan-2022.toml");
/// 2022-06-14 12:00:00 UTC.
const T0: u64 = 1_655_208_000;
const MINUTE: u64 = 60;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
const VENUE: &str = "zhengzhou-east-station/gate-3";

/// The example policy's bundle, made once.
fn bundle() -> &'static (PathBuf, PathBuf) {
    static BUNDLE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_abuse");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let policy = dir.join("policy.toml");
        std::fs::write(&policy, POLICY).unwrap();
        let bundle = dir.join("bundle");
        let o = run(["setup", "--policy", p(&policy), "--out", p(&bundle), "--json"]);
        assert_eq!(o.code, 0, "{o:?}");
        (bundle, policy)
    })
}

/// A registry with one lab and one tracer in a fresh directory.
struct World {
    dir: tempfile::TempDir,
    reg: Registry,
    lab: SigningKey,
    tracer: SigningKey,
    key: String,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::init(&dir.path().join("registry.db"), POLICY, T0 - 20 * DAY).unwrap();
        let lab = SigningKey::generate(&mut rand::rngs::OsRng);
        let tracer = SigningKey::generate(&mut rand::rngs::OsRng);
        reg.add_signer("Zhengzhou CDC laboratory", Role::Lab, lab.verifying_key(), 0, T0 - 20 * DAY).unwrap();
        reg.add_signer("Jinshui tracing team", Role::Tracer, tracer.verifying_key(), 0, T0 - 20 * DAY)
            .unwrap();
        let key = hex::encode(reg.public_key().as_bytes());
        World { dir, reg, lab, tracer, key }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sign(
        &self,
        key: &SigningKey,
        holder: u32,
        kind: &str,
        time: u64,
        case: Option<[u8; 32]>,
    ) -> SignedEvent {
        Event::signed_by(key, self.reg.public_key(), holder, kind, time, case)
    }

    /// Enrols a holder with `document`, writing its holder file; returns the file and leaf.
    fn holder(&mut self, name: &str, document: &str, at: u64) -> (PathBuf, u32) {
        let h = HolderFile::generate(document);
        let file = self.path(&format!("{name}.holder.json"));
        std::fs::write(&file, h.to_json()).unwrap();
        (file, self.reg.enroll(h.commitment, at).unwrap())
    }

    fn witness(&self, leaf: u32, name: &str) -> PathBuf {
        let file = self.path(name);
        std::fs::write(&file, self.reg.witness(leaf).unwrap().to_json()).unwrap();
        file
    }

    fn heads(&self, name: &str) -> PathBuf {
        let file = self.path(name);
        std::fs::write(&file, serde_json::to_string(&self.reg.heads().unwrap()).unwrap()).unwrap();
        file
    }

    fn prove(&self, holder: &Path, witness: &Path, now: u64, extra: &[&str]) -> Outcome {
        let now = now.to_string();
        let mut args = vec![
            "prove",
            "--bundle",
            p(&bundle().0),
            "--holder",
            p(holder),
            "--witness",
            p(witness),
            "--registry-key",
            &self.key,
            "--now",
            &now,
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    }

    fn verify(&self, code: &str, heads: &Path, clock: u64, extra: &[&str]) -> Outcome {
        let clock = clock.to_string();
        let mut args = vec![
            "verify",
            code,
            "--bundle",
            p(&bundle().0),
            "--registry-key",
            &self.key,
            "--heads",
            p(heads),
            "--now",
            &clock,
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    }
}

#[track_caller]
fn assert_colour(o: &Outcome, colour: &str) {
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.json()["colour"], colour, "{o:?}");
}

#[track_caller]
fn assert_reason(o: &Outcome, reason: &str) {
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(o.json()["reason"], reason, "{o:?}");
}

// ---- 1. superseded heads -------------------------------------------------------------------

/// A holder proves GREEN over epoch 1, signed before her positive test; epoch 2 (with the test)
/// exists and the checkpoint holds it. Before issue 11 the checkpoint accepted the green code
/// until epoch 1 was older than max_root_age (6 h); now it accepts it for head_grace (10 min)
/// after epoch 2 was issued, then refuses it as `superseded-head`. `prove` refuses to make such a
/// code when it is given the newer head, and says how to get a fresh witness.
#[test]
fn a_green_code_over_a_superseded_head_is_refused_after_the_grace() {
    let mut w = World::new();
    let (holder, leaf) = w.holder("su", "G20000001", T0 - 10 * DAY);
    let epoch1_at = T0 - 2 * HOUR;
    w.reg.publish(epoch1_at).unwrap();
    let old_witness = w.witness(leaf, "su.epoch1.witness.json");
    // Her positive test arrives; epoch 2 is published an hour later.
    let epoch2_at = T0 - HOUR;
    w.reg.submit(&w.sign(&w.lab, leaf, "positive_test", T0 - 90 * MINUTE, None), T0 - 80 * MINUTE).unwrap();
    assert_eq!(w.reg.publish(epoch2_at).unwrap().epoch, 2);
    let heads = w.heads("heads.json");
    let grace = 10 * MINUTE;

    // Within the grace after epoch 2: the green code over epoch 1 is still accepted.
    let at_grace = epoch2_at + grace;
    let o = w.prove(&holder, &old_witness, at_grace, &["--venue", VENUE]);
    assert_eq!(o.code, 0, "without the newer heads the device cannot know: {o:?}");
    let code = o.json()["code"].as_str().unwrap().to_string();
    assert_eq!(o.json()["colour"], "green");
    assert_colour(&w.verify(&code, &heads, at_grace, &["--venue", VENUE]), "green");

    // One second past the grace: refused, although epoch 1 is far from max_root_age.
    let late = at_grace + 1;
    let o = w.prove(&holder, &old_witness, late, &["--venue", VENUE]);
    let code = o.json()["code"].as_str().unwrap().to_string();
    let v = w.verify(&code, &heads, late, &["--venue", VENUE]);
    assert_reason(&v, "superseded-head");
    assert!(v.json()["detail"].as_str().unwrap().contains("epoch 2"), "{v:?}");

    // The prover, given the registry's heads, refuses (exit 2) and says what to do …
    let o = w.prove(&holder, &old_witness, late, &["--venue", VENUE, "--heads", p(&heads)]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("superseded by epoch 2") && o.stderr.contains("registry witness"), "{o:?}");
    // … or, with the flag, proves and warns.
    let o = w.prove(
        &holder,
        &old_witness,
        late,
        &["--venue", VENUE, "--heads", p(&heads), "--allow-superseded-head"],
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("warning") && o.stderr.contains("superseded-head"), "{o:?}");
    // Within the grace it proves without a word.
    let o = w.prove(&holder, &old_witness, at_grace, &["--venue", VENUE, "--heads", p(&heads)]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{o:?}");

    // The fresh witness gives her true colour.
    let fresh = w.witness(leaf, "su.epoch2.witness.json");
    let o = w.prove(&holder, &fresh, late, &["--venue", VENUE, "--heads", p(&heads)]);
    assert_eq!(o.json()["colour"], "red", "{o:?}");
    let code = o.json()["code"].as_str().unwrap().to_string();
    assert_colour(&w.verify(&code, &heads, late, &["--venue", VENUE]), "red");
    let _ = &w.tracer;
}

// ---- 2. a challenge by default -------------------------------------------------------------

/// A screenshot of a code made for one venue, shown at a checkpoint that names no challenge.
/// Before issue 11 `verify` without `--venue` or `--slot` checked no challenge at all and accepted
/// it (exit 0) for max_code_age; now that is bad input (exit 2) unless the checkpoint says, with a
/// loudly named flag, that it accepts any challenge.
#[test]
fn verify_without_a_challenge_is_refused() {
    let mut w = World::new();
    let (holder, leaf) = w.holder("chen", "G20000004", T0 - 10 * DAY);
    w.reg.publish(T0 - HOUR).unwrap();
    let witness = w.witness(leaf, "chen.witness.json");
    let heads = w.heads("heads.json");
    let o = w.prove(&holder, &witness, T0, &["--venue", "another-venue"]);
    let code = o.json()["code"].as_str().unwrap().to_string();

    let o = w.verify(&code, &heads, T0 + 10, &[]);
    assert_eq!(o.code, 2, "a checkpoint without a challenge accepts screenshots: {o:?}");
    assert!(o.stderr.contains("--venue") && o.stderr.contains("--slot"), "{o:?}");
    // With the checkpoint's own venue the screenshot is refused; with the flag it passes, loudly.
    assert_reason(&w.verify(&code, &heads, T0 + 10, &["--venue", VENUE]), "wrong-challenge");
    let o = w.verify(&code, &heads, T0 + 10, &["--insecure-accept-any-challenge"]);
    assert_colour(&o, "green");
    assert!(o.stderr.contains("warning") && o.stderr.contains("screenshot"), "{o:?}");
}

// ---- 4. binding without an oracle ----------------------------------------------------------

/// The offline test anyone holding a bound code could run on a guessed document number: does
/// `H(id_hash(guess), challenge)` equal the code's tag, for a challenge the code carries or any
/// public one (the posted venue, the time slots around the code's `now`)?
fn offline_test(code: &str, guess: &str) -> bool {
    use healthcode_circuits::hashes;
    use healthcode_verifier::{challenge, Payload};
    let p = Payload::from_text(code).unwrap();
    let Some(tag) = p.binding_tag else { return false };
    let mut candidates: Vec<healthcode_circuits::Fr> = vec![challenge::venue(VENUE)];
    candidates.extend([p.now, p.now.saturating_sub(300)].map(challenge::time_slot));
    candidates.extend(carried_challenge(&p));
    candidates.iter().any(|c| hashes::binding_tag(hashes::id_hash(guess), *c) == tag)
}

/// Issue 11, item 5: a code bound to a document at a checkpoint. Before, the tag was
/// H(id_hash, public challenge): anyone who saw the code could test document-number guesses
/// offline, and two bound codes of one holder at one venue carried the same tag.
#[test]
fn bound_codes_are_unlinkable_and_no_offline_test_of_a_document() {
    let mut w = World::new();
    let document = "410102199001011234";
    let (holder, leaf) = w.holder("li", document, T0 - 10 * DAY);
    w.reg.publish(T0 - HOUR).unwrap();
    let witness = w.witness(leaf, "li.witness.json");
    let heads = w.heads("heads.json");
    let first = bind_at_checkpoint(&w, &holder, &witness, &heads, document, T0);
    let second = bind_at_checkpoint(&w, &holder, &witness, &heads, document, T0 + 30);

    for code in [&first, &second] {
        assert!(!offline_test(code, document), "the code alone tests the true document number");
        assert!(!offline_test(code, "410102199001011235"));
    }
    let tag = |c: &str| healthcode_verifier::Payload::from_text(c).unwrap().binding_tag.unwrap();
    assert_ne!(tag(&first), tag(&second), "two bindings of one holder at one venue are linkable");
}

/// The challenge a code carries: none for a bound code (before issue 11 every code carried one).
fn carried_challenge(p: &healthcode_verifier::Payload) -> Option<healthcode_circuits::Fr> {
    p.challenge
}

/// A binding at a checkpoint: the checkpoint issues a fresh secret nonce (`healthcode nonce`) and
/// shows it to the holder's device only; the device proves with `--bind --nonce`; the checkpoint
/// verifies with its nonce and the document it inspected. Returns the code. (Before issue 11 the
/// device bound to the venue's posted challenge: `--bind --venue`, now refused.)
fn bind_at_checkpoint(
    w: &World,
    holder: &Path,
    witness: &Path,
    heads: &Path,
    document: &str,
    at: u64,
) -> String {
    let o = w.prove(holder, witness, at, &["--bind", "--venue", VENUE]);
    assert_eq!(o.code, 2, "binding to a public challenge is refused: {o:?}");
    let nonce = run(["nonce", "--json"]).json()["nonce"].as_str().unwrap().to_string();
    assert_eq!(nonce.len(), 32);
    let o = w.prove(holder, witness, at, &["--bind", "--nonce", &nonce]);
    assert_eq!(o.code, 0, "{o:?}");
    let code = o.json()["code"].as_str().unwrap().to_string();
    assert!(!code.contains(&nonce));
    assert_colour(&w.verify(&code, heads, at, &["--nonce", &nonce, "--document", document]), "green");
    // Another document, another checkpoint's nonce, or no nonce: refused.
    let other = run(["nonce"]).stdout.trim().to_string();
    assert_reason(&w.verify(&code, heads, at, &["--nonce", &nonce, "--document", "G1"]), "binding-mismatch");
    assert_reason(
        &w.verify(&code, heads, at, &["--nonce", &other, "--document", document]),
        "binding-mismatch",
    );
    assert_reason(&w.verify(&code, heads, at, &["--nonce", &other]), "bad-proof");
    // At a checkpoint with a posted venue code the holder is told her code needs that
    // checkpoint's nonce, not accused of a forgery (it used to be `bad-proof`).
    assert_reason(&w.verify(&code, heads, at, &["--venue", VENUE]), "nonce-required");
    assert_reason(&w.verify(&code, heads, at, &["--insecure-accept-any-challenge"]), "nonce-required");
    assert_eq!(
        w.verify(&code, heads, at, &["--venue", VENUE, "--document", document]).code,
        2,
        "--document needs --nonce"
    );
    assert_eq!(
        w.verify(&code, heads, at, &["--nonce", "00ff", "--document", document]).code,
        2,
        "a short nonce"
    );
    code
}

// ---- 5. inclusion receipts -----------------------------------------------------------------

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Issue 11, item 2: a lab signs the depositor's clearing negative test; the registry accepts it
/// (and signs a receipt), then never publishes it. Before issue 11 nothing showed it: it was in no
/// output, and the audit of the public record was clean. Now `receipt check` says "pending" before
/// the deadline and, after it, exit 1 naming the event, with evidence that the audit accepts as a
/// finding against the registry.
#[test]
fn a_receipted_event_withheld_is_provable() {
    let mut w = World::new();
    let now = unix_now();
    let (_, leaf) = w.holder("chen", "G20000004", T0 - 10 * DAY);
    w.reg.publish(now - 100).unwrap();
    let db = w.path("registry.db");
    let event = w.sign(&w.lab, leaf, "negative_test", now - HOUR, None);
    let events = w.path("events.jsonl");
    std::fs::write(&events, serde_json::to_string(&event).unwrap() + "\n").unwrap();
    let receipts = w.path("receipts.jsonl");
    let o = run(["registry", "submit", p(&db), p(&events), "--json", "--receipts-out", p(&receipts)]);
    assert_eq!(o.code, 0, "{o:?}");
    let id = hex::encode(event.event.id());
    assert_eq!(o.json()["results"][0]["receipt"]["event"], id.as_str(), "{o:?}");
    let receipt = w.path("chen.receipt.json");
    std::fs::write(&receipt, std::fs::read_to_string(&receipts).unwrap().trim()).unwrap();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    let publish_by = r["publish_by"].as_u64().unwrap();
    assert_eq!(publish_by, r["accepted_at"].as_u64().unwrap() + HOUR, "the policy's max_merge_delay");

    // The operator drops it from the queue and publishes without it, twice (after the deadline).
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(conn.execute("DELETE FROM queue", []).unwrap(), 1);
    drop(conn);
    let mut reg = Registry::open(&db).unwrap();
    reg.publish(now + 60).unwrap();
    let export = w.path("registry-log.json");
    let write_export = |reg: &Registry| {
        std::fs::write(&export, healthcode_registry::LogExport::of(reg).unwrap().to_json()).unwrap()
    };
    write_export(&reg);
    let check = |at: u64, receipt: &Path| {
        run([
            "receipt",
            "check",
            "--receipt",
            p(receipt),
            "--export",
            p(&export),
            "--registry-key",
            &w.key,
            "--now",
            &at.to_string(),
            "--json",
        ])
    };
    // Before the deadline: pending.
    let o = check(now + 120, &receipt);
    assert_eq!((o.code, o.json()["status"].as_str()), (0, Some("pending")), "{o:?}");
    // The audit of the public record alone sees nothing wrong: that was the abuse.
    let audit = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "registry",
            "--export",
            p(&export),
            "--policy",
            p(&bundle().1),
            "--registry-key",
            &w.key,
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    assert_eq!(audit(&[]).code, 0, "the withheld event is invisible without its receipt");

    // After the deadline, with a head issued after it: not included, exit 1, evidence written.
    reg.publish(publish_by + 10).unwrap();
    write_export(&reg);
    let o = check(publish_by + 20, &receipt);
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(o.json()["status"], "not-included");
    assert_eq!(o.json()["event"], id.as_str());
    let after = (publish_by + 20).to_string();
    let text = run([
        "receipt",
        "check",
        "--receipt",
        p(&receipt),
        "--export",
        p(&export),
        "--registry-key",
        &w.key,
        "--now",
        &after,
    ]);
    assert!(text.code == 1 && text.stdout.contains(&id) && text.stdout.contains("NOT INCLUDED"), "{text:?}");
    let evidence = o.json()["evidence"].as_str().unwrap().to_string();
    let a = audit(&["--evidence", &evidence]);
    assert_eq!(a.code, 1, "the audit accepts the evidence as a finding: {a:?}");
    assert!(a.stdout.contains(&id) && a.stdout.contains("withheld"), "{a:?}");

    // An event that was published: included, with its inclusion proof checked.
    let late = w.sign(&w.lab, leaf, "negative_test", publish_by - 60, None);
    let ok_id = reg.submit(&late, publish_by + 30).unwrap();
    let ok_receipt = w.path("ok.receipt.json");
    std::fs::write(&ok_receipt, serde_json::to_string(&reg.receipt(ok_id, publish_by + 30)).unwrap())
        .unwrap();
    reg.publish(publish_by + 40).unwrap();
    write_export(&reg);
    let o = check(publish_by + 50, &ok_receipt);
    assert_eq!((o.code, o.json()["status"].as_str()), (0, Some("included")), "{o:?}");
    // Honest evidence (a head that has the event) is no finding.
    assert_eq!(audit(&[]).code, 0);

    // A receipt with a forged signature, or under another key: bad input (exit 2).
    let mut forged: Value = serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    let sig = forged["signature"].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    forged["signature"] = flipped.into();
    let forged_file = w.path("forged.receipt.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let o = check(publish_by + 50, &forged_file);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("signature"), "{o:?}");
    forged["publish_by"] = (publish_by + 10 * DAY).into();
    forged["signature"] = sig.into();
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    assert_eq!(check(publish_by + 50, &forged_file).code, 2, "a moved deadline breaks the signature");
    let _ = &w.tracer;
}

/// Issue 11, item 2: the citizen's own history from files she has (the public export, her holder
/// file, the published policy), not from the registry's database: her events with their signers,
/// log positions and checked inclusion proofs, and the rule that fires.
#[test]
fn a_holder_reads_her_history_from_the_public_record() {
    let mut w = World::new();
    let (holder, leaf) = w.holder("li", "G20000001", T0 - 10 * DAY);
    let (_, other) = w.holder("wang", "G20000002", T0 - 10 * DAY);
    w.reg.publish(T0 - 5 * HOUR).unwrap();
    let pos =
        w.reg.submit(&w.sign(&w.lab, leaf, "positive_test", T0 - 2 * DAY, None), T0 - 4 * HOUR).unwrap();
    w.reg.submit(&w.sign(&w.tracer, other, "close_contact", T0 - DAY, Some(pos)), T0 - 4 * HOUR).unwrap();
    w.reg.publish(T0 - 3 * HOUR).unwrap();
    let export = w.path("registry-log.json");
    std::fs::write(&export, healthcode_registry::LogExport::of(&w.reg).unwrap().to_json()).unwrap();
    std::fs::remove_file(w.path("registry.db")).ok();
    let args = |json: bool| {
        let mut a = vec![
            "holder".to_string(),
            "history".into(),
            "--holder".into(),
            p(&holder).into(),
            "--export".into(),
            p(&export).into(),
            "--registry-key".into(),
            w.key.clone(),
            "--policy".into(),
            p(&bundle().1).into(),
            "--now".into(),
            T0.to_string(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    let o = run(args(true));
    assert_eq!(o.code, 0, "{o:?}");
    let v = o.json();
    assert_eq!(
        (v["leaf_index"].as_u64(), v["colour"].as_str(), v["rule"].as_u64()),
        (Some(leaf as u64), Some("red"), Some(0))
    );
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "only her own events: {v}");
    assert_eq!(events[0]["id"], hex::encode(pos));
    assert_eq!(events[0]["signer"], "Zhengzhou CDC laboratory");
    assert!(events[0]["inclusion"]["proof"].is_array());
    let text = run(args(false));
    assert!(
        text.stdout.contains("positive_test") && text.stdout.contains("inclusion proof checked"),
        "{text:?}"
    );
    assert!(text.stdout.contains("positive test within 14 days"), "the rule and why: {text:?}");
    // Another registry's key: bad input.
    let mut bad = args(true);
    bad[7] = hex::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes());
    assert_eq!(run(&bad).code, 2);
}

// ---- issue 15: empty inputs at the checkpoint ---------------------------------------------------

/// An empty or blank `--batch` file, or a heads file holding no heads, is bad input (exit 2, the
/// file named): it used to pass with no output (batch) or fail as an invalid code (heads).
#[test]
fn an_empty_batch_or_heads_file_is_bad_input() {
    let mut w = World::new();
    w.holder("li", "G20000009", T0 - DAY);
    w.reg.publish(T0 - HOUR).unwrap();
    let heads = w.heads("heads.json");
    let now = T0.to_string();
    let verify = |batch: &Path, heads: &Path| {
        run([
            "verify",
            "--batch",
            p(batch),
            "--bundle",
            p(&bundle().0),
            "--registry-key",
            &w.key,
            "--heads",
            p(heads),
            "--now",
            &now,
            "--venue",
            VENUE,
        ])
    };
    for (name, text) in [("empty.txt", ""), ("blank.txt", "\n  \n\t\n")] {
        std::fs::write(w.path(name), text).unwrap();
        let o = verify(&w.path(name), &heads);
        assert_eq!(o.code, 2, "{o:?}");
        assert!(o.stderr.contains(name) && o.stderr.contains("holds no codes"), "{o:?}");
    }
    std::fs::write(w.path("one.txt"), "HC1:not-a-code\n").unwrap();
    std::fs::write(w.path("no-heads.json"), "[]").unwrap();
    let o = verify(&w.path("one.txt"), &w.path("no-heads.json"));
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("no-heads.json") && o.stderr.contains("holds no signed heads"), "{o:?}");
}
