//! `healthcode holder backup`: the holder file sealed for the citizen's web page to restore.

mod common;

use common::{bad_input, hc, p, run};
use healthcode_registry::holder::backup;
use healthcode_registry::HolderFile;

#[test]
fn a_backup_opens_with_its_passphrase_and_bad_passphrases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let holder = dir.path().join("alice.json");
    let out = dir.path().join("alice.backup");
    assert_eq!(run(["holder", "new", "--document", "A1", "-o", p(&holder)]).code, 0);
    let args =
        ["holder", "backup", "--holder", p(&holder), "-o", p(&out), "--passphrase-env", "HC_TEST_PASS"];

    // No passphrase in the environment, then a short one: refused, nothing written.
    bad_input(&args, &["HC_TEST_PASS"]);
    let short = hc().args(args).env("HC_TEST_PASS", "short").output().unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    assert!(!out.exists());

    let ok = hc().args(args).env("HC_TEST_PASS", "correct horse battery").output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let h = HolderFile::from_json(&std::fs::read_to_string(&holder).unwrap()).unwrap();
    assert_eq!(backup::open(&text, "correct horse battery").unwrap(), h);
    assert_eq!(backup::open(&text, "correct horse batterY"), Err(backup::BackupError::WrongPassphrase));
    // The passphrase is not on the command line, and the secret is not in the backup.
    assert!(!text.contains(&healthcode_circuits::field::to_hex(&h.sk)[2..]));
    // Never overwritten.
    let again = hc().args(args).env("HC_TEST_PASS", "correct horse battery").output().unwrap();
    assert_eq!(again.status.code(), Some(2));
}
