//! The citizen's side: her secret, its backup, her signed requests and her proof.

use crate::{error, to_js, unix};
use healthcode_prover::ab_queries::{assignment_from_bytes, assignment_to_bytes};
use healthcode_prover::{AbQueries, AbSums, PendingCode, Proved, Prover, ProverBundle};
use healthcode_registry::event::key_from_hex;
use healthcode_registry::head::HeadError;
use healthcode_registry::holder::backup;
use healthcode_registry::witness::WitnessError;
use healthcode_registry::{HolderFile, SignedHead, WitnessFile};
use healthcode_service::api::path;
use healthcode_verifier::bundle::FetchedBundle;
use healthcode_verifier::{challenge, superseded, HealthQr, TrustedHead};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

fn holder(json: &str) -> Result<HolderFile, JsError> {
    HolderFile::from_json(json).map_err(|e| error("the secret kept on this device", e))
}

/// A record (witness) the page cannot use, said the way its holder reads it.
fn record_error(what: &str, e: WitnessError) -> JsError {
    let plain = match &e {
        WitnessError::Head(HeadError::WrongRegistry) => {
            "it comes from another registry than the one this app trusts".to_string()
        }
        WitnessError::WrongPolicy => "it is for another health-code policy than this app's".to_string(),
        WitnessError::WrongHolder => "it belongs to another person's secret, not this phone's".to_string(),
        WitnessError::Json(_) => format!("it is not a health-code record ({e})"),
        _ => format!("it is damaged or altered ({e})"),
    };
    JsError::new(&format!("{what}: {plain}"))
}

fn registry_key(hex: &str) -> Result<ed25519_dalek::VerifyingKey, JsError> {
    key_from_hex(hex).map_err(|e| error("the registry key", e))
}

/// A fresh holder secret for the identity document `document` (holder file JSON). It stays on
/// the device: only [`holder_enrolment`]'s values go to the enrolment office.
#[wasm_bindgen(js_name = newHolder)]
pub fn new_holder(document: &str) -> Result<String, JsError> {
    let document = document.trim();
    if document.is_empty() {
        return Err(JsError::new("type the number of your identity document"));
    }
    Ok(HolderFile::generate(document).to_json())
}

#[derive(Serialize)]
struct Enrolment {
    /// What the registry enrols (hex field element).
    commitment: String,
    /// The device key the registry lets fetch this holder's witness (hex Ed25519 key).
    device_key: String,
}

/// What the enrolment office needs: the commitment and the device key (no secret).
#[wasm_bindgen(js_name = holderEnrolment)]
pub fn holder_enrolment(holder_json: &str) -> Result<JsValue, JsError> {
    let h = holder(holder_json)?;
    to_js(&Enrolment {
        commitment: healthcode_circuits::field::to_hex(&h.commitment),
        device_key: hex::encode(h.device_key().verifying_key().as_bytes()),
    })
}

/// The holder file sealed under a passphrase (see `healthcode_registry::holder::backup`).
#[wasm_bindgen(js_name = sealBackup)]
pub fn seal_backup(holder_json: &str, passphrase: &str) -> Result<String, JsError> {
    backup::seal(&holder(holder_json)?, passphrase).map_err(|e| JsError::new(&e.to_string()))
}

/// Opens a backup made by [`seal_backup`] (or `healthcode holder backup`): the holder file JSON.
#[wasm_bindgen(js_name = openBackup)]
pub fn open_backup(text: &str, passphrase: &str) -> Result<String, JsError> {
    backup::open(text, passphrase).map(|h| h.to_json()).map_err(|e| error("the backup", e))
}

/// The headers of the holder's signed `GET /v1/holder/witness` to the registry whose key is
/// `registry_key`, at `now` (seconds): the device key proves it is her, and names no leaf.
#[wasm_bindgen(js_name = witnessRequest)]
pub fn witness_request(holder_json: &str, registry_key_hex: &str, now: f64) -> Result<JsValue, JsError> {
    let h = holder(holder_json)?;
    let headers = healthcode_service::auth::sign(
        &registry_key(registry_key_hex)?,
        &h.device_key(),
        "GET",
        path::HOLDER_WITNESS,
        unix(now)?,
        b"",
    );
    let map: std::collections::BTreeMap<String, String> = headers.into_iter().collect();
    to_js(&serde_json::json!({ "path": path::HOLDER_WITNESS, "headers": map }))
}

