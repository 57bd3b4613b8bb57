//! The reference evaluator: the meaning of a policy, in plain Rust. The circuit must agree with it
//! on every input (`tests/differential.rs`).

use super::expr::{Atom, CmpOp, Expr, Term};
use super::{Colour, Policy};
use crate::time::{less_than, MAX_TIME};
use serde::Serialize;

/// Which colour a state gets and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub colour: Colour,
    /// Index of the first rule whose condition held, or `None` for the default colour.
    pub rule: Option<usize>,
    pub because: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the policy has {expected} event kinds but the state has {got} times")]
    Arity { expected: usize, got: usize },
    #[error("time {value} for `{name}` is out of range (must be below 2^40)")]
    OutOfRange { name: String, value: u64 },
}

/// Checks a state vector (one time per event kind, 0 = never) and `now` against the policy.
pub fn check_state(policy: &Policy, state: &[u64], now: u64) -> Result<(), StateError> {
    if state.len() != policy.events.len() {
        return Err(StateError::Arity { expected: policy.events.len(), got: state.len() });
    }
    for (name, &value) in policy.events.iter().zip(state).chain([(&"now".to_string(), &now)]) {
        if value > MAX_TIME {
            return Err(StateError::OutOfRange { name: name.clone(), value });
        }
    }
    Ok(())
}

fn term(t: &Term, state: &[u64], now: u64) -> u64 {
    let base = match t.atom {
        Atom::Now => now,
        Atom::Event(i) => state[i],
    };
    base + t.offset
}

/// The truth of one condition; times are already checked to be below 2^40.
pub fn holds(e: &Expr, state: &[u64], now: u64) -> bool {
    match e {
        Expr::Within { event, duration } => state[*event] != 0 && less_than(now, state[*event] + duration),
        Expr::Never { event } => state[*event] == 0,
        Expr::Cmp { op, lhs, rhs } => {
            let (a, b) = (term(lhs, state, now), term(rhs, state, now));
            match op {
                CmpOp::Lt => less_than(a, b),
                CmpOp::Le => !less_than(b, a),
                CmpOp::Gt => less_than(b, a),
                CmpOp::Ge => !less_than(a, b),
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
            }
        }
        Expr::Not(x) => !holds(x, state, now),
        Expr::And(a, b) => holds(a, state, now) && holds(b, state, now),
        Expr::Or(a, b) => holds(a, state, now) || holds(b, state, now),
    }
}

/// `(policy, state, now) → verdict`: the first rule that holds gives the colour.
pub fn evaluate(policy: &Policy, state: &[u64], now: u64) -> Result<Verdict, StateError> {
    check_state(policy, state, now)?;
    Ok(policy
        .rules
        .iter()
        .enumerate()
        .find(|(_, r)| holds(&r.when, state, now))
        .map(|(i, r)| Verdict { colour: r.colour, rule: Some(i), because: Some(r.because.clone()) })
        .unwrap_or(Verdict { colour: policy.default, rule: None, because: None }))
}
