//! tlog-checkpoint note text (origin, size, base64 root, optional extension lines) and signature-line
//! handling on signed notes.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use signed_note::{Note, NoteError, Signature};

use crate::{Hash, MAX_NOTE_BYTES, MAX_NOTE_SIGNATURES};

/// Why a note, checkpoint, key or trust check was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed signed note: {0}")]
    MalformedNote(String),
    #[error("note is {len} bytes, more than the {max} accepted")]
    NoteTooLarge { len: usize, max: usize },
    #[error("note has more than {max} signatures")]
    TooManySignatures { max: usize },
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    BadKeyName(String),
    #[error("invalid verifier key {vkey:?}: {why}")]
    BadVkey { vkey: String, why: String },
    #[error("verifier key {vkey:?} has signature type {sig_type:#04x}, which is not supported here")]
    UnsupportedKeyType { vkey: String, sig_type: u8 },
    #[error("{0}")]
    BadPolicy(String),
    #[error("checkpoint is for origin {found:?}, not the trusted log {expected:?}")]
    WrongOrigin { expected: String, found: String },
    #[error("no valid signature by the trusted log key")]
    NoLogSignature,
    #[error("signature by trusted key {name}+{id:08x} does not verify")]
    InvalidSignature { name: String, id: u32 },
    #[error("only {got} of the {needed} required witness cosignatures")]
    QuorumNotMet { needed: usize, got: usize },
    #[error("signing failed: {0}")]
    Signing(String),
}

impl CheckpointError {
    pub(crate) fn from_note(e: NoteError) -> Self {
        match e {
            NoteError::InvalidSignature { name, id } => Self::InvalidSignature { name, id },
            NoteError::UnverifiedNote => Self::NoLogSignature,
            NoteError::SignatureError(e) => Self::Signing(e.to_string()),
            other => Self::MalformedNote(other.to_string()),
        }
    }
}

/// The note text of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Extension lines, each ending in a newline (empty if none; their use is NOT RECOMMENDED).
    pub extension: String,
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self { origin: origin.to_owned(), size, root, extension: String::new() }
    }

    /// Parses checkpoint note text strictly (via `tlog_tiles`): and since a hash or size has several
    /// spellings that parsers accept, the text must also be the canonical encoding of what was parsed.
    pub fn parse(text: &[u8]) -> Result<Self, CheckpointError> {
        let cp = tlog_tiles::Checkpoint::from_bytes(text)
            .map_err(|_| CheckpointError::MalformedCheckpoint("not origin, size, root hash lines".into()))?;
        if cp.to_bytes() != text {
            return Err(CheckpointError::MalformedCheckpoint("not in canonical form".into()));
        }
        // A size-0 checkpoint with another root parses: tlog-witness answers it with 422, not 400.
        Ok(Self {
            origin: cp.origin().to_owned(),
            size: cp.size(),
            root: cp.hash().0,
            extension: cp.extension().to_owned(),
        })
    }

    /// The note text: `origin\nsize\nbase64(root)\n` then any extension lines.
    pub fn to_text(&self) -> Vec<u8> {
        format!("{}\n{}\n{}\n{}", self.origin, self.size, BASE64.encode(self.root), self.extension)
            .into_bytes()
    }
}

/// A signed note split into its text (with the final newline) and its parsed signatures, checked with
/// `signed_note`'s parser and our bounds.
pub(crate) struct ParsedNote {
    pub note: Note,
    pub sigs: Vec<Signature>,
}

impl ParsedNote {
    pub fn parse(msg: &[u8]) -> Result<Self, CheckpointError> {
        if msg.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::NoteTooLarge { len: msg.len(), max: MAX_NOTE_BYTES });
        }
        let note = Note::from_bytes(msg).map_err(CheckpointError::from_note)?;
        // signed_note keeps its signatures private; the block after the last blank line is exactly
        // what it just parsed, so re-reading it here cannot disagree.
        let text_len = note.text().len();
        let block = &msg[text_len + 1..];
        let sigs = parse_signature_lines(block)?;
        Ok(Self { note, sigs })
    }

    pub fn text(&self) -> &[u8] {
        self.note.text()
    }
}

