//! `last_used_at`, debounced: the request path only notes a use in memory; a background task writes
//! the latest use of each grant to the store at most once per flush interval (30 s by default), in
//! one transaction, and once more when the proxy shuts down.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::clock::UnixMillis;
use crate::store::{GrantId, Store, StoreError, grants};

/// Uses seen since the last flush.
#[derive(Debug, Default)]
pub struct Usage {
    pending: Mutex<HashMap<GrantId, UnixMillis>>,
}

impl Usage {
    /// Notes that `grant_id` was used at `at`. Cheap: one map insert under a short lock.
    pub fn record(&self, grant_id: &GrantId, at: UnixMillis) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.get_mut(grant_id) {
            Some(last) => *last = (*last).max(at),
            None => {
                pending.insert(grant_id.clone(), at);
            }
        }
    }

    /// Writes the pending uses to the store and forgets them. Returns how many grants moved.
    pub async fn flush(&self, store: &Store) -> Result<usize, StoreError> {
        let pending: Vec<(GrantId, UnixMillis)> = {
            let mut map = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            map.drain().collect()
        };
        if pending.is_empty() {
            return Ok(0);
        }
        store
            .write(move |tx| {
                let mut changed = 0;
                for (id, at) in &pending {
                    changed += grants::touch_last_used(tx, std::slice::from_ref(id), *at)?;
                }
                Ok(changed)
            })
            .await
    }

    pub fn pending(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
