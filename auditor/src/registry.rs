//! `audit registry`: is every published root explained by signed events from accredited signers?
//!
//! Replays the whole log (`healthcode_registry::audit::replay_all`) and compares every head.
//! From the registry's database ([`audit`]) it also compares the database's own holder tree with
//! the replay, so a leaf edited in place (a code turned red with no event) is named by its leaf
//! index. From the registry's public export ([`audit_export`], no database and no registry
//! secret needed) it first checks that every head names the registry key and the published
//! policy the auditor pins.

use crate::report::Report;
use ed25519_dalek::VerifyingKey;
use healthcode_circuits::policy::Policy;
use healthcode_registry::audit::{replay_all, Finding, FindingKind, Replay};
use healthcode_registry::receipt::{judge, Evidence};
use healthcode_registry::registry::StoredEvent;
use healthcode_registry::{LogExport, Registry, SignedHead};
use std::path::Path;

/// Audits a registry database (the operator's copy, or one handed over for inspection).
pub fn audit(db: &Path) -> Result<Report, String> {
    let reg = Registry::open(db).map_err(|e| format!("{}: {e}", db.display()))?;
    let heads = reg.heads().map_err(|e| e.to_string())?;
    let last = heads.last().ok_or("the registry has no heads")?.clone();
    let entries = reg.log_entries(0, u64::MAX >> 1).map_err(|e| e.to_string())?;
    let mut r = Report::new(format!(
        "registry {} ({} heads, {} log entries)",
        db.display(),
        heads.len(),
        entries.len()
    ));
    let replay = check_replay(&mut r, &entries, &heads, &reg.public_key(), reg.policy());
    // The database's current tree (what witnesses are served from) against the replay.
    let stored = reg.stored_tree().map_err(|e| format!("{}: {e}", db.display()))?;
    let edited: Vec<u32> =
        (0..replay.holders as u32).filter(|&i| stored.leaf(i) != replay.tree.leaf(i)).collect();
    r.check(
        "stored holder tree",
        edited.is_empty() && stored.root() == last.root,
        if edited.is_empty() && stored.root() == last.root {
            "every stored leaf equals the replayed leaf; the stored root is the latest head's".to_string()
        } else if edited.is_empty() {
            "the stored tree's root differs from the latest head".to_string()
        } else {
            format!(
                "leaves edited without a signed event (served witnesses would not match the log): {}",
                edited.iter().map(|i| format!("leaf {i}")).collect::<Vec<_>>().join(", ")
            )
        },
    );
    // What witnesses, proofs and the next publish are built from besides the tree: the stored
    // holder states and log subtrees (edited in place, they serve green states to red holders, or
    // make the next head sign a log root that is not the log's).
    let states = reg.stored_states().map_err(|e| format!("{}: {e}", db.display()))?;
    let mut damage: Vec<String> = states
        .iter()
        .filter(|(leaf, state)| {
            replay.states.get(*leaf as usize).is_some_and(|want| want != state)
                || (*leaf as u64 >= replay.holders && state.iter().any(|&t| t != 0))
        })
        .map(|(leaf, _)| format!("state of leaf {leaf}"))
        .collect();
    let nodes = reg.stored_log_nodes().map_err(|e| format!("{}: {e}", db.display()))?;
    damage.extend(
        nodes
            .iter()
            .filter(|(level, idx, hash)| {
                healthcode_registry::log::Subtrees::subtree(&replay.log, *level, *idx).ok() != Some(*hash)
            })
            .map(|(level, idx, _)| format!("log node {level}/{idx}")),
    );
    let stored_events = reg.stored_events().map_err(|e| format!("{}: {e}", db.display()))?;
    let archived_before = reg.archived_before().map_err(|e| format!("{}: {e}", db.display()))?;
    damage.extend(events_damage(&entries, &stored_events, archived_before));
    let floors = reg.stored_floors().map_err(|e| format!("{}: {e}", db.display()))?;
    damage.extend(floors_damage(&entries, &floors, archived_before, reg.policy()));
    let integrity = reg.integrity_problems().map_err(|e| format!("{}: {e}", db.display()))?;
    damage.extend(integrity.into_iter().map(|m| format!("SQLite integrity check: {m}")));
    r.check(
        "stored states and log nodes",
        damage.is_empty(),
        if damage.is_empty() {
            format!(
                "{} holder states, {} log subtrees and {} event rows agree with the log",
                states.len(),
                nodes.len(),
                stored_events.len()
            )
        } else {
            format!("edited without a log entry: {}", damage.join(", "))
        },
    );
    r.evidence = evidence(&replay, &edited);
    Ok(r)
}

