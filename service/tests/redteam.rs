//! Adversarial tests of the registry service, the gate and the witness: each one is an attack
//! that must fail. Those the service does not resist yet are `#[ignore]`d with their finding.

mod common;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use common::*;
use healthcode_service::api::{path, AddSigner, Enrol};
use healthcode_service::auth;
use healthcode_service::client::Client;
use healthcode_service::gate::{verify_recent, GateError, GateTrust};
use healthcode_service::server::{self, unix_now, ServeConfig, WitnessConfig};
use healthcode_transparency::Vkey;
use std::net::TcpListener;
use std::time::Duration;

/// An HTTP server that answers every `POST /add-checkpoint` with `body` (status 200), as a
/// malicious or compromised witness (or whoever sits on an unencrypted link to one) would.
fn start_lying_witness(body: String) -> WitnessConfig {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let router = axum::Router::new().route(
                path::ADD_CHECKPOINT,
                axum::routing::post(move || {
                    let body = body.clone();
                    async move { body }
                }),
            );
            let _ = axum::serve(listener, router).await;
        });
    });
    // Its own key, which it never uses: the registry is configured with it like any witness.
    let vkey = healthcode_service::witness::WitnessKeyFile::generate("liar.example").vkey;
    WitnessConfig { url, vkey }
}

/// A note signature line under `name`/`id` whose signature bytes are zeros (a forgery).
fn forged_line(name: &str, id: u32) -> String {
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0u8; 72]);
    format!("— {name} {}\n", BASE64.encode(bytes))
}

fn policy_digest() -> [u8; 32] {
    healthcode_circuits::policy::Policy::parse(POLICY).unwrap().digest()
}

/// Finding 1: the publisher merged whatever a witness answered into the served checkpoint. A
/// witness that answers with a forged line under ANOTHER witness's name and key ID gets that
/// line into the note first (the honest cosignature is then dropped as a duplicate), and every
/// gate refuses the whole note (a configured key's line that does not verify rejects it); junk
/// lines under unknown names fill the note's 100 signature slots so the next witness's
/// cosignature no longer fits. One bad witness (or an attacker on the link to it) takes every
/// gate offline.
#[test]
fn a_lying_witness_cannot_poison_the_served_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, log_vkey) = new_registry(dir.path());
    let honest = start_witness("honest.example", &dir.path().join("honest.state"), &log_vkey);
    let hv = Vkey::parse(&honest.vkey).unwrap();
    let mut lies = forged_line(&hv.name, hv.id);
    for i in 0..97 {
        lies.push_str(&forged_line(&format!("junk{i}.example"), i));
    }
    let liar = start_lying_witness(lies);
    let operator = key(1);
    let server = start_registry(&db, &operator, vec![liar, honest.config.clone()]);
    let client = Client::new(&server.url);
    populate(&client, &operator, 1);
    client.publish(&operator).unwrap();

    let trust = GateTrust::new(reg_key, policy_digest(), std::slice::from_ref(&honest.vkey), 1).unwrap();
    let answer = client.recent_heads(16).unwrap();
    let verified = verify_recent(&trust, &answer, unix_now());
    assert!(verified.is_ok(), "the honest witness's cosignature was lost: {verified:?}");
    // Nothing the liar sent is served.
    assert!(!answer.checkpoint.contains("junk0.example"), "junk lines were merged into the checkpoint");
}

/// Finding 2: a `/v1/heads` answer is not signed as a whole, and the gate accepted any subset of
/// it. Whoever can touch the answer (the network without TLS, a proxy, or anyone who can edit
/// the gate's `--heads-cache` file) drops the newest head; the gate then never learns that the
/// head a holder proves over was superseded, and the `superseded-head` check (a positive result
/// in the newest epoch) is blind. The checkpoint says how many heads exist, so the gate must
/// insist on seeing the newest ones, contiguously.
#[test]
fn a_gate_refuses_an_answer_with_heads_left_out() {
    let scene = witnessed(2);
    let (reg_key, operator, client, world, w) =
        (scene.reg_key, &scene.operator, &scene.client, &scene.world, scene.witness.as_ref().unwrap());
    client.publish(operator).unwrap();
    client.submit_event(&test_event(reg_key, &world.lab, world.holders[0].1, 60)).unwrap();
    client.publish(operator).unwrap();
    client.publish(operator).unwrap();
    let trust = GateTrust::new(reg_key, policy_digest(), std::slice::from_ref(&w.vkey), 1).unwrap();
    let full = client.recent_heads(16).unwrap();
    assert_eq!(full.heads.len() as u64, full.checkpoint_size);
    let newest = verify_recent(&trust, &full, unix_now()).unwrap().heads.last().unwrap().epoch;
    assert_eq!(newest, full.checkpoint_size - 1);

    // The newest head stripped.
    let mut stripped = full.clone();
    stripped.heads.pop();
    let got = verify_recent(&trust, &stripped, unix_now());
    assert!(got.is_err(), "accepted an answer without the newest head: {:?}", got.map(|t| t.heads.len()));
    // A head in the middle stripped (the grace would run from a later head).
    let mut holed = full.clone();
    holed.heads.remove(1);
    assert!(verify_recent(&trust, &holed, unix_now()).is_err(), "accepted an answer with a hole");
    // Reordered and duplicated heads are still the same set: fine.
    let mut shuffled = full.clone();
    shuffled.heads.reverse();
    shuffled.heads.push(full.heads[0].clone());
    assert_eq!(verify_recent(&trust, &shuffled, unix_now()).unwrap().heads.len(), full.heads.len());
    // An answer with only the newest head is complete enough (a gate asking for count=1).
    let mut newest_only = full.clone();
    newest_only.heads.drain(..newest_only.heads.len() - 1);
    assert!(verify_recent(&trust, &newest_only, unix_now()).is_ok());
    // Empty stays refused.
    let mut empty = full.clone();
    empty.heads.clear();
    assert_eq!(verify_recent(&trust, &empty, unix_now()).unwrap_err(), GateError::Empty);
}

