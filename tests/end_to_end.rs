//! End to end across the crates and the CLI: a real SQLite registry with signed events, witness
//! export, proving through `healthcode prove`, checking through `healthcode verify` (text, PNG
//! image, batch) and through the library checkpoint where a process per case would be too slow.
//!
//! One registry, one bundle and the codes of four holders are made once per test binary
//! ([`world`]); everything runs at the fixed clock [`NOW`] except the `demo` test, which runs the
//! real command on the real clock.

mod common;

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use common::{p, run, Outcome};
use ed25519_dalek::SigningKey;
use healthcode_circuits::policy::{Colour, Policy};
use healthcode_circuits::{field, hashes};
use healthcode_prover::{ProveError, ProveRequest, ProverBundle};
use healthcode_registry::event::Role;
use healthcode_registry::{Event, HolderFile, Registry, SignedEvent, SignedHead, WitnessFile};
use healthcode_verifier::{challenge, qr, Checkpoint, HealthQr, Payload, TrustedHead, VerifierBundle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const POLICY: &str = include_str!("../policies/henan-2022.toml");
/// 2022-06-14 12:00:00 UTC.
const NOW: u64 = 1_655_208_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
const VENUE: &str = "zhengzhou-east-station/gate-3";
/// The secret nonce a checkpoint issued for Li's identity binding (`healthcode nonce`).
const NONCE: &str = "6e6f6e63652d666f722d6c692d2d2121";
/// When the registry published the epoch every code of the world is proved over.
const HEAD_AT: u64 = NOW - HOUR;

// ---- the shared world ----------------------------------------------------------------------

struct Person {
    name: &'static str,
    document: &'static str,
    expected: Colour,
    /// The rule the policy fires for this holder (`None`: the default colour).
    rule: Option<u64>,
    holder: HolderFile,
    holder_file: PathBuf,
    witness_file: PathBuf,
    /// What `healthcode prove --json` printed.
    proved: Value,
    /// The text form, as written by `--out`.
    code: String,
    png: PathBuf,
}

struct World {
    dir: PathBuf,
    policy: Policy,
    db: PathBuf,
    bundle: PathBuf,
    heads: PathBuf,
    key: String,
    head: SignedHead,
    people: Vec<Person>,
    /// Li's code bound to her identity document, for the checkpoint's [`NONCE`], at `NOW`.
    bound: String,
    /// Chen's code at `HEAD_AT + max_root_age - 10`: fresh, over a head about to go stale.
    late: String,
    late_now: u64,
}

impl World {
    fn person(&self, name: &str) -> &Person {
        self.people.iter().find(|p| p.name == name).expect("a demo person")
    }
}

fn sign(
    reg: &Registry,
    key: &SigningKey,
    holder: u32,
    kind: &str,
    time: u64,
    case: Option<[u8; 32]>,
) -> SignedEvent {
    Event::signed_by(key, reg.public_key(), holder, kind, time, case)
}

/// Runs `healthcode ARGS`, expecting success.
fn ok(args: &[&str]) -> Outcome {
    let o = run(args);
    assert_eq!(o.code, 0, "{args:?}: {o:?}");
    o
}

fn write_registry(dir: &Path, now: u64) -> (Registry, SigningKey, SigningKey) {
    let mut reg = Registry::init(&dir.join("registry.db"), POLICY, now - 20 * DAY).unwrap();
    let lab = SigningKey::generate(&mut rand::rngs::OsRng);
    let tracer = SigningKey::generate(&mut rand::rngs::OsRng);
    reg.add_signer("Zhengzhou CDC laboratory", Role::Lab, lab.verifying_key(), 0, now - 20 * DAY).unwrap();
    reg.add_signer("Jinshui tracing team", Role::Tracer, tracer.verifying_key(), 0, now - 20 * DAY).unwrap();
    (reg, lab, tracer)
}

fn prove_args(w_bundle: &Path, key: &str, person: &Path, witness: &Path, now: u64) -> Vec<String> {
    [
        "prove",
        "--bundle",
        p(w_bundle),
        "--holder",
        p(person),
        "--witness",
        p(witness),
        "--registry-key",
        key,
        "--now",
        &now.to_string(),
        "--venue",
        VENUE,
        "--json",
    ]
    .map(String::from)
    .to_vec()
}

/// The registry, the bundle and every code, made once: registry and events through the library
/// (as a registry operator's service would), heads, witnesses, setup and proofs through the CLI.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("end_to_end");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let policy_file = dir.join("policy.toml");
        std::fs::write(&policy_file, POLICY).unwrap();

        let (mut reg, lab, tracer) = write_registry(&dir, NOW);
        let specs = [
            ("li", "G10000001", Colour::Red, Some(0)),
            ("wang", "G10000002", Colour::Red, Some(1)),
            ("zhang", "G10000003", Colour::Yellow, Some(2)),
            ("chen", "G10000004", Colour::Green, None),
        ];
        let mut enrolled = Vec::new();
        for (name, document, expected, rule) in specs {
            let holder = HolderFile::generate(document);
            let holder_file = dir.join(format!("{name}.holder.json"));
            std::fs::write(&holder_file, holder.to_json()).unwrap();
            let leaf = reg.enroll(holder.commitment, NOW - 20 * DAY).unwrap();
            enrolled.push((name, document, expected, rule, holder, holder_file, leaf));
        }
        reg.publish(NOW - 20 * DAY + 60).unwrap();
        let leaf = |i: usize| enrolled[i].6;
        let at = NOW - 2 * HOUR;
        let li_positive =
            reg.submit(&sign(&reg, &lab, leaf(0), "positive_test", NOW - 2 * DAY, None), at).unwrap();
        let close = sign(&reg, &tracer, leaf(1), "close_contact", NOW - DAY, Some(li_positive));
        reg.submit(&close, at).unwrap();
        let secondary = sign(&reg, &tracer, leaf(2), "secondary_contact", NOW - DAY, Some(li_positive));
        reg.submit(&secondary, at).unwrap();
        for days in [9, 2] {
            reg.submit(&sign(&reg, &lab, leaf(3), "negative_test", NOW - days * DAY, None), at).unwrap();
        }
        let head = reg.publish(HEAD_AT).unwrap();
        assert_eq!(head.epoch, 2);
        let key = hex::encode(reg.public_key().as_bytes());
        drop(reg);

        let db = dir.join("registry.db");
        let bundle = dir.join("bundle");
        let setup = ok(&["setup", "--policy", p(&policy_file), "--out", p(&bundle), "--json"]).json();
        assert_eq!(setup["setup"], "single-party");
        let heads = dir.join("heads.json");
        std::fs::write(&heads, ok(&["registry", "head", p(&db), "--all", "--json"]).stdout).unwrap();

        // Witness export, then every proof, two processes at a time (the machine has 2 cores).
        let mut jobs: Vec<Vec<String>> = Vec::new();
        for (name, _, _, _, _, holder_file, leaf) in &enrolled {
            let witness = dir.join(format!("{name}.witness.json"));
            ok(&["registry", "witness", p(&db), "--leaf", &leaf.to_string(), "-o", p(&witness)]);
            let mut a = prove_args(&bundle, &key, holder_file, &witness, NOW);
            let code_file = dir.join(format!("{name}.code.txt"));
            let png = dir.join(format!("{name}.png"));
            a.extend(["--out", p(&code_file), "--png", p(&png)].map(String::from));
            jobs.push(a);
        }
        let late_now = HEAD_AT + Policy::parse(POLICY).unwrap().max_root_age - 10;
        let mut bound = prove_args(&bundle, &key, &enrolled[0].5, &dir.join("li.witness.json"), NOW);
        let at = bound.iter().position(|a| a == "--venue").unwrap();
        bound.drain(at..at + 2);
        bound.extend(["--bind", "--nonce", NONCE].map(String::from));
        jobs.push(bound);
        jobs.push(prove_args(&bundle, &key, &enrolled[3].5, &dir.join("chen.witness.json"), late_now));
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let halves: Vec<_> = [0, 1]
                .map(|k| {
                    let jobs = &jobs;
                    s.spawn(move || jobs.iter().skip(k).step_by(2).map(|a| (a, run(a))).collect::<Vec<_>>())
                })
                .into_iter()
                .collect();
            let mut v: Vec<(&Vec<String>, Outcome)> =
                halves.into_iter().flat_map(|h| h.join().unwrap()).collect();
            v.sort_by_key(|(a, _)| jobs.iter().position(|j| j == *a).unwrap());
            v.into_iter().map(|(_, o)| o).collect()
        });
        for (a, o) in jobs.iter().zip(&outcomes) {
            assert_eq!(o.code, 0, "{a:?}: {o:?}");
        }
        let mut outcomes = outcomes.into_iter();
        let people = enrolled
            .into_iter()
            .map(|(name, document, expected, rule, holder, holder_file, _)| {
                let proved = outcomes.next().unwrap().json();
                let code =
                    std::fs::read_to_string(dir.join(format!("{name}.code.txt"))).unwrap().trim().to_string();
                Person {
                    name,
                    document,
                    expected,
                    rule,
                    holder,
                    holder_file,
                    witness_file: dir.join(format!("{name}.witness.json")),
                    proved,
                    code,
                    png: dir.join(format!("{name}.png")),
                }
            })
            .collect();
        let bound = outcomes.next().unwrap().json()["code"].as_str().unwrap().to_string();
        let late = outcomes.next().unwrap().json()["code"].as_str().unwrap().to_string();
        World {
            policy: Policy::parse(POLICY).unwrap(),
            dir,
            db,
            bundle,
            heads,
            key,
            head,
            people,
            bound,
            late,
            late_now,
        }
    })
}

