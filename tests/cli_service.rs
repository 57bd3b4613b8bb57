//! The network service from the command line, as the README tells each party to use it: a
//! witness and a registry service as real processes, the operator's commands, a lab's
//! `sign-event --submit`, a holder's `prove --registry`, and a gate's `verify --registry` that
//! keeps working offline from its cache once the registry is gone.

mod common;

use common::{hc, p, run, Outcome};
use std::process::{Child, Stdio};
use std::time::Duration;

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(args: &[&str]) -> Proc {
    let cmd = hc().get_program().to_owned();
    let child = std::process::Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proc(child)
}

fn wait_ready(url: &str) {
    for _ in 0..400 {
        if ureq::get(&format!("{url}/healthz")).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{url} did not come up");
}

/// A witness for the log `log_vkey`, with its key file and state file; returns it and its URL.
fn start_witness(key: &std::path::Path, state: &std::path::Path, log_vkey: &str) -> (Proc, String) {
    let url = format!("http://127.0.0.1:{}", free_port());
    let w = spawn(&[
        "witness",
        "serve",
        "--key",
        p(key),
        "--state",
        p(state),
        "--log",
        log_vkey,
        "--listen",
        &url[7..],
    ]);
    wait_ready(&url);
    (w, url)
}

/// A registry service on `db` with the operator key and one witness (`URL=VKEY`).
fn start_registry(db: &std::path::Path, operator: &str, witness: &str) -> (Proc, String) {
    let url = format!("http://127.0.0.1:{}", free_port());
    let r = spawn(&[
        "serve",
        "--db",
        p(db),
        "--listen",
        &url[7..],
        "--operator-key",
        operator,
        "--witness",
        witness,
    ]);
    wait_ready(&url);
    (r, url)
}

fn ok(args: &[&str]) -> Outcome {
    let o = run(args);
    assert_eq!(o.code, 0, "{args:?}: {o:?}");
    o
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn every_party_uses_the_service_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = |f: &str| dir.path().join(f);
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/henan-2022.toml");

    let init = ok(&["registry", "init", p(&d("reg.db")), "--policy", policy, "--json"]).json();
    let (reg_key, log_vkey) =
        (init["registry"].as_str().unwrap().to_string(), init["head_log_vkey"].as_str().unwrap().to_string());
    let wvkey = ok(&["witness", "keygen", "--name", "w1.test", "-o", p(&d("w1.key")), "--json"]).json()
        ["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let op_pk = ok(&["signer", "keygen", "-o", p(&d("op.key")), "--json"]).json()["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let lab_pk = ok(&["signer", "keygen", "-o", p(&d("lab.key")), "--json"]).json()["public_key"]
        .as_str()
        .unwrap()
        .to_string();

    let (_witness, wurl) = start_witness(&d("w1.key"), &d("w1.state"), &log_vkey);
    let witness_arg = format!("{wurl}={wvkey}");
    let (registry, url) = start_registry(&d("reg.db"), &op_pk, &witness_arg);

    // The operator accredits the lab and enrols Alice (her commitment and device key come from
    // her phone), then publishes.
    let op_key = d("op.key");
    let op = |args: &[&str]| {
        let mut all = vec!["operator", "--url", &url, "--key", p(&op_key), "--json"];
        all.extend_from_slice(args);
        ok(&all).json()
    };
    op(&[
        "add-signer",
        "--name",
        "lab-a",
        "--role",
        "lab",
        "--signer-key",
        &lab_pk,
        "--from",
        &(now() - 3600).to_string(),
    ]);
    let alice = ok(&["holder", "new", "--document", "A1", "-o", p(&d("alice.json")), "--json"]).json();
    let enrolled = op(&[
        "enroll",
        "--commitment",
        alice["commitment"].as_str().unwrap(),
        "--device-key",
        alice["device_key"].as_str().unwrap(),
    ]);
    assert_eq!(enrolled["leaf_index"], 0);
    op(&["publish"]);

    // The lab signs and submits a positive test; the receipt comes back.
    let t = (now() - 60).to_string();
    let sub = ok(&[
        "sign-event",
        "--key",
        p(&d("lab.key")),
        "--registry",
        &reg_key,
        "--holder",
        "0",
        "--kind",
        "positive_test",
        "--time",
        &t,
        "--submit",
        &url,
        "--receipt-out",
        p(&d("receipt.json")),
    ]);
    assert!(sub.stderr.contains("accepted: event"), "{sub:?}");
    let receipt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d("receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["registry"], reg_key.as_str());
    let head = op(&["publish"]);
    assert_eq!(head["epoch"], 2);
    // A copy of the registry as of epoch 2, for the rollback attack below.
    rusqlite::Connection::open(d("reg.db")).unwrap().execute("VACUUM INTO ?1", [p(&d("epoch2.db"))]).unwrap();

    // Alice proves from her phone: witness and fresh head from the service.
    ok(&["setup", "--policy", policy, "--out", p(&d("bundle"))]);
    let proved = ok(&[
        "prove",
        "--bundle",
        p(&d("bundle")),
        "--holder",
        p(&d("alice.json")),
        "--registry",
        &url,
        "--registry-key",
        &reg_key,
        "--png",
        p(&d("code.png")),
        "--json",
    ])
    .json();
    assert_eq!(proved["colour"], "red");
    assert_eq!(proved["epoch"], 2);

    // The gate refreshes its heads (cosigned by its one trusted witness) and verifies.
    let gate = |url: &str, cache: &str| {
        run([
            "verify",
            "--image",
            p(&d("code.png")),
            "--bundle",
            p(&d("bundle")),
            "--registry-key",
            &reg_key,
            "--registry",
            url,
            "--witness-key",
            &wvkey,
            "--heads-cache",
            p(&d(cache)),
            "--slot",
            "--json",
        ])
    };
    let online = gate(&url, "cache.json");
    assert_eq!(online.code, 0, "{online:?}");
    assert_eq!(online.json()["colour"], "red");
    assert!(d("cache.json").exists());

    // An accredited auditor replays the whole record from the service; anyone else is refused.
    let aud_pk = ok(&["signer", "keygen", "-o", p(&d("aud.key")), "--json"]).json()["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    op(&["add-auditor", "--name", "audit-office", "--auditor-key", &aud_pk]);
    op(&["publish"]);
    let audit = |key: &str| {
        run([
            "audit",
            "registry",
            "--url",
            &url,
            "--auditor-key",
            p(&d(key)),
            "--policy",
            policy,
            "--registry-key",
            &reg_key,
            "--json",
        ])
    };
    let clean = audit("aud.key");
    assert_eq!(clean.code, 0, "{clean:?}");
    assert_eq!(clean.json()["clean"], true, "{clean:?}");
    let stranger = audit("lab.key");
    assert_eq!(stranger.code, 2, "{stranger:?}");
    assert!(stranger.stderr.contains("not an accredited auditor"), "{stranger:?}");

    // Rollback: once the gate trusts epoch 3, a registry answering from its epoch-2 copy (its
    // checkpoint still freshly cosigned) must not make the gate forget epoch 3.
    assert_eq!(gate(&url, "cache.json").code, 0);
    let old_url = format!("http://127.0.0.1:{}", free_port());
    let rolled_back =
        spawn(&["serve", "--db", p(&d("epoch2.db")), "--listen", &old_url[7..], "--witness", &witness_arg]);
    wait_ready(&old_url);
    let refused = gate(&old_url, "cache.json");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("a rolled-back answer"), "{refused:?}");
    drop(rolled_back);

    // Split view: the epoch-2 copy publishes its own epoch 3 and gets it cosigned by a witness
    // that never saw the real one. A gate trusting either witness (quorum 1) gets past the
    // quorum, and must still refuse a second head for the epoch it already trusts.
    let w2vkey = ok(&["witness", "keygen", "--name", "w2.test", "-o", p(&d("w2.key")), "--json"]).json()
        ["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let (_w2, w2url) = start_witness(&d("w2.key"), &d("w2.state"), &log_vkey);
    let (_fork, fork_url) = start_registry(&d("epoch2.db"), &op_pk, &format!("{w2url}={w2vkey}"));
    let forked = ok(&["operator", "--url", &fork_url, "--key", p(&op_key), "--json", "publish"]).json();
    assert_eq!(forked["epoch"], 3);
    let split = run([
        "verify",
        "--image",
        p(&d("code.png")),
        "--bundle",
        p(&d("bundle")),
        "--registry-key",
        &reg_key,
        "--registry",
        &fork_url,
        "--witness-key",
        &wvkey,
        "--witness-key",
        &w2vkey,
        "--quorum",
        "1",
        "--heads-cache",
        p(&d("cache.json")),
        "--slot",
    ]);
    assert_eq!(split.code, 1, "{split:?}");
    assert!(split.stderr.contains("two different signed heads for epoch 3"), "{split:?}");

    // The registry goes away: the gate works offline from its cache, saying how old it is.
    // SIGTERM: the service stops gracefully and exits 0.
    let mut registry = registry;
    #[cfg(unix)]
    {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(registry.0.id() as i32, libc::SIGTERM) };
        let status = registry.0.wait().unwrap();
        assert!(status.success(), "serve after SIGTERM: {status:?}");
    }
    drop(registry);
    let offline = gate(&url, "cache.json");
    assert_eq!(offline.code, 0, "{offline:?}");
    assert!(offline.stderr.contains("working offline with the heads fetched"), "{offline:?}");
    // An edited cache cannot add a head: it is re-verified on load.
    let cache = std::fs::read_to_string(d("cache.json")).unwrap();
    std::fs::write(d("edited.json"), cache.replacen("\"epoch\":2", "\"epoch\":3", 1)).unwrap();
    let edited = gate(&url, "edited.json");
    assert_eq!(edited.code, 2, "{edited:?}");
    // No registry and no cache: a network error, exit 3, never a panic.
    let none = gate(&url, "missing.json");
    assert_eq!(none.code, 3, "{none:?}");
    assert!(none.stderr.contains("cannot reach"), "{none:?}");
    // A gate that trusts another witness refuses the registry's heads.
    let other = ok(&["witness", "keygen", "--name", "w3.test", "-o", p(&d("w3.key")), "--json"]).json()
        ["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = run([
        "verify",
        "--image",
        p(&d("code.png")),
        "--bundle",
        p(&d("bundle")),
        "--registry-key",
        &reg_key,
        "--registry",
        &url,
        "--witness-key",
        &other,
        "--heads-cache",
        p(&d("cache.json")),
        "--slot",
    ]);
    assert_eq!(refused.code, 2, "{refused:?}"); // its cache does not verify under that key either
    assert!(refused.stderr.contains("quorum") || refused.stderr.contains("cosign"), "{refused:?}");
}
