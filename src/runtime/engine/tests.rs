use std::collections::HashMap;
use std::thread::sleep;

use super::*;
use crate::breaker::Trigger;
use crate::config::{self, Context};
use crate::vault::{Document, ReadOutcome};

const APP_DOCUMENT: &str = "secret/mcp/app";
const REF_DOCUMENT: &str = "secret/refs/app";

/// Builds an engine without a Vault client whose cache entries expire
/// 40 ms after they are stored (20 ms TTL plus 20 ms stale).
fn engine() -> Engine {
  let env: HashMap<String, String> = [
    ("VAULT_ADDR", "http://127.0.0.1:8200"),
    ("VAULT_TOKEN", "token"),
    ("RAGNOS_VAULT_MODE", "vault"),
    ("RAGNOS_VAULT_APP", "app"),
    ("RAGNOS_VAULT_CACHE_TTL_MS", "20"),
    ("RAGNOS_VAULT_MAX_STALE_MS", "20"),
    ("RAGNOS_VAULT_SEARCH_PATHS", "mcp/app"),
    ("REF", "vault:secret/refs/app#field"),
    ("SVC_API_KEY", "env-value"),
  ]
  .iter()
  .map(|(k, v)| (k.to_string(), v.to_string()))
  .collect();
  // A folder that does not exist contains no config file.
  let cwd = std::env::temp_dir().join(format!("ragnos-vault-engine-{}-none", std::process::id()));
  let settings = config::load(&Context {
    env: &env,
    cwd,
    script: None,
  })
  .expect("valid settings");
  let (plan, errors) = Plan::build(&settings, &env);
  assert!(errors.is_empty(), "{errors:?}");
  Engine::new(settings, plan, None)
}

fn store(engine: &Engine, path: &str, field: &str, value: &str) {
  let fields = [(field.to_string(), value.to_string())]
    .into_iter()
    .collect();
  engine.cache.store(
    &[path.to_string()],
    ReadOutcome::Found(Document {
      canonical: path.to_string(),
      fields,
      version: Some(1),
    }),
  );
}

fn served(view: &View, key: &str) -> Served {
  view
    .entries
    .iter()
    .find(|(k, _)| k == key)
    .map(|(_, s)| s.clone())
    .expect("a managed key")
}

fn expire() {
  sleep(Duration::from_millis(100));
}

#[test]
fn reference_hidden_once_cache_expires() {
  let engine = engine();
  store(&engine, REF_DOCUMENT, "field", "ref-value");
  assert_eq!(
    served(&engine.rebuild(), "REF"),
    Served::Vault("ref-value".into())
  );
  expire();
  assert_eq!(served(&engine.rebuild(), "REF"), Served::Hidden);
}

#[test]
fn kill_switch_holds_references() {
  let engine = engine();
  store(&engine, APP_DOCUMENT, "SVC_API_KEY", "vault-value");
  store(&engine, REF_DOCUMENT, "field", "ref-value");
  engine.rebuild();

  engine.breaker.kill(Trigger::Manual, "test");
  let view = engine.rebuild();
  // No environment value was kept for the key here, so the switch has
  // nothing to fall back to and the last Vault value stays.
  assert_eq!(served(&view, "SVC_API_KEY").value(), Some("vault-value"));
  assert_eq!(served(&view, "REF").value(), Some("ref-value"));

  expire();
  let view = engine.rebuild();
  assert_eq!(served(&view, "REF"), Served::Stale("ref-value".into()));
  assert!(!engine.release_held(), "released while the switch is open");
}

#[test]
fn held_references_released_after_round() {
  let engine = engine();
  store(&engine, REF_DOCUMENT, "field", "ref-value");
  engine.rebuild();
  engine.breaker.kill(Trigger::Manual, "test");
  engine.rebuild();
  expire();
  engine.rebuild();

  engine.breaker.revive("test");
  assert_eq!(
    served(&engine.rebuild(), "REF"),
    Served::Stale("ref-value".into())
  );
  assert!(engine.release_held());
  assert_eq!(served(&engine.rebuild(), "REF"), Served::Hidden);
  assert!(!engine.release_held(), "nothing left to release");
}