// ---- verification helpers ------------------------------------------------------------------

/// `healthcode verify INPUT… --bundle --registry-key --heads --json OPTS…`.
fn verify_with(bundle: &Path, key: &str, heads: &Path, input: &[&str], opts: &[&str]) -> Outcome {
    let mut args = vec!["verify"];
    args.extend_from_slice(input);
    args.extend(["--bundle", p(bundle), "--registry-key", key, "--heads", p(heads), "--json"]);
    args.extend_from_slice(opts);
    run(&args)
}

fn verify(input: &[&str], now: u64, opts: &[&str]) -> Outcome {
    let w = world();
    let now = now.to_string();
    let mut all = vec!["--now", now.as_str()];
    all.extend_from_slice(opts);
    verify_with(&w.bundle, &w.key, &w.heads, input, &all)
}

#[track_caller]
fn assert_valid(o: &Outcome, colour: Colour) {
    assert_eq!(o.code, 0, "{o:?}");
    let v = o.json();
    assert_eq!(v["valid"], true, "{o:?}");
    assert_eq!(v["colour"], colour.name(), "{o:?}");
}

#[track_caller]
fn assert_invalid(o: &Outcome, reason: &str) {
    assert_eq!(o.code, 1, "{o:?}");
    let v = o.json();
    assert_eq!(v["valid"], false, "{o:?}");
    assert_eq!(v["reason"], reason, "{o:?}");
}

/// A library checkpoint on the world's bundle, trusting the heads file after checking every
/// signature with the registry key (what `healthcode verify` does).
fn library_checkpoint(bundle: &Path) -> Checkpoint {
    let w = world();
    let b = VerifierBundle::load(bundle).unwrap();
    let mut c = Checkpoint::from_bundle(&b).unwrap();
    let key = healthcode_registry::event::key_from_hex(&w.key).unwrap();
    let heads: Vec<SignedHead> = serde_json::from_str(&std::fs::read_to_string(&w.heads).unwrap()).unwrap();
    for h in heads {
        h.verify(&key, &w.policy.digest()).unwrap();
        c.add_head(TrustedHead { epoch: h.epoch, issued_at: h.issued_at, root: h.root }).unwrap();
    }
    c
}

