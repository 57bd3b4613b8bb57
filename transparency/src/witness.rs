//! A tlog-witness (`add-checkpoint`): for each configured log it remembers the latest checkpoint it
//! cosigned and cosigns a new one only if a consistency proof links the two. The record is written to a
//! state file durably BEFORE a cosignature leaves, so that neither a crash nor a restart can make the
//! witness cosign a second, forked view of a log.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signed_note::{StandardVerifier, VerifierList};

use crate::checkpoint::{Checkpoint, CheckpointError, ParsedNote};
use crate::keys::{CosignerKey, Vkey, SIG_TYPE_ED25519};
use crate::merkle::{verify_consistency, EMPTY_ROOT};
use crate::{Hash, MAX_ADD_CHECKPOINT_BYTES, MAX_WITNESS_PROOF_HASHES};

/// Content type of a 409 response body (tlog-witness).
pub const CONTENT_TYPE_SIZE: &str = "text/x.tlog.size";
/// Content type of every other error body.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; charset=utf-8";
/// Version of the state file layout.
const STATE_VERSION: u32 = 1;

/// Why a witness refused an `add-checkpoint` request (or could not start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    #[error("checkpoint not signed by the log: {0}")]
    Forbidden(String),
    #[error("old size does not match: the latest checkpoint cosigned for this log has size {latest}")]
    Conflict { latest: u64 },
    #[error("checkpoint is not consistent with the one cosigned before: {0}")]
    Unprocessable(String),
    #[error("witness configuration: {0}")]
    Config(String),
    #[error("witness state file {path}: {why}")]
    State { path: String, why: String },
}

impl WitnessError {
    /// The HTTP status tlog-witness assigns.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::UnknownLog(_) => 404,
            Self::Conflict { .. } => 409,
            Self::Unprocessable(_) => 422,
            Self::Config(_) | Self::State { .. } => 500,
        }
    }

    /// `text/x.tlog.size` for 409 (whose body is the latest size), plain text otherwise.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => CONTENT_TYPE_SIZE,
            _ => CONTENT_TYPE_TEXT,
        }
    }

    /// The response body: for 409 the latest cosigned size in decimal and a newline, as tlog-witness
    /// requires; otherwise the message.
    pub fn body(&self) -> Vec<u8> {
        match self {
            Self::Conflict { latest } => format!("{latest}\n").into_bytes(),
            other => format!("{other}\n").into_bytes(),
        }
    }
}

/// A parsed `add-checkpoint` request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed note, as sent.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpointRequest {
    /// Parses `old <N>\n`, up to 63 base64 hash lines, an empty line, then the signed checkpoint.
    pub fn parse(body: &[u8]) -> Result<Self, WitnessError> {
        let bad = |why: &str| WitnessError::BadRequest(why.to_owned());
        if body.len() > MAX_ADD_CHECKPOINT_BYTES {
            return Err(bad(&format!("body is larger than {MAX_ADD_CHECKPOINT_BYTES} bytes")));
        }
        let mut rest = body;
        let mut next_line = || -> Result<&[u8], WitnessError> {
            let i = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("request ends inside a line"))?;
            let (line, tail) = rest.split_at(i);
            rest = &tail[1..];
            Ok(line)
        };
        let old = next_line()?;
        let old = old.strip_prefix(b"old ").ok_or_else(|| bad("first line is not \"old <size>\""))?;
        let old = std::str::from_utf8(old)
            .ok()
            .and_then(parse_size)
            .ok_or_else(|| bad("old size is not a decimal"))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line()?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_WITNESS_PROOF_HASHES {
                return Err(bad(&format!("more than {MAX_WITNESS_PROOF_HASHES} consistency proof lines")));
            }
            let h = BASE64.decode(line).ok().and_then(|v| Hash::try_from(v).ok());
            proof.push(h.ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))?);
        }
        Ok(Self { old_size: old, proof, checkpoint: rest.to_vec() })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        add_checkpoint_request(self.old_size, &self.proof, &self.checkpoint)
    }
}

