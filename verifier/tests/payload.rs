//! The payload codec and QR codes: exact layout, one encoding per code, typed errors for every
//! malformed input (docs/soundness.md §6 and §11), and no panics on arbitrary bytes.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use ark_serialize::CanonicalSerialize;
use healthcode_circuits::policy::Colour;
use healthcode_prover::fixtures::Fixture;
use healthcode_verifier::payload::{Payload, PayloadError, PROOF_BYTES, TEXT_PREFIX};
use healthcode_verifier::qr::{self, HealthQr, QrError, MAX_VERSION};
use proptest::prelude::*;
use std::sync::OnceLock;

/// One unbound and one bound code of the fixture (epoch 7: a one-byte varint).
fn codes() -> &'static (Payload, Payload) {
    static CODES: OnceLock<(Payload, Payload)> = OnceLock::new();
    CODES.get_or_init(|| {
        let f = Fixture::shared();
        let h = &f.population.holders[2];
        (f.prove(h, "venue:a", false).payload, f.prove(h, "venue:a", true).payload)
    })
}

const CHALLENGE_AT: usize = 16;
/// A bound code carries its tag where an unbound one carries its challenge (issue 11).
const TAG_AT: usize = 16;

fn proof_at(bytes: &[u8]) -> usize {
    bytes.len() - PROOF_BYTES
}

fn compressed<P: CanonicalSerialize>(p: &P) -> Vec<u8> {
    let mut v = Vec::new();
    p.serialize_compressed(&mut v).unwrap();
    v
}

