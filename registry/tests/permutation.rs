//! The holder state is a per-kind max, so the order of events (and how they are split into
//! epochs) never changes the root: any permutation gives the root of the canonical order.

mod common;

use common::*;
use proptest::prelude::*;

const KINDS: [&str; 2] = ["positive_test", "negative_test"];

fn final_root(
    order: &[usize],
    events: &[(u32, usize, u64)],
    retract: &[bool],
    publish_after: &[bool],
    retract_order: &[usize],
) -> (healthcode_circuits::Fr, Vec<std::collections::BTreeMap<String, u64>>) {
    let mut f = fixture(4);
    let mut ids = vec![None; events.len()];
    for (step, &i) in order.iter().enumerate() {
        let (holder, kind, time) = events[i];
        ids[i] = Some(f.reg.submit(&f.event(&f.lab, holder, KINDS[kind], time, None), T0).unwrap());
        if publish_after[step] {
            f.reg.publish(T0).unwrap();
        }
    }
    for &i in retract_order {
        if retract[i] {
            f.reg.retract(&f.retraction(&f.lab, ids[i].unwrap()), T0).unwrap();
        }
    }
    let head = f.reg.publish(T0).unwrap();
    assert_eq!(f.reg.stored_tree().unwrap().recompute_root(), head.root);
    let states = (0..4).map(|h| f.reg.witness(h).unwrap().state).collect();
    (head.root, states)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_permutation_gives_the_same_root(
        raw in prop::collection::vec((0u32..4, 0usize..2, 0u64..50), 1..10),
        retract_bits in prop::collection::vec(any::<bool>(), 10),
        publish_bits in prop::collection::vec(any::<bool>(), 10),
        seed in any::<u64>(),
    ) {
        // Distinct times keep event ids distinct.
        let events: Vec<(u32, usize, u64)> =
            raw.iter().enumerate().map(|(i, &(h, k, t))| (h, k, T0 - DAY + t * 100 + i as u64)).collect();
        let n = events.len();
        let canonical: Vec<usize> = (0..n).collect();
        let (want, want_states) =
            final_root(&canonical, &events, &retract_bits[..n], &vec![false; n], &canonical);
        // A permutation from the seed (Fisher–Yates with a small LCG).
        let mut order = canonical.clone();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut rorder = order.clone();
        rorder.reverse();
        let (got, got_states) = final_root(&order, &events, &retract_bits[..n], &publish_bits[..n], &rorder);
        prop_assert_eq!(got, want);
        prop_assert_eq!(got_states, want_states);
    }
}
