//! The registry CLI end to end: keys, enrolment, signed events, refusals (exit 2), publish,
//! witness, history, consistency, audit; and secrets never appear in error output.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn hc(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("healthcode").unwrap();
    c.current_dir(dir);
    c
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = hc(dir).args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn field(file: &Path, key: &str) -> String {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v[key].as_str().unwrap().to_string()
}

fn sign(dir: &Path, args: &[&str]) {
    hc(dir).args(args).assert().success();
}

#[test]
fn registry_round_trip() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/henan-2022.toml");
    let init = json(d, &["registry", "init", "reg.db", "--policy", policy.to_str().unwrap()]);
    let reg = init["registry"].as_str().unwrap().to_string();
    json(d, &["signer", "keygen", "-o", "lab.key"]);
    json(d, &["signer", "keygen", "-o", "tracer.key"]);
    let lab = field(&d.join("lab.key"), "public_key");
    let tracer = field(&d.join("tracer.key"), "public_key");
    let add = |name: &str, role: &str, key: &str| {
        json(
            d,
            &[
                "registry", "signer", "add", "reg.db", "--name", name, "--role", role, "--key", key,
                "--from", "0",
            ],
        )
    };
    add("Lab 1", "lab", &lab);
    add("Tracer", "tracer", &tracer);
    let alice = json(d, &["holder", "new", "--document", "E1", "-o", "alice.json"]);
    json(d, &["holder", "new", "--document", "E2", "-o", "bob.json"]);
    let cm = alice["commitment"].as_str().unwrap();
    assert_eq!(json(d, &["registry", "enroll", "reg.db", "--commitment", cm])["leaf_index"], 0);
    // Enrolment from pk + document gives the commitment Bob's device computed.
    let bob_pk = field(&d.join("bob.json"), "pk");
    let bob = json(d, &["registry", "enroll", "reg.db", "--pk", &bob_pk, "--document", "E2"]);
    assert_eq!(bob["leaf_index"], 1);
    assert_eq!(bob["commitment"].as_str().unwrap(), field(&d.join("bob.json"), "commitment"));

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let t1 = (now - 3600).to_string();
    let ev = |key: &str, holder: &str, kind: &str, out: &str| {
        [
            "sign-event",
            "--key",
            key,
            "--registry",
            &reg,
            "--holder",
            holder,
            "--kind",
            kind,
            "--time",
            &t1,
            "-o",
            out,
        ]
        .map(String::from)
    };
    sign(d, &ev("lab.key", "0", "positive_test", "pos.json").each_ref().map(|s| s.as_str()));
    // A receipts file that cannot be written refuses the submission before anything is accepted.
    let out = hc(d)
        .args(["registry", "submit", "reg.db", "pos.json", "--receipts-out", "no/such/dir/r.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was submitted"));
    let sub = json(d, &["registry", "submit", "reg.db", "pos.json"]);
    let pos_id = sub["results"][0]["id"].as_str().unwrap().to_string();
    // A lost receipt is given again, identical.
    let again = hc(d).args(["registry", "receipt", "reg.db", "--event", &pos_id]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again, sub["results"][0]["receipt"]);
    let unknown =
        hc(d).args(["registry", "receipt", "reg.db", "--event", &"ab".repeat(32)]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    // A tracer signing a test result: refused with the reason, exit 2.
    sign(d, &ev("tracer.key", "1", "positive_test", "bad.json").each_ref().map(|s| s.as_str()));
    let out = hc(d).args(["registry", "submit", "reg.db", "bad.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signed by a lab"));
    let mut contact = ev("tracer.key", "1", "close_contact", "c.json").to_vec();
    contact.extend(["--index-case".to_string(), pos_id.clone()]);
    hc(d).args(&contact).assert().success();
    json(d, &["registry", "submit", "reg.db", "c.json"]);
    let head = json(d, &["registry", "publish", "reg.db"]);
    assert_eq!(head["epoch"], 1);
    assert_eq!(head["holders"], 2);

    hc(d).args(["registry", "witness", "reg.db", "--leaf", "1", "-o", "w1.json"]).assert().success();
    let w: Value = serde_json::from_str(&std::fs::read_to_string(d.join("w1.json")).unwrap()).unwrap();
    assert_eq!(w["state"]["close_contact"].as_u64(), Some(now - 3600));
    assert_eq!(w["head"]["epoch"], 1);
    let hist = json(d, &["registry", "history", "reg.db", "--leaf", "1"]);
    assert_eq!(hist["events"][0]["signer"], "Tracer");
    assert_eq!(hist["events"][0]["index_case_status"], "live");

    sign(d, &["sign-retraction", "--key", "lab.key", "--registry", &reg, "--event", &pos_id, "-o", "r.json"]);
    json(d, &["registry", "retract", "reg.db", "r.json"]);
    // The contact's holder sees her index case's positive test withdrawn, and what to do.
    let hist = json(d, &["registry", "history", "reg.db", "--leaf", "1"]);
    assert_eq!(hist["events"][0]["index_case_status"], "retracted");
    let text = hc(d).args(["registry", "history", "reg.db", "--leaf", "1"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("index case {pos_id} RETRACTED (ask the tracer")), "{text}");
    json(d, &["registry", "publish", "reg.db"]);
    let c = json(d, &["registry", "consistency", "reg.db", "--from", "1", "--to", "2"]);
    assert_eq!(c["to"]["epoch"], 2);
    assert_eq!(json(d, &["registry", "audit", "reg.db"])["clean"], true);
    // Archiving keeps every month the look-back (30 days and 5 minutes) still reaches: today's
    // events stay, and the audit stays clean.
    let a = json(d, &["registry", "archive", "reg.db"]);
    assert_eq!(a["events"], 0, "{a}");
    assert!(a["archived_before"].as_u64().unwrap() <= now - 30 * 86_400, "{a}");
    assert_eq!(
        json(d, &["registry", "history", "reg.db", "--leaf", "1"])["events"].as_array().unwrap().len(),
        1
    );
    assert_eq!(json(d, &["registry", "audit", "reg.db"])["clean"], true);
    assert_eq!(json(d, &["registry", "head", "reg.db", "--all"]).as_array().unwrap().len(), 3);

    // Errors: unknown holder, existing file, and no secret in any error text.
    hc(d).args(["registry", "witness", "reg.db", "--leaf", "9"]).assert().code(2);
    hc(d).args(["holder", "new", "--document", "E1", "-o", "alice.json"]).assert().code(2);
    let sk = field(&d.join("alice.json"), "sk");
    let lab_sk = field(&d.join("lab.key"), "secret_key");
    let broken = std::fs::read_to_string(d.join("lab.key")).unwrap().replace("public_key", "pub");
    std::fs::write(d.join("broken.json"), broken).unwrap();
    let out = hc(d)
        .args(["sign-event", "--key", "broken.json", "--registry", &reg, "--holder", "0"])
        .args(["--kind", "positive_test", "--time", &t1])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    for o in [&out.stderr, &out.stdout] {
        let text = String::from_utf8_lossy(o);
        assert!(!text.contains(&sk[2..]) && !text.contains(&lab_sk), "secret in output: {text}");
    }
}
