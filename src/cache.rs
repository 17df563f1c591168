//! The process-wide `moka` cache of fetched KV documents. Entries live for
//! the TTL plus the stale allowance: past the TTL a document is refreshed,
//! and while refreshes fail it is served stale until the entry expires.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::mapping::Fields;
use crate::vault::ReadOutcome;

/// One cached document.
#[derive(Debug)]
pub struct Entry {
  pub fields: Arc<Fields>,
  pub version: Option<u64>,
  pub fetched_at: Instant,
}

/// What storing a read changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
  New,
  Unchanged,
  /// The fields differ from the cached ones; on KV v2 a new version.
  Updated,
}

/// Cached documents by canonical path, and the path spellings that name
/// each one (`secret/x` and `secret/data/x` on a KV v2 mount).
pub struct Cache {
  documents: moka::sync::Cache<String, Arc<Entry>>,
  aliases: RwLock<HashMap<String, String>>,
}

impl Cache {
  pub fn new(ttl: Duration, max_stale: Duration) -> Cache {
    Cache {
      documents: moka::sync::Cache::builder()
        .time_to_live(ttl + max_stale)
        .build(),
      aliases: RwLock::new(HashMap::new()),
    }
  }

  /// Stores the outcome of reading the document that each of `paths`
  /// spells. A missing document is stored with no fields, so its keys
  /// count as read and absent rather than not yet known.
  pub fn store(&self, paths: &[String], outcome: ReadOutcome) -> Change {
    let (canonical, fields, version) = match outcome {
      ReadOutcome::Found(doc) => (doc.canonical, doc.fields, doc.version),
      ReadOutcome::NotFound { canonical } => (canonical, Fields::new(), None),
    };
    let mut aliases = self.aliases.write().unwrap_or_else(|e| e.into_inner());
    for path in paths {
      aliases.insert(path.clone(), canonical.clone());
    }
    drop(aliases);

    let change = match self.documents.get(&canonical) {
      None => Change::New,
      Some(old) if *old.fields == fields && old.version == version => Change::Unchanged,
      Some(_) => Change::Updated,
    };
    let entry = Entry {
      fields: Arc::new(fields),
      version,
      fetched_at: Instant::now(),
    };
    self.documents.insert(canonical, Arc::new(entry));
    change
  }

  /// Records one more spelling of a document's path.
  pub fn alias(&self, path: &str, canonical: &str) {
    let mut aliases = self.aliases.write().unwrap_or_else(|e| e.into_inner());
    aliases.insert(path.to_string(), canonical.to_string());
  }

  /// Returns every cached document under each spelling that names it.
  pub fn documents(&self) -> HashMap<String, Arc<Fields>> {
    let aliases = self.aliases.read().unwrap_or_else(|e| e.into_inner());
    aliases
      .iter()
      .filter_map(|(path, canonical)| {
        let entry = self.documents.get(canonical)?;
        Some((path.clone(), entry.fields.clone()))
      })
      .collect()
  }

  /// Returns the entry for a path as written, if cached.
  pub fn entry(&self, path: &str) -> Option<Arc<Entry>> {
    let aliases = self.aliases.read().unwrap_or_else(|e| e.into_inner());
    self.documents.get(aliases.get(path)?)
  }
}