fn in_process(dir: &std::path::Path) -> (std::sync::Arc<server::App>, ed25519_dalek::SigningKey) {
    let (db, _, _) = new_registry(dir);
    let operator = key(1);
    let config = ServeConfig {
        db,
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        publish_every: None,
        operator: Some(operator.verifying_key()),
        witnesses: vec![],
        request_timeout: Duration::from_secs(10),
        tree_cache_levels: healthcode_registry::registry::DEFAULT_CACHE_LEVELS,
        web: None,
    };
    let (app, _writer) = server::open(&config).unwrap();
    (app, operator)
}

async fn call(
    app: &std::sync::Arc<server::App>,
    method: &str,
    pq: &str,
    body: &[u8],
    signer: Option<&ed25519_dalek::SigningKey>,
) -> u16 {
    use tower::ServiceExt as _;
    let mut req = axum::http::Request::builder().method(method).uri(pq);
    if let Some(k) = signer {
        for (name, value) in auth::sign(&app.registry_key, k, method, pq, unix_now(), body) {
            req = req.header(name, value);
        }
    }
    let req = req.body(axum::body::Body::from(body.to_vec())).unwrap();
    let router = server::routes::router(app.clone(), Duration::from_secs(10), None);
    router.oneshot(req).await.unwrap().status().as_u16()
}

/// Finding 3: the replay guard remembered every request whose signature verified, before asking
/// whether the signer may do anything at all. Anyone can make keys, so anyone could fill the
/// server's memory with signatures (each kept up to 240 s when signed 120 s in the future), at
/// the cost of one Ed25519 signature per 200-odd bytes of server memory, with every request
/// answered 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_fill_the_replay_guard() {
    let dir = tempfile::tempdir().unwrap();
    let (app, operator) = in_process(dir.path());
    for i in 0..30u8 {
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[100 + i; 32]);
        assert_eq!(call(&app, "GET", path::HOLDER_WITNESS, b"", Some(&stranger)).await, 403);
        assert_eq!(call(&app, "GET", path::HOLDER_HISTORY, b"", Some(&stranger)).await, 403);
        assert_eq!(call(&app, "GET", "/v1/auditor/entries?start=0&count=1", b"", Some(&stranger)).await, 403);
        assert_eq!(call(&app, "POST", path::OPERATOR_PUBLISH, b"", Some(&stranger)).await, 403);
    }
    assert_eq!(app.replay.len(), 0, "refused requests were remembered");
    // Authorised requests are still remembered (and so cannot be replayed).
    let body = serde_json::to_vec(&AddSigner {
        name: "lab-z".into(),
        role: healthcode_registry::event::Role::Lab,
        key: hex::encode(key(50).verifying_key().as_bytes()),
        accredited_from: 0,
    })
    .unwrap();
    assert_eq!(call(&app, "POST", path::OPERATOR_SIGNERS, &body, Some(&operator)).await, 201);
    assert_eq!(app.replay.len(), 1);
}

/// A captured authorised request replayed against the same server is refused, whichever
/// role signed it, including after the signer is looked up in the database.
#[test]
fn authorised_requests_replay_only_once() {
    let scene = scene(1);
    let (reg_key, operator, client, world) = (scene.reg_key, &scene.operator, &scene.client, &scene.world);
    let server = &scene.server;
    client.publish(operator).unwrap();
    let device = world.holders[0].0.device_key();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let h = auth::sign(&reg_key, &device, "GET", path::HOLDER_WITNESS, unix_now(), b"");
    let get = |h: &[(String, String); 4]| {
        let mut r = agent.get(format!("{}{}", server.url, path::HOLDER_WITNESS));
        for (k, v) in h {
            r = r.header(k, v);
        }
        r.call().unwrap().status().as_u16()
    };
    assert_eq!(get(&h), 200);
    assert_eq!(get(&h), 401);
    // The same signature on another path does not verify.
    let mut r = agent.get(format!("{}{}", server.url, path::HOLDER_HISTORY));
    for (k, v) in &h {
        r = r.header(k, v);
    }
    assert_eq!(r.call().unwrap().status().as_u16(), 401);
    // A percent-encoded spelling of the signed path neither verifies nor routes elsewhere.
    let h = auth::sign(&reg_key, &device, "GET", "/v1/holder/%77itness", unix_now(), b"");
    let mut r = agent.get(format!("{}/v1/holder/%77itness", server.url));
    for (k, v) in &h {
        r = r.header(k, v);
    }
    assert_eq!(r.call().unwrap().status().as_u16(), 404);
}

