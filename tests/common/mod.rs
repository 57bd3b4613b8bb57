//! What the CLI test binaries share: running the real `healthcode` binary and reading its outcome.
#![allow(dead_code)] // each test binary uses its own part

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

pub fn hc() -> Command {
    Command::cargo_bin("healthcode").unwrap()
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// How one run of the binary ended.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `healthcode ARGS`; a panic (exit 101 with a backtrace hint) fails the test whatever the
/// caller expects.
pub fn run<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = hc().args(args).output().unwrap();
    let o = Outcome {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!o.stderr.contains("panicked") && !o.stderr.contains("RUST_BACKTRACE"), "panic: {o:?}");
    o
}

/// [`run`], expecting exit 2 (bad input) with a message containing each of `needles`.
pub fn bad_input<S: AsRef<std::ffi::OsStr>>(args: &[S], needles: &[&str]) -> Outcome {
    let o = run(args);
    assert_eq!(o.code, 2, "{o:?}");
    for n in needles {
        assert!(o.stderr.contains(n), "expected `{n}` in the message: {o:?}");
    }
    o
}
