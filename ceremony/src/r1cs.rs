//! The circuit in circom's binary `.r1cs` format, so snarkjs (`groth16 setup`, `r1cs info`) and
//! every circom-ecosystem tool read exactly the constraints our keys are made for.
//!
//! Wire 0 is the constant 1, wires 1–5 the public inputs in the order the statement allocates
//! them (circom's public inputs), then every witness variable; wire `i` is arkworks variable `i`,
//! and label `i` is wire `i`. Each linear combination is sorted by wire, so the export is
//! deterministic: its SHA-256 is a function of the circuit digest's matrices alone.

use crate::binfile::{self, BinFile, FormatError};
use crate::encoding;
use ark_bn254::Fr;
use healthcode_circuits::statement::Matrices;

/// One constraint `⟨A,w⟩·⟨B,w⟩ = ⟨C,w⟩`, each side `(wire, coefficient)` sorted by wire.
pub type Constraint = [Vec<(u32, Fr)>; 3];

/// A parsed `.r1cs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct R1cs {
    pub wires: u32,
    pub public_outputs: u32,
    pub public_inputs: u32,
    pub private_inputs: u32,
    pub labels: u64,
    pub constraints: Vec<Constraint>,
}

impl R1cs {
    /// The compiled circuit as circom would describe it: public inputs, no outputs.
    pub fn from_matrices(m: &Matrices) -> Self {
        let n = m.constraints();
        let constraints = (0..n)
            .map(|i| {
                let side = |s: usize| {
                    let mut v: Vec<(u32, Fr)> = m.r1cs[s][i].iter().map(|(c, w)| (*w as u32, *c)).collect();
                    v.sort_by_key(|e| e.0);
                    v
                };
                [side(0), side(1), side(2)]
            })
            .collect();
        Self {
            wires: m.variables() as u32,
            public_outputs: 0,
            public_inputs: (m.instance_variables - 1) as u32,
            private_inputs: m.witness_variables as u32,
            labels: m.variables() as u64,
            constraints,
        }
    }

    /// Public signals, not counting the constant (snarkjs's `nPublic`).
    pub fn public(&self) -> u32 {
        self.public_outputs + self.public_inputs
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut header = Vec::new();
        let r = encoding::r_le();
        header.extend_from_slice(&(r.len() as u32).to_le_bytes());
        header.extend_from_slice(&r);
        for n in [self.wires, self.public_outputs, self.public_inputs, self.private_inputs] {
            header.extend_from_slice(&n.to_le_bytes());
        }
        header.extend_from_slice(&self.labels.to_le_bytes());
        header.extend_from_slice(&(self.constraints.len() as u32).to_le_bytes());
        let mut body = Vec::new();
        for c in &self.constraints {
            for side in c {
                body.extend_from_slice(&(side.len() as u32).to_le_bytes());
                for (w, v) in side {
                    body.extend_from_slice(&w.to_le_bytes());
                    encoding::fr_to_le(v, &mut body);
                }
            }
        }
        let map: Vec<u8> = (0..self.wires as u64).flat_map(|i| i.to_le_bytes()).collect();
        binfile::write("r1cs", 1, &[(1, header), (2, body), (3, map)])
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let file = BinFile::parse(bytes, "r1cs", 1)?;
        let mut h = file.section(1)?;
        h.expect_prime(&encoding::r_le(), "the field's modulus")?;
        let wires = h.u32()?;
        let public_outputs = h.u32()?;
        let public_inputs = h.u32()?;
        let private_inputs = h.u32()?;
        let labels = h.u64()?;
        let m = h.u32()?;
        h.finish()?;
        if wires == 0 || (public_outputs as u64 + public_inputs as u64) >= wires as u64 {
            return Err(h.err(format!(
                "{wires} wires cannot hold {public_outputs} outputs and {public_inputs} inputs"
            )));
        }
        let mut r = file.section(2)?;
        // Each constraint has at least three 4-byte counts.
        r.expect_items(m as u64, 12, "constraints")?;
        let mut constraints = Vec::with_capacity(m as usize);
        for _ in 0..m {
            let mut c: Constraint = Default::default();
            for side in &mut c {
                let n = r.u32()?;
                r.expect_items(n as u64, 36, "terms")?;
                for _ in 0..n {
                    let w = r.u32()?;
                    if w >= wires {
                        return Err(r.err(format!("wire {w} of {wires}")));
                    }
                    side.push((w, r.fr_standard()?));
                }
            }
            constraints.push(c);
        }
        r.finish()?;
        let map = file.section(3)?;
        if map.len() as u64 != wires as u64 * 8 {
            return Err(map.err(format!("{} bytes of wire labels for {wires} wires", map.len())));
        }
        Ok(Self { wires, public_outputs, public_inputs, private_inputs, labels, constraints })
    }
}