// ---- every colour --------------------------------------------------------------------------

#[test]
fn every_colour_is_proved_and_verified_from_text_image_and_batch() {
    let w = world();
    let colours: std::collections::BTreeSet<_> = w.people.iter().map(|p| p.expected).collect();
    assert_eq!(colours.len(), 3, "the world covers green, yellow and red");
    for person in &w.people {
        let proved = &person.proved;
        assert_eq!(proved["colour"], person.expected.name(), "{}", person.name);
        assert_eq!(proved["rule"].as_u64(), person.rule, "{}", person.name);
        assert_eq!(proved["because"].is_string(), person.rule.is_some(), "{}", person.name);
        assert_eq!(proved["epoch"], w.head.epoch);
        assert_eq!(proved["now"], NOW);
        assert_eq!(proved["code"], person.code.as_str(), "--out writes the printed code");
        assert!(proved["bytes"].as_u64().unwrap() <= 250, "payload ≤ 250 bytes");
        assert!((1..=10).contains(&proved["qr_version"].as_u64().unwrap()), "QR version ≤ 10");

        let text = verify(&[&person.code], NOW, &["--venue", VENUE]);
        assert_valid(&text, person.expected);
        let image = verify(&["--image", p(&person.png)], NOW, &["--venue", VENUE]);
        assert_valid(&image, person.expected);
    }
    // The human form prints the colour as a banner.
    let chen = w.person("chen");
    let human = run([
        "verify",
        &chen.code,
        "--bundle",
        p(&w.bundle),
        "--registry-key",
        &w.key,
        "--heads",
        p(&w.heads),
        "--now",
        &NOW.to_string(),
        "--venue",
        VENUE,
    ]);
    assert_eq!((human.code, human.stdout.trim()), (0, "GREEN"), "{human:?}");

    // A queue of codes at once (batch verification), a bad one in the middle named alone.
    let li = Payload::from_text(&w.person("li").code).unwrap();
    let mut forged = li.clone();
    forged.colour = Colour::Green; // Li claiming green with her red proof
    let mut lines: Vec<String> = w.people.iter().map(|p| p.code.clone()).collect();
    lines.insert(2, forged.to_text().unwrap());
    let batch = w.dir.join("queue.txt");
    std::fs::write(&batch, lines.join("\n")).unwrap();
    let o = verify(&["--batch", p(&batch)], NOW, &["--venue", VENUE]);
    assert_eq!(o.code, 1, "{o:?}");
    let v = o.json();
    assert_eq!(v["all_valid"], false);
    let rows = v["codes"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[2]["reason"], "bad-proof", "the forged green is refused: {v}");
    let good: Vec<&Value> = rows.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, r)| r).collect();
    for (row, person) in good.into_iter().zip(&w.people) {
        assert_eq!(row["valid"], true, "{}: {v}", person.name);
        assert_eq!(row["colour"], person.expected.name(), "{}", person.name);
    }
}

// ---- a colour the state does not give ------------------------------------------------------

#[test]
fn a_colour_the_state_does_not_give_cannot_be_proved() {
    let w = world();
    let bundle = ProverBundle::load(&w.bundle).unwrap();
    let prover = bundle.prover().unwrap();
    let key = healthcode_registry::event::key_from_hex(&w.key).unwrap();
    let head = TrustedHead { epoch: w.head.epoch, issued_at: w.head.issued_at, root: w.head.root };
    for person in &w.people {
        let file = WitnessFile::from_json(&std::fs::read_to_string(&person.witness_file).unwrap()).unwrap();
        let witness = file.statement_witness(&person.holder, &key, &bundle.policy, false).unwrap();
        for claimed in Colour::ALL.into_iter().filter(|c| *c != person.expected) {
            let request = ProveRequest {
                head,
                now: NOW,
                challenge: challenge::venue(VENUE),
                bind: false,
                claim: Some(claimed),
            };
            match prover.prove_code(&witness, &request, &mut rand::rngs::OsRng) {
                Err(ProveError::ColourNotGiven { claimed: c, actual }) => {
                    assert_eq!((c, actual), (claimed, person.expected), "{}", person.name)
                }
                other => panic!("{} claimed {claimed}: {:?}", person.name, other.map(|p| p.payload.colour)),
            }
        }
    }
    // The depositor claiming the colour the rules give proves, and the checkpoint agrees.
    let chen = w.person("chen");
    let file = WitnessFile::from_json(&std::fs::read_to_string(&chen.witness_file).unwrap()).unwrap();
    let witness = file.statement_witness(&chen.holder, &key, &bundle.policy, false).unwrap();
    let request = ProveRequest {
        head,
        now: NOW,
        challenge: challenge::venue(VENUE),
        bind: false,
        claim: Some(Colour::Green),
    };
    let proved = prover.prove_code(&witness, &request, &mut rand::rngs::OsRng).unwrap();
    let checkpoint = library_checkpoint(&w.bundle);
    let bytes = proved.payload.encode().unwrap();
    assert_eq!(checkpoint.verify(&bytes, NOW, Some(challenge::venue(VENUE)), None), Ok(Colour::Green));
    // Relabelling that green proof red is caught by the proof check.
    let mut red = proved.payload.clone();
    red.colour = Colour::Red;
    assert_eq!(checkpoint.verify_payload(&red, NOW, None, None).map_err(|e| e.reason()), Err("bad-proof"));

    // The CLI has no way to name a colour.
    let o = run([
        "prove",
        "--bundle",
        p(&w.bundle),
        "--holder",
        p(&chen.holder_file),
        "--witness",
        p(&chen.witness_file),
        "--registry-key",
        &w.key,
        "--colour",
        "red",
    ]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("--colour"), "{o:?}");

    // Nor can the depositor's device make its state red: a positive test the registry never
    // signed does not open under the signed root.
    let tampered = tamper_state(&chen.witness_file, "positive_test", NOW - HOUR);
    let o = run(prove_args(&w.bundle, &w.key, &chen.holder_file, &tampered, NOW));
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("signed root"), "{o:?}");
    assert!(o.stdout.is_empty(), "no code printed: {o:?}");
}

