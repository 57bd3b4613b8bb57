//! Who may read what through the network service: the device key a holder registers at
//! enrolment (her witness and history are hers alone) and the auditors the operator accredits
//! (the full log entries). Device keys are access credentials, not protocol facts, so they stay
//! out of the log; auditor accreditations are logged, so anyone can see who may read everything.

use super::*;

/// An accredited auditor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditorInfo {
    pub name: String,
    #[serde(with = "crate::event::hex_key")]
    pub key: VerifyingKey,
    pub added_at: u64,
    pub revoked_at: Option<u64>,
}

impl Registry {
    /// Enrols a holder commitment together with the device key that will authenticate her
    /// requests to the service (see `HolderFile::device_key`).
    pub fn enroll_with_device(&mut self, commitment: Fr, device: VerifyingKey, now: u64) -> Result<u32> {
        Ok(self.enroll_in_one_transaction(&[commitment], Some(&[device]), now)?[0])
    }

    /// The device key registered for `leaf`, if any.
    pub fn device_key(&self, leaf: u32) -> Result<Option<VerifyingKey>> {
        let key: Option<Vec<u8>> =
            self.db.value("SELECT key FROM holder_devices WHERE leaf_index = ?1", &args![leaf])?;
        key.map(|k| key_from_blob(&k)).transpose()
    }

    /// The holder whose device key is `key`, if any: a holder's requests name no leaf index,
    /// so a device can only ever be served its own.
    pub fn holder_by_device(&self, key: &VerifyingKey) -> Result<Option<u32>> {
        Ok(self.db.value("SELECT leaf_index FROM holder_devices WHERE key = ?1", &args![key.as_bytes()])?)
    }

    /// Stores the head log's checkpoint of `size` with the cosignatures gathered so far.
    pub fn store_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<()> {
        self.db.exec(
            "INSERT INTO checkpoints (size, note) VALUES (?1, ?2)
             ON CONFLICT (size) DO UPDATE SET note = excluded.note",
            &args![size, note],
        )?;
        Ok(())
    }

    /// The stored checkpoint of the largest size, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let row = self.db.row("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1", &[])?;
        row.map(|r| Ok((r.get(0)?, r.get(1)?))).transpose()
    }

    /// Accredits an auditor (logged at the next publish).
    pub fn add_auditor(&mut self, name: &str, key: VerifyingKey, now: u64) -> Result<()> {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(Refusal::BadSignerName.into());
        }
        let tx = self.db.begin(TxKind::Write)?;
        if tx
            .row("SELECT 1 FROM auditors WHERE name = ?1 OR key = ?2", &args![name, key.as_bytes()])?
            .is_some()
        {
            return Err(Refusal::DuplicateAuditor.into());
        }
        tx.exec(
            "INSERT INTO auditors (key, name, added_at) VALUES (?1, ?2, ?3)",
            &args![key.as_bytes(), name, now],
        )?;
        let entry = Entry { at: now, body: EntryBody::AuditorAdd { key, name: name.to_string() } };
        tx.exec("INSERT INTO queue (entry) VALUES (?1)", &args![entry.to_bytes()])?;
        tx.commit()?;
        Ok(())
    }

    /// Revokes an auditor by name at `now` (logged at the next publish).
    pub fn revoke_auditor(&mut self, name: &str, now: u64) -> Result<AuditorInfo> {
        let tx = self.db.begin(TxKind::Write)?;
        let info =
            auditors(&tx, Some(name))?.pop().ok_or_else(|| RegistryError::NoSuchAuditor(name.into()))?;
        if info.revoked_at.is_some() {
            return Err(Refusal::AuditorRevoked(name.into()).into());
        }
        tx.exec("UPDATE auditors SET revoked_at = ?1 WHERE name = ?2", &args![now, name])?;
        let entry = Entry { at: now, body: EntryBody::AuditorRevoke { key: info.key, revoked_at: now } };
        tx.exec("INSERT INTO queue (entry) VALUES (?1)", &args![entry.to_bytes()])?;
        tx.commit()?;
        Ok(AuditorInfo { revoked_at: Some(now), ..info })
    }

    pub fn auditors(&self) -> Result<Vec<AuditorInfo>> {
        auditors(&self.db, None)
    }

    /// Whether `key` belongs to an auditor accredited and not revoked.
    pub fn is_active_auditor(&self, key: &VerifyingKey) -> Result<bool> {
        let revoked: Option<Option<i64>> =
            self.db.value("SELECT revoked_at FROM auditors WHERE key = ?1", &args![key.as_bytes()])?;
        Ok(matches!(revoked, Some(None)))
    }
}

fn auditors(db: &Db, name: Option<&str>) -> Result<Vec<AuditorInfo>> {
    let rows = db.rows(
        "SELECT key, name, added_at, revoked_at FROM auditors WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
        &args![name],
    )?;
    rows.iter()
        .map(|r| {
            Ok(AuditorInfo {
                key: key_from_blob(&r.get::<Vec<u8>>(0)?)?,
                name: r.get(1)?,
                added_at: r.get(2)?,
                revoked_at: r.get(3)?,
            })
        })
        .collect()
}