/// The `events` rows (what histories show) that disagree with the log: a logged event's row
/// missing or altered, a row claiming a log position no event holds, a logged retraction not
/// marked. Queued rows (no log position yet) are not in the log to compare with; events accepted
/// before the archive boundary are only in the log, and a row of one left behind is named too.
fn events_damage(entries: &[Vec<u8>], stored: &[StoredEvent], archived_before: u64) -> Vec<String> {
    use healthcode_registry::{Entry, EntryBody};
    let mut logged = std::collections::HashMap::new();
    let mut retractions = std::collections::HashMap::new();
    for (i, bytes) in entries.iter().enumerate() {
        match Entry::from_bytes(bytes) {
            Ok(Entry { at, body: EntryBody::Event(se) }) => {
                logged.insert(se.event.id(), (i as u64, at, se.event));
            }
            Ok(Entry { body: EntryBody::Retraction(sr), .. }) => {
                retractions.insert(sr.retraction.event, i as u64);
            }
            _ => {}
        }
    }
    let short = |id: &[u8; 32]| hex::encode(&id[..8]);
    let mut damage = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in stored {
        let Some(index) = row.log_index else { continue };
        seen.insert(row.id);
        let agrees = logged.get(&row.id).is_some_and(|(i, at, e)| {
            *i == index
                && *at == row.accepted_at
                && e.holder == row.holder
                && e.kind == row.kind
                && e.time == row.time
                && *e.signer.as_bytes() == row.signer
                && e.index_case == row.index_case
        });
        let retraction = retractions.get(&row.id).copied();
        if !agrees || (retraction.is_some() && (!row.retracted || row.retraction_log_index != retraction)) {
            damage.push(format!("event row {}…", short(&row.id)));
        }
    }
    for (id, (_, at, _)) in logged.iter().filter(|(id, _)| !seen.contains(*id)) {
        if *at >= archived_before {
            damage.push(format!("event {}… logged but missing from the event rows", short(id)));
        }
    }
    for row in stored.iter().filter(|r| r.accepted_at < archived_before) {
        damage.push(format!("event row {}… kept past the archive boundary", short(&row.id)));
    }
    damage.sort();
    damage
}

/// Holders whose stored floor (what a publish recomputes her state from after a retraction,
/// see `Registry::archive`) is not the per-kind maximum of her logged, never-retracted events
/// accepted before the archive boundary. A floor raised in place turns her code red at her next
/// retraction with no event behind it; one lowered drops an archived positive test.
fn floors_damage(
    entries: &[Vec<u8>],
    stored: &[(u32, Vec<u64>)],
    archived_before: u64,
    policy: &Policy,
) -> Vec<String> {
    use healthcode_registry::{Entry, EntryBody};
    let mut events = std::collections::HashMap::new();
    let mut retracted = std::collections::HashSet::new();
    for bytes in entries {
        match Entry::from_bytes(bytes) {
            Ok(Entry { at, body: EntryBody::Event(se) }) if at < archived_before => {
                events.insert(se.event.id(), se.event);
            }
            Ok(Entry { body: EntryBody::Retraction(sr), .. }) => {
                retracted.insert(sr.retraction.event);
            }
            _ => {}
        }
    }
    let kinds = policy.events.len();
    let mut want: std::collections::BTreeMap<u32, Vec<u64>> = std::collections::BTreeMap::new();
    for (id, e) in &events {
        if retracted.contains(id) {
            continue;
        }
        if let Some(k) = policy.event_index(&e.kind) {
            let floor = want.entry(e.holder).or_insert_with(|| vec![0; kinds]);
            floor[k] = floor[k].max(e.time);
        }
    }
    let have: std::collections::BTreeMap<u32, Vec<u64>> = stored.iter().cloned().collect();
    let holders: std::collections::BTreeSet<u32> = want.keys().chain(have.keys()).copied().collect();
    let zero = vec![0; kinds];
    holders
        .into_iter()
        .filter(|h| want.get(h).unwrap_or(&zero) != have.get(h).unwrap_or(&zero))
        .map(|h| format!("floor of leaf {h}"))
        .collect()
}

