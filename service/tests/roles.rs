//! The registry service over real HTTP on loopback: every role's happy path and every refusal,
//! with its status and reason.

mod common;

use common::*;
use healthcode_registry::Registry;
use healthcode_service::api::{path, AddAuditor, Verdict};
use healthcode_service::auth;
use healthcode_service::client::{Client, ClientError};
use healthcode_service::gate::{verify_recent, GateTrust};
use healthcode_service::server::unix_now;

/// (status, JSON error code) of a raw request.
fn raw(method: &str, url: &str, body: &[u8], headers: &[(String, String)]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = if method == "GET" {
        let mut r = agent.get(url);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.call().unwrap()
    } else {
        let mut r = agent.post(url).header("content-type", "application/json");
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send(body).unwrap()
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or(text);
    (status, code)
}

fn refused(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Refused { status, body, .. } => (status, body.error),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[test]
fn every_role_happy_path_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, log_vkey) = new_registry(dir.path());
    let w1 = start_witness("w1.example", &dir.path().join("w1.state"), &log_vkey);
    let w2 = start_witness("w2.example", &dir.path().join("w2.state"), &log_vkey);
    let operator = key(1);
    let server = start_registry(&db, &operator, vec![w1.config.clone(), w2.config.clone()]);
    let client = Client::new(&server.url);
    let world = populate(&client, &operator, 2);
    let head1 = client.publish(&operator).unwrap();
    assert_eq!((head1.epoch, head1.holders), (1, 2));

    // A lab submits one event (receipt) and a batch (verdicts in order).
    let (alice, a_leaf) = &world.holders[0];
    let ev = test_event(reg_key, &world.lab, *a_leaf, 60);
    let receipt = client.submit_event(&ev).unwrap();
    receipt.verify(&reg_key).unwrap();
    assert_eq!(receipt.event, ev.event.id());
    let batch = vec![test_event(reg_key, &world.lab, world.holders[1].1, 120), ev.clone()];
    let verdicts = client.submit_events(&batch).unwrap();
    assert!(matches!(&verdicts[0], Verdict::Accepted(r) if r.event == batch[0].event.id()));
    assert!(matches!(&verdicts[1], Verdict::Refused(b) if b.error == "duplicate"));
    let head2 = client.publish(&operator).unwrap();
    assert_eq!(head2.epoch, 2);

    // The holder fetches her own witness (with the event) and history, by her device key.
    let w = client.witness(&alice.device_key()).unwrap();
    assert_eq!((w.leaf_index, w.head.epoch), (*a_leaf, 2));
    assert_eq!(w.state["positive_test"], ev.event.time);
    w.check(&reg_key, &healthcode_circuits::policy::Policy::parse(POLICY).unwrap()).unwrap();
    let history = client.history(&alice.device_key()).unwrap();
    assert_eq!(serde_json::to_value(&history).unwrap()["events"].as_array().unwrap().len(), 1);
    // The second holder's device gets the second holder's witness, never Alice's.
    assert_eq!(client.witness(&world.holders[1].0.device_key()).unwrap().leaf_index, world.holders[1].1);

    // A gate: the checkpoint is cosigned by both witnesses; heads proven in the head log.
    let policy = healthcode_circuits::policy::Policy::parse(POLICY).unwrap().digest();
    let trust = GateTrust::new(reg_key, policy, &[w1.vkey.clone(), w2.vkey.clone()], 2).unwrap();
    let answer = client.recent_heads(16).unwrap();
    let trusted = verify_recent(&trust, &answer, unix_now()).unwrap();
    assert_eq!(trusted.heads.iter().map(|h| h.epoch).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(trusted.heads[2], head2);

    // Tiles and the checkpoint are public; a full data tile would be immutable.
    let (status, _) = raw("GET", &format!("{}/tile/entries/000.p/3", server.url), b"", &[]);
    assert_eq!(status, 200);
    let (status, _) = raw("GET", &format!("{}/tile/entries/000.p/9", server.url), b"", &[]);
    assert_eq!(status, 404);

    // An accredited auditor reads full entries; the accreditation is logged.
    let auditor = key(40);
    client
        .add_auditor(
            &operator,
            &AddAuditor { name: "audit-office".into(), key: hex::encode(auditor.verifying_key().as_bytes()) },
        )
        .unwrap();
    let head3 = client.publish(&operator).unwrap();
    let entries = client.entries(&auditor, 0, 1000).unwrap();
    assert_eq!(entries.entries.len() as u64, head3.log_size);
    let last = hex::decode(entries.entries.last().unwrap()).unwrap();
    assert!(matches!(
        healthcode_registry::Entry::from_bytes(&last).unwrap().body,
        healthcode_registry::EntryBody::AuditorAdd { .. }
    ));

    // Health and metrics.
    let (status, _) = raw("GET", &format!("{}/healthz", server.url), b"", &[]);
    assert_eq!(status, 200);
    let metrics =
        ureq::get(&format!("{}/metrics", server.url)).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("healthcode_events_accepted_total 2"), "{metrics}");
    assert!(metrics.contains("healthcode_publishes_total 3"), "{metrics}");
    let spec: serde_json::Value = serde_json::from_str(
        &ureq::get(&format!("{}/openapi.json", server.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert!(spec["paths"]["/v1/holder/witness"].is_object());
    server.stop().unwrap();
}

#[test]
fn every_refusal_has_its_status_and_reason() {
    let scene = scene(1);
    let (reg_key, operator, client, world) = (scene.reg_key, &scene.operator, &scene.client, &scene.world);
    let server = &scene.server;
    client.publish(operator).unwrap();
    let leaf = world.holders[0].1;

    // Wrong signer: a key nobody accredited; a tracer signing a lab's kind; another registry.
    let stranger = key(99);
    assert_eq!(
        refused(client.submit_event(&test_event(reg_key, &stranger, leaf, 60)).unwrap_err()),
        (403, "unknown_signer".into())
    );
    assert_eq!(
        refused(client.submit_event(&test_event(reg_key, &world.tracer, leaf, 60)).unwrap_err()),
        (403, "role_not_allowed".into())
    );
    assert_eq!(
        refused(client.submit_event(&test_event(key(5).verifying_key(), &world.lab, leaf, 60)).unwrap_err()),
        (403, "wrong_registry".into())
    );
    let mut forged = test_event(reg_key, &world.lab, leaf, 60);
    forged.event.time -= 1;
    assert_eq!(refused(client.submit_event(&forged).unwrap_err()), (403, "bad_signature".into()));
    assert_eq!(
        refused(client.submit_event(&test_event(reg_key, &world.lab, 777, 60)).unwrap_err()),
        (422, "unknown_holder".into())
    );

    // Wrong operator credential: another key, no signature, a replay, a stale signature, and a
    // signature over another body.
    let intruder = key(2);
    assert_eq!(refused(client.publish(&intruder).unwrap_err()), (403, "forbidden".into()));
    let url = format!("{}{}", server.url, path::OPERATOR_PUBLISH);
    assert_eq!(raw("POST", &url, b"", &[]), (401, "unauthenticated".into()));
    let signed = auth::sign(&reg_key, operator, "POST", path::OPERATOR_PUBLISH, unix_now(), b"");
    assert_eq!(raw("POST", &url, b"", &signed).0, 200);
    assert_eq!(raw("POST", &url, b"", &signed), (401, "unauthenticated".into()), "a replay");
    let stale = auth::sign(&reg_key, operator, "POST", path::OPERATOR_PUBLISH, unix_now() - 3600, b"");
    assert_eq!(raw("POST", &url, b"", &stale), (401, "unauthenticated".into()));
    let signers_url = format!("{}{}", server.url, path::OPERATOR_SIGNERS);
    let body = br#"{"name":"x","role":"lab","key":"00","accredited_from":0}"#;
    let other = auth::sign(&reg_key, operator, "POST", path::OPERATOR_SIGNERS, unix_now(), b"{}");
    assert_eq!(raw("POST", &signers_url, body, &other), (401, "unauthenticated".into()));

    // A holder's witness: only a registered device; an operator or lab key is no holder.
    assert_eq!(refused(client.witness(&key(77)).unwrap_err()), (403, "forbidden".into()));
    assert_eq!(refused(client.witness(operator).unwrap_err()), (403, "forbidden".into()));
    assert_eq!(
        raw("GET", &format!("{}{}", server.url, path::HOLDER_WITNESS), b"", &[]),
        (401, "unauthenticated".into())
    );
    // A witness request signed for one path cannot be used for another.
    let sig =
        auth::sign(&reg_key, &world.holders[0].0.device_key(), "GET", path::HOLDER_WITNESS, unix_now(), b"");
    assert_eq!(raw("GET", &format!("{}{}", server.url, path::HOLDER_HISTORY), b"", &sig).0, 401);
    // Full entries: auditors only.
    assert_eq!(refused(client.entries(operator, 0, 10).unwrap_err()), (403, "forbidden".into()));

    // Oversized body, malformed JSON, unknown route, wrong method, bad batch sizes.
    let big = vec![b' '; healthcode_service::api::MAX_BODY + 1];
    assert_eq!(raw("POST", &format!("{}{}", server.url, path::EVENTS), &big, &[]).0, 413);
    assert_eq!(
        raw("POST", &format!("{}{}", server.url, path::EVENTS), b"{\"event\":", &[]),
        (400, "malformed_json".into())
    );
    assert_eq!(
        raw("POST", &format!("{}{}", server.url, path::EVENTS), b"[]", &[]),
        (422, "batch_size".into())
    );
    assert_eq!(raw("GET", &format!("{}/v1/nothing", server.url), b"", &[]), (404, "not_found".into()));
    assert_eq!(
        raw("GET", &format!("{}{}", server.url, path::EVENTS), b"", &[]),
        (405, "method_not_allowed".into())
    );
    assert_eq!(raw("GET", &format!("{}/v1/heads/abc", server.url), b"", &[]), (400, "bad_epoch".into()));
    assert_eq!(raw("GET", &format!("{}/v1/heads/99", server.url), b"", &[]), (404, "not_found".into()));
    assert_eq!(raw("GET", &format!("{}/v1/heads?count=0", server.url), b"", &[]), (400, "bad_count".into()));

    // Nothing refused reached the registry.
    let Scene { server, db, dir: _dir, .. } = scene;
    server.stop().unwrap();
    let reg = Registry::open(&db).unwrap();
    assert_eq!(reg.queue_len().unwrap(), 0);
    assert_eq!(reg.stored_events().unwrap().len(), 0);
}

#[test]
fn clients_say_unreachable_and_garbage_apart_from_refusals() {
    // Nothing listens on a port we bound and released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = Client::new(&format!("http://127.0.0.1:{port}")).latest_head().unwrap_err();
    assert!(matches!(e, ClientError::Unreachable { .. }) && e.is_network(), "{e}");
    // A server that answers HTML, and one that answers an error page that is not ours.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for (i, stream) in listener.incoming().take(2).enumerate() {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let reply: &[u8] = if i == 0 {
                b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\nconnection: close\r\n\r\n<html>hi</html>"
            } else {
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 7\r\nconnection: close\r\n\r\nupstrea"
            };
            let _ = s.write_all(reply);
        }
    });
    let c = Client::new(&format!("http://{addr}"));
    let e = c.latest_head().unwrap_err();
    assert!(matches!(e, ClientError::Garbage { .. }) && e.is_network(), "{e}");
    let e = c.latest_head().unwrap_err();
    assert!(matches!(&e, ClientError::Garbage { why, .. } if why.contains("502")), "{e}");
}

