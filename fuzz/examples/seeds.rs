//! Writes the seed corpora: small valid inputs for every target, made with the project's own
//! encoders, into `corpus/<target>/` (or the directory given). Existing files of the same name are
//! overwritten; nothing else is touched. Build it with the fuzz targets' flags (it links libFuzzer
//! for their coverage hooks): see `scripts/fuzz-seeds.sh`.

use libfuzzer_sys as _;

use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{Proof, ProvingKey, VerifyingKey};
use ed25519_dalek::SigningKey;
use healthcode_ceremony::ptau::{self, Phase1Secrets};
use healthcode_ceremony::{beacon, contribute, init::init_from_secrets, R1cs};
use healthcode_circuits::field;
use healthcode_circuits::policy::Colour;
use healthcode_circuits::statement::circuit_info;
use healthcode_fuzz::{henan, join, HENAN};
use healthcode_registry::event::{Event, Retraction, Role};
use healthcode_registry::receipt::{Evidence, EVIDENCE_FORMAT};
use healthcode_registry::{HolderFile, LogExport, Registry};
use healthcode_verifier::bundle::{
    CircuitEntry, KeyEntry, Manifest, PolicyEntry, MANIFEST_FORMAT, POLICY_FILE, PROVING_KEY_FILE,
    SINGLE_PARTY_WARNING, VERIFYING_KEY_FILE,
};
use healthcode_verifier::keyfile::{self, KeyKind, HEADER_LEN};
use healthcode_verifier::qr::HealthQr;
use healthcode_verifier::Payload;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn g1(k: u64) -> G1Affine {
    (G1Affine::generator() * Fr::from(k)).into_affine()
}

fn g2(k: u64) -> G2Affine {
    (G2Affine::generator() * Fr::from(k)).into_affine()
}

struct Out(PathBuf);