/// Audits a registry's public export (`healthcode registry export`) against the registry key and
/// the published policy the auditor trusts. Fails (bad input) only on a malformed export.
pub fn audit_export(
    export_json: &str,
    policy: &Policy,
    registry_key: &VerifyingKey,
) -> Result<Report, String> {
    let export = LogExport::parse(export_json).map_err(|e| e.to_string())?;
    let mut r = Report::new(format!(
        "registry export ({} heads, {} log entries)",
        export.heads.len(),
        export.entries.len()
    ));
    let digest = policy.digest();
    let epochs = |bad: &dyn Fn(&SignedHead) -> bool| -> Vec<String> {
        export.heads.iter().filter(|h| bad(h)).map(|h| format!("epoch {}", h.epoch)).collect()
    };
    let other_key = epochs(&|h| h.registry != *registry_key);
    r.check(
        "heads name the pinned registry key",
        other_key.is_empty(),
        if other_key.is_empty() {
            format!("every head names {}", hex::encode(registry_key.as_bytes()))
        } else {
            format!("heads of another registry key: {}", other_key.join(", "))
        },
    );
    let other_policy = epochs(&|h| h.policy != digest);
    r.check(
        "heads name the published policy",
        other_policy.is_empty(),
        if other_policy.is_empty() {
            format!("every head names policy digest {}", hex::encode(digest))
        } else {
            format!(
                "heads of another policy than the published one ({}): {}",
                hex::encode(digest),
                other_policy.join(", ")
            )
        },
    );
    let replay = check_replay(&mut r, &export.entries, &export.heads, registry_key, policy);
    r.evidence = evidence(&replay, &[]);
    Ok(r)
}

/// The checks every registry audit shares: head signatures and order, every log entry backed,
/// every head equal to the replay.
fn check_replay(
    r: &mut Report,
    entries: &[Vec<u8>],
    heads: &[SignedHead],
    registry_key: &VerifyingKey,
    policy: &Policy,
) -> Replay {
    let replay = replay_all(entries, heads, registry_key, policy);
    let log_size = heads.iter().map(|h| h.log_size).max().unwrap_or(0);
    let of = |kinds: &[FindingKind]| -> Vec<&Finding> {
        replay.findings.iter().filter(|f| kinds.contains(&f.kind)).collect()
    };
    let head_problems = of(&[FindingKind::HeadSignature, FindingKind::HeadOrder]);
    r.check(
        "head signatures and order",
        head_problems.is_empty(),
        if head_problems.is_empty() {
            "every head signed by the registry key for this policy; epochs consecutive; times increasing"
                .into()
        } else {
            head_problems.iter().map(|f| describe(f)).collect::<Vec<_>>().join("; ")
        },
    );
    let entry_findings = of(&[FindingKind::Entry]);
    r.check(
        "log entries backed by signatures",
        entry_findings.is_empty(),
        if entry_findings.is_empty() {
            format!("{} entries replayed: every event signed by a signer accredited at the time, every contact tied to a live positive test, every retraction by its signer", entries.len())
        } else {
            entry_findings.iter().map(|f| describe(f)).collect::<Vec<_>>().join("; ")
        },
    );
    let window = replay_policy_window(policy);
    let window_findings = of(&[FindingKind::EventWindow]);
    r.check(
        "event times within the published window",
        window_findings.is_empty(),
        if window_findings.is_empty() {
            format!("every event dated within {window} of its acceptance, every acceptance before its head")
        } else {
            window_findings.iter().map(|f| describe(f)).collect::<Vec<_>>().join("; ")
        },
    );
    let head_findings = of(&[FindingKind::HeadMismatch]);
    let mut problems: Vec<String> = head_findings.iter().map(|f| describe(f)).collect();
    let held = entries.len() as u64;
    if held > log_size {
        // A head deleted or withheld, or entries slipped in after it: nothing signed vouches
        // for them, and a holder's witness built on them matches no head a checkpoint trusts.
        problems.push(format!(
            "log entries {log_size} to {} are covered by no signed head (the latest head covers {log_size})",
            held - 1
        ));
    } else if held < log_size {
        problems.push(format!("the heads cover {log_size} log entries, but the log holds only {held}"));
    }
    r.check(
        "heads match the replayed log and tree",
        problems.is_empty(),
        if problems.is_empty() {
            format!(
                "{} heads: log root, holder-tree root and holder count recomputed from the log; every entry covered",
                replay.heads_checked
            )
        } else {
            problems.join("; ")
        },
    );
    replay
}

