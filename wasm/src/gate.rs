//! The checkpoint in the browser: the command line's `verify --registry`, on a guard's phone.

use crate::citizen::{fetched, signed_heads, trusted};
use crate::{error, to_js, unix};
use ed25519_dalek::VerifyingKey;
use healthcode_registry::event::key_from_hex;
use healthcode_registry::SignedHead;
use healthcode_service::api::RecentHeads;
use healthcode_service::gate::{accept_fresh, GateTrust, HeadsCache};
use healthcode_verifier::{challenge, qr, Checkpoint, Invalid, Posted, VerifierBundle};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// How many of the latest heads the page asks for (the command line's gate keeps as many).
pub const HEADS_KEPT: u64 = 16;

/// A checkpoint configured with its policy bundle and the registry and witnesses it trusts.
#[wasm_bindgen]
pub struct Gate {
    bundle: VerifierBundle,
    trust: GateTrust,
    registry: VerifyingKey,
    checkpoint: Checkpoint,
    /// The heads trusted now, newest last, and when they were fetched.
    heads: Vec<SignedHead>,
    fetched_at: Option<u64>,
}

#[derive(Serialize)]
struct HeadsInfo {
    /// When the heads were fetched (unix seconds; the page shows their age).
    fetched_at: Option<u64>,
    newest_epoch: Option<u64>,
    newest_issued_at: Option<u64>,
    count: usize,
}

#[derive(Serialize)]
struct Verdict {
    valid: bool,
    /// GREEN, YELLOW or RED when valid.
    colour: Option<&'static str>,
    /// A stable reason when invalid (`stale-code`, `wrong-challenge`, `bad-proof` …).
    reason: Option<&'static str>,
    /// The reason in words.
    detail: Option<String>,
}

fn verdict(r: Result<healthcode_verifier::Colour, Invalid>) -> Verdict {
    match r {
        Ok(c) => Verdict { valid: true, colour: Some(c.name()), reason: None, detail: None },
        Err(e) => {
            Verdict { valid: false, colour: None, reason: Some(e.reason()), detail: Some(e.to_string()) }
        }
    }
}

#[wasm_bindgen]
impl Gate {
    /// Loads the bundle (recompiling the policy to check the circuit, as `verify` does) and the
    /// trust configuration: the registry key and `quorum` of the witness keys (C2SP vkeys).
    #[wasm_bindgen(constructor)]
    pub fn new(
        origin: &str,
        manifest: Vec<u8>,
        policy: Vec<u8>,
        verifying_key: Vec<u8>,
        registry_key: &str,
        witness_keys: Vec<String>,
        quorum: usize,
    ) -> Result<Gate, JsError> {
        let files = fetched(origin, manifest, policy, None, verifying_key)?;
        let bundle = VerifierBundle::load(&files).map_err(|e| error("the policy bundle", e))?;
        let registry = key_from_hex(registry_key).map_err(|e| error("the registry key", e))?;
        let trust = GateTrust::new(registry, bundle.policy.digest(), &witness_keys, quorum)
            .map_err(|e| error("the witness keys", e))?;
        let checkpoint = Checkpoint::from_bundle(&bundle).map_err(|e| error("the policy bundle", e))?;
        Ok(Self { bundle, trust, registry, checkpoint, heads: Vec::new(), fetched_at: None })
    }

    /// The policy this checkpoint enforces.
    #[wasm_bindgen(js_name = policyInfo)]
    pub fn policy_info(&self) -> Result<JsValue, JsError> {
        let p = &self.bundle.policy;
        to_js(&serde_json::json!({ "id": p.id, "version": p.version, "digest": hex::encode(p.digest()) }))
    }

    /// The path and query to fetch the latest heads with (`GET`, public).
    #[wasm_bindgen(js_name = headsPath)]
    pub fn heads_path() -> String {
        format!("{}?count={HEADS_KEPT}", healthcode_service::api::path::HEADS)
    }

