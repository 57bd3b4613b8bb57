//! The `policy` and `circuit` subcommands: outputs, JSON shapes and exit codes.

use assert_cmd::Command;
use serde_json::Value;
use std::io::Write;

const POLICY: &str = "policies/henan-2022.toml";
const NOW: u64 = 1_655_164_800;
const DAY: u64 = 86_400;

fn hc() -> Command {
    Command::cargo_bin("healthcode").unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = hc().args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn state_file(body: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(body.as_bytes()).unwrap();
    f
}

#[test]
fn policy_check_reports_digest_and_shape() {
    let v = json(&["policy", "check", POLICY]);
    assert_eq!(v["id"], "henan-2022-06");
    assert_eq!(v["version"], 1);
    assert_eq!(v["rules"], 3);
    assert_eq!(v["events"].as_array().unwrap().len(), 4);
    assert_eq!(v["digest"].as_str().unwrap().len(), 64);
}

#[test]
fn policy_eval_gives_colour_rule_and_reason() {
    let pos = state_file(&format!("{{\"positive_test\": {}}}", NOW - DAY));
    let v =
        json(&["policy", "eval", POLICY, "--state", pos.path().to_str().unwrap(), "--now", &NOW.to_string()]);
    assert_eq!(v["colour"], "red");
    assert_eq!(v["rule"], 0);
    assert!(v["because"].as_str().unwrap().contains("positive test"));

    let neg = state_file(&format!("{{\"negative_test\": {}}}", NOW - DAY));
    let v =
        json(&["policy", "eval", POLICY, "--state", neg.path().to_str().unwrap(), "--now", &NOW.to_string()]);
    assert_eq!(v["colour"], "green");
    assert_eq!(v["rule"], Value::Null);
    assert_eq!(v["because"], Value::Null);

    let sec = state_file(&format!("{{\"secondary_contact\": {}}}", NOW - DAY));
    let out = hc()
        .args(["policy", "eval", POLICY, "--state", sec.path().to_str().unwrap(), "--now", &NOW.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("YELLOW (rule 2"));
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let unknown = state_file("{\"flu\": 5}");
    let too_big = state_file(&format!("{{\"positive_test\": {}}}", 1u64 << 40));
    let not_json = state_file("positive_test = 5");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "policy".into(),
                "eval".into(),
                POLICY.into(),
                "--state".into(),
                unknown.path().display().to_string(),
                "--now".into(),
                NOW.to_string(),
            ],
            "unknown event `flu`",
        ),
        (
            vec![
                "policy".into(),
                "eval".into(),
                POLICY.into(),
                "--state".into(),
                too_big.path().display().to_string(),
                "--now".into(),
                NOW.to_string(),
            ],
            "out of range",
        ),
        (
            vec![
                "policy".into(),
                "eval".into(),
                POLICY.into(),
                "--state".into(),
                not_json.path().display().to_string(),
                "--now".into(),
                NOW.to_string(),
            ],
            "JSON object",
        ),
        (
            vec![
                "policy".into(),
                "eval".into(),
                POLICY.into(),
                "--state".into(),
                unknown.path().display().to_string(),
                "--now".into(),
                (1u64 << 40).to_string(),
            ],
            // A clock beyond the circuit's 40-bit times is refused before anything is read.
            "is not in 0..=1099511627775",
        ),
        (vec!["policy".into(), "check".into(), "no/such/file.toml".into()], "cannot read"),
    ];
    for (args, msg) in cases {
        let out = hc().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    let broken = state_file("id = \"x\"\nversion = 1\nmax_root_age = \"6h\"\nmax_code_age = \"5m\"\nevents = [\"a\"]\ndefault = \"green\"\n[[rules]]\ncolour = \"red\"\nbecause = \"b\"\nwhen = \"within(b, 1d)\"\n");
    let out = hc().args(["policy", "check"]).arg(broken.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":10:16: in `when`: unknown event `b`"), "{err}");
}

#[test]
fn circuit_info_is_pinned() {
    let v = json(&["circuit", "info", "--policy", POLICY]);
    assert_eq!(v["constraints"], 6_309);
    assert_eq!(v["public_inputs"], 5);
    assert_eq!(v["digest"], "503d3cc0c1ca1006bd0a8dcf8d1a17d4ddfaa2e7c73a404ee352d81afa44d066");
    assert_eq!(v["tree"]["depth"], 32);
    assert_eq!(v["tree"]["arity"], 4);
}