/// Finding 5: a signed request names no registry. An operator key shared by two registries
/// (staging and production, or two regions) lets anyone who sees a request to one (a log line,
/// a proxy) replay it to the other within the 120 s window: enrolments, accreditations and
/// forced publishes the operator never meant for it.
#[test]
fn a_request_signed_for_one_registry_is_refused_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let (db_a, reg_key, _) = new_registry(&dir.path().join("a").tap_mkdir());
    let (db_b, _, _) = new_registry(&dir.path().join("b").tap_mkdir());
    let operator = key(1);
    let a = start_registry(&db_a, &operator, vec![]);
    let b = start_registry(&db_b, &operator, vec![]);
    let enrol = Enrol {
        commitment: healthcode_circuits::field::to_hex(
            &healthcode_registry::HolderFile::generate("X").commitment,
        ),
        device_key: hex::encode(key(77).verifying_key().as_bytes()),
    };
    let body = serde_json::to_vec(&enrol).unwrap();
    let h = auth::sign(&reg_key, &operator, "POST", path::OPERATOR_HOLDERS, unix_now(), &body);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let post = |url: &str| {
        let mut r =
            agent.post(format!("{url}{}", path::OPERATOR_HOLDERS)).header("content-type", "application/json");
        for (k, v) in &h {
            r = r.header(k, v);
        }
        r.send(&body[..]).unwrap().status().as_u16()
    };
    assert_eq!(post(&a.url), 201);
    assert_ne!(post(&b.url), 201, "registry B enrolled a holder on a request the operator signed for A");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// Finding 6: the listener had no timer, so hyper's header read timeout never fired and the
/// request timeout only starts once the headers are in. A client that sends its headers a byte
/// at a time (or stops half-way) holds a connection and its task forever: a few thousand such
/// connections exhaust the server's file descriptors (slowloris).
#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = new_registry(dir.path());
    let server = start_registry_with(ServeConfig {
        db,
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        publish_every: None,
        operator: Some(key(1).verifying_key()),
        witnesses: vec![],
        request_timeout: Duration::from_secs(1),
        tree_cache_levels: healthcode_registry::registry::DEFAULT_CACHE_LEVELS,
        web: None,
    });
    let mut s = std::net::TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 512];
    let got = s.read(&mut buf);
    assert!(
        got.is_ok(),
        "the half-sent request still holds its connection after {:?}: {got:?}",
        started.elapsed()
    );
}

/// (status, body) of a raw request with optional extra headers.
fn raw(method: &str, url: &str, body: &[u8], headers: &[(&str, String)]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = if method == "GET" {
        let mut r = agent.get(url);
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        r.call().unwrap()
    } else {
        let mut r = agent.post(url).header("content-type", "application/json");
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        r.send(body).unwrap()
    };
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default())
}

