//! The background loop: refreshes each document before its TTL runs out
//! (with jitter, so processes started together spread their reads), retries
//! failures with capped exponential backoff and jitter, renews the token,
//! watches the kill file, and republishes the view when a document turns
//! stale or expires.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tracing::warn;

use super::engine::{Engine, Served, View};
use super::{events, runtime};
use crate::breaker::Permit;
use crate::cache::Change;

/// How often the loop wakes when nothing is due: also the delay within
/// which a new kill file is noticed.
const TICK: Duration = Duration::from_millis(500);
/// First retry delay; each failure doubles it up to `retry_max_ms`.
const BACKOFF_BASE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy)]
struct Due {
  at: Instant,
  failures: u32,
}

/// Starts the loop on the process's runtime.
pub fn spawn(engine: Arc<Engine>) {
  runtime().spawn(run(engine));
}

async fn run(engine: Arc<Engine>) {
  let mut schedule: HashMap<String, Due> = HashMap::new();
  let mut login = Due {
    at: Instant::now(),
    failures: 0,
  };
  let mut published = published_state(&engine);
  loop {
    let woken = tokio::select! {
      _ = tokio::time::sleep(TICK) => false,
      _ = engine.wake.notified() => true,
    };
    if woken {
      schedule.values_mut().for_each(|d| d.at = Instant::now());
      login.at = Instant::now();
    }
    if let Some(change) = engine.breaker.check_kill_file() {
      engine.apply_breaker(change);
    }
    let permit = engine.permit();
    let probe = permit == Permit::Probe;
    if permit != Permit::Denied {
      // The probe is spent once granted, so it goes out now even when the
      // backoff has not run out. A round without a request would leave the
      // kill switch waiting for a probe result forever.
      if engine.logged_in() {
        engine.renew_if_due().await;
        refresh_due(&engine, &mut schedule, probe).await;
      } else if probe || login.at <= Instant::now() {
        retry_login(&engine, &mut login, &mut schedule).await;
      }
    }
    let now_published = published_state(&engine);
    if now_published != published {
      engine.rebuild();
      published = now_published;
    }
  }
}

async fn retry_login(engine: &Engine, login: &mut Due, schedule: &mut HashMap<String, Due>) {
  match engine.login().await {
    Ok(()) => {
      login.failures = 0;
      schedule.values_mut().for_each(|d| d.at = Instant::now());
    }
    Err(_) => {
      login.failures += 1;
      login.at = Instant::now() + backoff(engine, login.failures);
    }
  }
}

/// Reads every document that is due, all at once. The kill switch's probe
/// reads only the document due first, whether or not its time has come.
async fn refresh_due(engine: &Engine, schedule: &mut HashMap<String, Due>, probe: bool) {
  let groups = document_groups(engine);
  let now = Instant::now();
  let mut due = Vec::new();
  for (name, paths) in &groups {
    let entry = schedule.entry(name.clone()).or_insert_with(|| Due {
      at: first_due(engine, &paths[0]),
      failures: 0,
    });
    if entry.at <= now {
      due.push((name.clone(), paths.clone()));
    }
  }
  if probe {
    due = groups
      .iter()
      .min_by_key(|(name, _)| schedule[*name].at)
      .map(|(name, paths)| (name.clone(), paths.clone()))
      .into_iter()
      .collect();
  }
  if due.is_empty() {
    return;
  }

  let before = engine.view();
  let batches: Vec<Vec<String>> = due.iter().map(|(_, paths)| paths.clone()).collect();
  let results = fetch_groups(engine, &batches).await;
  let mut changed = false;
  for ((name, _), result) in due.iter().zip(results) {
    let entry = schedule
      .get_mut(name)
      .expect("every due group is scheduled");
    match result {
      Ok(change) => {
        changed |= change != Change::Unchanged;
        entry.failures = 0;
        entry.at = Instant::now() + refresh_delay(engine);
      }
      Err(_) => {
        entry.failures += 1;
        entry.at = Instant::now() + backoff(engine, entry.failures);
      }
    }
  }
  // References held through the kill switch show what this round found,
  // unless it was the probe, which reads one document only.
  let released = !probe && engine.release_held();
  if changed || released {
    let after = engine.rebuild();
    announce(&before, &after);
  }
}

/// Reads at most this many documents at once. Each read holds a connection
/// (a file descriptor) until it ends, and a program with thousands of
/// references must not run out of descriptors of its own.
const MAX_CONCURRENT_READS: usize = 8;

