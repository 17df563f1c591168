//! The engine: settings, plan, Vault client, cache and kill switch of one
//! process, and the view of managed keys that the JavaScript proxy serves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::generation;
use crate::breaker::Breaker;
use crate::cache::Cache;
use crate::config::{Mode, Settings};
use crate::mapping::{Kind, Lookup, Plan};
use crate::routing::{self, Decision, Route};
use crate::vault::{Client, TokenInfo};

/// The source of a managed key's reads, with the value when it comes from
/// the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
  Vault(String),
  /// A cached value past its TTL, served while refreshes fail.
  Stale(String),
  /// The real environment. `fallback` is set when Vault should have
  /// supplied the value.
  Env {
    fallback: bool,
  },
  /// Reads as unset: an unresolved reference.
  Hidden,
}

impl Served {
  /// Names the source as audit events and `stats()` do.
  pub fn source(&self) -> &'static str {
    match self {
      Served::Vault(_) => "vault",
      Served::Stale(_) => "stale",
      Served::Env { .. } => "env",
      Served::Hidden => "hidden",
    }
  }

  /// Returns the value served from the cache, if any.
  pub fn value(&self) -> Option<&str> {
    match self {
      Served::Vault(value) | Served::Stale(value) => Some(value),
      _ => None,
    }
  }
}

/// What the proxy serves for every managed key, decided once per change of
/// the cache rather than once per read.
#[derive(Debug, Default)]
pub struct View {
  pub generation: u32,
  pub entries: Vec<(String, Served)>,
  /// Keys that should come from Vault but have no Vault value.
  pub unresolved: Vec<String>,
  /// The subset of `unresolved` whose documents Vault returned without
  /// the key, as opposed to documents not read at all.
  pub missing: Vec<String>,
}

/// The token's lifetime as of the last login, lookup or renewal.
#[derive(Debug, Clone, Copy)]
pub struct TokenState {
  pub info: TokenInfo,
  pub obtained: Instant,
}

pub struct Engine {
  pub settings: Settings,
  pub plan: RwLock<Plan>,
  pub client: Option<Arc<Client>>,
  pub cache: Cache,
  pub breaker: Breaker,
  /// Set once a login or token lookup has succeeded.
  pub token: Mutex<Option<TokenState>>,
  /// Wakes the refresh loop early: `refresh()`, `revive()`.
  pub wake: Notify,
  view: RwLock<Arc<View>>,
  /// Paths whose last read failed and why, so each failure is logged once.
  pub(super) failing: Mutex<HashMap<String, String>>,
  /// Paths last published as stale, to rebuild when that changes.
  pub(super) stale: Mutex<HashSet<String>>,
  /// Successful logins so far, to tell whether a token was replaced.
  pub(super) logins: AtomicU64,
  /// Held while a 403 is looked into, so concurrent 403s share one login.
  pub(super) relogin: tokio::sync::Mutex<()>,
  /// Paths read successfully with the current token: only their 403s
  /// start a fresh login.
  pub(super) readable: Mutex<HashSet<String>>,
  /// Values of references kept through an open kill switch, by key.
  held: Mutex<HashMap<String, String>>,
}

impl Engine {
  pub fn new(settings: Settings, plan: Plan, client: Option<Arc<Client>>) -> Engine {
    let resilience = &settings.resilience;
    let cache = Cache::new(
      Duration::from_millis(resilience.cache_ttl_ms),
      Duration::from_millis(resilience.max_stale_ms),
    );
    let breaker = Breaker::new(resilience.kill_switch.clone());
    Engine {
      settings,
      plan: RwLock::new(plan),
      client,
      cache,
      breaker,
      token: Mutex::new(None),
      wake: Notify::new(),
      view: RwLock::new(Arc::new(View::default())),
      failing: Mutex::new(HashMap::new()),
      stale: Mutex::new(HashSet::new()),
      logins: AtomicU64::new(0),
      relogin: tokio::sync::Mutex::new(()),
      readable: Mutex::new(HashSet::new()),
      held: Mutex::new(HashMap::new()),
    }
  }

  /// Returns the current view.
  pub fn view(&self) -> Arc<View> {
    self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
  }