/// What to prove (a plain object from JavaScript).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProveOptions {
    /// The holder file JSON (from IndexedDB).
    pub holder: String,
    /// The witness JSON (from the registry service, or a file the holder imported).
    pub witness: String,
    /// The registry's public key (hex), as configured, not as the witness says.
    pub registry_key: String,
    /// The device clock, seconds.
    pub now: f64,
    /// The venue code the checkpoint posted; none: the current five-minute time slot.
    #[serde(default)]
    pub venue: Option<String>,
    /// Bind the code to the identity document, answering the checkpoint's secret `nonce`.
    #[serde(default)]
    pub bind: bool,
    #[serde(default)]
    pub nonce: Option<String>,
    /// The registry's latest signed heads (JSON array or one head) if the page has them: proving
    /// over a witness they supersede beyond the policy's grace is refused, since every
    /// checkpoint holding them would refuse the code.
    #[serde(default)]
    pub latest_heads: Option<String>,
    /// The line under the QR image: the time, in the viewer's words and time zone.
    pub caption: String,
}

#[derive(Serialize)]
struct EventShown {
    kind: String,
    /// Unix seconds, 0 for never (the page shows dates and "2 days ago").
    time: u64,
}

#[derive(Serialize)]
struct ProvedCode {
    colour: &'static str,
    /// The firing rule's index and its reason; none: the policy's default colour.
    rule: Option<usize>,
    because: Option<String>,
    events: Vec<EventShown>,
    now: u64,
    /// The first second at which checkpoints refuse it (`challenge::refused_from`): the page's
    /// "checkpoints take it until".
    refused_from: u64,
    epoch: u64,
    /// The code's text form (`HCV1:…`).
    code: String,
    /// The coloured QR image (PNG).
    #[serde(with = "as_uint8array")]
    png: Vec<u8>,
    qr_version: i16,
    bytes: usize,
}

/// What the page shows with a code besides the proof: the line under its picture, and until
/// when checkpoints take it.
struct Shown {
    caption: String,
    refused_from: u64,
}

/// Bytes as a JavaScript `Uint8Array` (serde's default would make an array of numbers).
mod as_uint8array {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
}

self_cell::self_cell!(
    /// The bundle and the prover prepared from it (its key's queries compacted, the verifying
    /// key prepared): done once per session, not once per proof.
    struct Loaded {
        owner: ProverBundle,
        #[covariant]
        dependent: Prover,
    }
);

/// A policy bundle loaded for proving: keep it, a proof takes a fraction of a second after.
#[wasm_bindgen]
pub struct ProverSession {
    loaded: Loaded,
    /// The code begun by [`ProverSession::begin`], waiting for the helper's sums, and what is
    /// shown with it.
    pending: RefCell<Option<(PendingCode, Shown)>>,
}

/// The second worker of a proof ([`healthcode_prover::ab_queries`]): it holds only the key's `A`
/// and `B` queries (sent once by [`ProverSession::ab_queries`]) and answers each assignment with
/// its two sums, while the first worker computes the rest of the proof.
#[wasm_bindgen]
pub struct ProofHelper {
    queries: AbQueries,
}

#[wasm_bindgen]
impl ProofHelper {
    #[wasm_bindgen(constructor)]
    pub fn new(queries: &[u8]) -> Result<ProofHelper, JsError> {
        let queries = AbQueries::from_bytes(queries).map_err(|e| error("the proof helper", e))?;
        Ok(Self { queries })
    }

    /// The sums for the assignment sent by [`ProverSession::begin`].
    pub fn sums(&self, assignment: &[u8]) -> Result<Vec<u8>, JsError> {
        let z = assignment_from_bytes(assignment).map_err(|e| error("the proof helper", e))?;
        let sums = self.queries.sums(&z).map_err(|e| error("the proof helper", e))?;
        Ok(sums.to_bytes())
    }
}

#[wasm_bindgen]
impl ProverSession {
    /// Loads the bundle's files fetched from `origin` (the proving key is checked against the
    /// manifest's hash and circuit digest, as on the command line).
    #[wasm_bindgen(constructor)]
    pub fn new(
        origin: &str,
        manifest: Vec<u8>,
        policy: Vec<u8>,
        proving_key: Vec<u8>,
        verifying_key: Vec<u8>,
    ) -> Result<ProverSession, JsError> {
        let bundle = fetched(origin, manifest, policy, Some(proving_key), verifying_key)?;
        let bundle = ProverBundle::load(&bundle).map_err(|e| error("the policy bundle", e))?;
        let loaded = Loaded::try_new(bundle, |b| b.prover()).map_err(|e| error("the proving key", e))?;
        Ok(Self { loaded, pending: RefCell::new(None) })
    }