/// Reads each group of spellings once, `MAX_CONCURRENT_READS` at a time,
/// and returns the results in the order of the groups.
pub async fn fetch_groups(
  engine: &Engine,
  groups: &[Vec<String>],
) -> Vec<crate::error::Result<Change>> {
  let mut results = Vec::with_capacity(groups.len());
  for batch in groups.chunks(MAX_CONCURRENT_READS) {
    results.extend(join_all(batch.iter().map(|paths| engine.fetch(paths))).await);
  }
  results
}

/// Fetches every document now and republishes the view, for `refresh()`.
pub async fn refresh_all(engine: &Engine) {
  if !engine.logged_in() && engine.login().await.is_err() {
    return;
  }
  let before = engine.view();
  let groups = document_groups(engine);
  fetch_groups(engine, &groups.into_values().collect::<Vec<_>>()).await;
  engine.release_held();
  let after = engine.rebuild();
  announce(&before, &after);
}

/// Reports what a refresh changed: rotated keys to listeners, and keys
/// whose documents Vault returned without them (a deleted path, a removed
/// field), or with them again, as one warn line each way.
fn announce(before: &View, after: &View) {
  events::rotated(&rotated_keys(before, after));
  let gone = newly_listed(&after.missing, &before.missing);
  if !gone.is_empty() {
    warn!(
      "no Vault value for {}; serving environment values",
      gone.join(", ")
    );
  }
  let back: Vec<String> = newly_listed(&before.missing, &after.missing)
    .into_iter()
    .filter(|key| {
      after
        .entries
        .iter()
        .any(|(k, s)| k == key && s.value().is_some())
    })
    .collect();
  if !back.is_empty() {
    warn!(
      "vault has values again for {}; serving Vault values",
      back.join(", ")
    );
  }
}

/// Lists the keys of `now` that are not in `earlier`.
fn newly_listed(now: &[String], earlier: &[String]) -> Vec<String> {
  now
    .iter()
    .filter(|key| !earlier.contains(key))
    .cloned()
    .collect()
}

/// Groups the plan's paths by the document they name, once the mount's KV
/// version is known; until then each path stands for itself.
pub fn document_groups(engine: &Engine) -> BTreeMap<String, Vec<String>> {
  let paths = engine
    .plan
    .read()
    .unwrap_or_else(|e| e.into_inner())
    .documents();
  let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
  for path in paths {
    let name = engine
      .client
      .as_ref()
      .and_then(|c| c.canonical(&path))
      .unwrap_or_else(|| path.clone());
    groups.entry(name).or_default().push(path);
  }
  groups
}

/// When a document first enters the schedule: at its refresh time if the
/// startup read it, else now.
fn first_due(engine: &Engine, path: &str) -> Instant {
  match engine.cache.entry(path) {
    Some(entry) => entry.fetched_at + refresh_delay(engine),
    None => Instant::now(),
  }
}

/// A refresh comes at 75 to 90 % of the TTL.
fn refresh_delay(engine: &Engine) -> Duration {
  let ttl = engine.settings.resilience.cache_ttl_ms as f64;
  Duration::from_millis((ttl * (0.75 + 0.15 * random_unit())) as u64)
}

/// Exponential backoff from `BACKOFF_BASE`, capped at `retry_max_ms`, with
/// "equal jitter": half the delay fixed, half random.
fn backoff(engine: &Engine, failures: u32) -> Duration {
  let cap = engine.settings.resilience.retry_max_ms;
  let exponent = failures.saturating_sub(1).min(20);
  let delay = (BACKOFF_BASE.as_millis() as u64)
    .saturating_mul(1 << exponent)
    .min(cap) as f64;
  Duration::from_millis((delay * (0.5 + 0.5 * random_unit())) as u64)
}

/// Returns a number in [0, 1) from the standard library's random hasher
/// keys, which is plenty for jitter and needs no extra crate.
fn random_unit() -> f64 {
  let mut hasher = RandomState::new().build_hasher();
  hasher.write_u64(Instant::now().elapsed().as_nanos() as u64);
  (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Which documents are cached and which of them are stale: when either
/// changes, the view must be rebuilt.
fn published_state(engine: &Engine) -> (HashSet<String>, HashSet<String>) {
  let cached = engine.cache.documents().into_keys().collect();
  (cached, engine.stale_paths())
}

/// Lists the keys whose cached value changed between two views.
fn rotated_keys(before: &View, after: &View) -> Vec<String> {
  let old: HashMap<&str, &Served> = before
    .entries
    .iter()
    .map(|(k, s)| (k.as_str(), s))
    .collect();
  after
    .entries
    .iter()
    .filter(|(key, served)| {
      let previous = old.get(key.as_str()).and_then(|s| s.value());
      matches!((previous, served.value()), (Some(a), Some(b)) if a != b)
    })
    .map(|(key, _)| key.clone())
    .collect()
}
