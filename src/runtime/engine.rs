//! The engine: settings, plan, Vault client and cache of one process, and
//! the view of managed keys that the JavaScript proxy serves.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tracing::{info, warn};

use super::generation;
use crate::cache::{Cache, Change};
use crate::config::{Mode, Settings};
use crate::mapping::{Kind, Lookup, Plan};
use crate::routing::{self, Decision, Route};
use crate::vault::Client;

/// Where a managed key's reads are answered from, with the value when it
/// comes from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
  Vault(String),
  /// The real environment; `fallback` when Vault should have answered.
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
      Served::Env { .. } => "env",
      Served::Hidden => "hidden",
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

pub struct Engine {
  pub settings: Settings,
  pub plan: RwLock<Plan>,
  pub client: Option<Arc<Client>>,
  pub cache: Cache,
  view: RwLock<Arc<View>>,
  /// Paths whose last read failed, so each failure is logged once.
  failing: RwLock<HashMap<String, String>>,
}

impl Engine {
  pub fn new(settings: Settings, plan: Plan, client: Option<Arc<Client>>) -> Engine {
    let cache = Cache::new(
      std::time::Duration::from_millis(settings.cache_ttl_ms),
      std::time::Duration::from_millis(settings.max_stale_ms),
    );
    Engine {
      settings,
      plan: RwLock::new(plan),
      client,
      cache,
      view: RwLock::new(Arc::new(View::default())),
      failing: RwLock::new(HashMap::new()),
    }
  }

  /// Returns the current view.
  pub fn view(&self) -> Arc<View> {
    self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
  }

  /// Reads one document, given every spelling of its path, and stores it
  /// under each. Returns whether the cache changed.
  pub async fn fetch(&self, paths: &[String]) -> bool {
    let (Some(client), Some(path)) = (&self.client, paths.first()) else {
      return false;
    };
    match client.read(path).await {
      Ok(outcome) => {
        if let Some(reason) = self.failing_mut().remove(path) {
          info!(path, previous = %reason, "read succeeded again; serving Vault values");
        }
        self.cache.store(paths, outcome) != Change::Unchanged
      }
      Err(error) => {
        let reason = error.to_string();
        let mut failing = self.failing_mut();
        if failing.get(path) != Some(&reason) {
          warn!("{reason}; serving environment values for its keys");
          failing.insert(path.clone(), reason);
        }
        false
      }
    }
  }

  fn failing_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, String>> {
    self.failing.write().unwrap_or_else(|e| e.into_inner())
  }

  /// Recomputes every managed key's decision from the cache and publishes a
  /// new generation, so the proxy reloads on its next read.
  pub fn rebuild(&self) -> Arc<View> {
    let documents = self.cache.documents();
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
        killed: false,
      };
      let missing = route.lookup == Lookup::Missing;
      let decision = routing::decide(&route);
      if self.expects_vault(managed.kind, in_canary) && !matches!(decision, Decision::Vault(_)) {
        view.unresolved.push(key.clone());
        if missing {
          view.missing.push(key.clone());
        }
      }
      let served = match decision {
        Decision::Vault(value) => Served::Vault(value),
        Decision::Hidden => Served::Hidden,
        Decision::Env { fallback } => Served::Env { fallback },
      };
      view.entries.push((key.clone(), served));
    }
    drop(plan);

    view.generation = generation::bump();
    let view = Arc::new(view);
    *self.view.write().unwrap_or_else(|e| e.into_inner()) = view.clone();
    view
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
