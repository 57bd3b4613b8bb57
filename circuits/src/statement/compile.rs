//! Compiles a policy's rules into constraints: the twin of [`crate::policy::eval`].
//!
//! Each distinct comparison and zero test is built once and reused across rules.

use crate::policy::{Atom, CmpOp, Expr, Policy, Term};
use crate::time::gadget::{less_than, TermVar, TimeVar};
use ark_bn254::Fr;
use ark_r1cs_std::{
    boolean::Boolean,
    eq::EqGadget,
    fields::{fp::FpVar, FieldVar},
    select::CondSelectGadget,
};
use ark_relations::gr1cs::SynthesisError;
use std::collections::HashMap;

type R<T> = Result<T, SynthesisError>;

struct Compiler<'a> {
    times: &'a [TimeVar],
    now: &'a TimeVar,
    lt: HashMap<(Term, Term), Boolean<Fr>>,
    eq: HashMap<(Term, Term), Boolean<Fr>>,
    zero: HashMap<usize, Boolean<Fr>>,
}

impl Compiler<'_> {
    fn term(&self, t: &Term) -> TermVar {
        match t.atom {
            Atom::Now => self.now.plus(t.offset),
            Atom::Event(i) => self.times[i].plus(t.offset),
        }
    }

    fn less_than(&mut self, a: &Term, b: &Term) -> R<Boolean<Fr>> {
        if let Some(x) = self.lt.get(&(*a, *b)) {
            return Ok(x.clone());
        }
        let x = less_than(&self.term(a), &self.term(b))?;
        self.lt.insert((*a, *b), x.clone());
        Ok(x)
    }

    fn equal(&mut self, a: &Term, b: &Term) -> R<Boolean<Fr>> {
        let key = if (a.atom, a.offset) <= (b.atom, b.offset) { (*a, *b) } else { (*b, *a) };
        if let Some(x) = self.eq.get(&key) {
            return Ok(x.clone());
        }
        let x = self.term(a).fp().is_eq(self.term(b).fp())?;
        self.eq.insert(key, x.clone());
        Ok(x)
    }

    fn never(&mut self, event: usize) -> R<Boolean<Fr>> {
        if let Some(x) = self.zero.get(&event) {
            return Ok(x.clone());
        }
        let x = self.times[event].fp().is_zero()?;
        self.zero.insert(event, x.clone());
        Ok(x)
    }

    fn holds(&mut self, e: &Expr) -> R<Boolean<Fr>> {
        Ok(match e {
            Expr::Within { event, duration } => {
                let now = Term { atom: Atom::Now, offset: 0 };
                let end = Term { atom: Atom::Event(*event), offset: *duration };
                !self.never(*event)? & self.less_than(&now, &end)?
            }
            Expr::Never { event } => self.never(*event)?,
            Expr::Cmp { op, lhs, rhs } => match op {
                CmpOp::Lt => self.less_than(lhs, rhs)?,
                CmpOp::Le => !self.less_than(rhs, lhs)?,
                CmpOp::Gt => self.less_than(rhs, lhs)?,
                CmpOp::Ge => !self.less_than(lhs, rhs)?,
                CmpOp::Eq => self.equal(lhs, rhs)?,
                CmpOp::Ne => !self.equal(lhs, rhs)?,
            },
            Expr::Not(x) => !self.holds(x)?,
            Expr::And(a, b) => self.holds(a)? & self.holds(b)?,
            Expr::Or(a, b) => self.holds(a)? | self.holds(b)?,
        })
    }
}

/// The colour code the rules give, first match winning: folded from the last rule back,
/// `acc = cond_i ? colour_i : acc`, starting from the default.
pub fn colour(policy: &Policy, times: &[TimeVar], now: &TimeVar) -> R<FpVar<Fr>> {
    let mut c = Compiler { times, now, lt: HashMap::new(), eq: HashMap::new(), zero: HashMap::new() };
    let conditions = policy.rules.iter().map(|r| c.holds(&r.when)).collect::<R<Vec<_>>>()?;
    let mut acc = FpVar::Constant(Fr::from(policy.default.code()));
    for (rule, cond) in policy.rules.iter().zip(&conditions).rev() {
        acc = FpVar::conditionally_select(cond, &FpVar::Constant(Fr::from(rule.colour.code())), &acc)?;
    }
    Ok(acc)
}