#[test]
fn layout_sizes_and_round_trips() {
    let (plain, bound) = codes();
    let a = plain.encode().unwrap();
    let b = bound.encode().unwrap();
    assert_eq!(a.len(), 1 + 8 + 1 + 5 + 1 + 32 + 128);
    assert_eq!(b.len(), a.len(), "a bound code carries its tag instead of its challenge");
    assert!(b.len() <= 250, "payload target");
    assert_eq!(a[0], 2, "version");
    assert_eq!(
        &a[CHALLENGE_AT..CHALLENGE_AT + 32],
        &healthcode_circuits::field::to_bytes(&plain.challenge.unwrap())
    );
    assert_eq!(
        bound.challenge, None,
        "the challenge of a bound code (the checkpoint's nonce) is not carried"
    );
    assert_eq!(&b[TAG_AT..TAG_AT + 32], &healthcode_circuits::field::to_bytes(&bound.binding_tag.unwrap()));
    assert_eq!(&a[1..9], &Fixture::shared().policy.digest()[..8]);
    assert_eq!(a[9], 7, "epoch");
    assert_eq!(&a[10..15], &Fixture::NOW.to_be_bytes()[3..]);
    assert_eq!(a[15], plain.colour.code());
    assert_eq!(b[15], bound.colour.code() | 0x80);
    assert_eq!(&Payload::decode(&a).unwrap(), plain);
    assert_eq!(&Payload::decode(&b).unwrap(), bound);
    let text = bound.to_text().unwrap();
    assert!(text.starts_with(TEXT_PREFIX));
    assert!(text[TEXT_PREFIX.len()..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_eq!(&Payload::from_text(&format!("  {text}\n")).unwrap(), bound);
    assert_eq!(&Payload::decode_any(text.as_bytes()).unwrap(), bound);
    assert_eq!(&Payload::decode_any(&b).unwrap(), bound);
    // Large epochs stay decodable.
    for epoch in [0, 127, 128, 1 << 21, u64::MAX] {
        let mut p = plain.clone();
        p.epoch = epoch;
        assert_eq!(Payload::decode(&p.encode().unwrap()).unwrap().epoch, epoch);
    }
}

#[test]
fn a_bound_code_carries_no_challenge_and_an_unbound_one_always_does() {
    let (plain, bound) = codes();
    let mut both = bound.clone();
    both.challenge = plain.challenge;
    assert_eq!(both.encode(), Err(PayloadError::ChallengeAndBinding));
    let mut neither = plain.clone();
    neither.challenge = None;
    assert_eq!(neither.encode(), Err(PayloadError::ChallengeAndBinding));
    // Without the checkpoint's nonce a bound code has no public inputs to check a proof against.
    let root = Fr::from(1u64);
    assert!(bound.public_inputs(root, None).is_none());
    assert_eq!(bound.public_inputs(root, Some(Fr::from(5u64))).unwrap().challenge, Fr::from(5u64));
    assert_eq!(plain.public_inputs(root, Some(Fr::from(5u64))).unwrap().challenge, plain.challenge.unwrap());
}

#[test]
fn truncation_and_trailing_bytes_are_refused() {
    for p in [&codes().0, &codes().1] {
        let bytes = p.encode().unwrap();
        assert_eq!(Payload::decode(&[]), Err(PayloadError::Empty));
        for n in 1..bytes.len() {
            let err = Payload::decode(&bytes[..n]).unwrap_err();
            assert!(matches!(err, PayloadError::Truncated { .. }), "length {n}: {err:?}");
        }
        for extra in [&[0u8][..], &[1, 2, 3]] {
            let mut long = bytes.clone();
            long.extend_from_slice(extra);
            assert_eq!(Payload::decode(&long), Err(PayloadError::TrailingBytes(extra.len())));
        }
    }
}

#[test]
fn versions_flags_colours_and_epochs_are_checked() {
    let bytes = codes().0.encode().unwrap();
    for v in [0u8, 1, 3, 0xff] {
        let mut b = bytes.clone();
        b[0] = v;
        assert_eq!(Payload::decode(&b), Err(PayloadError::UnknownVersion(v)));
    }
    let mut b = bytes.clone();
    b[15] = 3;
    assert_eq!(Payload::decode(&b), Err(PayloadError::Colour(3)));
    for flag in [0x04u8, 0x40] {
        let mut b = bytes.clone();
        b[15] |= flag;
        assert!(matches!(Payload::decode(&b), Err(PayloadError::Flags(_))));
    }
    // Overlong varint: 7 as [0x87, 0x00].
    let mut b = bytes[..9].to_vec();
    b.extend_from_slice(&[0x87, 0x00]);
    b.extend_from_slice(&bytes[10..]);
    assert_eq!(Payload::decode(&b), Err(PayloadError::Epoch));
    // Above u64::MAX.
    let mut b = bytes[..9].to_vec();
    b.extend_from_slice(&[0xff; 9]);
    b.push(0x02);
    b.extend_from_slice(&bytes[10..]);
    assert_eq!(Payload::decode(&b), Err(PayloadError::Epoch));
}

#[test]
fn non_canonical_field_elements_are_refused() {
    let modulus = Fr::MODULUS.to_bytes_be();
    let plus = |k: u8| {
        let mut m = modulus.clone();
        *m.last_mut().unwrap() += k;
        m
    };
    let (plain, bound) = codes();
    // challenge + p: the same field element in a second spelling.
    let mut challenge_alias = (Fr::MODULUS).to_bytes_be();
    let c = plain.challenge.unwrap().into_bigint();
    let mut sum = Fr::MODULUS;
    sum.add_with_carry(&c);
    if sum.num_bits() <= 256 {
        challenge_alias = sum.to_bytes_be();
    }
    for replacement in [modulus.clone(), plus(1), vec![0xff; 32], challenge_alias] {
        let mut b = plain.encode().unwrap();
        b[CHALLENGE_AT..CHALLENGE_AT + 32].copy_from_slice(&replacement);
        assert_eq!(Payload::decode(&b), Err(PayloadError::NonCanonicalField("challenge")));
        let mut b = bound.encode().unwrap();
        b[TAG_AT..TAG_AT + 32].copy_from_slice(&replacement);
        assert_eq!(Payload::decode(&b), Err(PayloadError::NonCanonicalField("binding tag")));
    }
    let mut b = bound.encode().unwrap();
    b[TAG_AT..TAG_AT + 32].fill(0);
    assert_eq!(Payload::decode(&b), Err(PayloadError::ZeroBindingTag));
}

/// x-coordinates with and without a point on `y² = x³ + 3`.
fn g1_x(on_curve: bool) -> Fq {
    (1u64..)
        .map(Fq::from)
        .find(|x| G1Affine::get_point_from_x_unchecked(*x, false).is_some() == on_curve)
        .unwrap()
}

/// A point on the G2 twist outside the prime-order subgroup.
fn g2_outside_subgroup() -> G2Affine {
    (1u64..)
        .filter_map(|i| G2Affine::get_point_from_x_unchecked(Fq2::new(Fq::from(i), Fq::from(1u64)), false))
        .find(|p| !p.is_in_correct_subgroup_assuming_on_curve())
        .unwrap()
}

#[test]
fn invalid_points_are_refused() {
    let bytes = codes().0.encode().unwrap();
    let at = proof_at(&bytes);
    let (a, b, c) = (at, at + 32, at + 96);
    let with = |offset: usize, replacement: &[u8]| {
        let mut v = bytes.clone();
        v[offset..offset + replacement.len()].copy_from_slice(replacement);
        Payload::decode(&v)
    };
    // x with no point on the curve (an "off-curve" compressed point).
    let off = compressed(&g1_x(false));
    assert_eq!(with(a, &off), Err(PayloadError::InvalidPoint("A")));
    assert_eq!(with(c, &off), Err(PayloadError::InvalidPoint("C")));
    // x ≥ q: a non-canonical coordinate.
    let mut q = Fq::MODULUS.to_bytes_le();
    q.resize(32, 0);
    assert_eq!(with(a, &q), Err(PayloadError::InvalidPoint("A")));
    // Both flag bits set: no such encoding.
    let mut flags = compressed(&g1_x(true));
    flags[31] |= 0xc0;
    assert_eq!(with(a, &flags), Err(PayloadError::InvalidPoint("A")));
    // The identity.
    assert_eq!(with(a, &compressed(&G1Affine::zero())), Err(PayloadError::IdentityPoint("A")));
    assert_eq!(with(b, &compressed(&G2Affine::zero())), Err(PayloadError::IdentityPoint("B")));
    assert_eq!(with(c, &compressed(&G1Affine::zero())), Err(PayloadError::IdentityPoint("C")));
    // On the twist but outside the subgroup.
    let p = g2_outside_subgroup();
    assert!(p.is_on_curve());
    assert_eq!(with(b, &compressed(&p)), Err(PayloadError::InvalidPoint("B")));
    // A G2 x-coordinate with no point.
    let no_point = (1u64..)
        .map(|i| Fq2::new(Fq::from(i), Fq::from(2u64)))
        .find(|x| G2Affine::get_point_from_x_unchecked(*x, false).is_none())
        .unwrap();
    assert_eq!(with(b, &compressed(&no_point)), Err(PayloadError::InvalidPoint("B")));
    // A valid point on its own is fine: the untouched code decodes.
    assert!(with(a, &bytes[a..a + 32]).is_ok());
}

#[test]
fn text_form_errors() {
    assert_eq!(Payload::from_text("HC1:AAAA"), Err(PayloadError::MissingPrefix));
    assert_eq!(Payload::from_text(&format!("{TEXT_PREFIX}***")), Err(PayloadError::Base64));
    assert_eq!(Payload::from_text(&format!("{TEXT_PREFIX}AAAA=")), Err(PayloadError::Base64));
    assert_eq!(Payload::from_text(TEXT_PREFIX), Err(PayloadError::Empty));
}

#[test]
fn qr_codes_fit_version_10_and_round_trip_through_images() {
    let (plain, bound) = codes();
    let mut big_epoch = bound.clone();
    big_epoch.epoch = 1 << 34;
    for p in [plain, bound, &big_epoch] {
        let qr = HealthQr::new(p).unwrap();
        assert!(qr.version() <= MAX_VERSION, "version {}", qr.version());
        let png = qr.to_png();
        assert_eq!(&qr::decode_image(&png).unwrap(), p);
        assert_eq!(qr::read_image(&png).unwrap(), p.encode().unwrap(), "decode_to gives the exact bytes");
        // JPEG: lossy, but a QR code survives it.
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let mut jpeg = std::io::Cursor::new(Vec::new());
        img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!(&qr::decode_image(jpeg.get_ref()).unwrap(), p);
        assert!(qr.to_svg().starts_with("<?xml"));
        let term = qr.to_terminal();
        assert_eq!(term.lines().count(), (qr.width() + 8).div_ceil(2));
    }
    // As a person sees it: in each colour, with its name and time under it, and still read.
    for (p, colour) in [plain, bound, &big_epoch].into_iter().zip(Colour::ALL) {
        let png = HealthQr::new(p).unwrap().to_coloured_png(colour, "2026-12-06 08:26 CST");
        assert_eq!(&qr::decode_image(&png).unwrap(), p, "{colour:?}");
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        // The frame is the colour: a corner pixel is its bright tone, and the tones differ.
        let corner = img.get_pixel(2, 2).0;
        let expect = match colour {
            Colour::Green => [0x1e, 0x9e, 0x4a],
            Colour::Yellow => [0xf5, 0xc8, 0x00],
            Colour::Red => [0xd6, 0x28, 0x28],
        };
        assert_eq!(corner, expect, "{colour:?}");
        // The caption band under the code holds text pixels (the name and the time).
        let band_top = img.width();
        let text_pixels = (band_top..img.height())
            .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 != expect)
            .count();
        assert!(text_pixels > 2000, "{colour:?}: {text_pixels} text pixels");
    }
    println!(
        "QR versions: plain {}, bound {}",
        HealthQr::new(plain).unwrap().version(),
        HealthQr::new(bound).unwrap().version()
    );
}

#[test]
fn images_without_codes_give_typed_errors() {
    assert!(matches!(qr::read_image(b"not an image"), Err(QrError::Image(_))));
    let blank = image::GrayImage::from_pixel(200, 200, image::Luma([255]));
    let mut png = std::io::Cursor::new(Vec::new());
    blank.write_to(&mut png, image::ImageFormat::Png).unwrap();
    assert!(matches!(qr::read_image(png.get_ref()), Err(QrError::NotFound)));
    // A QR code with some other content: a typed payload error.
    let other = qrcode::QrCode::new(b"https://example.org/").unwrap().render::<image::Luma<u8>>().build();
    let mut png = std::io::Cursor::new(Vec::new());
    other.write_to(&mut png, image::ImageFormat::Png).unwrap();
    assert!(matches!(qr::decode_image(png.get_ref()), Err(QrError::Payload(_))));
}

/// An image tiled with QR finder patterns (4.5 kB as a well-compressed PNG) made the detector try every grouping
/// of them for 78 CPU seconds; the reader now gives up at its deadline.
#[test]
fn an_image_of_finder_patterns_is_given_up_at_the_deadline() {
    const FINDER: [&str; 8] =
        ["1111111", "1000001", "1011101", "1011101", "1011101", "1000001", "1111111", "0000000"];
    let side = 1024;
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let row = FINDER[(y as usize / 3) % 8].as_bytes();
        let dark = row.get((x as usize / 3) % 8).is_some_and(|&c| c == b'1');
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    assert!(png.get_ref().len() < 64_000, "a small file: {} bytes", png.get_ref().len());
    let started = std::time::Instant::now();
    let r = qr::read_image(png.get_ref());
    let waited = started.elapsed();
    assert!(matches!(r, Err(QrError::TooSlow)), "{r:?} after {waited:?}");
    assert!(waited < qr::READ_DEADLINE + std::time::Duration::from_secs(2), "{waited:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..260)) {
        let _ = Payload::decode(&bytes);
        let _ = Payload::decode_any(&bytes);
        let mut prefixed = TEXT_PREFIX.as_bytes().to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = Payload::decode_any(&prefixed);
    }

    #[test]
    fn random_text_never_panics(s in "\\PC{0,300}") {
        let _ = Payload::from_text(&s);
        let _ = Payload::from_text(&format!("{TEXT_PREFIX}{s}"));
    }

    #[test]
    fn mutations_never_panic_and_whatever_decodes_is_canonical(
        bound in any::<bool>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let mut bytes = if bound { codes().1.encode().unwrap() } else { codes().0.encode().unwrap() };
        for (pos, value, op) in edits {
            let i = pos % (bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] ^= value | 1,
                1 => bytes.insert(i, value),
                2 if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.truncate(i),
            }
        }
        if let Ok(p) = Payload::decode(&bytes) {
            prop_assert_eq!(p.encode().unwrap(), bytes);
        }
    }
}