/// Decimal without sign or leading zeros ("0" alone is zero).
fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// The body of a tlog-witness add-checkpoint request.
pub fn add_checkpoint_request(old_size: u64, proof: &[Hash], checkpoint: &[u8]) -> Vec<u8> {
    let mut out = format!("old {old_size}\n").into_bytes();
    for h in proof {
        out.extend_from_slice(BASE64.encode(h).as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(checkpoint);
    out
}

/// What the witness remembers of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LogState {
    size: u64,
    /// Hex root hash.
    root: String,
    /// The cosigned checkpoint, with the log's signatures and ours (for monitors).
    checkpoint: String,
}

/// The state file: the per-origin records and a SHA-256 over them, so that a damaged file is a clear
/// error at start instead of a witness that forgot what it cosigned.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    logs: BTreeMap<String, LogState>,
    sha256: String,
}

fn digest(logs: &BTreeMap<String, LogState>) -> String {
    // Serializing a BTreeMap of plain structs cannot fail.
    hex::encode(Sha256::digest(serde_json::to_vec(logs).unwrap_or_default()))
}

/// A tlog-witness for a fixed set of logs.
pub struct Witness {
    path: PathBuf,
    key: CosignerKey,
    /// Per origin, the log's keys.
    logs: BTreeMap<String, Vec<StandardVerifier>>,
    state: BTreeMap<String, LogState>,
    /// Held for the witness's lifetime: tlog-witness requires the size check and the update to be
    /// atomic, and `&mut self` only makes them so within one process.
    _lock: File,
}

impl Witness {
    /// Opens (or starts) the witness's state. Each log vkey must be an Ed25519 note key (type 0x01)
    /// named after the log's origin; several keys for one origin are all trusted. A missing state file
    /// is a witness that has cosigned nothing yet; an unreadable or damaged one is an error, never a
    /// reset.
    pub fn open(state_file: &Path, key: CosignerKey, logs: &[String]) -> Result<Self, WitnessError> {
        let mut by_origin: BTreeMap<String, Vec<StandardVerifier>> = BTreeMap::new();
        for vkey in logs {
            let v = Vkey::parse(vkey).map_err(|e| WitnessError::Config(e.to_string()))?;
            if v.sig_type != SIG_TYPE_ED25519 {
                return Err(WitnessError::Config(format!(
                    "log key {vkey} is not an Ed25519 note key (type 0x01)"
                )));
            }
            let sv = StandardVerifier::new(vkey)
                .map_err(|e| WitnessError::Config(format!("log key {vkey}: {e}")))?;
            by_origin.entry(v.name).or_default().push(sv);
        }
        let lock = Self::lock(state_file)?;
        let state = Self::load(state_file)?;
        Ok(Self { path: state_file.to_owned(), key, logs: by_origin, state, _lock: lock })
    }