/// The split view: the registry signs two different heads for one epoch (a copy of its database
/// publishes a second epoch 2). The witnesses cosigned the first; they refuse the second, and a
/// gate that needs 2 of 3 cosignatures refuses the second view's heads.
#[test]
fn a_split_view_cannot_get_a_quorum() {
    if sqlite_only("a_split_view_cannot_get_a_quorum") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, log_vkey) = new_registry(dir.path());
    let kfs: Vec<_> = (1..=3)
        .map(|i| healthcode_service::witness::WitnessKeyFile::generate(&format!("w{i}.example")))
        .collect();
    let witnesses: Vec<_> = kfs
        .iter()
        .enumerate()
        .map(|(i, kf)| start_witness_with(kf, &dir.path().join(format!("w{i}.state")), &log_vkey))
        .collect();
    let vkeys: Vec<String> = witnesses.iter().map(|w| w.vkey.clone()).collect();
    let operator = key(1);
    let policy = healthcode_circuits::policy::Policy::parse(POLICY).unwrap().digest();
    let trust = GateTrust::new(reg_key, policy, &vkeys, 2).unwrap();

    // Epoch 1 everywhere, then the registry forks its database.
    let server = start_registry(&db, &operator, witnesses.iter().map(|w| w.config.clone()).collect());
    let client = Client::new(&server.url);
    let world = populate(&client, &operator, 2);
    client.publish(&operator).unwrap();
    server.stop().unwrap();
    let fork = dir.path().join("fork.db");
    std::fs::copy(&db, &fork).unwrap();

    // View A: epoch 2 marks holder 0 red; cosigned by all three witnesses.
    let a = start_registry(&db, &operator, witnesses.iter().map(|w| w.config.clone()).collect());
    let ca = Client::new(&a.url);
    ca.submit_event(&test_event(reg_key, &world.lab, world.holders[0].1, 60)).unwrap();
    let head_a = ca.publish(&operator).unwrap();
    let view_a = verify_recent(&trust, &ca.recent_heads(4).unwrap(), unix_now()).unwrap();
    assert_eq!(view_a.heads.last().unwrap(), &head_a);

    // View B: the same epoch 2 from the fork, marking holder 1 red instead. Two of the three
    // witnesses (the ones that saw view A) refuse; only a witness that never saw A cosigns.
    let b = start_registry(&fork, &operator, witnesses.iter().take(2).map(|w| w.config.clone()).collect());
    let cb = Client::new(&b.url);
    cb.submit_event(&test_event(reg_key, &world.lab, world.holders[1].1, 60)).unwrap();
    let head_b = cb.publish(&operator).unwrap();
    assert_eq!(head_b.epoch, head_a.epoch);
    assert_ne!(head_b.root, head_a.root, "two different heads for one epoch");
    let answer_b = cb.recent_heads(4).unwrap();
    let err = verify_recent(&trust, &answer_b, unix_now()).unwrap_err();
    assert!(err.to_string().contains("cosign") || err.to_string().contains("quorum"), "{err}");
    // Even a one-witness gate refuses view B: no configured witness cosigned it.
    let lenient = GateTrust::new(reg_key, policy, &vkeys, 1).unwrap();
    assert!(verify_recent(&lenient, &answer_b, unix_now()).is_err());
    // And view B's heads cannot be slipped under view A's cosigned checkpoint.
    let mut mixed = ca.recent_heads(4).unwrap();
    mixed.heads.last_mut().unwrap().head = head_b.clone();
    assert!(matches!(
        verify_recent(&trust, &mixed, unix_now()),
        Err(healthcode_service::gate::GateError::Head(2, _))
    ));
    drop((a, b, witnesses));
}

