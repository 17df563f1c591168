//! Shadow comparisons: for a key read from the environment while Vault is
//! read too, whether the two values agree. The outcome carries HMACs of the
//! values that differ, never the values.

use std::collections::HashMap;

use once_cell::sync::OnceCell;

use super::event::{Event, Source};
use super::hmac;
use crate::config::Secret;

/// The environment values of the keys that can be compared, kept from
/// startup. They stay in memory and are only ever hashed.
static ENV_VALUES: OnceCell<HashMap<String, Secret>> = OnceCell::new();

/// Keeps the startup environment values of `keys`, once per process.
pub fn keep_env_values<'a>(keys: impl Iterator<Item = &'a String>, env: &HashMap<String, String>) {
  let values = keys
    .filter_map(|key| {
      env
        .get(key)
        .map(|value| (key.clone(), Secret::new(value.as_str())))
    })
    .collect();
  let _ = ENV_VALUES.set(values);
}

/// Returns the kept environment value of a key.
pub fn env_value(key: &str) -> Option<&'static str> {
  ENV_VALUES.get()?.get(key).map(Secret::expose)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
  Match,
  Mismatch,
  MissingInVault,
  MissingInEnv,
}

impl Outcome {
  pub fn as_str(self) -> &'static str {
    match self {
      Outcome::Match => "match",
      Outcome::Mismatch => "mismatch",
      Outcome::MissingInVault => "missing_in_vault",
      Outcome::MissingInEnv => "missing_in_env",
    }
  }
}

/// The outcome of comparing one key, with the HMAC of each value that the
/// outcome depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
  pub outcome: Outcome,
  pub vault_hmac: Option<String>,
  pub env_hmac: Option<String>,
  /// For a mismatch: the values are equal once leading and trailing
  /// whitespace is trimmed, as with a trailing newline from a file.
  pub whitespace_only: bool,
}

/// Compares a key's Vault value (`None`: Vault was read and lacks it) with
/// its environment value. Returns `None` when neither has one.
pub fn compare(vault: Option<&str>, env: Option<&str>) -> Option<Comparison> {
  let comparison = |outcome, vault_hmac, env_hmac, whitespace_only| Comparison {
    outcome,
    vault_hmac,
    env_hmac,
    whitespace_only,
  };
  match (vault, env) {
    (Some(v), Some(e)) if v == e => Some(comparison(Outcome::Match, None, None, false)),
    (Some(v), Some(e)) => Some(comparison(
      Outcome::Mismatch,
      Some(hmac::digest(v)),
      Some(hmac::digest(e)),
      v.trim() == e.trim(),
    )),
    (Some(v), None) => Some(comparison(
      Outcome::MissingInEnv,
      Some(hmac::digest(v)),
      None,
      false,
    )),
    (None, Some(e)) => Some(comparison(
      Outcome::MissingInVault,
      None,
      Some(hmac::digest(e)),
      false,
    )),
    (None, None) => None,
  }
}

impl Comparison {
  /// Builds the `shadow` audit event for a key.
  pub fn event(&self, key: &str) -> Event {
    let mut event = Event::new("shadow")
      .key(key)
      .source(Source::Env)
      .reason(self.outcome.as_str());
    if let Some(digest) = &self.vault_hmac {
      event = event.field("vault_hmac", digest.as_str());
    }
    if let Some(digest) = &self.env_hmac {
      event = event.field("env_hmac", digest.as_str());
    }
    if self.whitespace_only {
      event = event.field("hint", "differs only in leading or trailing whitespace");
    }
    event
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn equal_values_match_without_digests() {
    let comparison = compare(Some("a"), Some("a")).unwrap();
    assert_eq!(comparison.outcome, Outcome::Match);
    assert_eq!(comparison.vault_hmac, None);
    assert_eq!(comparison.env_hmac, None);
  }

  #[test]
  fn different_values_carry_both_digests() {
    let comparison = compare(Some("vault-value"), Some("env-value")).unwrap();
    assert_eq!(comparison.outcome, Outcome::Mismatch);
    assert_eq!(comparison.vault_hmac, Some(hmac::digest("vault-value")));
    assert_eq!(comparison.env_hmac, Some(hmac::digest("env-value")));
    assert!(!comparison.whitespace_only);
  }

  #[test]
  fn trailing_newline_is_flagged() {
    let comparison = compare(Some("token"), Some("token\n")).unwrap();
    assert_eq!(comparison.outcome, Outcome::Mismatch);
    assert!(comparison.whitespace_only);
  }

  #[test]
  fn one_sided_values_are_missing_on_the_other_side() {
    let in_vault = compare(Some("v"), None).unwrap();
    assert_eq!(in_vault.outcome, Outcome::MissingInEnv);
    assert!(in_vault.vault_hmac.is_some());
    assert_eq!(in_vault.env_hmac, None);
    let in_env = compare(None, Some("e")).unwrap();
    assert_eq!(in_env.outcome, Outcome::MissingInVault);
    assert!(in_env.env_hmac.is_some());
    assert_eq!(compare(None, None), None);
  }

  #[test]
  fn event_holds_digests_and_never_the_values() {
    let line = compare(Some("vault-secret-1"), Some("env-secret-2"))
      .unwrap()
      .event("API_KEY")
      .to_json(1, "shadow");
    assert!(!line.contains("vault-secret-1"));
    assert!(!line.contains("env-secret-2"));
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["event"], "shadow");
    assert_eq!(value["reason"], "mismatch");
    assert_eq!(value["source"], "env");
    assert!(value["vault_hmac"].is_string());
    assert!(value["env_hmac"].is_string());
  }
}