/// Parses newline-terminated signature lines (`— name base64(id || sig)\n`).
pub(crate) fn parse_signature_lines(block: &[u8]) -> Result<Vec<Signature>, CheckpointError> {
    let Some(body) = block.strip_suffix(b"\n") else {
        return Err(CheckpointError::MalformedNote("signature lines must end with a newline".into()));
    };
    let mut sigs = Vec::new();
    for line in body.split(|&b| b == b'\n') {
        if sigs.len() == MAX_NOTE_SIGNATURES {
            return Err(CheckpointError::TooManySignatures { max: MAX_NOTE_SIGNATURES });
        }
        sigs.push(Signature::from_bytes(line).map_err(|_| {
            CheckpointError::MalformedNote(format!("bad signature line {:?}", String::from_utf8_lossy(line)))
        })?);
    }
    Ok(sigs)
}

/// Adds the signature lines a witness returned to a signed note. A line whose key (name and key ID) is
/// already on the note is dropped: the note keeps the signature it had, since nothing here can tell
/// which of the two verifies. Signatures are not verified here — a gate's [`crate::TrustPolicy`] does.
pub fn merge_cosignatures(note: &[u8], signature_lines: &[u8]) -> Result<Vec<u8>, CheckpointError> {
    let parsed = ParsedNote::parse(note)?;
    let mut sigs = parsed.sigs;
    for s in parse_signature_lines(signature_lines)? {
        if sigs.iter().any(|have| have.name() == s.name() && have.id() == s.id()) {
            continue;
        }
        if sigs.len() == MAX_NOTE_SIGNATURES {
            return Err(CheckpointError::TooManySignatures { max: MAX_NOTE_SIGNATURES });
        }
        sigs.push(s);
    }
    let merged = Note::new(parsed.note.text(), &sigs).map_err(CheckpointError::from_note)?;
    let bytes = merged.to_bytes();
    if bytes.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::NoteTooLarge { len: bytes.len(), max: MAX_NOTE_BYTES });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tlog-cosignature's example checkpoint text.
    const SPEC_TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn spec_checkpoint_round_trips() {
        let c = Checkpoint::parse(SPEC_TEXT.as_bytes()).unwrap();
        assert_eq!(c.origin, "example.com/behind-the-sofa");
        assert_eq!(c.size, 20852163);
        assert_eq!(c.to_text(), SPEC_TEXT.as_bytes());
        let with_ext = format!("{SPEC_TEXT}ext one\next two\n");
        let c = Checkpoint::parse(with_ext.as_bytes()).unwrap();
        assert_eq!(c.extension, "ext one\next two\n");
        assert_eq!(c.to_text(), with_ext.as_bytes());
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let cases = [
            String::new(),
            "o\n1\n".to_owned(),
            format!("\n1\n{root}\n"),   // empty origin
            format!("o\n01\n{root}\n"), // leading zero
            format!("o\n+1\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"), // 2^64
            format!("o\n1\n{root}"),                      // no final newline
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n".to_owned(), // short hash
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n".to_owned(), // no padding
            format!("o\n1\n{root}\n\next\n"),             // empty extension line
        ];
        for c in cases {
            assert!(Checkpoint::parse(c.as_bytes()).is_err(), "accepted {c:?}");
        }
    }

    #[test]
    fn merge_adds_new_lines_and_keeps_existing_ones() {
        let note = format!("{SPEC_TEXT}\n— a AAAAAQE=\n");
        let merged = merge_cosignatures(note.as_bytes(), "— a AAAAAQI=\n— b AAAAAgM=\n".as_bytes()).unwrap();
        assert_eq!(merged, format!("{SPEC_TEXT}\n— a AAAAAQE=\n— b AAAAAgM=\n").into_bytes());
        // The same key name with another ID is another key.
        let merged = merge_cosignatures(&merged, "— a AAAAAwM=\n".as_bytes()).unwrap();
        assert!(String::from_utf8(merged).unwrap().ends_with("— a AAAAAwM=\n"));
    }

    #[test]
    fn merge_refuses_garbage() {
        let note = format!("{SPEC_TEXT}\n— a AAAAAQE=\n");
        for lines in ["— b AAAAAgM=", "nope\n", "— b\n", "— b !!!!\n", "— b AAAAAgM=\n\n"] {
            assert!(merge_cosignatures(note.as_bytes(), lines.as_bytes()).is_err(), "accepted {lines:?}");
        }
        assert!(merge_cosignatures(SPEC_TEXT.as_bytes(), "— b AAAAAgM=\n".as_bytes()).is_err());
        let many: String = (0..=MAX_NOTE_SIGNATURES).map(|i| format!("— k{i} AAAAAgM=\n")).collect();
        assert!(matches!(
            merge_cosignatures(note.as_bytes(), many.as_bytes()),
            Err(CheckpointError::TooManySignatures { .. })
        ));
    }
}
