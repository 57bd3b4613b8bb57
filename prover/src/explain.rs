//! Why a holder has their colour: the rule that fired and the events it reads.
//!
//! This is health data for the holder's own screen. `Display` prints it (that is its purpose);
//! `Debug` redacts the event times so it cannot leak through logs (docs/soundness.md §14).

use healthcode_circuits::policy::{Atom, Colour, Expr, Policy, Verdict};
use std::fmt;

/// One event kind a rule reads, with the holder's latest time for it (0 = never).
#[derive(Clone, PartialEq, Eq)]
pub struct EventTime {
    pub kind: String,
    pub time: u64,
}

/// The colour, the rule behind it and the events that rule reads.
#[derive(Clone, PartialEq, Eq)]
pub struct Explanation {
    pub colour: Colour,
    /// Index of the first rule that holds (`None`: no rule held, the policy's default applies).
    pub rule: Option<usize>,
    pub because: Option<String>,
    /// The events the firing rule reads, in the policy's event order.
    pub events: Vec<EventTime>,
    /// The time the colour is claimed at (unix seconds): event times are shown relative to it.
    pub now: u64,
}

fn collect(e: &Expr, out: &mut Vec<usize>) {
    match e {
        Expr::Within { event, .. } | Expr::Never { event } => out.push(*event),
        Expr::Cmp { lhs, rhs, .. } => {
            for t in [lhs, rhs] {
                if let Atom::Event(i) = t.atom {
                    out.push(i);
                }
            }
        }
        Expr::Not(x) => collect(x, out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            collect(a, out);
            collect(b, out);
        }
    }
}

impl Explanation {
    /// `state` must be the one `verdict` was evaluated on, at `now`.
    pub fn new(policy: &Policy, verdict: &Verdict, state: &[u64], now: u64) -> Self {
        let mut idx = Vec::new();
        if let Some(rule) = verdict.rule.and_then(|i| policy.rules.get(i)) {
            collect(&rule.when, &mut idx);
        }
        idx.sort_unstable();
        idx.dedup();
        let events = idx
            .into_iter()
            .filter_map(|i| Some(EventTime { kind: policy.events.get(i)?.clone(), time: *state.get(i)? }))
            .collect();
        Self { colour: verdict.colour, rule: verdict.rule, because: verdict.because.clone(), events, now }
    }
}

impl fmt::Debug for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Explanation")
            .field("colour", &self.colour)
            .field("rule", &self.rule)
            .field("events", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.rule, &self.because) {
            (Some(i), Some(because)) => writeln!(f, "{}: rule {i} — {because}", self.colour)?,
            _ => writeln!(f, "{}: no rule applies, the policy's default colour", self.colour)?,
        }
        for e in &self.events {
            if e.time == 0 {
                writeln!(f, "  {}: never", e.kind)?;
            } else {
                writeln!(f, "  {}: {}", e.kind, healthcode_verifier::when::human(e.time, self.now))?;
            }
        }
        Ok(())
    }
}