/// Shutdown acknowledges nothing it has not stored: every receipt a lab got is in the database
/// after a graceful stop, and publishes on the timer keep working until then.
#[test]
fn a_graceful_stop_keeps_every_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, _) = new_registry(dir.path());
    let operator = key(1);
    let server = start_registry_with(healthcode_service::server::ServeConfig {
        db: db.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        publish_every: Some(std::time::Duration::from_secs(1)),
        operator: Some(operator.verifying_key()),
        witnesses: vec![],
        request_timeout: std::time::Duration::from_secs(10),
        tree_cache_levels: healthcode_registry::registry::DEFAULT_CACHE_LEVELS,
        web: None,
    });
    let client = Client::new(&server.url);
    let world = populate(&client, &operator, 40);
    let url = server.url.clone();
    let lab = world.lab.clone();
    let leaves: Vec<u32> = world.holders.iter().map(|h| h.1).collect();
    // Four labs' worth of concurrent submissions while the timer publishes.
    let acked: Vec<[u8; 32]> = std::thread::scope(|s| {
        let handles: Vec<_> = leaves
            .chunks(10)
            .map(|chunk| {
                let (url, lab) = (url.clone(), lab.clone());
                s.spawn(move || {
                    let c = Client::new(&url);
                    chunk
                        .iter()
                        .map(|&l| c.submit_event(&test_event(reg_key, &lab, l, 30)).unwrap().event)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    server.stop().unwrap();
    let reg = Registry::open(&db).unwrap();
    let stored: std::collections::HashSet<[u8; 32]> =
        reg.stored_events().unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(acked.len(), 40);
    assert!(acked.iter().all(|id| stored.contains(id)), "an acknowledged event is missing");
}

/// `--tls-cert`/`--tls-key`: the service speaks HTTPS (rustls) and a client that trusts the
/// certificate reads it; a plain-HTTP request to the TLS port gets no answer it could mistake.
#[test]
fn the_service_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = new_registry(dir.path());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = healthcode_service::server::ServeConfig {
        listen: listener.local_addr().unwrap(),
        tls: Some((cert_pem, key_pem)),
        ..serve_config(&db)
    };
    let server = on_thread(format!("https://localhost:{port}"), move |stop| {
        healthcode_service::server::serve_on(config, listener, stop)
    });
    let root = ureq::tls::Certificate::from_der(cert.cert.der()).to_owned();
    let tls =
        ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&[root])).build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let url = format!("https://localhost:{port}/v1/heads/latest");
    let body = poll_until("HTTPS", || {
        agent.get(&url).call().ok().map(|mut r| r.body_mut().read_to_string().unwrap())
    });
    let head: healthcode_registry::SignedHead = serde_json::from_str(&body).unwrap();
    assert_eq!(head.epoch, 0);
    // The default client trusts only public roots: a self-signed service is refused, not trusted.
    assert!(Client::new(&format!("https://localhost:{port}")).latest_head().unwrap_err().is_network());
    assert!(ureq::get(&format!("http://localhost:{port}/healthz")).call().is_err());
    server.stop().unwrap();
}

/// Gates count only cosignatures from the last hour, so a registry that publishes rarely asks its
/// witnesses for fresh ones: the refreshed checkpoint carries one, newer, cosignature per witness.
#[test]
fn cosignatures_are_refreshed_for_gates() {
    use healthcode_service::server::{self, publisher};
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, log_vkey) = new_registry(dir.path());
    let w = start_witness("w.example", &dir.path().join("w.state"), &log_vkey);
    let config =
        healthcode_service::server::ServeConfig { witnesses: vec![w.config.clone()], ..serve_config(&db) };
    let (app, _writer) = server::open(&config).unwrap();
    let trust = healthcode_transparency::TrustPolicy::new(
        &healthcode_service::headlog::log_vkey(&reg_key),
        std::slice::from_ref(&w.vkey),
        1,
    )
    .unwrap();
    let cosigned_at = |app: &server::App| {
        let note = app.checkpoint.read().unwrap().clone();
        assert_eq!(String::from_utf8_lossy(&note).matches("— w.example ").count(), 1, "one line per witness");
        trust.verify(&note).unwrap().cosigners[0].1
    };
    publisher::cosign_latest(&app);
    let first = cosigned_at(&app);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    publisher::refresh_cosignatures(&app);
    let second = cosigned_at(&app);
    assert!(second > first, "the cosignature was not renewed ({first} → {second})");
}

/// A publish holds the registry's lock for seconds at national scale; a holder asking for her
/// witness meanwhile is answered from the last committed head (the read handle), not made to
/// wait for the publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The lock held across the request is the point: it stands for a publish in progress.
#[allow(clippy::await_holding_lock)]
async fn witnesses_are_served_while_a_publish_holds_the_registry() {
    use healthcode_service::server;
    use tower::ServiceExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = new_registry(dir.path());
    let device = key(77);
    let holder = healthcode_registry::HolderFile::from_secret(5u64.into(), 6u64.into());
    {
        let mut reg = Registry::open(&db).unwrap();
        reg.enroll_with_device(holder.commitment, device.verifying_key(), unix_now()).unwrap();
        reg.publish(unix_now()).unwrap();
    }
    let config = serve_config(&db);
    let (app, _writer) = server::open(&config).unwrap();
    let head = app.registry().head().unwrap();
    // The publisher's lock, held as a long publish would hold it.
    let publishing = app.registry.clone();
    let guard = publishing.lock().unwrap();
    let pq = path::HOLDER_WITNESS;
    let mut req = axum::http::Request::builder().method("GET").uri(pq);
    for (name, value) in auth::sign(&app.registry_key, &device, "GET", pq, unix_now(), b"") {
        req = req.header(name, value);
    }
    let req = req.body(axum::body::Body::empty()).unwrap();
    let router = server::routes::router(app.clone(), std::time::Duration::from_secs(10), None);
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), router.oneshot(req)).await;
    drop(guard);
    let answer = answer.expect("the witness waited for the publish's lock").unwrap();
    assert_eq!(answer.status(), 200);
    let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap();
    let w: healthcode_registry::WitnessFile = serde_json::from_slice(&body).unwrap();
    assert_eq!(w.head, head);
    w.statement_witness(&holder, &app.registry_key, app.registry().policy(), true).unwrap();
}