    /// An exclusive lock on `<state file>.lock`, so two witness processes never share a state file.
    fn lock(state_file: &Path) -> Result<File, WitnessError> {
        let mut p = state_file.as_os_str().to_owned();
        p.push(".lock");
        let err = |why: String| WitnessError::State { path: state_file.display().to_string(), why };
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PathBuf::from(p))
            .map_err(|e| err(format!("cannot open its lock file: {e}")))?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => Err(err("another witness holds its lock".into())),
            Err(std::fs::TryLockError::Error(e)) => Err(err(format!("cannot lock: {e}"))),
        }
    }

    fn load(path: &Path) -> Result<BTreeMap<String, LogState>, WitnessError> {
        let err = |why: String| WitnessError::State { path: path.display().to_string(), why };
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(err(format!("cannot read: {e}"))),
        };
        let file: StateFile = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("damaged or truncated ({e}); refusing to start")))?;
        if file.version != STATE_VERSION {
            return Err(err(format!("unknown version {}", file.version)));
        }
        if file.sha256 != digest(&file.logs) {
            return Err(err("checksum does not match its contents; refusing to start".into()));
        }
        for (origin, s) in &file.logs {
            let ok = hex::decode(&s.root).map(|r| r.len() == 32).unwrap_or(false);
            if !ok {
                return Err(err(format!("bad root hash for {origin}")));
            }
        }
        Ok(file.logs)
    }

    /// Writes the whole state: temporary file, fsync, rename over the old one, fsync the directory.
    fn store(&self, state: &BTreeMap<String, LogState>) -> Result<(), WitnessError> {
        let err = |what: &str, e: std::io::Error| WitnessError::State {
            path: self.path.display().to_string(),
            why: format!("{what}: {e}"),
        };
        let file = StateFile { version: STATE_VERSION, logs: state.clone(), sha256: digest(state) };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| WitnessError::State { path: self.path.display().to_string(), why: e.to_string() })?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let mut f = File::create(&tmp).map_err(|e| err("create temporary file", e))?;
            f.write_all(&bytes).map_err(|e| err("write temporary file", e))?;
            f.sync_all().map_err(|e| err("fsync temporary file", e))?;
        }
        fs::rename(&tmp, &self.path).map_err(|e| err("rename", e))?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| err("fsync directory", e))?;
        Ok(())
    }

    /// The cosigned checkpoint most recently returned for `origin` (for tlog-witness's monitoring
    /// endpoint), if any.
    pub fn latest_checkpoint(&self, origin: &str) -> Option<&[u8]> {
        self.state.get(origin).map(|s| s.checkpoint.as_bytes())
    }

    /// The size of the checkpoint most recently cosigned for `origin` (0 if none).
    pub fn latest_size(&self, origin: &str) -> u64 {
        self.state.get(origin).map_or(0, |s| s.size)
    }

    pub fn vkey(&self) -> String {
        self.key.vkey()
    }

    /// Handles one add-checkpoint body at time `now` (unix seconds): the response body (cosignature
    /// line) or a typed refusal, in tlog-witness's order of checks.
    pub fn add_checkpoint(&mut self, body: &[u8], now: u64) -> Result<Vec<u8>, WitnessError> {
        let req = AddCheckpointRequest::parse(body)?;
        let note = ParsedNote::parse(&req.checkpoint).map_err(|e| WitnessError::BadRequest(e.to_string()))?;
        let cp = Checkpoint::parse(note.text()).map_err(|e| WitnessError::BadRequest(e.to_string()))?;

        let keys = self.logs.get(&cp.origin).ok_or_else(|| WitnessError::UnknownLog(cp.origin.clone()))?;
        let known = VerifierList::new(
            keys.iter().map(|k| Box::new(k.clone()) as Box<dyn signed_note::Verifier>).collect(),
        );
        note.note
            .verify(&known)
            .map_err(|e| WitnessError::Forbidden(CheckpointError::from_note(e).to_string()))?;

        if req.old_size > cp.size {
            return Err(WitnessError::BadRequest(format!(
                "old size {} is larger than the checkpoint's size {}",
                req.old_size, cp.size
            )));
        }
        let (latest_size, latest_root) = match self.state.get(&cp.origin) {
            Some(s) => (s.size, parse_root(&s.root)),
            None => (0, EMPTY_ROOT),
        };
        if req.old_size != latest_size {
            return Err(WitnessError::Conflict { latest: latest_size });
        }
        if cp.size == 0 && cp.root != EMPTY_ROOT {
            return Err(WitnessError::Unprocessable(
                "a checkpoint of size 0 must have the empty root".into(),
            ));
        }
        verify_consistency(latest_size, &latest_root, cp.size, &cp.root, &req.proof)
            .map_err(|e| WitnessError::Unprocessable(e.to_string()))?;

        let line = self.key.cosign(note.text(), now).map_err(|e| WitnessError::Config(e.to_string()))?;
        // Kept for monitors: the log's and others' signatures, with ours replaced by this one.
        let others: Vec<_> = note
            .sigs
            .iter()
            .filter(|s| !(s.name() == self.key.name() && s.id() == self.key.key_id()))
            .cloned()
            .collect();
        let without_ours = signed_note::Note::new(note.text(), &others)
            .map_err(|e| WitnessError::BadRequest(e.to_string()))?;
        let cosigned = crate::checkpoint::merge_cosignatures(&without_ours.to_bytes(), &line)
            .map_err(|e| WitnessError::BadRequest(e.to_string()))?;
        let mut next = self.state.clone();
        next.insert(
            cp.origin.clone(),
            LogState {
                size: cp.size,
                root: hex::encode(cp.root),
                checkpoint: String::from_utf8_lossy(&cosigned).into_owned(),
            },
        );
        // Durable before the cosignature is released; on failure the in-memory state is unchanged.
        self.store(&next)?;
        self.state = next;
        Ok(line)
    }
}

