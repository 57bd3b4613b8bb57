//! `healthcode demo`: the whole story on embedded defaults, in a fresh directory.
//!
//! A registry on the example policy, a lab and a tracer, four holders (a positive test, a close
//! contact, a contact of a contact, and a bank depositor with only negative tests), the policy
//! bundle, each holder's witness, proof and QR code, and a checkpoint verifying them from the PNG
//! images. Then the 2022 attack: turning the depositor red without a signed event is refused, and
//! the depositor's code stays green.

use crate::cmd::code::trusted;
use crate::output::{unix_now, write_file, CliError, CliResult};
use clap::Args;
use ed25519_dalek::SigningKey;
use healthcode_circuits::policy::Colour;
use healthcode_prover::{ProveRequest, ProverBundle};
use healthcode_registry::event::Role;
use healthcode_registry::{Event, HolderFile, LogExport, Registry, RegistryError, SignedEvent};
use healthcode_verifier::{challenge, qr, Checkpoint, HealthQr, VerifierBundle};
use std::path::{Path, PathBuf};

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
const VENUE: &str = "zhengzhou-east-station/gate-3";

#[derive(Args)]
pub struct DemoArgs {
    /// Directory for the demo's files (default: a new temporary directory, kept afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Do not print the QR codes on the terminal.
    #[arg(long)]
    pub no_qr: bool,
}

struct Person {
    name: &'static str,
    document: &'static str,
    story: &'static str,
    expected: Colour,
    holder: HolderFile,
    leaf: u32,
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::fail(e)
}

