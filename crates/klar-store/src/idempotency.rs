//! `Idempotency-Key` for POST: the first request's outcome (status and the id it created)
//! is remembered for 24 hours; a retry with the same key and body gets the same resource,
//! a retry with a different body is refused.

use crate::db::Val;
use crate::error::{Result, StoreError};
use crate::{Store, ms};
use klar_domain::ids::UserId;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// First use of the key.
    New,
    /// Seen before with the same request: replay this.
    Replay { status: u16, resource_id: String },
    /// Seen before with another request.
    Mismatch,
}

pub fn request_hash(method_path: &str, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method_path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().to_vec()
}

const TTL_MS: i64 = 24 * 3600 * 1000;

impl Store {
    pub fn idempotency_lookup(&self, user: UserId, key: &str, hash: &[u8]) -> Result<Recorded> {
        let now = ms(self.now());
        self.db.read(|c| {
            let r = c.query_opt(
                "SELECT request_hash, status, resource_id FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at > $3",
                &[user.to_string().into(), key.into(), Val::Int(now - TTL_MS)],
            )?;
            let Some(r) = r else { return Ok(Recorded::New) };
            if r.get::<Vec<u8>>(0)? != hash {
                return Ok(Recorded::Mismatch);
            }
            let status = u16::try_from(r.get::<i64>(1)?).map_err(|_| StoreError::Corrupt("status".into()))?;
            Ok(Recorded::Replay { status, resource_id: r.get(2)? })
        })
    }

    pub fn idempotency_record(
        &self,
        user: UserId,
        key: &str,
        hash: &[u8],
        status: u16,
        resource_id: &str,
    ) -> Result<()> {
        let now = ms(self.now());
        self.db.write(|c| {
            c.execute("DELETE FROM idempotency_keys WHERE created_at <= $1", &[Val::Int(now - TTL_MS)])?;
            c.execute(
                "INSERT INTO idempotency_keys (user_id, key, request_hash, status, resource_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (user_id, key) DO NOTHING",
                &[user.to_string().into(), key.into(), Val::Blob(hash.to_vec()), Val::Int(i64::from(status)), resource_id.into(), Val::Int(now)],
            )?;
            Ok(())
        })
    }
}