/// Roots in the state were checked at load or written by us.
fn parse_root(hex_root: &str) -> Hash {
    hex::decode(hex_root).ok().and_then(|v| Hash::try_from(v).ok()).unwrap_or(EMPTY_ROOT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_and_bad_requests_are_400() {
        let req = AddCheckpointRequest {
            old_size: 5,
            proof: vec![[1; 32], [2; 32]],
            checkpoint: b"note\n".to_vec(),
        };
        assert_eq!(AddCheckpointRequest::parse(&req.to_bytes()).unwrap(), req);
        let zero = AddCheckpointRequest { old_size: 0, proof: vec![], checkpoint: b"x\n\n- y\n".to_vec() };
        assert_eq!(zero.to_bytes(), b"old 0\n\nx\n\n- y\n");
        assert_eq!(AddCheckpointRequest::parse(&zero.to_bytes()).unwrap(), zero);
        let h = BASE64.encode([1u8; 32]);
        for body in [
            "".to_owned(),
            "old 1".to_owned(),
            "old 1\n".to_owned(),
            "old 01\n\nx".to_owned(),
            "old -1\n\nx".to_owned(),
            "old  1\n\nx".to_owned(),
            "old 18446744073709551616\n\nx".to_owned(),
            "new 1\n\nx".to_owned(),
            format!("old 1\n{h}x\n\nx"),
            format!("old 1\n{}\n\nx", &h[..40]),
            format!("old 1\n{h}\n"),
            format!("old 1\n{}\nx", format!("{h}\n").repeat(MAX_WITNESS_PROOF_HASHES + 1)),
        ] {
            let e = AddCheckpointRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.status(), 400, "{body:?}: {e}");
        }
        let max = format!("old 1\n{}\nx", format!("{h}\n").repeat(MAX_WITNESS_PROOF_HASHES));
        assert_eq!(
            AddCheckpointRequest::parse(max.as_bytes()).unwrap().proof.len(),
            MAX_WITNESS_PROOF_HASHES
        );
        let huge = vec![b'a'; MAX_ADD_CHECKPOINT_BYTES + 1];
        assert_eq!(AddCheckpointRequest::parse(&huge).unwrap_err().status(), 400);
    }

    #[test]
    fn error_responses() {
        let c = WitnessError::Conflict { latest: 42 };
        assert_eq!((c.status(), c.content_type(), c.body()), (409, "text/x.tlog.size", b"42\n".to_vec()));
        for (e, s) in [
            (WitnessError::BadRequest("x".into()), 400),
            (WitnessError::Forbidden("x".into()), 403),
            (WitnessError::UnknownLog("x".into()), 404),
            (WitnessError::Unprocessable("x".into()), 422),
            (WitnessError::State { path: "p".into(), why: "w".into() }, 500),
        ] {
            assert_eq!(e.status(), s);
            assert_eq!(e.content_type(), CONTENT_TYPE_TEXT);
        }
    }
}
