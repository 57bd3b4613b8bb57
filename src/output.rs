//! Errors and output shared by the subcommands.

use serde::Serialize;
use std::fmt;

/// Why a command failed; decides the exit code.
#[derive(Debug)]
pub enum CliError {
    /// The input was malformed or inconsistent (exit 2).
    BadInput(String),
    /// Anything else went wrong (exit 1).
    Failure(String),
    /// A code was checked and is not valid; the reason was already printed (exit 1).
    Invalid,
    /// A network service could not be reached, timed out, or answered garbage (exit 3).
    Network(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::BadInput(_) => 2,
            CliError::Failure(_) | CliError::Invalid => 1,
            CliError::Network(_) => 3,
        }
    }

    pub fn bad(e: impl fmt::Display) -> Self {
        CliError::BadInput(e.to_string())
    }

    pub fn fail(e: impl fmt::Display) -> Self {
        CliError::Failure(e.to_string())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::BadInput(m) | CliError::Failure(m) | CliError::Network(m) => f.write_str(m),
            CliError::Invalid => f.write_str("the code is not valid"),
        }
    }
}

pub type CliResult = Result<(), CliError>;

/// Prints `value` as one JSON object on stdout when `json`, else the human text.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) -> CliResult {
    if json {
        println!("{}", serde_json::to_string(value).map_err(CliError::fail)?);
    } else {
        println!("{}", human());
    }
    Ok(())
}

/// Reads a text file of at most `limit` bytes (the limits are in [`healthcode_verifier::input`]),
/// naming it in the error.
pub fn read_file(path: &std::path::Path, limit: u64) -> Result<String, CliError> {
    healthcode_verifier::input::read_text_bounded(path, limit).map_err(CliError::bad)
}

/// Reads a binary file of at most `limit` bytes, naming it in the error.
pub fn read_bytes(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, CliError> {
    healthcode_verifier::input::read_bounded(path, limit).map_err(CliError::bad)
}

/// Parses a unix time option: at most the largest time the circuit holds, so that no later
/// arithmetic on it can overflow.
pub fn unix_time() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(0..=healthcode_circuits::time::MAX_TIME)
}

/// Parses an epoch number: the registry stores epochs as SQLite integers (signed 64-bit).
pub fn epoch_number() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(0..=i64::MAX as u64)
}

/// The system clock in unix seconds (0 if it is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Writes a file, naming it in the error.
pub fn write_file(path: &std::path::Path, contents: impl AsRef<[u8]>) -> CliResult {
    std::fs::write(path, contents)
        .map_err(|e| CliError::Failure(format!("cannot write {}: {e}", path.display())))
}