impl Out {
    fn put(&self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.0.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = bytes.as_ref();
        assert!(bytes.len() <= 100_000, "seed {target}/{name} is {} bytes", bytes.len());
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn vk(inputs: usize) -> VerifyingKey<Bn254> {
    VerifyingKey {
        alpha_g1: g1(2),
        beta_g2: g2(3),
        gamma_g2: g2(5),
        delta_g2: g2(7),
        gamma_abc_g1: (0..=inputs as u64).map(|i| g1(11 + i)).collect(),
    }
}

fn pk() -> ProvingKey<Bn254> {
    ProvingKey {
        vk: vk(2),
        beta_g1: g1(3),
        delta_g1: g1(7),
        a_query: vec![g1(13), g1(17), G1Affine::zero()],
        b_g1_query: vec![g1(19), G1Affine::zero(), g1(23)],
        b_g2_query: vec![g2(19), G2Affine::zero(), g2(23)],
        h_query: vec![g1(29), g1(31)],
        l_query: vec![g1(37)],
    }
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let out = Out(PathBuf::from(dir));
    let policy = henan();

    // ---- policy ----
    out.put("policy_toml", "henan-2022.toml", HENAN);
    out.put(
        "policy_toml",
        "minimal.toml",
        "id = \"p\"\nversion = 1\nmax_root_age = \"1h\"\nmax_code_age = \"1m\"\nevents = [\"x_test\", \"y\"]\ndefault = \"yellow\"\n",
    );
    out.put("policy_toml", "canonical.toml", healthcode_fuzz::policy_to_toml(policy));
    for (i, r) in HENAN.lines().filter_map(|l| l.strip_prefix("when = ")).enumerate() {
        out.put("policy_expr", &format!("henan-{i}"), r.trim_matches('"'));
    }
    out.put("policy_expr", "ops", "now + 1d >= a + 30m || never(a) && !(close_contact != now) || (a < now)");

    // ---- state ----
    out.put("state_json", "positive", r#"{"positive_test": 1700000000, "negative_test": 1700600000}"#);
    out.put("state_json", "empty", "{}");
    out.put("state_json", "contact", r#"{"close_contact":1099511627775,"secondary_contact":0}"#);

    // ---- registry: holder, events, heads, witness, export, receipts, log entries ----
    let t0 = 1_700_000_000u64;
    let holder = HolderFile::from_secret(Fr::from(5u64), Fr::from(6u64));
    out.put("holder_file", "holder.json", holder.to_json());
    let db = std::env::temp_dir().join(format!("healthcode-seeds-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let mut reg = Registry::init(&db, HENAN, t0).unwrap();
    let lab = SigningKey::from_bytes(&[2; 32]);
    let tracer = SigningKey::from_bytes(&[3; 32]);
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), t0, t0).unwrap();
    reg.add_signer("tracer", Role::Tracer, tracer.verifying_key(), t0, t0).unwrap();
    let leaf = reg.enroll(holder.commitment, t0).unwrap();
    let other = reg.enroll(HolderFile::from_secret(Fr::from(7u64), Fr::from(8u64)).commitment, t0).unwrap();
    reg.publish(t0 + 10).unwrap();
    let key = reg.public_key();
    let pos = Event::signed_by(&lab, key, leaf, "positive_test", t0 + 20, None);
    let pos_id = reg.submit(&pos, t0 + 30).unwrap();
    let contact = Event::signed_by(&tracer, key, other, "close_contact", t0 + 25, Some(pos_id));
    let contact_id = reg.submit(&contact, t0 + 30).unwrap();
    let neg = Event::signed_by(&lab, key, other, "negative_test", t0 + 26, None);
    reg.submit(&neg, t0 + 31).unwrap();
    let retraction =
        Retraction { registry: key, event: contact_id, signer: tracer.verifying_key() }.sign(&tracer);
    reg.retract(&retraction, t0 + 40).unwrap();
    reg.revoke_signer("tracer", t0 + 41).unwrap();
    reg.publish(t0 + 50).unwrap();
    out.put("signed_event", "positive.json", serde_json::to_string_pretty(&pos).unwrap());
    out.put("signed_event", "contact.json", serde_json::to_string(&contact).unwrap());
    out.put("retraction", "retraction.json", serde_json::to_string_pretty(&retraction).unwrap());
    let heads = reg.heads().unwrap();
    out.put("heads", "all.json", serde_json::to_string_pretty(&heads).unwrap());
    out.put("heads", "one.json", serde_json::to_string(&heads[1]).unwrap());
    out.put("witness_file", "witness.json", reg.witness(leaf).unwrap().to_json());
    let export = LogExport::of(&reg).unwrap();
    out.put("registry_export", "export.json", export.to_json());
    for (i, e) in export.entries.iter().enumerate() {
        out.put("log_entry", &format!("entry-{i}"), e);
    }
    let receipt = reg.receipt(pos_id, t0 + 30);
    out.put("receipt", "receipt.json", serde_json::to_string_pretty(&receipt).unwrap());
    let evidence = Evidence { format: EVIDENCE_FORMAT.into(), receipt, head: heads[0].clone() };
    out.put("receipt", "evidence.json", serde_json::to_string(&evidence).unwrap());
    drop(reg);
    let _ = std::fs::remove_file(&db);

    // ---- payload ----
    let proof = Proof::<Bn254> { a: g1(41), b: g2(43), c: g1(47) };
    let digest = policy.digest();
    let unbound = Payload {
        policy_prefix: digest[..8].try_into().unwrap(),
        epoch: 3,
        now: t0,
        colour: Colour::Green,
        challenge: Some(Fr::from(99u64)),
        binding_tag: None,
        proof: proof.clone(),
    };
    let bound = Payload {
        epoch: 300_000,
        colour: Colour::Red,
        challenge: None,
        binding_tag: Some(-Fr::from(1u64)),
        ..unbound.clone()
    };
    for (name, p) in [("unbound", &unbound), ("bound", &bound)] {
        out.put("payload_bytes", name, p.encode().unwrap());
        out.put("payload_text", name, p.to_text().unwrap());
    }
    out.put("qr_image", "unbound.png", HealthQr::new(&unbound).unwrap().to_png());

    // ---- key files ----
    let d = [7u8; 32];
    let vkf = keyfile::encode(KeyKind::Verifying, &d, &vk(5), true);
    let pkf = keyfile::encode(KeyKind::Proving, &d, &pk(), false);
    for (name, f) in [("vk-compressed", &vkf), ("pk-uncompressed", &pkf)] {
        out.put("key_file", &format!("{name}.file"), [&[0u8][..], f].concat());
        // Mode 1: kind and encoding bytes, then the body (the target frames it).
        let kind = if f[6] == b'V' { 0 } else { 1 };
        out.put("key_file", &format!("{name}.body"), [&[1u8, kind, f[8]][..], &f[HEADER_LEN..]].concat());
    }
    out.put(
        "key_file",
        "pk-compressed.file",
        [&[0u8][..], &keyfile::encode(KeyKind::Proving, &d, &pk(), true)].concat(),
    );

    // ---- bundle ----
    let info = circuit_info(policy).unwrap();
    let cd: [u8; 32] = hex::decode(&info.digest).unwrap().try_into().unwrap();
    let bvk = keyfile::encode(KeyKind::Verifying, &cd, &vk(info.public_inputs), true);
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        warning: SINGLE_PARTY_WARNING.into(),
        setup: "single-party".into(),
        policy: PolicyEntry {
            file: POLICY_FILE.into(),
            id: policy.id.clone(),
            version: policy.version,
            digest: hex::encode(digest),
        },
        circuit: CircuitEntry {
            digest: info.digest.clone(),
            constraints: info.constraints,
            public_inputs: info.public_inputs,
            witnesses: info.witnesses,
        },
        proving_key: KeyEntry {
            file: PROVING_KEY_FILE.into(),
            body_sha256: hex::encode([0u8; 32]),
            bytes: 0,
            compressed: false,
        },
        verifying_key: KeyEntry {
            file: VERIFYING_KEY_FILE.into(),
            body_sha256: hex::encode(Sha256::digest(&bvk[HEADER_LEN..])),
            bytes: bvk.len() as u64,
            compressed: true,
        },
        ceremony: None,
    };
    let m = serde_json::to_string_pretty(&manifest).unwrap();
    out.put("bundle", "henan", join(&[m.as_bytes(), HENAN.as_bytes(), &bvk]));

    // ---- ceremony ----
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    let secrets = Phase1Secrets::random(&mut rng);
    out.put("ptau", "power1.ptau", ptau::generate(1, &secrets));
    out.put("ptau", "power2.ptau", ptau::generate(2, &secrets));
    let one = (0u32, Fr::from(1u64));
    let r1cs = R1cs {
        wires: 4,
        public_outputs: 0,
        public_inputs: 1,
        private_inputs: 2,
        labels: 4,
        constraints: vec![
            [vec![(2, Fr::from(1u64))], vec![(3, Fr::from(1u64))], vec![(1, Fr::from(1u64))]],
            [vec![one, (2, -Fr::from(2u64))], vec![one], vec![(3, Fr::from(5u64))]],
        ],
    };
    out.put("r1cs", "tiny.r1cs", r1cs.encode());
    let mut z = init_from_secrets(&r1cs, &secrets);
    out.put("zkey", "initial.zkey", z.encode());
    contribute(&mut z, Some("alice"), b"entropy", &mut rng).unwrap();
    beacon(&mut z, Some("final beacon"), &[0xab; 32], 10).unwrap();
    out.put("zkey", "contributed.zkey", z.encode());

    // ---- small fields ----
    let fr = -Fr::from(1u64);
    let fields: [(u8, Vec<u8>); 8] = [
        (0, field::to_hex(&fr).into_bytes()),
        (1, field::to_bytes(&fr).to_vec()),
        (2, b"14d".to_vec()),
        (3, hex::encode(lab.verifying_key().as_bytes()).into_bytes()),
        (4, hex::encode(pos_id).into_bytes()),
        (5, hex::encode(digest).to_uppercase().into_bytes()),
        (6, b"00112233445566778899aabbccddeeff".to_vec()),
        (7, b"tracer".to_vec()),
    ];
    for (sel, v) in fields {
        out.put("text_fields", &format!("sel-{sel}"), [&[sel][..], &v].concat());
    }
    let _ = Path::new(".");
    eprintln!("seeds written to {}", out.0.display());
}
