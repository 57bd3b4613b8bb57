//! The registry's public record as one file: every signed head and every log entry.
//!
//! Why a file: the registry database also holds the registry's signing key, so an auditor must
//! not need it. The export carries nothing secret; [`crate::audit::replay_all`] replays it
//! exactly as it replays the database, and the auditor pins the registry key and the published
//! policy it expects (both are named in every signed head) instead of taking them from the file.

use crate::head::SignedHead;
use crate::registry::{Registry, Result};
use serde::{Deserialize, Serialize};

/// The format tag of this version of the export.
pub const FORMAT: &str = "healthcode-registry-log/1";

/// Every signed head, in epoch order, and every log entry, in log order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogExport {
    pub heads: Vec<SignedHead>,
    /// The entries' bytes as the log hashes them (RFC 9162 leaves).
    pub entries: Vec<Vec<u8>>,
}

/// The JSON form: entries as hex strings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    format: String,
    heads: Vec<SignedHead>,
    entries: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error("not a registry log export: {0}")]
    Json(String),
    #[error("unknown export format `{0}` (this build reads `{FORMAT}`)")]
    Format(String),
    #[error("log entry {index} is not hex: {why}")]
    Entry { index: usize, why: String },
    #[error("the export has no signed head")]
    NoHead,
}

impl LogExport {
    /// The whole public record of `registry`.
    pub fn of(registry: &Registry) -> Result<Self> {
        Ok(Self { heads: registry.heads()?, entries: registry.log_entries(0, u64::MAX >> 1)? })
    }

    pub fn to_json(&self) -> String {
        let json = Json {
            format: FORMAT.to_string(),
            heads: self.heads.clone(),
            entries: self.entries.iter().map(hex::encode).collect(),
        };
        serde_json::to_string_pretty(&json).expect("heads and strings serialise")
    }

    /// Parses an export, saying where it is malformed (serde's line and column, or the entry).
    /// Heads are only decoded here; their signatures are the replay's business.
    pub fn parse(text: &str) -> Result<Self, ExportError> {
        let json: Json = serde_json::from_str(text).map_err(|e| ExportError::Json(e.to_string()))?;
        if json.format != FORMAT {
            return Err(ExportError::Format(json.format));
        }
        if json.heads.is_empty() {
            return Err(ExportError::NoHead);
        }
        let entries = json
            .entries
            .iter()
            .enumerate()
            .map(|(index, e)| {
                hex::decode(e).map_err(|why| ExportError::Entry { index, why: why.to_string() })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { heads: json.heads, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HolderFile;

    fn registry(dir: &std::path::Path) -> Registry {
        let policy = include_str!("../../policies/henan-2022.toml");
        let mut reg = Registry::init(&dir.join("r.db"), policy, 1_000).unwrap();
        reg.enroll(HolderFile::from_secret(5u64.into(), 6u64.into()).commitment, 1_000).unwrap();
        reg.publish(1_001).unwrap();
        reg
    }

    #[test]
    fn an_export_round_trips_and_holds_the_whole_log() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path());
        let export = LogExport::of(&reg).unwrap();
        assert_eq!(export.heads.len(), 2);
        assert_eq!(export.entries.len() as u64, export.heads[1].log_size);
        let text = export.to_json();
        assert_eq!(LogExport::parse(&text).unwrap(), export);
        assert!(!text.contains("secret"), "the export carries no secret");
    }

    #[test]
    fn malformed_exports_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let text = LogExport::of(&registry(dir.path())).unwrap().to_json();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = json.clone();
            f(&mut v);
            serde_json::to_string(&v).unwrap()
        };
        let err = LogExport::parse(&text[..text.len() / 2]).unwrap_err();
        assert!(matches!(&err, ExportError::Json(m) if m.contains("line")), "{err}");
        assert!(matches!(LogExport::parse(&format!("{text} x")), Err(ExportError::Json(_))));
        assert_eq!(
            LogExport::parse(&with(&|v| v["format"] = "healthcode-registry-log/9".into())),
            Err(ExportError::Format("healthcode-registry-log/9".into()))
        );
        let bad_hex = with(&|v| v["entries"][0] = "0g".into());
        assert!(matches!(LogExport::parse(&bad_hex), Err(ExportError::Entry { index: 0, .. })));
        assert_eq!(
            LogExport::parse(&with(&|v| v["heads"] = serde_json::json!([]))),
            Err(ExportError::NoHead)
        );
        let extra = with(&|v| v["registry_secret_key"] = "00".into());
        assert!(matches!(LogExport::parse(&extra), Err(ExportError::Json(m)) if m.contains("unknown field")));
    }
}