/// A copy of a witness file with one state time changed.
fn tamper_state(witness: &Path, kind: &str, time: u64) -> PathBuf {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(witness).unwrap()).unwrap();
    v["state"][kind] = time.into();
    let out = witness.with_extension(format!("tampered-{kind}.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    out
}

// ---- flipped bytes -------------------------------------------------------------------------

/// Where the fields of a bound payload sit (found by value, not by assuming the layout). A bound
/// payload carries no challenge.
struct Layout {
    tag: std::ops::Range<usize>,
    proof: std::ops::Range<usize>,
}

fn find(haystack: &[u8], needle: &[u8]) -> std::ops::Range<usize> {
    let i = haystack.windows(needle.len()).position(|w| w == needle).expect("field present");
    i..i + needle.len()
}

fn layout(payload: &Payload, bytes: &[u8]) -> Layout {
    Layout {
        tag: find(bytes, &field::to_bytes(&payload.binding_tag.unwrap())),
        proof: bytes.len() - 128..bytes.len(),
    }
}

#[test]
fn every_payload_byte_flipped_is_invalid_never_a_panic() {
    let w = world();
    let checkpoint = library_checkpoint(&w.bundle);
    let li = w.person("li");
    let id = hashes::id_hash(li.document);
    let nonce = Some(challenge::nonce(NONCE).unwrap());
    let payload = Payload::from_text(&w.bound).unwrap();
    let bytes = payload.encode().unwrap();
    assert_eq!(checkpoint.verify(&bytes, NOW, nonce, Some(id)), Ok(Colour::Red), "the original is valid");
    let at = layout(&payload, &bytes);
    assert_eq!(at.tag.end, at.proof.start, "bound payload: … tag, proof");
    assert_eq!(payload.challenge, None, "a bound payload does not carry its challenge");

    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            let what = format!("byte {i} ^ {mask:#04x}");
            // The checkpoint's nonce only: the proof must catch most of these.
            let open = checkpoint.verify(&b, NOW, nonce, None).expect_err(&what).reason();
            // The checkpoint's own nonce and the holder's document.
            let strict = checkpoint.verify(&b, NOW, nonce, Some(id)).expect_err(&what).reason();
            *reasons.entry(open).or_default() += 1;
            let allowed: &[&str] = match i {
                0 => &["malformed"],        // version
                1..=8 => &["wrong-policy"], // policy digest prefix
                _ if at.tag.contains(&i) => &["malformed", "bad-proof"],
                _ if at.proof.contains(&i) => &["malformed", "bad-proof"],
                // epoch, now, colour and flags
                // (clearing the bound flag reads the tag as a challenge: not the checkpoint's nonce,
                // and no longer bound where the checkpoint asks for the document)
                _ => &[
                    "malformed",
                    "unknown-head",
                    "stale-code",
                    "code-from-future",
                    "wrong-challenge",
                    "binding-required",
                    "bad-proof",
                ],
            };
            assert!(allowed.contains(&open), "{what}: {open}");
            if at.tag.contains(&i) {
                assert!(["malformed", "binding-mismatch"].contains(&strict), "{what}: {strict}");
            } else {
                assert!(allowed.contains(&strict), "{what}: {strict}");
            }
        }
        // The text form of the flipped bytes fails the same way.
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let text = flipped_text(&b);
        assert!(checkpoint.verify(text.as_bytes(), NOW, None, None).is_err(), "text, byte {i}");
    }
    println!("reasons over {} flips of a {}-byte code: {reasons:?}", 3 * bytes.len(), bytes.len());
    for r in ["malformed", "wrong-policy", "unknown-head", "bad-proof"] {
        assert!(reasons.contains_key(r), "no flip gave {r}: {reasons:?}");
    }

    // A handful through the CLI: exit 1 with the reason, never a panic (checked by `run`).
    let flip = |i: usize, mask: u8| {
        let mut b = bytes.clone();
        b[i] ^= mask;
        flipped_text(&b)
    };
    let doc = ["--nonce", NONCE, "--document", li.document];
    assert_invalid(&verify(&[&flip(0, 0x01)], NOW, &doc), "malformed");
    assert_invalid(&verify(&[&flip(3, 0x80)], NOW, &doc), "wrong-policy");
    assert_invalid(&verify(&[&flip(9, 0x01)], NOW, &doc), "unknown-head"); // epoch 2 → 3
    assert_invalid(&verify(&[&flip(at.tag.end - 1, 0x01)], NOW, &doc), "binding-mismatch");
    assert_invalid(&verify(&[&flip(at.tag.end - 1, 0x01)], NOW, &["--nonce", NONCE]), "bad-proof");
    for (i, mask) in [(at.proof.start + 5, 0x01), (bytes.len() - 1, 0xff)] {
        let o = verify(&[&flip(i, mask)], NOW, &doc);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(["malformed", "bad-proof"].contains(&o.json()["reason"].as_str().unwrap()), "{o:?}");
    }
    // Truncated and extended codes.
    assert_invalid(&verify(&[&flipped_text(&bytes[..bytes.len() - 1])], NOW, &doc), "malformed");
    let mut longer = bytes.clone();
    longer.push(0);
    assert_invalid(&verify(&[&flipped_text(&longer)], NOW, &doc), "malformed");
}

fn flipped_text(bytes: &[u8]) -> String {
    // The text form is the prefix and unpadded base64url; build it without the encoder's checks.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::from(healthcode_verifier::TEXT_PREFIX);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (k, b)| n | (u32::from(*b) << (16 - 8 * k)));
        for k in 0..=chunk.len() {
            s.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
        }
    }
    s
}

#[test]
fn the_text_encoder_of_these_tests_matches_the_payload_encoder() {
    let w = world();
    for person in &w.people {
        let payload = Payload::from_text(&person.code).unwrap();
        assert_eq!(flipped_text(&payload.encode().unwrap()), person.code);
    }
}