    /// The proving key's `A` and `B` queries, for a [`ProofHelper`] in a second worker.
    #[wasm_bindgen(js_name = abQueries)]
    pub fn ab_queries(&self) -> Vec<u8> {
        self.loaded.borrow_dependent().ab_queries().to_bytes()
    }

    /// The policy's id, version and digest (hex), its event kinds, and its `max_code_age`.
    #[wasm_bindgen(js_name = policyInfo)]
    pub fn policy_info(&self) -> Result<JsValue, JsError> {
        let p = &self.loaded.borrow_owner().policy;
        to_js(&serde_json::json!({
            "id": p.id, "version": p.version, "digest": hex::encode(p.digest()),
            "events": p.events, "max_code_age": p.max_code_age,
        }))
    }

    /// Checks a witness file before it is kept (imported by the holder): it must be for this
    /// registry, this policy and this holder, and open under its signed head.
    #[wasm_bindgen(js_name = checkWitness)]
    pub fn check_witness(&self, options: JsValue) -> Result<JsValue, JsError> {
        #[derive(Deserialize)]
        struct Check {
            holder: String,
            witness: String,
            registry_key: String,
        }
        let o: Check = serde_wasm_bindgen::from_value(options).map_err(|e| error("check options", e))?;
        let file = WitnessFile::from_json(&o.witness).map_err(|e| record_error("this record file", e))?;
        file.statement_witness(
            &holder(&o.holder)?,
            &registry_key(&o.registry_key)?,
            &self.loaded.borrow_owner().policy,
            false,
        )
        .map_err(|e| record_error("this record file", e))?;
        to_js(&serde_json::json!({ "epoch": file.head.epoch, "issued_at": file.head.issued_at }))
    }

    /// Proves the holder's code: the colour the policy gives her signed data, as a QR image,
    /// its text form and the reason. Refused with a message for her when the witness is not for
    /// this registry, this policy or this holder, or is stale or superseded.
    pub fn prove(&self, options: JsValue) -> Result<JsValue, JsError> {
        // A code left pending by a failed helper is dropped with its witness values.
        self.pending.take();
        let (pending, shown) = self.checked(options)?;
        let proved = self
            .loaded
            .borrow_dependent()
            .finish_code(pending, None, &mut rand::rngs::OsRng)
            .map_err(|e| error("proving", e))?;
        picture(proved, &shown)
    }

    /// [`Self::prove`] in three steps, with a [`ProofHelper`] in a second worker: checks the
    /// request as `prove` does, keeps the code pending and returns the assignment to send the
    /// helper; then [`Self::compute_c`] while the helper works, and [`Self::finish`] with its
    /// answer.
    pub fn begin(&self, options: JsValue) -> Result<Vec<u8>, JsError> {
        let (pending, shown) = self.checked(options)?;
        let z = assignment_to_bytes(pending.assignment().z());
        *self.pending.borrow_mut() = Some((pending, shown));
        Ok(z)
    }

    /// The pending code's own part of the proof (the quotient and `C₀`).
    #[wasm_bindgen(js_name = computeC)]
    pub fn compute_c(&self) -> Result<(), JsError> {
        let mut pending = self.pending.borrow_mut();
        let (code, _) = pending.as_mut().ok_or_else(|| JsError::new("no proof is under way"))?;
        self.loaded.borrow_dependent().compute_code_c(code);
        Ok(())
    }

    /// Finishes the pending code with the helper's `sums`, checked as every proof is: wrong sums
    /// give no code, but an error.
    pub fn finish(&self, sums: &[u8]) -> Result<JsValue, JsError> {
        let (pending, shown) = self.pending.take().ok_or_else(|| JsError::new("no proof is under way"))?;
        let sums = AbSums::from_bytes(sums).map_err(|e| error("proving", e))?;
        let proved = self
            .loaded
            .borrow_dependent()
            .finish_code(pending, Some(sums), &mut rand::rngs::OsRng)
            .map_err(|e| error("proving", e))?;
        picture(proved, &shown)
    }