fn as_headers(h: &[(String, String); 4]) -> Vec<(&str, String)> {
    h.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

/// Edge values and malformed input on every public route: never a 5xx, never a hang, never a
/// panic (the catch-panic layer would answer 500).
#[test]
fn odd_requests_are_refused_without_a_server_error() {
    let scene = scene(1);
    let (reg_key, operator, client, world) = (scene.reg_key, &scene.operator, &scene.client, &scene.world);
    let server = &scene.server;
    let auditor = key(40);
    client
        .add_auditor(
            operator,
            &healthcode_service::api::AddAuditor {
                name: "aud".into(),
                key: hex::encode(auditor.verifying_key().as_bytes()),
            },
        )
        .unwrap();
    // Before the first publish after enrolment: the holder's witness is not there yet.
    let (s, _) = raw("GET", &format!("{}{}", server.url, path::HOLDER_WITNESS), b"", &[]);
    assert_eq!(s, 401);
    client.publish(operator).unwrap();
    let u = &server.url;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let big_string = serde_json::to_vec(&serde_json::json!({ "event": "x".repeat(900_000) })).unwrap();
    let too_big = vec![b' '; healthcode_service::api::MAX_BODY + 1];
    let ev = test_event(reg_key, &world.lab, world.holders[0].1, 60);
    let mut bad_sig = serde_json::to_value(&ev).unwrap();
    bad_sig["holder"] = serde_json::json!(u32::MAX);
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("GET", format!("{u}/v1/heads?count=0"), vec![]),
        ("GET", format!("{u}/v1/heads?count=1001"), vec![]),
        ("GET", format!("{u}/v1/heads?count=18446744073709551615"), vec![]),
        ("GET", format!("{u}/v1/heads?count=18446744073709551616"), vec![]),
        ("GET", format!("{u}/v1/heads?count=-1"), vec![]),
        ("GET", format!("{u}/v1/heads?count=1&count=2"), vec![]),
        ("GET", format!("{u}/v1/heads/18446744073709551615"), vec![]),
        ("GET", format!("{u}/v1/heads/9223372036854775808"), vec![]),
        ("GET", format!("{u}/v1/heads/-1"), vec![]),
        ("GET", format!("{u}/tile/0/x999/x999/x999/x999/x999/x999/999"), vec![]),
        ("GET", format!("{u}/tile/63/000"), vec![]),
        ("GET", format!("{u}/tile/entries/000.p/0"), vec![]),
        ("GET", format!("{u}/tile/entries/000.p/255"), vec![]),
        ("GET", format!("{u}/tile/0/000.p/1/../../checkpoint"), vec![]),
        ("GET", format!("{u}/tile/%2e%2e/checkpoint"), vec![]),
        ("GET", format!("{u}/tile/{}", "x000/".repeat(2000)), vec![]),
        ("POST", format!("{u}/v1/events"), deep.into_bytes()),
        ("POST", format!("{u}/v1/events"), big_string),
        ("POST", format!("{u}/v1/events"), too_big),
        ("POST", format!("{u}/v1/events"), b"[]".to_vec()),
        ("POST", format!("{u}/v1/events"), serde_json::to_vec(&bad_sig).unwrap()),
        ("POST", format!("{u}/v1/events"), serde_json::to_vec(&vec![ev.clone(); 1001]).unwrap()),
        ("POST", format!("{u}/v1/retractions"), b"{}".to_vec()),
        ("POST", format!("{u}/v1/operator/publish"), vec![]),
        ("GET", format!("{u}/v1/auditor/entries?start=0&count=1"), vec![]),
    ];
    for (m, url, body) in cases {
        let (s, text) = raw(m, &url, &body, &[]);
        assert!((400..500).contains(&s), "{m} {url}: {s} {}", &text[..text.len().min(200)]);
    }
    // A signed request replayed with its headers spelled differently (upper-case hex, "+time",
    // upper-case header names): the same signature, so still a replay.
    let h = auth::sign(&reg_key, operator, "POST", path::OPERATOR_PUBLISH, unix_now(), b"");
    let (s, _) = raw("POST", &format!("{u}{}", path::OPERATOR_PUBLISH), b"", &as_headers(&h));
    assert_eq!(s, 200);
    let respelled: Vec<(&str, String)> = vec![
        ("X-HEALTHCODE-KEY", h[0].1.to_uppercase()),
        ("X-HealthCode-Time", format!("+{}", h[1].1)),
        ("x-healthcode-nonce", h[2].1.clone()),
        ("X-Healthcode-Signature", h[3].1.to_uppercase()),
    ];
    let (s, text) = raw("POST", &format!("{u}{}", path::OPERATOR_PUBLISH), b"", &respelled);
    assert_eq!(s, 401, "a respelled replay: {text}");
    // A huge header value, and a duplicated signature header (the first value counts).
    let huge = vec![(auth::KEY_HEADER, "a".repeat(60_000))];
    let (s, text) = raw("POST", &format!("{u}{}", path::OPERATOR_PUBLISH), b"", &huge);
    assert!((400..500).contains(&s), "huge header: {s} {text}");
    let h = auth::sign(&reg_key, operator, "POST", path::OPERATOR_PUBLISH, unix_now(), b"");
    let mut dup = as_headers(&h);
    dup.push((auth::SIGNATURE_HEADER, "00".repeat(64)));
    let (s, _) = raw("POST", &format!("{u}{}", path::OPERATOR_PUBLISH), b"", &dup);
    assert!(s < 500, "duplicated headers: {s}");
    // The auditor's edge values.
    for q in ["start=18446744073709551615&count=1000", "start=0&count=0", "start=0&count=1001", "count=1"] {
        let pq = format!("{}?{q}", path::AUDITOR_ENTRIES);
        let h = auth::sign(&reg_key, &auditor, "GET", &pq, unix_now(), b"");
        let (s, text) = raw("GET", &format!("{u}{pq}"), b"", &as_headers(&h));
        assert!(s < 500, "{pq}: {s} {text}");
    }
    assert_eq!(client.entries(&auditor, u64::MAX - 1, 1000).unwrap().entries.len(), 0);
    // Still serving.
    assert!(client.latest_head().is_ok());
}