// ---- each reason, through the CLI ----------------------------------------------------------

#[test]
fn stale_head_is_invalid_even_with_a_fresh_code() {
    let w = world();
    let max = w.policy.max_root_age;
    assert_eq!(w.head.issued_at, HEAD_AT);
    let late = Payload::from_text(&w.late).unwrap();
    assert_eq!((late.epoch, late.now), (w.head.epoch, w.late_now));
    // Fresh code, head exactly at its age limit: valid. One second later: stale head, even though
    // the code itself is only 11 s old.
    assert_valid(&verify(&[&w.late], w.late_now, &["--venue", VENUE]), Colour::Green);
    assert_valid(&verify(&[&w.late], HEAD_AT + max, &["--venue", VENUE]), Colour::Green);
    assert_invalid(&verify(&[&w.late], HEAD_AT + max + 1, &["--venue", VENUE]), "stale-head");

    // Once the registry has published a newer head, a checkpoint trusting both still refuses a
    // code over the old one when the old one is stale (docs/soundness.md §13).
    let mut reg = Registry::open(&w.db).unwrap();
    let newer = reg.publish(HEAD_AT + max - 60).unwrap();
    assert_eq!(newer.epoch, w.head.epoch + 1);
    let newer_heads = w.dir.join("heads-later.json");
    std::fs::write(&newer_heads, serde_json::to_string(&reg.heads().unwrap()).unwrap()).unwrap();
    let now = (HEAD_AT + max + 1).to_string();
    let o = verify_with(&w.bundle, &w.key, &newer_heads, &[&w.late], &["--now", &now, "--venue", VENUE]);
    assert_invalid(&o, "stale-head");

    // The prover refuses to make a code over a stale head in the first place.
    let chen = w.person("chen");
    let o = run(prove_args(&w.bundle, &w.key, &chen.holder_file, &chen.witness_file, HEAD_AT + max + 1));
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("max_root_age"), "{o:?}");
}

#[test]
fn stale_code_is_invalid() {
    let w = world();
    let max = w.policy.max_code_age;
    let wang = w.person("wang");
    assert_valid(&verify(&[&wang.code], NOW + max, &["--venue", VENUE]), Colour::Red);
    assert_invalid(&verify(&[&wang.code], NOW + max + 1, &["--venue", VENUE]), "stale-code");
    assert_invalid(&verify(&["--image", p(&wang.png)], NOW + max + 1, &["--venue", VENUE]), "stale-code");
    // And a code from further ahead than the clock-skew tolerance.
    assert_invalid(&verify(&[&wang.code], NOW - 3600, &["--venue", VENUE]), "code-from-future");
}

#[test]
fn wrong_challenge_is_invalid() {
    let w = world();
    let zhang = w.person("zhang");
    assert_invalid(
        &verify(&[&zhang.code], NOW, &["--venue", "zhengzhou-east-station/gate-4"]),
        "wrong-challenge",
    );
    assert_invalid(&verify(&["--image", p(&zhang.png)], NOW, &["--venue", "elsewhere"]), "wrong-challenge");
    // No challenge issued: bad input unless the checkpoint knowingly accepts any challenge.
    assert_eq!(verify(&[&zhang.code], NOW, &[]).code, 2);
    assert_valid(&verify(&[&zhang.code], NOW, &["--insecure-accept-any-challenge"]), Colour::Yellow);
    assert_valid(&verify(&[&zhang.code], NOW, &["--venue", VENUE]), Colour::Yellow);
    assert_eq!(Payload::from_text(&zhang.code).unwrap().challenge, Some(challenge::venue(VENUE)));

    // Without --venue the prover answers the time slot of `now`, derived as the checkpoint does;
    // a checkpoint that shows a venue code refuses it.
    let mut args = prove_args(&w.bundle, &w.key, &zhang.holder_file, &zhang.witness_file, NOW);
    let at = args.iter().position(|a| a == "--venue").unwrap();
    args.drain(at..at + 2);
    let o = run(&args);
    assert_eq!(o.code, 0, "{o:?}");
    let slot_code = o.json()["code"].as_str().unwrap().to_string();
    assert_eq!(Payload::from_text(&slot_code).unwrap().challenge, Some(challenge::time_slot(NOW)));
    assert_valid(&verify(&[&slot_code], NOW, &["--slot"]), Colour::Yellow);
    assert_invalid(&verify(&[&slot_code], NOW, &["--venue", VENUE]), "wrong-challenge");
}

/// The example policy with one duration changed, its bundle, and a registry on it.
struct OtherPolicy {
    bundle: PathBuf,
    key: String,
    heads: PathBuf,
}

fn other_policy() -> &'static OtherPolicy {
    static OTHER: OnceLock<OtherPolicy> = OnceLock::new();
    OTHER.get_or_init(|| {
        let w = world();
        let dir = w.dir.join("other-policy");
        std::fs::create_dir_all(&dir).unwrap();
        let text = POLICY.replace("within(close_contact, 14d)", "within(close_contact, 10d)");
        assert_ne!(text, POLICY);
        let policy_file = dir.join("policy.toml");
        std::fs::write(&policy_file, &text).unwrap();
        let bundle = dir.join("bundle");
        healthcode_prover::setup(&text, &bundle, &mut rand::rngs::OsRng).unwrap();
        let mut reg = Registry::init(&dir.join("registry.db"), &text, NOW - 20 * DAY).unwrap();
        reg.publish(NOW - 2 * HOUR).unwrap();
        reg.publish(HEAD_AT).unwrap();
        let heads = dir.join("heads.json");
        std::fs::write(&heads, serde_json::to_string(&reg.heads().unwrap()).unwrap()).unwrap();
        OtherPolicy { bundle, key: hex::encode(reg.public_key().as_bytes()), heads }
    })
}