    /// The checks of a proof request, and its assignment; with what is shown with the code.
    fn checked(&self, options: JsValue) -> Result<(PendingCode, Shown), JsError> {
        let o: ProveOptions =
            serde_wasm_bindgen::from_value(options).map_err(|e| error("prove options", e))?;
        let now = unix(o.now)?;
        let key = registry_key(&o.registry_key)?;
        let h = holder(&o.holder)?;
        let file = WitnessFile::from_json(&o.witness).map_err(|e| record_error("your record", e))?;
        let policy = &self.loaded.borrow_owner().policy;
        if o.bind && o.nonce.is_none() {
            return Err(JsError::new("binding to your document needs the checkpoint's secret nonce"));
        }
        let witness =
            file.statement_witness(&h, &key, policy, o.bind).map_err(|e| record_error("your record", e))?;
        let head =
            TrustedHead { epoch: file.head.epoch, issued_at: file.head.issued_at, root: file.head.root };
        if let Some(text) = &o.latest_heads {
            let heads = signed_heads(text, &key, &policy.digest())?;
            let newer: Vec<TrustedHead> = heads.iter().map(trusted).collect();
            if let Some(n) = superseded(&head, &newer, policy.head_grace, now) {
                return Err(JsError::new(&format!(
                    "your witness is from registry epoch {}, and epoch {} replaced it: checkpoints would \
                     refuse this code. Fetch a fresh witness and try again",
                    head.epoch, n.epoch
                )));
            }
        }
        let (challenge, slotted) = match (&o.venue, &o.nonce) {
            (_, Some(n)) => (challenge::nonce(n).map_err(|e| error("the checkpoint's nonce", e))?, false),
            (Some(v), None) if !v.trim().is_empty() => (challenge::venue(v.trim()), false),
            _ => (challenge::time_slot(now), true),
        };
        let shown = Shown {
            caption: o.caption,
            refused_from: challenge::refused_from(now, policy.max_code_age, slotted),
        };
        let request = healthcode_prover::ProveRequest { head, now, challenge, bind: o.bind, claim: None };
        let pending =
            self.loaded.borrow_dependent().begin_code(&witness, &request).map_err(|e| error("proving", e))?;
        Ok((pending, shown))
    }
}

/// The proved code as the page shows it.
fn picture(proved: Proved, shown: &Shown) -> Result<JsValue, JsError> {
    let qr = HealthQr::new(&proved.payload).map_err(|e| error("the QR code", e))?;
    let e = proved.explanation;
    to_js(&ProvedCode {
        colour: e.colour.name(),
        rule: e.rule,
        because: e.because,
        events: e.events.into_iter().map(|x| EventShown { kind: x.kind, time: x.time }).collect(),
        now: proved.public.now,
        refused_from: shown.refused_from,
        epoch: proved.payload.epoch,
        code: proved.payload.to_text().map_err(|e| error("the code", e))?,
        png: qr.to_coloured_png(e.colour, &shown.caption),
        qr_version: qr.version(),
        bytes: proved.payload.encode().map_err(|e| error("the code", e))?.len(),
    })
}

/// The files of a bundle as fetched, named as its manifest names them.
pub(crate) fn fetched(
    origin: &str,
    manifest: Vec<u8>,
    policy: Vec<u8>,
    proving_key: Option<Vec<u8>>,
    verifying_key: Vec<u8>,
) -> Result<FetchedBundle, JsError> {
    use healthcode_verifier::bundle::{Manifest, MANIFEST_FILE};
    let mut b = FetchedBundle { origin: origin.into(), ..Default::default() };
    b.files.insert(MANIFEST_FILE.into(), manifest);
    let m = Manifest::read(&b).map_err(|e| error("the policy bundle", e))?;
    b.files.insert(m.policy.file.clone(), policy);
    b.files.insert(m.verifying_key.file.clone(), verifying_key);
    if let Some(pk) = proving_key {
        b.files.insert(m.proving_key.file.clone(), pk);
    }
    Ok(b)
}

pub(crate) fn trusted(h: &SignedHead) -> TrustedHead {
    TrustedHead { epoch: h.epoch, issued_at: h.issued_at, root: h.root }
}

/// Signed heads (a JSON array or one head), each checked under the registry key and policy.
pub(crate) fn signed_heads(
    text: &str,
    key: &ed25519_dalek::VerifyingKey,
    policy: &[u8; 32],
) -> Result<Vec<SignedHead>, JsError> {
    let heads: Vec<SignedHead> = serde_json::from_str::<Vec<SignedHead>>(text)
        .or_else(|_| serde_json::from_str::<SignedHead>(text).map(|h| vec![h]))
        .map_err(|e| error("the registry heads", e))?;
    for h in &heads {
        h.verify(key, policy).map_err(|e| error(&format!("registry head of epoch {}", h.epoch), e))?;
    }
    Ok(heads)
}