/// Group commit: many submitters at once, each with a batch mixing events that are accepted
/// and events that are refused; each gets exactly its own verdicts, in its own order.
#[test]
fn each_submitter_gets_its_own_verdicts() {
    let scene = scene(24);
    let (reg_key, world) = (scene.reg_key, &scene.world);
    let server = &scene.server;
    let stranger = key(99);
    std::thread::scope(|s| {
        for (i, (_, leaf)) in world.holders.iter().enumerate() {
            let (url, lab, tracer, stranger) = (server.url.clone(), &world.lab, &world.tracer, &stranger);
            s.spawn(move || {
                let c = Client::new(&url);
                // Accepted, refused (unknown signer), refused (a tracer may not sign a test),
                // accepted (another time), then the first again (duplicate).
                let a = test_event(reg_key, lab, *leaf, 60 + i as u64);
                let batch = vec![
                    a.clone(),
                    test_event(reg_key, stranger, *leaf, 61),
                    test_event(reg_key, tracer, *leaf, 62),
                    test_event(reg_key, lab, *leaf, 3600 + i as u64),
                    a,
                ];
                let verdicts = c.submit_events(&batch).unwrap();
                let got: Vec<String> = verdicts
                    .iter()
                    .zip(&batch)
                    .map(|(v, e)| match v {
                        healthcode_service::api::Verdict::Accepted(r) => {
                            assert_eq!(r.event, e.event.id(), "a receipt for another submitter's event");
                            r.verify(&reg_key).unwrap();
                            "ok".to_string()
                        }
                        healthcode_service::api::Verdict::Refused(b) => b.error.clone(),
                    })
                    .collect();
                assert_eq!(
                    got,
                    ["ok", "unknown_signer", "role_not_allowed", "ok", "duplicate"],
                    "submitter {i}"
                );
            });
        }
    });
}

/// Finding 7: `verify_recent` never looks at how old the cosigned checkpoint is (the cosignature
/// times) and a gate keeps no memory of the largest checkpoint it has trusted. Whoever sits
/// between a gate and the registry (or edits `--heads-cache`, `fetched_at` included) can serve
/// an old, complete, validly cosigned answer from before a holder's positive result: the gate
/// never learns of the newer head, and its superseded-head check cannot fire. Only the heads'
/// own age (`max_root_age`) bounds this.
#[test]
fn a_gate_refuses_a_rolled_back_answer() {
    let scene = witnessed(1);
    let (reg_key, operator, client, world, w) =
        (scene.reg_key, &scene.operator, &scene.client, &scene.world, scene.witness.as_ref().unwrap());
    client.publish(operator).unwrap();
    let old = client.recent_heads(16).unwrap();
    client.submit_event(&test_event(reg_key, &world.lab, world.holders[0].1, 60)).unwrap();
    client.publish(operator).unwrap();
    let trust = GateTrust::new(reg_key, policy_digest(), std::slice::from_ref(&w.vkey), 1).unwrap();
    let new = verify_recent(&trust, &client.recent_heads(16).unwrap(), unix_now()).unwrap();
    // The gate has seen the newer checkpoint; the old answer must not be accepted after it,
    // nor an answer whose newest cosignature is hours old.
    let later = unix_now() + 6 * 3600;
    assert!(
        verify_recent(&trust, &old, later).is_err(),
        "a rolled-back answer was accepted after {} heads were known",
        new.heads.len()
    );
}

/// A log of `n` entries whose contents depend on `fork`, and its signed checkpoint.
fn forked_log(
    log_key: &healthcode_transparency::LogKey,
    n: u64,
    fork: &str,
) -> healthcode_transparency::TiledLog {
    let mut log = healthcode_transparency::TiledLog::new(log_key.origin());
    for i in 0..n {
        log.push(format!("{fork} {i}").into_bytes());
    }
    log
}

fn add_checkpoint(url: &str, body: &[u8]) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    agent.post(format!("{url}{}", path::ADD_CHECKPOINT)).send(body).unwrap().status().as_u16()
}