    /// Trusts the heads of a cache kept by this page (IndexedDB), re-verified: editing it cannot
    /// add a head. Returns what the page shows about them.
    #[wasm_bindgen(js_name = loadCache)]
    pub fn load_cache(&mut self, cache_json: &str) -> Result<JsValue, JsError> {
        let cache: HeadsCache =
            serde_json::from_str(cache_json).map_err(|e| error("the saved registry heads", e))?;
        let trusted = cache.verify(&self.trust).map_err(|e| error("the saved registry heads", e))?;
        self.set_heads(trusted.heads, cache.fetched_at)?;
        self.heads_info()
    }

    /// Checks a fresh answer of `GET /v1/heads` at `now` against the witnesses' quorum and the
    /// heads already trusted (a rolled-back answer or a second head for a known epoch is
    /// refused), trusts its heads, and returns the cache to keep (JSON).
    #[wasm_bindgen(js_name = acceptHeads)]
    pub fn accept_heads(&mut self, answer_json: &str, now: f64) -> Result<String, JsError> {
        let now = unix(now)?;
        let answer: RecentHeads =
            serde_json::from_str(answer_json).map_err(|e| error("the registry's answer", e))?;
        let known = (!self.heads.is_empty()).then_some(self.heads.as_slice());
        let trusted = accept_fresh(&self.trust, &answer, now, known)
            .map_err(|e| error("refusing the registry's heads", e))?;
        self.set_heads(trusted.heads, now)?;
        serde_json::to_string(&HeadsCache { fetched_at: now, answer }).map_err(|e| error("internal", e))
    }

    /// Trusts signed heads from a file (`healthcode registry head --all --json`) when there is no
    /// registry service to reach: each must carry the registry's signature for this policy.
    /// A file adds heads, never takes away those already trusted: an old file would otherwise
    /// roll the checkpoint back and blind its superseded-head check. A different head for an
    /// epoch already trusted (a split view) is refused.
    #[wasm_bindgen(js_name = importHeads)]
    pub fn import_heads(&mut self, heads_json: &str, now: f64) -> Result<JsValue, JsError> {
        let now = unix(now)?;
        let mut heads = signed_heads(heads_json, &self.registry, &self.bundle.policy.digest())?;
        for known in &self.heads {
            match heads.iter().find(|h| h.epoch == known.epoch) {
                Some(h) if h != known => {
                    return Err(JsError::new(&format!(
                        "the file's head for epoch {} differs from the one this checkpoint trusts: the \
                         registry shows different parties different views; keep the file as evidence",
                        known.epoch
                    )))
                }
                Some(_) => {}
                None => heads.push(known.clone()),
            }
        }
        heads.sort_by_key(|h| h.epoch);
        heads.dedup();
        self.set_heads(heads, now)?;
        self.heads_info()
    }

    /// What the page shows about the trusted heads (their age, the newest epoch).
    #[wasm_bindgen(js_name = headsInfo)]
    pub fn heads_info(&self) -> Result<JsValue, JsError> {
        let newest = self.heads.last();
        to_js(&HeadsInfo {
            fetched_at: self.fetched_at,
            newest_epoch: newest.map(|h| h.epoch),
            newest_issued_at: newest.map(|h| h.issued_at),
            count: self.heads.len(),
        })
    }

    /// Verifies one code (its QR bytes or text form) at `now`. With a `venue` code posted, the
    /// code must answer it; without, it must answer this or the previous five-minute time slot.
    pub fn verify(&self, code: &[u8], now: f64, venue: Option<String>) -> Result<JsValue, JsError> {
        let now = unix(now)?;
        to_js(&verdict(self.one(code, now, venue.as_deref())))
    }

    /// A fresh secret nonce for one identity binding (32 hex digits): shown to the holder's
    /// phone only, never posted, and forgotten after the check.
    #[wasm_bindgen(js_name = freshNonce)]
    pub fn fresh_nonce() -> String {
        challenge::fresh_nonce(&mut rand::rngs::OsRng)
    }

