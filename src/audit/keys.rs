//! What the audit trail last reported about each managed key: whether it
//! falls back and why, and its shadow comparison. Every rebuild of the
//! view passes each key through `Tracker::observe`, which returns events
//! only for what changed, so a steady state writes nothing.

use std::collections::HashMap;

use super::event::{Event, Source};
use super::shadow::{self, Comparison};
use crate::config::Mode;
use crate::mapping::{Kind, Lookup};
use crate::routing::{Decision, Route};

/// Why a key that should read from Vault does not.
pub mod reason {
  /// The kill switch is open.
  pub const KILL_SWITCH: &str = "kill_switch";
  /// Vault was read and has no such field.
  pub const MISSING_IN_VAULT: &str = "missing_in_vault";
  /// A document the key depends on was not read, because Vault is
  /// unreachable, denied the read, or has not responded yet.
  pub const VAULT_UNAVAILABLE: &str = "vault_unavailable";
  /// The key's `vault:` reference could not be parsed.
  pub const INVALID_REFERENCE: &str = "invalid_reference";
}

#[derive(Debug, Default, Clone)]
struct KeyState {
  fallback: Option<&'static str>,
  comparison: Option<Comparison>,
  /// The mode routes this key to Vault: a canary key in dual mode, any
  /// pattern or mapped key in vault mode.
  canary: bool,
  from_vault: bool,
}

/// Counts over the managed keys, for `stats()`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyCounts {
  pub managed: u32,
  /// Keys read from the environment, or hidden, although they should read
  /// from Vault.
  pub fallback: u32,
  pub canary: u32,
  pub canary_from_vault: u32,
}

#[derive(Default)]
pub struct Tracker {
  keys: HashMap<String, KeyState>,
}

impl Tracker {
  /// Records one key's decision and returns the events for what changed
  /// since the last rebuild. `env` is the key's startup environment value.
  pub fn observe(
    &mut self,
    key: &str,
    route: &Route,
    decision: &Decision,
    has_location: bool,
    env: Option<&str>,
  ) -> Vec<Event> {
    let mut events = Vec::new();
    let state = self.keys.entry(key.to_string()).or_default();
    state.canary = route.kind != Kind::Reference
      && (route.mode == Mode::Vault || (route.mode == Mode::Dual && route.in_canary));
    state.from_vault = matches!(decision, Decision::Vault(_));

    let fallback = fallback_reason(route, decision, has_location);
    if fallback != state.fallback {
      match (fallback, decision) {
        (Some(reason), Decision::Hidden) => {
          events.push(event("fallback", key, Source::Hidden).reason(reason));
        }
        (Some(reason), _) => events.push(event("fallback", key, Source::Env).reason(reason)),
        (None, Decision::Vault(_)) => events.push(event("recovered", key, Source::Vault)),
        (None, _) => {}
      }
      state.fallback = fallback;
    }

    if is_shadowed(route, decision) {
      let compared = match route.lookup {
        Lookup::Found(value) => shadow::compare(Some(value), env),
        Lookup::Missing => shadow::compare(None, env),
        // Nothing to compare yet. The last outcome is kept until Vault
        // responds, so an outage does not repeat every comparison.
        Lookup::Unavailable => state.comparison.clone(),
      };
      if compared.is_some() && compared != state.comparison {
        events.extend(compared.as_ref().map(|c| c.event(key)));
      }
      state.comparison = compared;
    } else {
      state.comparison = None;
    }
    events
  }

  /// Returns the fallback reason of every key that falls back.
  pub fn fallback_reasons(&self) -> HashMap<String, &'static str> {
    self
      .keys
      .iter()
      .filter_map(|(key, state)| state.fallback.map(|reason| (key.clone(), reason)))
      .collect()
  }

  pub fn counts(&self) -> KeyCounts {
    let mut counts = KeyCounts {
      managed: self.keys.len() as u32,
      ..KeyCounts::default()
    };
    for state in self.keys.values() {
      counts.fallback += u32::from(state.fallback.is_some());
      counts.canary += u32::from(state.canary);
      counts.canary_from_vault += u32::from(state.canary && state.from_vault);
    }
    counts
  }
}

fn event(name: &'static str, key: &str, source: Source) -> Event {
  Event::new(name).key(key).source(source)
}

/// Tells why a key reads from the environment, or as unset, when it
/// should read from Vault.
fn fallback_reason(route: &Route, decision: &Decision, has_location: bool) -> Option<&'static str> {
  if !matches!(
    decision,
    Decision::Env { fallback: true } | Decision::Hidden
  ) {
    return None;
  }
  let reason = if route.killed && route.kind != Kind::Reference {
    reason::KILL_SWITCH
  } else if !has_location {
    reason::INVALID_REFERENCE
  } else {
    match route.lookup {
      Lookup::Missing => reason::MISSING_IN_VAULT,
      _ => reason::VAULT_UNAVAILABLE,
    }
  };
  Some(reason)
}

/// Tells whether a key reads from the environment by the mode's choice
/// while Vault is read for it: every pattern or mapped key in shadow mode,
/// and those outside the canary in dual mode.
fn is_shadowed(route: &Route, decision: &Decision) -> bool {
  route.mode != Mode::Off
    && route.kind != Kind::Reference
    && matches!(decision, Decision::Env { fallback: false })
}

#[cfg(test)]
mod tests {
  use super::*;