#[test]
fn wrong_policy_bundle_is_invalid() {
    let w = world();
    let other = other_policy();
    let li = w.person("li");
    let now = NOW.to_string();
    let opts = ["--now", now.as_str(), "--venue", VENUE];

    // A checkpoint enforcing the other policy, with heads its registry signed for that policy.
    let o = verify_with(&other.bundle, &other.key, &other.heads, &[&li.code], &opts);
    assert_invalid(&o, "wrong-policy");
    let o = verify_with(&other.bundle, &other.key, &other.heads, &["--image", p(&li.png)], &opts);
    assert_invalid(&o, "wrong-policy");
    // Heads signed for our policy are refused by a checkpoint on the other one: bad input.
    let o = verify_with(&other.bundle, &w.key, &w.heads, &[&li.code], &opts);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("another policy"), "{o:?}");

    // Library: the other policy's checkpoint trusting our heads refuses by digest; with the digest
    // prefix re-stamped to the other policy's, the other circuit's key refuses the proof.
    let mut checkpoint = Checkpoint::from_bundle(&VerifierBundle::load(&other.bundle).unwrap()).unwrap();
    for h in library_checkpoint(&w.bundle).heads() {
        checkpoint.add_head(*h).unwrap();
    }
    let venue = Some(challenge::venue(VENUE));
    let payload = Payload::from_text(&li.code).unwrap();
    assert_eq!(
        checkpoint.verify_payload(&payload, NOW, venue, None).map_err(|e| e.reason()),
        Err("wrong-policy")
    );
    let mut restamped = payload.clone();
    restamped.policy_prefix.copy_from_slice(&checkpoint.policy_digest()[..8]);
    assert_eq!(
        checkpoint.verify_payload(&restamped, NOW, venue, None).map_err(|e| e.reason()),
        Err("bad-proof")
    );
    // Our own checkpoint accepts the same code.
    assert_eq!(library_checkpoint(&w.bundle).verify_payload(&payload, NOW, venue, None), Ok(Colour::Red));

    // The prover refuses our witness with the other bundle.
    let o = run(prove_args(&other.bundle, &w.key, &li.holder_file, &li.witness_file, NOW));
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("another policy"), "{o:?}");
}

/// Another registry on the same policy: `(key, heads file with epoch 0 only, heads file up to
/// epoch 2)`.
fn other_registry() -> &'static (String, PathBuf, PathBuf) {
    static OTHER: OnceLock<(String, PathBuf, PathBuf)> = OnceLock::new();
    OTHER.get_or_init(|| {
        let dir = world().dir.join("other-registry");
        std::fs::create_dir_all(&dir).unwrap();
        let (mut reg, _, _) = write_registry(&dir, NOW);
        let only_genesis = dir.join("heads-0.json");
        std::fs::write(&only_genesis, serde_json::to_string(&reg.heads().unwrap()).unwrap()).unwrap();
        reg.publish(NOW - 2 * HOUR).unwrap();
        reg.publish(HEAD_AT).unwrap();
        let all = dir.join("heads.json");
        std::fs::write(&all, serde_json::to_string(&reg.heads().unwrap()).unwrap()).unwrap();
        (hex::encode(reg.public_key().as_bytes()), only_genesis, all)
    })
}

#[test]
fn wrong_registry_key_is_refused_or_invalid() {
    let w = world();
    let (other_key, only_genesis, other_heads) = other_registry();
    let chen = w.person("chen");
    let now = NOW.to_string();
    let opts = ["--now", now.as_str(), "--venue", VENUE];

    // Our registry's heads checked with another registry's key: bad input, clearly said.
    let o = verify_with(&w.bundle, other_key, &w.heads, &[&chen.code], &opts);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("signed by another registry"), "{o:?}");
    assert!(o.stdout.is_empty(), "no verdict printed: {o:?}");
    // A malformed key: bad input too.
    let o = verify_with(&w.bundle, "00ff", &w.heads, &[&chen.code], &opts);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("--registry-key"), "{o:?}");

    // A checkpoint that only trusts another registry: the code's head is unknown …
    assert_invalid(&verify_with(&w.bundle, other_key, only_genesis, &[&chen.code], &opts), "unknown-head");
    // … and where that registry has an epoch of the same number, its root is not the code's.
    assert_invalid(&verify_with(&w.bundle, other_key, other_heads, &[&chen.code], &opts), "bad-proof");

    // The prover refuses a witness whose head the given key did not sign.
    let o = run(prove_args(&w.bundle, other_key, &chen.holder_file, &chen.witness_file, NOW));
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("signed by another registry"), "{o:?}");
}

#[test]
fn identity_bound_code_needs_the_right_document() {
    let w = world();
    let li = w.person("li");
    let wang = w.person("wang");
    let bound = Payload::from_text(&w.bound).unwrap();
    assert!(bound.binding_tag.is_some());
    assert!(Payload::from_text(&li.code).unwrap().binding_tag.is_none(), "binding is off by default");
    assert_valid(&verify(&[&w.bound], NOW, &["--nonce", NONCE, "--document", li.document]), Colour::Red);
    assert_valid(&verify(&[&w.bound], NOW, &["--nonce", NONCE]), Colour::Red);
    assert_invalid(
        &verify(&[&w.bound], NOW, &["--nonce", NONCE, "--document", wang.document]),
        "binding-mismatch",
    );
    assert_invalid(
        &verify(&[&w.bound], NOW, &["--nonce", NONCE, "--document", "G1000000"]),
        "binding-mismatch",
    );
    // Shown at a checkpoint with a posted venue code: it answers a nonce that checkpoint did not
    // give, and says so (not `bad-proof`: the holder is no forger).
    assert_invalid(&verify(&[&w.bound], NOW, &["--venue", VENUE]), "nonce-required");
    assert_invalid(
        &verify(&[&li.code], NOW, &["--nonce", NONCE, "--document", li.document]),
        "binding-required",
    );
}

// ---- QR images -----------------------------------------------------------------------------