fn step(title: &str) {
    println!("\n== {title}");
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

pub fn run(a: DemoArgs) -> CliResult {
    let dir = match a.dir {
        Some(d) => {
            std::fs::create_dir_all(&d)
                .map_err(|e| CliError::bad(format!("cannot create {}: {e}", d.display())))?;
            d
        }
        None => tempfile::Builder::new().prefix("healthcode-demo-").tempdir().map_err(fail)?.keep(),
    };
    let now = unix_now();
    let mut rng = rand::rngs::OsRng;

    step("1. Registry on the published policy, with an accredited lab and tracer");
    let policy_file = dir.join("policy.toml");
    write_file(&policy_file, POLICY)?;
    let db = dir.join("registry.db");
    if db.exists() {
        return Err(CliError::bad(format!("{} already holds a demo: use another --dir", dir.display())));
    }
    let mut reg = Registry::init(&db, POLICY, now - 20 * DAY).map_err(fail)?;
    let lab = SigningKey::generate(&mut rng);
    let tracer = SigningKey::generate(&mut rng);
    reg.add_signer("Zhengzhou CDC laboratory", Role::Lab, lab.verifying_key(), 0, now - 20 * DAY)
        .map_err(fail)?;
    reg.add_signer("Jinshui district tracing team", Role::Tracer, tracer.verifying_key(), 0, now - 20 * DAY)
        .map_err(fail)?;
    let registry_key = hex::encode(reg.public_key().as_bytes());
    println!("registry {}  key {registry_key}", db.display());

    step("2. Holders enrol from their phones (the registry only sees commitments)");
    let mut people = vec![
        ("Li", "G10000001", "tested positive 2 days ago", Colour::Red),
        ("Wang", "G10000002", "close contact of Li, 1 day ago", Colour::Red),
        ("Zhang", "G10000003", "contact of a close contact, 1 day ago", Colour::Yellow),
        ("Chen", "G10000004", "depositor of a failed rural bank; only negative tests", Colour::Green),
    ]
    .into_iter()
    .map(|(name, document, story, expected)| {
        let holder = HolderFile::generate(document);
        write_file(&dir.join(format!("{}.holder.json", name.to_lowercase())), holder.to_json())?;
        let leaf = reg.enroll(holder.commitment, now - 20 * DAY).map_err(fail)?;
        println!("  {name:<6} leaf {leaf}: {story}");
        Ok(Person { name, document, story, expected, holder, leaf })
    })
    .collect::<Result<Vec<_>, CliError>>()?;
    reg.publish(now - 20 * DAY).map_err(fail)?;

    step("3. The lab and the tracer sign events; the registry publishes an epoch");
    // Accepted two hours ago, published an hour ago (the audit checks acceptance precedes publish).
    let at = now - 2 * HOUR;
    let li_positive = reg
        .submit(&event(&reg, &lab, people[0].leaf, "positive_test", now - 2 * DAY, None), at)
        .map_err(fail)?;
    reg.submit(&event(&reg, &tracer, people[1].leaf, "close_contact", now - DAY, Some(li_positive)), at)
        .map_err(fail)?;
    reg.submit(&event(&reg, &tracer, people[2].leaf, "secondary_contact", now - DAY, Some(li_positive)), at)
        .map_err(fail)?;
    for days in [9, 2] {
        reg.submit(&event(&reg, &lab, people[3].leaf, "negative_test", now - days * DAY, None), at)
            .map_err(fail)?;
    }
    let head = reg.publish(now - HOUR).map_err(fail)?;
    println!("  epoch {} signed: {} holders, {} log entries", head.epoch, head.holders, head.log_size);

    step("4. The key ceremony: phase 1, the circuit's initial key, three contributors, a public beacon");
    let bundle_dir = dir.join("bundle");
    let phase1_file = dir.join("phase1.ptau");
    let policy = healthcode_circuits::policy::Policy::parse(POLICY).map_err(fail)?;
    let manifest = ceremony(&policy, &bundle_dir, &phase1_file, &mut rng)?;
    println!(
        "  bundle {} ({} constraints, circuit {}…), {} contributions verified",
        bundle_dir.display(),
        manifest.circuit.constraints,
        &manifest.circuit.digest[..16],
        manifest.ceremony.as_ref().map_or(0, |c| c.contributions.len())
    );

    step("5. Each holder's phone proves its colour for the venue's challenge");
    let checkpoint = checkpoint(&bundle_dir, &reg)?;
    for p in &mut people {
        let code = prove(&dir, &bundle_dir, &reg, p, now, !a.no_qr && p.expected == Colour::Green)?;
        let colour = verify_png(&checkpoint, &code, now)?;
        println!("  checkpoint reads {}'s QR code: {}", p.name, colour.name().to_uppercase());
        if colour != p.expected {
            return Err(fail(format!("{} should be {}", p.name, p.expected)));
        }
    }

    step("6. The 2022 attack: turn the depositor red without a signed positive test");
    let chen = people[3].leaf;
    let issuer_key = SigningKey::generate(&mut rng);
    let attempts = [
        (
            "signed with the issuer's own, unaccredited key",
            event(&reg, &issuer_key, chen, "positive_test", now - HOUR, None),
        ),
        ("claimed to be the lab's, with a forged signature", {
            let mut e = event(&reg, &issuer_key, chen, "positive_test", now - HOUR, None);
            e.event.signer = lab.verifying_key();
            e
        }),
        (
            "a close contact naming no index case",
            event(&reg, &tracer, chen, "close_contact", now - HOUR, None),
        ),
    ];
    for (what, e) in attempts {
        match reg.submit(&e, now) {
            Err(RegistryError::Refused(r)) => println!("  refused ({what}): {r}"),
            Ok(_) => return Err(fail("the registry accepted an unsigned red")),
            Err(e) => return Err(fail(e)),
        }
    }
    let head = reg.publish(now - 1).map_err(fail)?;
    println!("  epoch {}: nothing was queued, Chen's leaf is unchanged", head.epoch);
    let checkpoint = self::checkpoint(&bundle_dir, &reg)?;
    let code = prove(&dir, &bundle_dir, &reg, &people[3], now, false)?;
    let colour = verify_png(&checkpoint, &code, now)?;
    println!("  Chen proves again over the new head: {}", colour.name().to_uppercase());
    if colour != Colour::Green {
        return Err(fail("the depositor's code did not stay green"));
    }

    let public_log = dir.join("registry-log.json");
    write_file(&public_log, LogExport::of(&reg).map_err(fail)?.to_json() + "\n")?;

    step("Files");
    println!("  directory      {}", dir.display());
    println!("  policy         {}", policy_file.display());
    println!("  registry       {}  (key {registry_key})", db.display());
    println!("  bundle         {}", bundle_dir.display());
    println!("  holders        {}/<name>.holder.json, witnesses <name>.witness.json", dir.display());
    println!("  health codes   {}/<name>.code.txt and <name>.png", dir.display());
    println!("  public log     {}  (heads and log entries, for auditors)", public_log.display());
    println!("  phase 1        {}  (development: made here, see docs/protocol.md)", phase1_file.display());
    // The commands below name this very binary (after `cargo run` it is not on the PATH) and make
    // a fresh code, so they still work when copied long after the demo's codes expired.
    let bin =
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "healthcode".into());
    let policy = reg.policy();
    let fresh_png = dir.join("chen-fresh.png");
    println!(
        "\nAudit:\n  {bin} audit registry --export {} --policy {} --registry-key {registry_key}",
        public_log.display(),
        policy_file.display()
    );
    println!(
        "  {bin} audit circuit --policy {} --bundle {} --ptau {}",
        policy_file.display(),
        bundle_dir.display(),
        phase1_file.display()
    );
    println!(
        "\nTry it yourself: the codes above expire {} s (max_code_age) after they were made; these\n\
         two commands prove a fresh one and check it, and work while the registry's latest head is\n\
         younger than {} s (max_root_age; after that, `registry publish` and `registry witness`):",
        policy.max_code_age, policy.max_root_age
    );
    println!(
        "  {bin} prove --bundle {} --holder {} --witness {} --registry-key {registry_key} --venue {VENUE} --png {}",
        bundle_dir.display(),
        dir.join("chen.holder.json").display(),
        dir.join("chen.witness.json").display(),
        fresh_png.display()
    );
    println!(
        "  {bin} verify --bundle {} --registry-key {registry_key} --heads {} --image {} --venue {VENUE}",
        bundle_dir.display(),
        dir.join("heads.json").display(),
        fresh_png.display()
    );
    Ok(())
}

