//! `healthcode verify --slot`: a code must answer the checkpoint's current (or previous) time slot.

use assert_cmd::Command;

fn hc() -> Command {
    Command::cargo_bin("healthcode").unwrap()
}

#[test]
fn slot_challenge_is_required_with_slot() {
    let dir = tempfile::tempdir().unwrap();
    assert!(hc().args(["demo", "--no-qr", "--dir"]).arg(dir.path()).output().unwrap().status.success());
    let head =
        hc().args(["registry", "head", "--json"]).arg(dir.path().join("registry.db")).output().unwrap();
    let key = serde_json::from_slice::<serde_json::Value>(&head.stdout).unwrap()["registry"]
        .as_str()
        .unwrap()
        .to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let prove = |venue: Option<&str>, at: u64| {
        let mut c = hc();
        c.args(["prove", "--json", "--registry-key", &key, "--now", &at.to_string()])
            .arg("--bundle")
            .arg(dir.path().join("bundle"))
            .arg("--holder")
            .arg(dir.path().join("chen.holder.json"))
            .arg("--witness")
            .arg(dir.path().join("chen.witness.json"));
        if let Some(v) = venue {
            c.args(["--venue", v]);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let verify = |code: &str, clock: u64| {
        let out = hc()
            .args(["verify", "--slot", "--json", "--registry-key", &key, "--now", &clock.to_string(), code])
            .arg("--bundle")
            .arg(dir.path().join("bundle"))
            .arg("--heads")
            .arg(dir.path().join("heads.json"))
            .output()
            .unwrap();
        (out.status.code(), serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap())
    };
    // The next slot boundary, so the demo's heads are not from the checkpoint's future.
    let slot_start = now - now % 300 + 300;
    // Made at the end of the previous slot, checked at the start of this one: accepted.
    let code = prove(None, slot_start - 5);
    let (status, v) = verify(&code, slot_start + 5);
    assert_eq!((status, v["colour"].as_str()), (Some(0), Some("green")), "{v}");
    // A code answering a venue instead of the slot is refused.
    let (status, v) = verify(&prove(Some("elsewhere"), slot_start + 1), slot_start + 5);
    assert_eq!((status, v["reason"].as_str()), (Some(1), Some("wrong-challenge")), "{v}");
}