#[test]
fn qr_png_round_trips_through_the_image_decoder() {
    let w = world();
    for person in &w.people {
        let png = std::fs::read(&person.png).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", person.name);
        let payload = Payload::from_text(&person.code).unwrap();
        assert_eq!(
            qr::read_image(&png).unwrap(),
            payload.encode().unwrap(),
            "{}: QR carries the binary payload",
            person.name
        );
        assert_eq!(qr::decode_image(&png).unwrap(), payload, "{}", person.name);
        // Rendering again from the decoded payload reads back the same.
        let again = HealthQr::new(&qr::decode_image(&png).unwrap()).unwrap();
        assert!(again.version() <= 10);
        assert_eq!(qr::decode_image(&again.to_png()).unwrap(), payload);
    }
    // A PNG that holds no code is bad input for the CLI, not an invalid code.
    let blank = w.dir.join("blank.png");
    let mut png = std::fs::read(&w.people[0].png).unwrap();
    png.truncate(png.len() / 2);
    std::fs::write(&blank, png).unwrap();
    let o = verify(&["--image", p(&blank)], NOW, &["--venue", VENUE]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("blank.png"), "{o:?}");
}

// ---- malleability --------------------------------------------------------------------------

#[test]
fn a_rerandomised_proof_verifies_and_changes_no_decision() {
    let w = world();
    let li = w.person("li");
    let vk = VerifierBundle::load(&w.bundle).unwrap().verifying_key;
    let original = Payload::from_text(&w.bound).unwrap();
    let mut rr = original.clone();
    rr.proof = Groth16::<Bn254>::rerandomize_proof(&vk, &original.proof, &mut rand::rngs::OsRng);
    assert_ne!(rr.proof, original.proof);
    let rr_text = rr.to_text().unwrap();
    assert_ne!(rr_text, w.bound, "new proof bytes");
    let max = w.policy.max_code_age;
    let cases: [(u64, &[&str]); 5] = [
        (NOW, &["--nonce", NONCE, "--document", li.document]),
        (NOW + max + 1, &["--nonce", NONCE]),
        (NOW, &["--nonce", "00000000000000000000000000000000"]),
        (NOW, &["--nonce", NONCE, "--document", "G10000002"]),
        (HEAD_AT + w.policy.max_root_age + 1, &["--nonce", NONCE]),
    ];
    let mut reasons = Vec::new();
    for (now, opts) in cases {
        let a = verify(&[&w.bound], now, opts);
        let b = verify(&[&rr_text], now, opts);
        assert_eq!(a.code, b.code, "{opts:?}: {a:?} vs {b:?}");
        assert_eq!(a.json(), b.json(), "{opts:?}");
        reasons.push(b.json()["reason"].as_str().unwrap_or("valid").to_string());
    }
    assert_eq!(reasons, ["valid", "stale-code", "bad-proof", "binding-mismatch", "stale-head"]);
    // Both in one queue: both valid (nothing keys on proof bytes), same colour.
    let queue = w.dir.join("rerandomised.txt");
    std::fs::write(&queue, format!("{}\n{rr_text}\n", w.bound)).unwrap();
    let o = verify(&["--batch", p(&queue)], NOW, &["--nonce", NONCE]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.json()["codes"][1]["colour"], "red");
    // Rerandomising does not let the colour change.
    let mut green = rr.clone();
    green.colour = Colour::Green;
    assert_invalid(&verify(&[&green.to_text().unwrap()], NOW, &["--nonce", NONCE]), "bad-proof");
}

// ---- the demo ------------------------------------------------------------------------------

#[test]
fn the_demo_runs_clean_and_its_files_verify() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("demo");
    let o = ok(&["demo", "--dir", p(&d), "--no-qr"]);
    assert!(o.stderr.is_empty(), "{o:?}");
    assert_eq!(o.stdout.matches("refused (").count(), 3, "the three 2022 attempts are refused: {o:?}");
    assert!(o.stdout.contains("Chen proves again over the new head: GREEN"), "{o:?}");
    for f in ["policy.toml", "registry.db", "bundle/manifest.json", "heads.json"] {
        assert!(d.join(f).exists(), "{f}");
    }
    let head = ok(&["registry", "head", p(&d.join("registry.db")), "--json"]).json();
    let key = head["registry"].as_str().unwrap().to_string();
    assert!(o.stdout.contains(&key), "the demo prints its registry key");
    assert_eq!(ok(&["registry", "audit", p(&d.join("registry.db")), "--json"]).json()["clean"], true);

    // The closing commands name the binary by its full path and work when copied: the two
    // audits, then a fresh proof and its check (the demo's own codes expire after max_code_age).
    let bin = assert_cmd::cargo::cargo_bin("healthcode");
    let printed: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix(p(&bin)))
        .map(|rest| rest.split_whitespace().collect())
        .collect();
    let verbs: Vec<&str> = printed.iter().map(|args| args[0]).collect();
    assert_eq!(verbs, ["audit", "audit", "prove", "verify"], "{o:?}");
    assert!(o.stdout.contains("expire 300 s (max_code_age)"), "{o:?}");
    for args in &printed {
        let done = std::process::Command::new(&bin).args(args).output().unwrap();
        assert!(done.status.success(), "{args:?}: {}", String::from_utf8_lossy(&done.stderr));
    }
    assert!(d.join("chen-fresh.png").exists());

    let (bundle, heads) = (d.join("bundle"), d.join("heads.json"));
    for (name, colour) in
        [("li", Colour::Red), ("wang", Colour::Red), ("zhang", Colour::Yellow), ("chen", Colour::Green)]
    {
        for f in ["holder.json", "witness.json", "code.txt", "png"] {
            assert!(d.join(format!("{name}.{f}")).exists(), "{name}.{f}");
        }
        let code = std::fs::read_to_string(d.join(format!("{name}.code.txt"))).unwrap();
        let png = d.join(format!("{name}.png"));
        // On the real clock: the demo's codes are fresh for max_code_age.
        assert_valid(&verify_with(&bundle, &key, &heads, &[code.trim()], &["--venue", VENUE]), colour);
        assert_valid(&verify_with(&bundle, &key, &heads, &["--image", p(&png)], &["--venue", VENUE]), colour);
    }
    // The demo's holder and witness files prove again on a fresh device.
    let zhang = ok(&[
        "prove",
        "--bundle",
        p(&bundle),
        "--holder",
        p(&d.join("zhang.holder.json")),
        "--witness",
        p(&d.join("zhang.witness.json")),
        "--registry-key",
        &key,
        "--json",
    ])
    .json();
    assert_eq!(zhang["colour"], "yellow");
    let code = zhang["code"].as_str().unwrap();
    assert_valid(&verify_with(&bundle, &key, &heads, &[code], &["--slot"]), Colour::Yellow);
    // A second demo in the same directory is refused rather than mixing two registries.
    assert_eq!(run(["demo", "--dir", p(&d), "--no-qr"]).code, 2);
}