/// The ceremony as a deployment runs it, in one process: a phase-1 file (here a development one;
/// production takes Hermez's), the initial key from it, three contributions, a beacon, the
/// transcript verified against the policy's circuit, and the bundle.
fn ceremony(
    policy: &healthcode_circuits::policy::Policy,
    bundle_dir: &Path,
    phase1_file: &Path,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<healthcode_verifier::Manifest, CliError> {
    use healthcode_ceremony::{beacon, circuit_power, contribute, init, ptau, verify_ceremony, Ptau, R1cs};
    let m = healthcode_circuits::statement::matrices(policy).map_err(fail)?;
    let r1cs = R1cs::from_matrices(&m);
    let phase1 = ptau::generate(circuit_power(&r1cs), &ptau::Phase1Secrets::random(rng));
    write_file(phase1_file, &phase1)?;
    println!(
        "  phase 1: {} (power {}; development — production uses Hermez's)",
        phase1_file.display(),
        circuit_power(&r1cs)
    );
    let mut zkey = init(&r1cs, &Ptau::parse(&phase1).map_err(fail)?).map_err(fail)?;
    println!("  initial key: circuit hash {}…", &hex::encode(zkey.mpc.cs_hash)[..16]);
    for name in ["Henan Health Commission", "Zhengzhou University", "a citizens' association"] {
        let hash = contribute(&mut zkey, Some(name), b"", rng).map_err(fail)?;
        println!("  contribution by {name}: {}…", &hex::encode(hash)[..16]);
    }
    let announced = b"beacon announced in advance: the first block after 2026-12-01";
    beacon(&mut zkey, Some("final beacon"), announced, 10).map_err(fail)?;
    println!("  beacon applied (2^10 SHA-256 iterations)");
    let (report, zkey) = verify_ceremony(&m, &phase1, &zkey.encode(), rng).map_err(fail)?;
    if !report.ok() {
        return Err(fail("the demo's ceremony does not verify"));
    }
    println!("  transcript verified against the policy's circuit and the phase-1 file");
    healthcode_prover::setup::finalize(POLICY, zkey, bundle_dir).map_err(fail)
}

/// A checkpoint on the bundle trusting the registry's current heads (signatures checked).
fn checkpoint(bundle_dir: &Path, reg: &Registry) -> Result<Checkpoint, CliError> {
    let bundle = VerifierBundle::load(bundle_dir).map_err(fail)?;
    let mut c = Checkpoint::from_bundle(&bundle).map_err(fail)?;
    let heads = reg.heads().map_err(fail)?;
    let digest = bundle.policy.digest();
    for h in &heads {
        h.verify(&reg.public_key(), &digest).map_err(fail)?;
        c.add_head(trusted(h)).map_err(fail)?;
    }
    write_file(&bundle_dir.join("../heads.json"), serde_json::to_string_pretty(&heads).map_err(fail)?)?;
    Ok(c)
}

/// Exports the witness, proves on the "phone", writes the code as text and PNG; returns the PNG.
fn prove(
    dir: &Path,
    bundle_dir: &Path,
    reg: &Registry,
    p: &Person,
    now: u64,
    show: bool,
) -> Result<Vec<u8>, CliError> {
    let file = reg.witness(p.leaf).map_err(fail)?;
    let stem = p.name.to_lowercase();
    write_file(&dir.join(format!("{stem}.witness.json")), file.to_json())?;
    let bundle = ProverBundle::load(bundle_dir).map_err(fail)?;
    let witness =
        file.statement_witness(&p.holder, &reg.public_key(), &bundle.policy, false).map_err(fail)?;
    let request = ProveRequest {
        head: trusted(&file.head),
        now,
        challenge: challenge::venue(VENUE),
        bind: false,
        claim: None,
    };
    let started = std::time::Instant::now();
    let proved = bundle
        .prover()
        .map_err(fail)?
        .prove_code(&witness, &request, &mut rand::rngs::OsRng)
        .map_err(fail)?;
    let ms = started.elapsed().as_millis();
    let text = proved.payload.to_text().map_err(fail)?;
    let qr = HealthQr::new(&proved.payload).map_err(fail)?;
    let png = qr.to_coloured_png(proved.explanation.colour, &healthcode_verifier::when::local(now));
    write_file(&dir.join(format!("{stem}.code.txt")), format!("{text}\n"))?;
    write_file(&dir.join(format!("{stem}.png")), &png)?;
    print!(
        "  {} ({}, {}): proved in {ms} ms, QR version {}\n    {}",
        p.name,
        p.document,
        p.story,
        qr.version(),
        proved.explanation.to_string().trim_end().replace('\n', "\n    ")
    );
    println!();
    if show {
        println!("{}", qr.to_terminal());
    }
    Ok(png)
}

fn verify_png(checkpoint: &Checkpoint, png: &[u8], now: u64) -> Result<Colour, CliError> {
    let bytes = qr::read_image(png).map_err(fail)?;
    checkpoint.verify(&bytes, now, Some(challenge::venue(VENUE)), None).map_err(fail)
}
