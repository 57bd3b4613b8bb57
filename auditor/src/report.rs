//! The audit report: what was checked, whether it passed, and the evidence.

use serde::Serialize;
use std::fmt;

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    /// What was compared, with the values on both sides, or what failed.
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub subject: String,
    pub checks: Vec<Check>,
    /// Extra structured evidence (findings, counts), for `--json` readers.
    pub evidence: serde_json::Value,
}

impl Report {
    pub fn new(subject: impl Into<String>) -> Self {
        Self { subject: subject.into(), checks: Vec::new(), evidence: serde_json::Value::Null }
    }

    pub fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) -> bool {
        self.checks.push(Check { name: name.into(), passed, detail: detail.into() });
        passed
    }

    pub fn clean(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "audit of {}", self.subject)?;
        for c in &self.checks {
            writeln!(f, "  [{}] {}: {}", if c.passed { "pass" } else { "FAIL" }, c.name, c.detail)?;
        }
        let failed = self.failed().count();
        if failed == 0 {
            write!(f, "clean: {} checks passed", self.checks.len())
        } else {
            write!(f, "FINDINGS: {failed} of {} checks failed", self.checks.len())
        }
    }
}