    /// Verifies an identity-bound code: it must answer this checkpoint's `nonce` and be bound to
    /// the document whose number the staff read (`healthcode verify --nonce N --document D`).
    #[wasm_bindgen(js_name = verifyBound)]
    pub fn verify_bound(
        &self,
        code: &[u8],
        now: f64,
        nonce: &str,
        document: &str,
    ) -> Result<JsValue, JsError> {
        let now = unix(now)?;
        let nonce = challenge::nonce(nonce.trim()).map_err(|e| error("the nonce", e))?;
        let document = document.trim();
        if document.is_empty() {
            return Err(JsError::new("type the number of the identity document you checked"));
        }
        let id = healthcode_circuits::hashes::id_hash(document);
        to_js(&verdict(self.checkpoint.verify(code, now, Some(nonce), Some(id))))
    }

    /// Verifies a queue of codes (text forms) together: one pairing check for all valid proofs.
    #[wasm_bindgen(js_name = verifyBatch)]
    pub fn verify_batch(
        &self,
        codes: Vec<String>,
        now: f64,
        venue: Option<String>,
    ) -> Result<JsValue, JsError> {
        let now = unix(now)?;
        let results = self.checkpoint.verify_posted(&codes, now, posted(venue.as_deref()), None);
        to_js(&results.into_iter().map(verdict).collect::<Vec<_>>())
    }
}

impl Gate {
    fn one(
        &self,
        code: &[u8],
        now: u64,
        venue: Option<&str>,
    ) -> Result<healthcode_verifier::Colour, Invalid> {
        let mut results = self.checkpoint.verify_posted(&[code], now, posted(venue), None);
        results.pop().unwrap_or(Err(Invalid::BadProof))
    }

    fn set_heads(&mut self, heads: Vec<SignedHead>, fetched_at: u64) -> Result<(), JsError> {
        let mut checkpoint =
            Checkpoint::from_bundle(&self.bundle).map_err(|e| error("the policy bundle", e))?;
        for h in &heads {
            checkpoint.add_head(trusted(h)).map_err(|e| error("the registry heads", e))?;
        }
        self.checkpoint = checkpoint;
        self.heads = heads;
        self.fetched_at = Some(fetched_at);
        Ok(())
    }
}

/// The posted challenge: the venue code if one is typed, the time slot otherwise.
fn posted(venue: Option<&str>) -> Posted {
    match venue.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Posted::Venue(challenge::venue(v)),
        None => Posted::Slot,
    }
}

/// Reads the QR code in a camera frame (RGBA pixels, `width × height`, as a canvas gives them):
/// its bytes, or `undefined` when the frame holds no readable code (the next frame may).
#[wasm_bindgen(js_name = readFrame)]
pub fn read_frame(rgba: &[u8], width: u32, height: u32) -> Result<Option<Vec<u8>>, JsError> {
    let pixels = (width as usize) * (height as usize);
    if rgba.len() != pixels * 4 {
        return Err(JsError::new(&format!(
            "a {width}×{height} frame needs {} bytes, got {}",
            pixels * 4,
            rgba.len()
        )));
    }
    // ITU-R BT.601 luma, in integers.
    let luma = rgba
        .chunks_exact(4)
        .map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8)
        .collect();
    match qr::read_luma(width, height, luma) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(qr::QrError::NotFound) => Ok(None),
        Err(e) => Err(error("the QR code", e)),
    }
}

/// Reads the QR code in a picture file (PNG or JPEG) the guard chose.
#[wasm_bindgen(js_name = readImage)]
pub fn read_image(bytes: &[u8]) -> Result<Vec<u8>, JsError> {
    let (width, height, luma) = qr::load_luma(bytes).map_err(|e| error("the picture", e))?;
    qr::read_luma(width, height, luma).map_err(|e| error("the picture", e))
}