/// The witness cosigns one view only: two forks of the same size sent concurrently, many times,
/// get exactly one cosignature between them; after a restart on the same state the other fork
/// is still refused, from either old size.
#[test]
fn a_witness_cosigns_one_view_under_concurrency_and_restart() {
    use healthcode_transparency::{add_checkpoint_request, LogKey};
    let dir = tempfile::tempdir().unwrap();
    let log_key = LogKey::new("example.org/redteam-log", key(5));
    let (a, b) = (forked_log(&log_key, 3, "a"), forked_log(&log_key, 3, "b"));
    let body_a = add_checkpoint_request(0, &[], &a.checkpoint(&log_key));
    let body_b = add_checkpoint_request(0, &[], &b.checkpoint(&log_key));
    let kf = healthcode_service::witness::WitnessKeyFile::generate("w.example");
    let state = dir.path().join("w.state");
    let w = start_witness_with(&kf, &state, &log_key.vkey());
    let oks: Vec<(bool, u16)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let (url, body) = (w.server.url.clone(), if i % 2 == 0 { &body_a } else { &body_b });
                s.spawn(move || (i % 2 == 0, add_checkpoint(&url, body)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&(bool, u16)> = oks.iter().filter(|(_, st)| *st == 200).collect();
    assert_eq!(winners.len(), 1, "cosignatures: {oks:?}");
    let a_won = winners[0].0;
    assert!(oks.iter().all(|(_, st)| *st == 200 || *st == 409), "{oks:?}");
    drop(w);

    // Restarted on the same state: the loser is refused whatever old size it claims.
    let w = start_witness_with(&kf, &state, &log_key.vkey());
    let (winner, loser) = if a_won { (&a, &b) } else { (&b, &a) };
    let loser_cp = loser.checkpoint(&log_key);
    assert_eq!(add_checkpoint(&w.server.url, &add_checkpoint_request(0, &[], &loser_cp)), 409);
    assert_eq!(add_checkpoint(&w.server.url, &add_checkpoint_request(3, &[], &loser_cp)), 422);
    // A bigger loser-fork checkpoint with a proof from the winner's tree does not verify either.
    let mut bigger = forked_log(&log_key, 3, if a_won { "b" } else { "a" });
    bigger.push(b"x".to_vec());
    let proof = winner.consistency_proof(0, 3).unwrap(); // empty: any proof the registry likes
    let forged = add_checkpoint_request(3, &proof, &bigger.checkpoint(&log_key));
    assert_eq!(add_checkpoint(&w.server.url, &forged), 422);
    let honest_proof = bigger.consistency_proof(3, 4).unwrap();
    let lying = add_checkpoint_request(3, &honest_proof, &bigger.checkpoint(&log_key));
    assert_eq!(add_checkpoint(&w.server.url, &lying), 422, "a proof from the loser's own tree");
}

/// Finding 6 for the witness: `witness serve` used `axum::serve`, which sets no hyper timer,
/// so the witness too kept a half-sent request's connection open forever.
#[test]
fn a_witness_cuts_off_a_client_that_never_finishes_its_headers() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let kf = healthcode_service::witness::WitnessKeyFile::generate("w.example");
    let log_vkey = healthcode_transparency::LogKey::new("example.org/l", key(5)).vkey();
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = healthcode_service::witness::WitnessConfig {
        listen: addr,
        state: dir.path().join("w.state"),
        logs: vec![log_vkey],
    };
    let cosigner = kf.cosigner().unwrap();
    let witness = on_thread(format!("http://{addr}"), move |stop| {
        healthcode_service::witness::serve(config, cosigner, stop)
    });
    let mut s = poll_until("the witness", || std::net::TcpStream::connect(addr).ok());
    s.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(healthcode_service::witness::HEADER_TIMEOUT.as_secs() + 5)))
        .unwrap();
    let started = std::time::Instant::now();
    let got = s.read(&mut [0u8; 512]);
    assert!(
        got.is_ok(),
        "the half-sent request still holds its connection after {:?}: {got:?}",
        started.elapsed()
    );
    witness.stop().unwrap();
}

