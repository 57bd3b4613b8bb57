//! Helpers shared by the fuzz targets (`fuzz_targets/*.rs`) and the seed generator
//! (`examples/seeds.rs`).

use healthcode_circuits::policy::{expr::Canonical, Policy};
use std::sync::OnceLock;

/// The example policy every target that needs one decodes against.
pub const HENAN: &str = include_str!("../../policies/henan-2022.toml");

pub fn henan() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::parse(HENAN).expect("the example policy parses"))
}

/// A policy written back as TOML: durations in seconds, each `when` in its canonical text. The
/// policy language has no TOML encoder of its own; this one exists so the fuzz target can check
/// that a parsed policy survives the trip through its canonical parts.
pub fn policy_to_toml(p: &Policy) -> String {
    use toml::{Table, Value};
    let mut t = Table::new();
    let s = |v: &str| Value::String(v.to_string());
    let d = |n: u64| Value::String(format!("{n}s"));
    t.insert("id".into(), s(&p.id));
    t.insert("version".into(), Value::Integer(p.version as i64));
    t.insert("title".into(), s(&p.title));
    t.insert("max_root_age".into(), d(p.max_root_age));
    t.insert("max_code_age".into(), d(p.max_code_age));
    t.insert("head_grace".into(), d(p.head_grace));
    t.insert("max_event_ahead".into(), d(p.max_event_ahead));
    t.insert("max_event_behind".into(), d(p.max_event_behind));
    t.insert("max_merge_delay".into(), d(p.max_merge_delay));
    t.insert("max_index_case_age".into(), d(p.max_index_case_age));
    t.insert("max_retraction_age".into(), d(p.max_retraction_age));
    t.insert("events".into(), Value::Array(p.events.iter().map(|e| s(e)).collect()));
    t.insert("default".into(), s(p.default.name()));
    let rules = p
        .rules
        .iter()
        .map(|r| {
            let mut rt = Table::new();
            rt.insert("colour".into(), s(r.colour.name()));
            rt.insert("because".into(), s(&r.because));
            rt.insert("when".into(), s(&Canonical { expr: &r.when, events: &p.events }.to_string()));
            Value::Table(rt)
        })
        .collect();
    t.insert("rules".into(), Value::Array(rules));
    toml::to_string(&t).expect("a table serialises")
}

/// Splits `data` into `N` parts, each but the last prefixed by its length (u16, little-endian).
/// Missing parts are empty.
pub fn split<const N: usize>(mut data: &[u8]) -> [&[u8]; N] {
    let mut out = [&[][..]; N];
    for (i, part) in out.iter_mut().enumerate() {
        if i == N - 1 {
            *part = data;
            break;
        }
        if data.len() < 2 {
            *part = data;
            data = &[];
            continue;
        }
        let len = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
        *part = &data[2..2 + len];
        data = &data[2 + len..];
    }
    out
}

/// The inverse of [`split`] (parts but the last must be shorter than 64 KiB).
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 < parts.len() {
            out.extend_from_slice(&(p.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(p);
    }
    out
}
