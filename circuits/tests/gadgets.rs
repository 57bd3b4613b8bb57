//! docs/soundness.md §9: every gadget agrees with its native twin, boundary values included, with
//! operands as constants, public inputs and witnesses. §12: the hash domains are distinct.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_r1cs_std::{
    alloc::{AllocVar, AllocationMode},
    boolean::Boolean,
    fields::fp::FpVar,
    GR1CSVar,
};
use ark_relations::gr1cs::{ConstraintSystem, ConstraintSystemRef};
use healthcode_circuits::{
    hashes::{self, gadget as hg},
    state,
    time::{self, gadget::TimeVar, MAX_DURATION, MAX_TIME, TIME_BITS},
    tree::{self, SparseTree},
};

const MODES: [AllocationMode; 3] = [AllocationMode::Constant, AllocationMode::Input, AllocationMode::Witness];

fn alloc(cs: &ConstraintSystemRef<Fr>, x: Fr, mode: AllocationMode) -> FpVar<Fr> {
    FpVar::new_variable(cs.clone(), || Ok(x), mode).unwrap()
}

fn boundary_times() -> Vec<u64> {
    vec![0, 1, 2, 86_399, 86_400, 1_655_164_800, MAX_TIME - 1, MAX_TIME]
}

#[test]
fn less_than_matches_native_at_boundaries() {
    let offsets = [0u64, 1, 604_800, MAX_DURATION];
    for &a in &boundary_times() {
        for &b in &boundary_times() {
            for &da in &offsets {
                for &db in &offsets {
                    for mode in [AllocationMode::Input, AllocationMode::Witness] {
                        let cs = ConstraintSystem::<Fr>::new_ref();
                        let ta = TimeVar::from_var(cs.clone(), &alloc(&cs, Fr::from(a), mode)).unwrap();
                        let tb = TimeVar::new_witness(cs.clone(), || Ok(b)).unwrap();
                        let lt = time::gadget::less_than(&ta.plus(da), &tb.plus(db)).unwrap();
                        assert_eq!(
                            lt.value().unwrap(),
                            time::less_than(a + da, b + db),
                            "{a}+{da} < {b}+{db}"
                        );
                        assert!(cs.is_satisfied().unwrap());
                    }
                }
            }
        }
    }
}

#[test]
fn less_than_costs_43_constraints_and_its_bit_cannot_lie() {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let a = TimeVar::new_witness(cs.clone(), || Ok(5)).unwrap();
    let b = TimeVar::new_witness(cs.clone(), || Ok(7)).unwrap();
    let before = cs.num_constraints();
    let lt = time::gadget::less_than(&a.plus(0), &b.plus(0)).unwrap();
    assert_eq!(cs.num_constraints() - before, 43);
    assert!(lt.value().unwrap());
    // Claim the opposite result: enforce the returned bit false → unsatisfiable.
    use ark_r1cs_std::eq::EqGadget;
    lt.enforce_equal(&Boolean::FALSE).unwrap();
    assert!(!cs.is_satisfied().unwrap());
}

#[test]
fn time_witness_is_its_bits() {
    for t in boundary_times() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let v = TimeVar::new_witness(cs.clone(), || Ok(t)).unwrap();
        assert_eq!(v.fp().value().unwrap(), Fr::from(t));
        assert_eq!(cs.num_constraints(), TIME_BITS);
        assert!(cs.is_satisfied().unwrap());
    }
    let cs = ConstraintSystem::<Fr>::new_ref();
    assert!(TimeVar::new_witness(cs, || Ok(MAX_TIME + 1)).is_err());
}

#[test]
fn pack_gadget_matches_native() {
    let states: [&[u64]; 4] = [&[0], &[MAX_TIME, 1, 0, 7], &[1, 2, 3, 4, 5, 6, 7], &[MAX_TIME; 18]];
    for s in states {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let vars: Vec<TimeVar> =
            s.iter().map(|&t| TimeVar::new_witness(cs.clone(), || Ok(t)).unwrap()).collect();
        let words = state::gadget::pack(&vars);
        let native = state::pack(s);
        for (w, n) in words.iter().zip(native) {
            assert_eq!(w.value().unwrap(), n);
        }
    }
    // Injective: neighbouring states differ.
    assert_ne!(state::pack(&[1, 0]), state::pack(&[0, 1]));
    assert_ne!(state::pack(&[MAX_TIME, 0]), state::pack(&[0, 1]));
}