/// Enrolment racing: the same device key (or the same commitment) enrolled from many
/// connections at once is registered exactly once; the others get 409, never a 500.
#[test]
fn concurrent_enrolments_register_a_device_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = new_registry(dir.path());
    let operator = key(1);
    let server = start_registry(&db, &operator, vec![]);
    let device = hex::encode(key(60).verifying_key().as_bytes());
    let shared = healthcode_registry::HolderFile::generate("SHARED");
    let statuses: Vec<(u16, u16)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (url, op, device, shared) = (server.url.clone(), &operator, device.clone(), &shared);
                s.spawn(move || {
                    let c = Client::new(&url);
                    let status = |r: Result<_, healthcode_service::client::ClientError>| match r {
                        Ok(_) => 201,
                        Err(healthcode_service::client::ClientError::Refused { status, .. }) => status,
                        Err(e) => panic!("{e}"),
                    };
                    let own = healthcode_registry::HolderFile::generate(&format!("D{i}"));
                    let same_device = Enrol {
                        commitment: healthcode_circuits::field::to_hex(&own.commitment),
                        device_key: device,
                    };
                    let same_commitment = Enrol {
                        commitment: healthcode_circuits::field::to_hex(&shared.commitment),
                        device_key: hex::encode(key(100 + i as u8).verifying_key().as_bytes()),
                    };
                    (status(c.enrol(op, &same_device)), status(c.enrol(op, &same_commitment)))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for pick in [|p: &(u16, u16)| p.0, |p: &(u16, u16)| p.1] {
        let got: Vec<u16> = statuses.iter().map(pick).collect();
        assert_eq!(got.iter().filter(|&&s| s == 201).count(), 1, "{got:?}");
        assert!(got.iter().all(|&s| s == 201 || s == 409), "{got:?}");
    }
}

/// What a malicious registry (or the network) can do to a heads answer under the gate's quorum:
/// the same witness's cosignature twice, one witness's cosignature under another's name, a
/// cosignature of another checkpoint, a size that disagrees with the note, a head at the index
/// of another epoch. All refused.
#[test]
fn a_gate_counts_only_real_distinct_cosignatures_of_this_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, log_vkey) = new_registry(dir.path());
    let kf1 = healthcode_service::witness::WitnessKeyFile::generate("w1.example");
    let kf2 = healthcode_service::witness::WitnessKeyFile::generate("w2.example");
    let w1 = start_witness_with(&kf1, &dir.path().join("w1.state"), &log_vkey);
    let operator = key(1);
    // Only w1 is asked to cosign; the gate wants w1 AND w2.
    let server = start_registry(&db, &operator, vec![w1.config.clone()]);
    let client = Client::new(&server.url);
    populate(&client, &operator, 1);
    client.publish(&operator).unwrap();
    let old_answer = client.recent_heads(16).unwrap();
    client.publish(&operator).unwrap();
    let answer = client.recent_heads(16).unwrap();
    let vkeys = vec![kf1.vkey.clone(), kf2.vkey.clone()];
    let strict = GateTrust::new(reg_key, policy_digest(), &vkeys, 2).unwrap();
    let lenient = GateTrust::new(reg_key, policy_digest(), &vkeys, 1).unwrap();
    assert!(verify_recent(&lenient, &answer, unix_now()).is_ok());
    assert!(verify_recent(&strict, &answer, unix_now()).is_err());
    let w1_line = answer.checkpoint.lines().find(|l| l.starts_with("— w1.example ")).unwrap().to_string();
    let with = |extra: &str| {
        let mut a = answer.clone();
        a.checkpoint.push_str(extra);
        a.checkpoint.push('\n');
        a
    };
    // w1's line twice.
    assert!(verify_recent(&strict, &with(&w1_line), unix_now()).is_err());
    // w1's signature bytes under w2's name and key ID.
    let v2 = Vkey::parse(&kf2.vkey).unwrap();
    let sig = BASE64.decode(w1_line.rsplit(' ').next().unwrap()).unwrap();
    let mut renamed = v2.id.to_be_bytes().to_vec();
    renamed.extend_from_slice(&sig[4..]);
    let renamed = format!("— {} {}", v2.name, BASE64.encode(renamed));
    assert!(verify_recent(&strict, &with(&renamed), unix_now()).is_err());
    assert!(verify_recent(&lenient, &with(&renamed), unix_now()).is_err(), "a bad line under a trusted name");
    // w2's real cosignature, but of the previous checkpoint.
    let old_text = old_answer.checkpoint.split("\n\n").next().unwrap().to_string() + "\n";
    let w2_old = kf2.cosigner().unwrap().cosign(old_text.as_bytes(), unix_now()).unwrap();
    let w2_old = String::from_utf8(w2_old).unwrap();
    assert!(verify_recent(&strict, &with(w2_old.trim_end()), unix_now()).is_err());
    // w2's real cosignature of this checkpoint does make the quorum (the control).
    let text = answer.checkpoint.split("\n\n").next().unwrap().to_string() + "\n";
    let w2_now =
        String::from_utf8(kf2.cosigner().unwrap().cosign(text.as_bytes(), unix_now()).unwrap()).unwrap();
    assert!(verify_recent(&strict, &with(w2_now.trim_end()), unix_now()).is_ok());
    // A size in the answer that is not the note's.
    let mut sized = answer.clone();
    sized.checkpoint_size += 1;
    assert!(matches!(verify_recent(&lenient, &sized, unix_now()), Err(GateError::SizeMismatch { .. })));
    // Each head's proof swapped with its neighbour's (a head at another index).
    let mut swapped = answer.clone();
    let n = swapped.heads.len();
    let p = swapped.heads[n - 1].proof.clone();
    swapped.heads[n - 1].proof = swapped.heads[n - 2].proof.clone();
    swapped.heads[n - 2].proof = p;
    assert!(verify_recent(&lenient, &swapped, unix_now()).is_err());
}

/// Finding 8: `POST /v1/events` handed every event to the writer, which checks signatures inside
/// the registry's one lock (`submit_batch`). Anyone can send 1000 badly signed events per
/// request: a thousand Ed25519 verifications each, under the lock every other request (holder
/// witnesses, heads, publishes, real submissions) waits for. A badly signed event must be
/// refused without touching the registry's lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badly_signed_events_are_refused_without_the_registry_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _operator) = in_process(dir.path());
    let lab = key(11);
    let mut ev = test_event(app.registry_key, &lab, 0, 60);
    ev.event.time -= 1; // the signature no longer matches
    let body = serde_json::to_vec(&vec![ev; 1000]).unwrap();
    // Someone else holds the registry for a while (a long commit, a publish).
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let holder = {
        let app = app.clone();
        std::thread::spawn(move || {
            let _reg = app.registry();
            held_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_secs(3));
        })
    };
    held_rx.recv().unwrap();
    let answered =
        tokio::time::timeout(Duration::from_millis(1500), call(&app, "POST", path::EVENTS, &body, None))
            .await;
    assert_eq!(answered, Ok(200), "junk waited for the registry's lock");
    holder.join().unwrap();
}

