// Generates tests/vectors.json from the real ffjavascript 0.3.1 / snarkjs 0.7.6
// installed in /tmp/snarkjs-node (npm install snarkjs@0.7.6 there). Run:
//   node scripts/ffjs-vectors.mjs > ceremony/tests/data/ffjs-vectors.json
import { pathToFileURL } from "url";

const NM = "/tmp/snarkjs-node/node_modules/";
const imp = (p) => import(pathToFileURL(NM + p).href);

const ffjs = await imp("ffjavascript/main.js");
const misc = await imp("snarkjs/src/misc.js");
const keypair = await imp("snarkjs/src/keypair.js");
const zutils = await imp("snarkjs/src/zkey_utils.js");
const { blake2b } = await imp("@noble/hashes/esm/blake2b.js");

const { ChaCha, getCurveFromName } = ffjs;
const curve = await getCurveFromName("bn128", true);
const { Fr, G1, G2 } = curve;

const hex = (u8) => Buffer.from(u8).toString("hex");
const str = (o) => (typeof o === "bigint" ? o.toString(10) : Array.isArray(o) ? o.map(str) : o);
const frStr = (a) => Fr.toObject(a).toString(10);
// Affine coordinates as decimal strings; G2 as [[x.c0,x.c1],[y.c0,y.c1]]; infinity -> null.
function pt(G, p) {
    if (G.isZero(p)) return null;
    const o = G.toObject(G.toAffine(p));
    return str([o[0], o[1]]);
}
function u(G, p) {
    const b = new Uint8Array(G.F.n8 * 2);
    G.toRprUncompressed(b, 0, p);
    return hex(b);
}
function blakeStr(s) {
    return blake2b.create({ dkLen: 64 }).update(new TextEncoder().encode(s)).digest();
}
function seedOf(h) {
    const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    return [...Array(8).keys()].map((i) => dv.getUint32(i * 4, false));
}

const out = {};

// ChaCha raw stream.
const chachaSeeds = [[0, 0, 0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 0xdeadbeef, 0xffffffff, 0x80000000, 7]];
out.chacha = chachaSeeds.map((seed) => {
    const r = new ChaCha(seed);
    const u32 = [];
    for (let i = 0; i < 64; i++) u32.push(r.nextU32());
    const r2 = new ChaCha(seed);
    const u64 = [];
    for (let i = 0; i < 4; i++) u64.push(r2.nextU64().toString(10));
    const bools = [];
    for (let i = 0; i < 8; i++) bools.push(r2.nextBool());
    return { seed, u32, u64_then_bools: { u64, bools } };
});

// fromRng draws.
const rngSeeds = [seedOf(blakeStr("seed-a")), seedOf(blakeStr("seed-b")), [5, 4, 3, 2, 1, 0, 0xffffffff, 42]];
out.from_rng = rngSeeds.map((seed) => {
    let r = new ChaCha(seed);
    const fr = [];
    for (let i = 0; i < 6; i++) fr.push(frStr(Fr.fromRng(r)));
    r = new ChaCha(seed);
    const g1 = [];
    for (let i = 0; i < 4; i++) g1.push(pt(G1, G1.fromRng(r)));
    r = new ChaCha(seed);
    const g2 = [];
    for (let i = 0; i < 4; i++) g2.push(pt(G2, G2.fromRng(r)));
    r = new ChaCha(seed);
    const mixed = {
        fr: frStr(Fr.fromRng(r)),
        g1: pt(G1, G1.fromRng(r)),
        g2: pt(G2, G2.fromRng(r)),
        fr2: frStr(Fr.fromRng(r)),
        next_u32: r.nextU32(),
    };
    return { seed, fr, g1, g2, mixed };
});

// hashToG2.
out.hash_to_g2 = ["t0", "t1", "t2"].map((s) => {
    const t = blakeStr(s);
    return { transcript: hex(t), g2: pt(G2, keypair.hashToG2(curve, t)) };
});
// also one transcript that is a subarray with non-zero byteOffset
{
    const big = new Uint8Array(80);
    big.set(blakeStr("offset"), 16);
    const t = big.subarray(16, 80);
    out.hash_to_g2.push({ transcript: hex(t), g2: pt(G2, keypair.hashToG2(curve, t)) });
}

