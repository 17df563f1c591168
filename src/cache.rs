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

  /// Tells whether any document has been read into the cache, without
  /// collecting them as `documents` does.
  pub fn is_empty(&self) -> bool {
    let aliases = self.aliases.read().unwrap_or_else(|e| e.into_inner());
    !aliases
      .values()
      .any(|canonical| self.documents.contains_key(canonical))
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

#[cfg(test)]
mod tests {
  use super::*;

  use crate::vault::Document;

  const LONG: Duration = Duration::from_secs(600);

  fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs
      .iter()
      .map(|(k, v)| (k.to_string(), v.to_string()))
      .collect()
  }

  fn found(canonical: &str, pairs: &[(&str, &str)], version: Option<u64>) -> ReadOutcome {
    ReadOutcome::Found(Document {
      canonical: canonical.to_string(),
      fields: fields(pairs),
      version,
    })
  }

  fn spellings(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
  }

  fn not_found(canonical: &str) -> ReadOutcome {
    ReadOutcome::NotFound {
      canonical: canonical.to_string(),
    }
  }

  #[test]
  fn first_store_new_then_unchanged() {
    let cache = Cache::new(LONG, LONG);
    let first = cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], Some(1)),
    );
    assert_eq!(first, Change::New);
    let second = cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], Some(1)),
    );
    assert_eq!(second, Change::Unchanged);
  }

  #[test]
  fn changed_field_is_update() {
    let cache = Cache::new(LONG, LONG);
    cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], None),
    );
    let change = cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "2")], None),
    );
    assert_eq!(change, Change::Updated);
    let documents = cache.documents();
    assert_eq!(
      documents["secret/x"].get("A").map(String::as_str),
      Some("2")
    );
  }

  #[test]
  fn new_version_is_update() {
    let cache = Cache::new(LONG, LONG);
    cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], Some(3)),
    );
    let change = cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], Some(4)),
    );
    assert_eq!(change, Change::Updated);
  }

  #[test]
  fn spellings_share_one_entry() {
    let cache = Cache::new(LONG, LONG);
    let first = cache.store(
      &spellings(&["secret/data/x"]),
      found("secret/x", &[("A", "1")], Some(1)),
    );
    assert_eq!(first, Change::New);
    let second = cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], Some(1)),
    );
    assert_eq!(second, Change::Unchanged);

    let documents = cache.documents();
    assert_eq!(documents.len(), 2);
    assert!(Arc::ptr_eq(
      &documents["secret/x"],
      &documents["secret/data/x"]
    ));
  }

  #[test]
  fn one_store_names_every_spelling() {
    let cache = Cache::new(LONG, LONG);
    let paths = spellings(&["secret/x", "secret/data/x"]);
    cache.store(&paths, found("secret/x", &[("A", "1")], Some(1)));
    let documents = cache.documents();
    assert!(documents.contains_key("secret/x"));
    assert!(documents.contains_key("secret/data/x"));
  }

  #[test]
  fn alias_adds_spelling() {
    let cache = Cache::new(LONG, LONG);
    cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], Some(1)),
    );
    cache.alias("secret/data/x", "secret/x");
    let entry = cache.entry("secret/data/x").expect("entry under the alias");
    assert_eq!(entry.version, Some(1));
  }

  #[test]
  fn update_through_one_spelling_shows_in_both() {
    let cache = Cache::new(LONG, LONG);
    cache.store(
      &spellings(&["secret/data/x"]),
      found("secret/x", &[("A", "1")], Some(1)),
    );
    cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "2")], Some(2)),
    );
    let documents = cache.documents();
    assert_eq!(
      documents["secret/data/x"].get("A").map(String::as_str),
      Some("2")
    );
  }

  #[test]
  fn not_found_stored_without_fields() {
    let cache = Cache::new(LONG, LONG);
    let change = cache.store(&spellings(&["secret/mcp/app"]), not_found("secret/mcp/app"));
    assert_eq!(change, Change::New);
    let documents = cache.documents();
    let stored = documents.get("secret/mcp/app").expect("stored document");
    assert!(stored.is_empty());
  }

  #[test]
  fn created_document_is_update() {
    let cache = Cache::new(LONG, LONG);
    cache.store(&spellings(&["secret/x"]), not_found("secret/x"));
    let change = cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], Some(1)),
    );
    assert_eq!(change, Change::Updated);
  }

  #[test]
  fn entry_found_by_any_spelling() {
    let cache = Cache::new(LONG, LONG);
    cache.store(
      &spellings(&["secret/data/x"]),
      found("secret/x", &[("A", "1")], Some(7)),
    );
    let entry = cache.entry("secret/data/x").expect("cached entry");
    assert_eq!(entry.version, Some(7));
    assert!(cache.entry("secret/x").is_none());
    assert!(cache.entry("secret/other").is_none());
  }

  #[test]
  fn stale_entry_kept_past_ttl() {
    let cache = Cache::new(Duration::from_millis(10), LONG);
    cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], None),
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(cache.entry("secret/x").is_some());
  }

  #[test]
  fn entry_expires_after_ttl_and_stale() {
    let cache = Cache::new(Duration::from_millis(20), Duration::from_millis(20));
    cache.store(
      &spellings(&["secret/x"]),
      found("secret/x", &[("A", "1")], None),
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(cache.entry("secret/x").is_none());
    assert!(cache.documents().is_empty());
  }
}