  use crate::routing::decide;

  fn route(mode: Mode, kind: Kind, lookup: Lookup<'_>) -> Route<'_> {
    Route {
      mode,
      kind,
      in_canary: false,
      lookup,
      killed: false,
    }
  }

  fn observe(tracker: &mut Tracker, key: &str, route: &Route, env: Option<&str>) -> Vec<String> {
    let decision = decide(route);
    tracker
      .observe(key, route, &decision, true, env)
      .iter()
      .map(|e| e.to_json(1, "test"))
      .collect()
  }

  fn field(line: &str, name: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(line).unwrap()[name].clone()
  }

  #[test]
  fn shadow_reports_each_outcome_once() {
    let mut tracker = Tracker::default();
    let found = route(Mode::Shadow, Kind::Pattern, Lookup::Found("vault-v"));
    let first = observe(&mut tracker, "API_KEY", &found, Some("env-v"));
    assert_eq!(first.len(), 1);
    assert_eq!(field(&first[0], "event"), "shadow");
    assert_eq!(field(&first[0], "reason"), "mismatch");
    assert!(observe(&mut tracker, "API_KEY", &found, Some("env-v")).is_empty());

    let unavailable = route(Mode::Shadow, Kind::Pattern, Lookup::Unavailable);
    assert!(observe(&mut tracker, "API_KEY", &unavailable, Some("env-v")).is_empty());
    assert!(observe(&mut tracker, "API_KEY", &found, Some("env-v")).is_empty());

    let now_equal = route(Mode::Shadow, Kind::Pattern, Lookup::Found("env-v"));
    let changed = observe(&mut tracker, "API_KEY", &now_equal, Some("env-v"));
    assert_eq!(field(&changed[0], "reason"), "match");
  }

  #[test]
  fn shadow_reports_missing_sides() {
    let mut tracker = Tracker::default();
    let missing = route(Mode::Shadow, Kind::Pattern, Lookup::Missing);
    let lines = observe(&mut tracker, "ONLY_ENV_TOKEN", &missing, Some("e"));
    assert_eq!(field(&lines[0], "reason"), "missing_in_vault");
    let found = route(Mode::Shadow, Kind::Pattern, Lookup::Found("v"));
    let lines = observe(&mut tracker, "ONLY_VAULT_TOKEN", &found, None);
    assert_eq!(field(&lines[0], "reason"), "missing_in_env");
  }

  #[test]
  fn vault_mode_reports_fallback_then_recovery() {
    let mut tracker = Tracker::default();
    let unavailable = route(Mode::Vault, Kind::Pattern, Lookup::Unavailable);
    let lines = observe(&mut tracker, "API_KEY", &unavailable, Some("e"));
    assert_eq!(lines.len(), 1);
    assert_eq!(field(&lines[0], "event"), "fallback");
    assert_eq!(field(&lines[0], "source"), "env");
    assert_eq!(field(&lines[0], "reason"), "vault_unavailable");
    assert!(observe(&mut tracker, "API_KEY", &unavailable, Some("e")).is_empty());
    assert_eq!(tracker.counts().fallback, 1);
    assert_eq!(tracker.fallback_reasons()["API_KEY"], "vault_unavailable");

    let found = route(Mode::Vault, Kind::Pattern, Lookup::Found("v"));
    let lines = observe(&mut tracker, "API_KEY", &found, Some("e"));
    assert_eq!(field(&lines[0], "event"), "recovered");
    assert_eq!(field(&lines[0], "source"), "vault");
    assert_eq!(tracker.counts().fallback, 0);
  }

  #[test]
  fn kill_switch_and_references_have_their_own_reasons() {
    let mut tracker = Tracker::default();
    let mut killed = route(Mode::Vault, Kind::Mapped, Lookup::Found("v"));
    killed.killed = true;
    let lines = observe(&mut tracker, "DATABASE_URL", &killed, None);
    assert_eq!(field(&lines[0], "reason"), "kill_switch");

    let reference = route(Mode::Vault, Kind::Reference, Lookup::Unavailable);
    let decision = decide(&reference);
    let lines: Vec<String> = tracker
      .observe("REF", &reference, &decision, false, None)
      .iter()
      .map(|e| e.to_json(1, "vault"))
      .collect();
    assert_eq!(field(&lines[0], "source"), "hidden");
    assert_eq!(field(&lines[0], "reason"), "invalid_reference");
  }

  #[test]
  fn counts_canary_keys_served_from_vault() {
    let mut tracker = Tracker::default();
    let mut canary = route(Mode::Dual, Kind::Pattern, Lookup::Found("v"));
    canary.in_canary = true;
    observe(&mut tracker, "A_TOKEN", &canary, None);
    let mut canary_missing = route(Mode::Dual, Kind::Pattern, Lookup::Missing);
    canary_missing.in_canary = true;
    observe(&mut tracker, "B_TOKEN", &canary_missing, Some("e"));
    let outside = route(Mode::Dual, Kind::Pattern, Lookup::Found("v"));
    let lines = observe(&mut tracker, "C_TOKEN", &outside, Some("v"));
    assert_eq!(field(&lines[0], "reason"), "match");
    let counts = tracker.counts();
    assert_eq!(counts.managed, 3);
    assert_eq!(counts.canary, 2);
    assert_eq!(counts.canary_from_vault, 1);
    assert_eq!(counts.fallback, 1);
  }
}