/// Finding 9: the client sent a holder's signed read over plain `http://` to any host. Her
/// witness carries her state (the time of each event kind, so her colour) and her history her
/// events: a passive eavesdropper on the path learns her health status. The same holds for an
/// auditor's full log entries. These reads must refuse clear text except to loopback.
#[test]
fn private_reads_refuse_clear_text_to_a_remote_host() {
    let device = key(3);
    for url in
        ["http://registry.example.invalid", "HTTP://user@192.0.2.1:80/prefix", "http://[2001:db8::1]:8"]
    {
        let remote = Client::new(url);
        for (what, e) in [
            ("witness", remote.witness(&device).map(|_| ()).unwrap_err()),
            ("history", remote.history(&device).map(|_| ()).unwrap_err()),
            ("entries", remote.entries(&device, 0, 1).map(|_| ()).unwrap_err()),
        ] {
            assert!(!e.is_network() && e.to_string().contains("https"), "{what} to {url} in clear text: {e}");
        }
    }
    // https to a remote host, and plain http to loopback, are attempted (and unreachable here).
    let e = Client::new("https://registry.example.invalid").witness(&device).map(|_| ()).unwrap_err();
    assert!(e.is_network(), "{e}");
    for local in ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"] {
        let e = Client::new(local).witness(&device).map(|_| ()).unwrap_err();
        assert!(e.is_network(), "{local}: {e}");
    }
}

/// With finding 1 fixed the witness vkeys are what cosignatures are checked against: a
/// misconfigured one must stop the service at start, not silently drop every cosignature.
#[test]
fn a_bad_witness_vkey_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, log_vkey) = new_registry(dir.path());
    for vkey in ["nonsense".to_string(), log_vkey] {
        let config = ServeConfig {
            db: db.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            publish_every: None,
            operator: None,
            witnesses: vec![WitnessConfig { url: "http://127.0.0.1:1".into(), vkey: vkey.clone() }],
            request_timeout: Duration::from_secs(10),
            tree_cache_levels: healthcode_registry::registry::DEFAULT_CACHE_LEVELS,
            web: None,
        };
        assert!(server::open(&config).is_err(), "started with witness vkey {vkey:?}");
    }
}

/// Finding 10: cosignatures are gathered only at start and right after a publish. A witness
/// that is down at that moment leaves the served checkpoint short of its cosignature until the
/// next publish (none at all without `--publish-every`): every gate with a quorum that needs it
/// stays on its stale cache, though the witness came back long ago.
#[test]
fn a_witness_that_comes_back_gets_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, log_vkey) = new_registry(dir.path());
    let kf = healthcode_service::witness::WitnessKeyFile::generate("late.example");
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let operator = key(1);
    let wconf = WitnessConfig { url: format!("http://{addr}"), vkey: kf.vkey.clone() };
    let server = start_registry(&db, &operator, vec![wconf]);
    let client = Client::new(&server.url);
    populate(&client, &operator, 1);
    client.publish(&operator).unwrap(); // the witness is down
                                        // The witness comes up.
    let config = healthcode_service::witness::WitnessConfig {
        listen: addr,
        state: dir.path().join("late.state"),
        logs: vec![log_vkey],
    };
    let cosigner = kf.cosigner().unwrap();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
            .block_on(healthcode_service::witness::serve(config, cosigner, std::future::pending()))
    });
    let trust = GateTrust::new(reg_key, policy_digest(), std::slice::from_ref(&kf.vkey), 1).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if verify_recent(&trust, &client.recent_heads(16).unwrap(), unix_now()).is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the served checkpoint never got the witness's cosignature"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The registry refuses acceptance with its clock behind its latest head (the look-back bounds
/// hold relative to that head). The attack: a head is published an hour ahead (the clock was
/// right then and has been set back since, or another process's clock runs fast), and events
/// and retractions submitted now would otherwise be accepted behind it. The service answers
/// `503 clock_behind` (the operator's problem, not the submitter's) and stores nothing.
#[test]
fn acceptance_behind_the_latest_head_is_refused_as_the_clock() {
    let scene = scene(1);
    let (reg_key, operator, client, world) = (scene.reg_key, &scene.operator, &scene.client, &scene.world);
    let db = &scene.db;
    let leaf = world.holders[0].1;
    let early = client.submit_event(&test_event(reg_key, &world.lab, leaf, 120)).unwrap();
    client.publish(operator).unwrap();
    let ahead = unix_now() + 3600;
    healthcode_registry::Registry::open(db).unwrap().publish(ahead).unwrap();
    let queued = || healthcode_registry::Registry::open(db).unwrap().queue_len().unwrap();
    let before = queued();
    let late = test_event(reg_key, &world.lab, leaf, 60);
    for refused in [
        client.submit_event(&late).map(|_| ()),
        client.submit_retraction(
            &healthcode_registry::Retraction {
                registry: reg_key,
                event: early.event,
                signer: world.lab.verifying_key(),
            }
            .sign(&world.lab),
        ),
    ] {
        match refused {
            Err(healthcode_service::client::ClientError::Refused { status: 503, body, .. }) => {
                assert_eq!(body.error, "clock_behind", "{}", body.reason);
            }
            other => panic!("accepted or refused otherwise with the clock behind the head: {other:?}"),
        }
    }
    assert_eq!(queued(), before, "something was stored");
}