// rngFromBeaconParams.
const beacons = [
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
    "cafebabe01",
];
out.beacon = [];
for (const b of beacons) {
    for (const e of [0, 3, 10]) {
        const r = await misc.rngFromBeaconParams(misc.hex2ByteArray(b), e);
        const seed = r.state.slice(4, 12);
        const fr = frStr(Fr.fromRng(r));
        const g1 = pt(G1, G1.fromRng(r));
        out.beacon.push({ beacon_hash: b, exp: e, seed, fr, g1 });
    }
}

// toRprUncompressed.
const r0 = new ChaCha(rngSeeds[0]);
const rg1 = G1.fromRng(r0);
const rg2 = G2.fromRng(r0);
out.encoding = {
    g1: [
        { point: pt(G1, G1.g), bytes: u(G1, G1.g) },
        { point: pt(G1, rg1), bytes: u(G1, rg1) },
        { point: null, bytes: u(G1, G1.zero) },
    ],
    g2: [
        { point: pt(G2, G2.g), bytes: u(G2, G2.g) },
        { point: pt(G2, rg2), bytes: u(G2, rg2) },
        { point: null, bytes: u(G2, G2.zero) },
    ],
    // ffjs decodes a first byte with 0x40 set as infinity.
    g1_flag_decodes_zero: G1.isZero(G1.fromRprUncompressed(Uint8Array.from([0x40, ...new Uint8Array(63)]), 0)),
};

// Two contributions replayed with snarkjs's own helpers exactly as
// zkey_contribute.js / zkey_beacon.js do (minus the file I/O).
const csHash = blakeStr("circuit");
const mpc = { csHash, contributions: [] };
let vkDelta1 = G1.g;
function contribute(rng, extra) {
    const th = blake2b.create({ dkLen: 64 });
    th.update(mpc.csHash);
    for (const c of mpc.contributions) zutils.hashPubKey(th, curve, c);
    const c = { delta: {} };
    c.delta.prvKey = Fr.fromRng(rng);
    c.delta.g1_s = G1.toAffine(G1.fromRng(rng));
    c.delta.g1_sx = G1.toAffine(G1.timesFr(c.delta.g1_s, c.delta.prvKey));
    zutils.hashG1(th, curve, c.delta.g1_s);
    zutils.hashG1(th, curve, c.delta.g1_sx);
    c.transcript = th.digest();
    c.delta.g2_sp = keypair.hashToG2(curve, c.transcript);
    c.delta.g2_spx = G2.toAffine(G2.timesFr(c.delta.g2_sp, c.delta.prvKey));
    vkDelta1 = G1.timesFr(vkDelta1, c.delta.prvKey);
    c.deltaAfter = vkDelta1;
    Object.assign(c, extra);
    mpc.contributions.push(c);
    const ch = blake2b.create({ dkLen: 64 });
    zutils.hashPubKey(ch, curve, c);
    return {
        prv_key: frStr(c.delta.prvKey),
        g1_s: pt(G1, c.delta.g1_s),
        g1_sx: pt(G1, c.delta.g1_sx),
        transcript: hex(c.transcript),
        g2_sp: pt(G2, c.delta.g2_sp),
        g2_spx: pt(G2, c.delta.g2_spx),
        delta_after: pt(G1, c.deltaAfter),
        contribution_hash: hex(ch.digest()),
    };
}
const c1 = contribute(new ChaCha(rngSeeds[1]), { type: 0 });
const bh = misc.hex2ByteArray(beacons[0]);
const c2 = contribute(await misc.rngFromBeaconParams(bh, 10), { type: 1, numIterationsExp: 10, beaconHash: bh });
out.contributions = { cs_hash: hex(csHash), seed: rngSeeds[1], beacon_hash: beacons[0], beacon_exp: 10, list: [c1, c2] };

process.stdout.write(JSON.stringify(out, null, 1) + "\n");
process.exit(0);