  /// Returns the cached paths past their TTL.
  pub fn stale_paths(&self) -> HashSet<String> {
    let ttl = Duration::from_millis(self.settings.resilience.cache_ttl_ms);
    let documents = self.cache.documents();
    documents
      .keys()
      .filter(|path| {
        self
          .cache
          .entry(path)
          .is_some_and(|e| e.fetched_at.elapsed() > ttl)
      })
      .cloned()
      .collect()
  }

  /// Recomputes every managed key's decision from the cache and publishes a
  /// new generation, so the proxy reloads on its next read.
  pub fn rebuild(&self) -> Arc<View> {
    let documents = self.cache.documents();
    let stale = self.stale_paths();
    let killed = self.breaker.is_open();
    // While the kill switch is open nothing is refreshed, so a reference
    // whose document leaves the cache keeps the value it last had: its
    // environment value is the reference string, no fallback. It keeps it
    // after the switch closes until the first refresh round has completed.
    let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
    if killed {
      for (key, served) in &self.view().entries {
        if let Some(value) = served.value() {
          held.insert(key.clone(), value.to_string());
        }
      }
    }
    let mut plan = self.plan.write().unwrap_or_else(|e| e.into_inner());
    plan.discover(&documents);

    let mut view = View::default();
    for (key, managed) in &plan.keys {
      let in_canary = routing::in_canary(
        &self.settings.canary_salt,
        key,
        self.settings.canary_percent,
      );
      let route = Route {
        mode: self.settings.mode,
        kind: managed.kind,
        in_canary,
        lookup: managed.lookup(&documents),
        killed,
      };
      let missing = route.lookup == Lookup::Missing;
      let decision = match routing::decide(&route) {
        Decision::Hidden if managed.kind == Kind::Reference && held.contains_key(key) => {
          Decision::Vault(held[key].clone())
        }
        // A key whose environment has no value would read as unset, which
        // is worse than its last Vault value: the switch falls back to the
        // environment only where there is something to fall back to.
        Decision::Env { fallback: true }
          if killed && held.contains_key(key) && crate::audit::env_value(key).is_none() =>
        {
          Decision::Vault(held[key].clone())
        }
        decision => decision,
      };
      crate::audit::observe(key, &route, &decision, !managed.locations.is_empty());
      if self.expects_vault(managed.kind, in_canary) && !matches!(decision, Decision::Vault(_)) {
        view.unresolved.push(key.clone());
        if missing {
          view.missing.push(key.clone());
        }
      }
      let served = match decision {
        Decision::Vault(value)
          if managed
            .found_in(&documents)
            .is_none_or(|p| stale.contains(p)) =>
        {
          Served::Stale(value)
        }
        Decision::Vault(value) => Served::Vault(value),
        Decision::Hidden => Served::Hidden,
        Decision::Env { fallback } => Served::Env { fallback },
      };
      view.entries.push((key.clone(), served));
    }
    drop(plan);
    drop(held);
    *self.stale.lock().unwrap_or_else(|e| e.into_inner()) = stale;

    view.generation = generation::bump();
    let view = Arc::new(view);
    *self.view.write().unwrap_or_else(|e| e.into_inner()) = view.clone();
    view
  }

  /// Drops the values references held through an open kill switch, once
  /// it is closed and a refresh round has completed. Returns whether any
  /// were held, so the caller rebuilds.
  pub fn release_held(&self) -> bool {
    if self.breaker.is_open() {
      return false;
    }
    let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
    let any = !held.is_empty();
    held.clear();
    any
  }

  /// Lists the planned documents that have not been read.
  pub fn unread_documents(&self) -> Vec<String> {
    let cached = self.cache.documents();
    let plan = self.plan.read().unwrap_or_else(|e| e.into_inner());
    plan
      .documents()
      .into_iter()
      .filter(|p| !cached.contains_key(p))
      .collect()
  }

  /// Tells whether a key should read from Vault in this mode, which is
  /// what strict mode enforces.
  fn expects_vault(&self, kind: Kind, in_canary: bool) -> bool {
    match (kind, self.settings.mode) {
      (_, Mode::Off) => false,
      (Kind::Reference, _) => true,
      (_, Mode::Vault) => true,
      (_, Mode::Dual) => in_canary,
      (_, Mode::Shadow) => false,
    }
  }
}

#[cfg(test)]
mod tests;
