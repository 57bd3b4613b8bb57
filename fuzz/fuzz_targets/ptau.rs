//! Phase-1 `.ptau` files: parsing never panics and never allocates more than the file holds;
//! every point accessor of a parsed file either decodes or errs; small files (power ≤ 3) go
//! through the full phase-1 check.
#![no_main]
use healthcode_ceremony::ptau::{self, Ptau};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Ptau::parse(data) else { return };
    let _ = p.tau_g1(3.min((2usize << p.power) - 1));
    for k in 0..=(p.power + 1).min(3) {
        let _ = p.lagrange_tau_g1(k);
        if k <= p.power {
            let _ = p.lagrange_tau_g2(k);
            let _ = p.lagrange_alpha_tau_g1(k);
            let _ = p.lagrange_beta_tau_g1(k);
        }
    }
    let _ = (p.alpha_g1(), p.beta_g1(), p.beta_g2(), p.pinned_as());
    if p.power <= 3 {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        for needed in [1, p.power, p.power + 1] {
            let _ = ptau::check(&p, needed, &mut rng);
        }
    }
});