fn evidence(replay: &Replay, edited: &[u32]) -> serde_json::Value {
    let counts: Vec<serde_json::Value> = replay
        .counts
        .iter()
        .map(|((epoch, signer, kind), n)| serde_json::json!({"epoch": epoch, "signer": signer, "kind": kind, "events": n}))
        .collect();
    serde_json::json!({ "findings": replay.findings, "edited_leaves": edited, "events_per_signer": counts })
}

fn describe(f: &Finding) -> String {
    let mut s = String::new();
    if let Some(e) = f.epoch {
        s += &format!("epoch {e} ");
    }
    if let Some(i) = f.entry {
        s += &format!("entry {i} ");
    }
    if let Some(l) = f.leaf {
        s += &format!("leaf {l} ");
    }
    if let Some(ev) = &f.event {
        s += &format!("event {}… ", &ev[..16.min(ev.len())]);
    }
    match (&f.signer, &f.signer_key) {
        (Some(n), _) => s += &format!("signer `{n}` "),
        (None, Some(k)) => s += &format!("signer key {k} "),
        (None, None) => {}
    }
    s + &f.what
}

/// The policy's window of event times, as text: "300 s ahead and 2592000 s behind".
fn replay_policy_window(policy: &Policy) -> String {
    format!("{} s ahead and {} s behind", policy.max_event_ahead, policy.max_event_behind)
}

/// Accepted events per epoch, signer and kind, as text lines (bursts stand out).
pub fn counts_table(report: &Report) -> String {
    let mut out = String::from("events per epoch, signer and kind:\n");
    if let Some(rows) = report.evidence["events_per_signer"].as_array() {
        for row in rows {
            out += &format!(
                "  epoch {:>4}  {:<32} {:<20} {}\n",
                row["epoch"],
                row["signer"].as_str().unwrap_or(""),
                row["kind"].as_str().unwrap_or(""),
                row["events"]
            );
        }
    }
    out
}

/// Adds the check "receipts honoured" to an export's report: each piece of evidence (a receipt
/// and a signed head issued after its deadline) is judged against the export's record. Bad input
/// (a receipt or head not signed by the registry key, an unknown format) is an error.
pub fn check_evidence(
    r: &mut Report,
    export_json: &str,
    registry_key: &VerifyingKey,
    evidence: &[(String, Evidence)],
) -> Result<(), String> {
    let export = LogExport::parse(export_json).map_err(|e| e.to_string())?;
    let mut findings = Vec::new();
    let mut judged = Vec::new();
    for (name, e) in evidence {
        match judge(e, &export.heads, &export.entries, registry_key)
            .map_err(|why| format!("{name}: {why}"))?
        {
            Some(f) => findings.push(f),
            None => judged.push(hex::encode(e.receipt.event)),
        }
    }
    r.check(
        "receipts honoured",
        findings.is_empty(),
        if findings.is_empty() {
            format!("{} receipt(s): every event published by its deadline", judged.len())
        } else {
            findings.join("; ")
        },
    );
    r.evidence["withheld_events"] = serde_json::json!(findings);
    Ok(())
}