// ---- secrets in errors ---------------------------------------------------------------------

#[test]
fn cli_errors_never_show_the_secret_or_the_state() {
    let w = world();
    let chen = w.person("chen");
    let li = w.person("li");
    let (other_key, _, _) = other_registry();
    let dir = w.dir.join("secrets");
    std::fs::create_dir_all(&dir).unwrap();

    // Chen's holder file with one digit of the public key changed: inconsistent.
    let mut holder: Value = serde_json::from_str(&chen.holder.to_json()).unwrap();
    let pk = holder["pk"].as_str().unwrap().to_string();
    let last = if pk.ends_with('0') { "1" } else { "0" };
    holder["pk"] = format!("{}{last}", &pk[..pk.len() - 1]).into();
    let corrupt_holder = dir.join("corrupt.holder.json");
    std::fs::write(&corrupt_holder, holder.to_string()).unwrap();
    // Chen's witness with a shortened path.
    let mut witness: Value =
        serde_json::from_str(&std::fs::read_to_string(&chen.witness_file).unwrap()).unwrap();
    witness["path"]["siblings"].as_array_mut().unwrap().pop();
    let short_path = dir.join("short.witness.json");
    std::fs::write(&short_path, witness.to_string()).unwrap();

    let tampered = tamper_state(&chen.witness_file, "close_contact", NOW - 3 * DAY);
    let mut failing: Vec<(&str, Vec<String>)> = vec![
        ("tampered state", prove_args(&w.bundle, &w.key, &chen.holder_file, &tampered, NOW)),
        (
            "another registry's key",
            prove_args(&w.bundle, other_key, &chen.holder_file, &chen.witness_file, NOW),
        ),
        ("another holder's witness", prove_args(&w.bundle, &w.key, &chen.holder_file, &li.witness_file, NOW)),
        ("stale head", prove_args(&w.bundle, &w.key, &chen.holder_file, &chen.witness_file, NOW + DAY)),
        ("inconsistent holder file", prove_args(&w.bundle, &w.key, &corrupt_holder, &chen.witness_file, NOW)),
        ("short Merkle path", prove_args(&w.bundle, &w.key, &chen.holder_file, &short_path, NOW)),
        ("witness as holder", prove_args(&w.bundle, &w.key, &chen.witness_file, &chen.witness_file, NOW)),
        ("holder as witness", prove_args(&w.bundle, &w.key, &chen.holder_file, &chen.holder_file, NOW)),
        ("time beyond 2^40", prove_args(&w.bundle, &w.key, &chen.holder_file, &chen.witness_file, 1 << 41)),
    ];
    let other = other_policy();
    failing.push((
        "other policy",
        prove_args(&other.bundle, &w.key, &chen.holder_file, &chen.witness_file, NOW),
    ));
    let mut secrets: Vec<(String, String)> = Vec::new();
    for person in [chen, li] {
        let sk = field::to_hex(&person.holder.sk);
        secrets.push((format!("{}'s sk", person.name), sk[2..].to_string()));
        secrets.push((format!("{}'s sk, decimal", person.name), person.holder.sk.to_string()));
        // A prefix long enough to be a leak, short enough to catch partial prints.
        secrets.push((format!("{}'s sk prefix", person.name), sk[2..18].to_string()));
        let file: Value =
            serde_json::from_str(&std::fs::read_to_string(&person.witness_file).unwrap()).unwrap();
        for (kind, t) in file["state"].as_object().unwrap() {
            let t = t.as_u64().unwrap();
            if t != 0 {
                secrets.push((format!("{}'s {kind} time", person.name), t.to_string()));
            }
        }
    }
    secrets.push(("tampered close_contact time".into(), (NOW - 3 * DAY).to_string()));
    assert!(secrets.len() >= 9, "{secrets:?}");
    for (what, args) in &failing {
        let o = run(args);
        assert_ne!(o.code, 0, "{what}: should fail: {o:?}");
        assert!(!o.stderr.trim().is_empty(), "{what}: says why: {o:?}");
        for (name, secret) in &secrets {
            assert!(!o.stderr.contains(secret.as_str()), "{what}: stderr shows {name}: {o:?}");
            assert!(!o.stdout.contains(secret.as_str()), "{what}: stdout shows {name}: {o:?}");
        }
    }
}

#[test]
fn a_malformed_witness_file_error_does_not_echo_its_state() {
    // A witness file whose time was written as a string (a buggy exporter, a hand edit): the
    // error must say where the file is wrong, not print the health data it holds.
    let w = world();
    let li = w.person("li");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&li.witness_file).unwrap()).unwrap();
    let positive = file["state"]["positive_test"].as_u64().unwrap();
    assert_eq!(positive, NOW - 2 * DAY);
    file["state"]["positive_test"] = positive.to_string().into();
    let bad = w.dir.join("li.string-time.witness.json");
    std::fs::write(&bad, file.to_string()).unwrap();
    let o = run(prove_args(&w.bundle, &w.key, &li.holder_file, &bad, NOW));
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("not a witness file"), "{o:?}");
    assert!(!o.stderr.contains(&positive.to_string()), "stderr shows Li's positive_test time: {o:?}");
}