#[test]
fn hash_gadgets_match_native_in_every_mode() {
    let (x, y) = (Fr::from(123u64), -Fr::ONE);
    let words = [Fr::from(9u64), Fr::ZERO, -Fr::ONE];
    for mode in MODES {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let (vx, vy) = (alloc(&cs, x, mode), alloc(&cs, y, mode));
        let vw = words.map(|w| alloc(&cs, w, mode));
        assert_eq!(hg::public_key(&vx).unwrap().value().unwrap(), hashes::public_key(x));
        assert_eq!(hg::commitment(&vx, &vy).unwrap().value().unwrap(), hashes::commitment(x, y));
        assert_eq!(hg::leaf(&vx, &vw).unwrap().value().unwrap(), hashes::leaf(x, &words));
        let kids = [vx.clone(), vy.clone(), vw[0].clone(), vw[2].clone()];
        assert_eq!(hg::node(&kids).unwrap().value().unwrap(), hashes::node(&[x, y, words[0], words[2]]));
        assert_eq!(hg::binding_tag(&vx, &vy).unwrap().value().unwrap(), hashes::binding_tag(x, y));
        assert!(cs.is_satisfied().unwrap());
    }
}

#[test]
fn hash_domains_are_separated() {
    let (a, b) = (Fr::from(1u64), Fr::from(2u64));
    let two_input = [hashes::commitment(a, b), hashes::binding_tag(a, b), hashes::public_key(a)];
    assert_ne!(two_input[0], two_input[1]);
    let four = [a, b, Fr::ZERO, Fr::ZERO];
    assert_ne!(hashes::node(&four), hashes::leaf(a, &[b, Fr::ZERO, Fr::ZERO]));
    // None coincides with plain (domain 0) circomlib Poseidon.
    use healthcode_circuits::poseidon::native::hash;
    assert_ne!(hash(Fr::ZERO, &[a, b]), two_input[0]);
    assert_ne!(hash(Fr::ZERO, &four), hashes::node(&four));
    assert_ne!(hashes::id_hash("G1"), hashes::challenge("G1"));
}

#[test]
fn tree_gadget_matches_native_and_empty_roots_chain() {
    let mut t = SparseTree::new();
    assert_eq!(t.root(), tree::empty_root(tree::LEVELS));
    let leaves = [
        (0u32, Fr::from(5u64)),
        (3, Fr::from(6u64)),
        (u32::MAX, Fr::from(7u64)),
        (0x8000_0001, Fr::from(8u64)),
    ];
    t.set_leaves(leaves);
    for (index, leaf) in leaves {
        let path = t.path(index);
        assert_eq!(path.root(leaf, index), t.root());
        assert_ne!(path.root(leaf + Fr::ONE, index), t.root());
        for mode in [AllocationMode::Input, AllocationMode::Witness] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let l = alloc(&cs, leaf, mode);
            let bits: Vec<Boolean<Fr>> = (0..tree::INDEX_BITS)
                .map(|i| Boolean::new_variable(cs.clone(), || Ok((index >> i) & 1 == 1), mode).unwrap())
                .collect();
            let sib: Vec<[FpVar<Fr>; 3]> =
                path.siblings.iter().map(|s| s.map(|x| alloc(&cs, x, mode))).collect();
            let root = tree::gadget::root(&l, &bits, &sib).unwrap();
            assert_eq!(root.value().unwrap(), t.root());
            assert!(cs.is_satisfied().unwrap());
        }
    }
    // Removing a leaf restores the sparse representation exactly.
    t.set_leaves(leaves.map(|(i, _)| (i, tree::EMPTY_LEAF)));
    assert_eq!(t.root(), tree::empty_root(tree::LEVELS));
    assert_eq!(t.occupied(), 0);
}

/// Why arity 4: the measured per-level costs of both options.
#[test]
fn arity_four_is_cheaper_than_binary() {
    let cost = |inputs: usize| {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let v: Vec<FpVar<Fr>> =
            (0..inputs).map(|i| alloc(&cs, Fr::from(i as u64), AllocationMode::Witness)).collect();
        let _ = healthcode_circuits::poseidon::gadget::hash(Fr::from(4u64), &v).unwrap();
        cs.num_constraints()
    };
    let (w3, w5) = (cost(2), cost(4));
    // Binary: one width-3 hash + one select per level, 32 levels (+1 booleanity per bit).
    let binary = 32 * (w3 + 1 + 1);
    // Arity 4: one width-5 hash, 8 select/logic constraints and 2 bit checks per level, 16 levels.
    let quaternary = 16 * (w5 + 8 + 2);
    assert_eq!((w3, w5), (240, 297));
    assert!(quaternary < binary * 2 / 3, "{quaternary} vs {binary}");
}
