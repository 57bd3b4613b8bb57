//! Range-checked times and the comparison gadget.

use super::{TERM_BITS, TIME_BITS};
use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, PrimeField};
use ark_r1cs_std::{
    alloc::{AllocVar, AllocationMode},
    boolean::Boolean,
    eq::EqGadget,
    fields::fp::FpVar,
    GR1CSVar,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

type R<T> = Result<T, SynthesisError>;

/// Allocates `value`'s low `bits` bits as booleans (one constraint each) and returns them with
/// their little-endian sum. The sum is below 2^bits by construction: that is the range check.
fn alloc_bits(
    cs: &ConstraintSystemRef<Fr>,
    value: R<u64>,
    bits: usize,
    mode: AllocationMode,
) -> R<(Vec<Boolean<Fr>>, FpVar<Fr>)> {
    let mut out = Vec::with_capacity(bits);
    let mut sum = FpVar::Constant(Fr::from(0u64));
    let mut weight = Fr::from(1u64);
    for i in 0..bits {
        let bit = Boolean::new_variable(cs.clone(), || value.map(|v| (v >> i) & 1 == 1), mode)?;
        sum += FpVar::from(bit.clone()) * weight;
        weight.double_in_place();
        out.push(bit);
    }
    Ok((out, sum))
}

/// A time known to be below 2^40: it can only be built from 40 boolean bits.
#[derive(Clone, Debug)]
pub struct TimeVar(FpVar<Fr>);

impl TimeVar {
    /// A private time (a holder-state entry), allocated as its bits.
    pub fn new_witness(cs: ConstraintSystemRef<Fr>, value: impl FnOnce() -> R<u64>) -> R<Self> {
        let v = value();
        if let Ok(x) = v {
            if x >> TIME_BITS != 0 {
                return Err(SynthesisError::Unsatisfiable);
            }
        }
        Ok(Self(alloc_bits(&cs, v, TIME_BITS, AllocationMode::Witness)?.1))
    }

    /// Range-checks an already allocated value (the public `now`): 40 witness bits whose sum
    /// must equal it. A value ≥ 2^40 has no such bits, so the circuit is unsatisfiable.
    pub fn from_var(cs: ConstraintSystemRef<Fr>, var: &FpVar<Fr>) -> R<Self> {
        let value = var.value().map(|f| {
            let limbs = f.into_bigint().0;
            if limbs[1..].iter().any(|l| *l != 0) {
                u64::MAX
            } else {
                limbs[0]
            }
        });
        let (_, sum) = alloc_bits(&cs, value, TIME_BITS, AllocationMode::Witness)?;
        sum.enforce_equal(var)?;
        Ok(Self(sum))
    }

    /// The value as a field element (an exact integer below 2^40).
    pub fn fp(&self) -> &FpVar<Fr> {
        &self.0
    }

    /// `self + offset`, a comparison term below 2^41.
    pub fn plus(&self, offset: u64) -> TermVar {
        debug_assert!(offset <= super::MAX_DURATION);
        TermVar(&self.0 + Fr::from(offset))
    }
}

/// `time + duration` with the time range-checked and the duration a policy constant.
#[derive(Clone, Debug)]
pub struct TermVar(FpVar<Fr>);

impl TermVar {
    pub fn fp(&self) -> &FpVar<Fr> {
        &self.0
    }
}

/// `a < b` for two terms below 2^41, the twin of [`super::less_than`].
///
/// `b − a − 1 + 2^41` lies in `[0, 2^42 − 1)`; it is decomposed into 42 bits and its top bit is
/// exactly `a < b`. 43 constraints.
pub fn less_than(a: &TermVar, b: &TermVar) -> R<Boolean<Fr>> {
    let cs = a.0.cs().or(b.0.cs());
    let offset = Fr::from(1u64 << TERM_BITS);
    let diff = &b.0 - &a.0 - Fr::from(1u64) + offset;
    if cs.is_none() {
        let v = diff.value()?;
        return Ok(Boolean::Constant(v.into_bigint().0[0] >> TERM_BITS & 1 == 1));
    }
    let value = diff.value().map(|f| f.into_bigint().0[0]);
    let (bits, sum) = alloc_bits(&cs, value, TERM_BITS + 1, AllocationMode::Witness)?;
    sum.enforce_equal(&diff)?;
    Ok(bits[TERM_BITS].clone())
}
