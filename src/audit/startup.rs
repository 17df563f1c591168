//! The audit trail's setup from the settings and the `startup` event that
//! sums up how the preloader started.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use once_cell::sync::OnceCell;

use super::event::Event;
use super::{emit, flush, init, key_counts, Config};
use crate::config::{Mode, Settings};

/// How long a process that must exit now waits for its audit events.
const EXIT_FLUSH: Duration = Duration::from_secs(2);

/// What the `startup` event needs from the settings. `None` when no Vault
/// address is set: the preloader does nothing then, and audits nothing.
static CONTEXT: OnceCell<Option<Context>> = OnceCell::new();

struct Context {
  mode: Mode,
  canary_percent: f64,
}

/// Sets up the audit trail from valid settings. An `audit_log` path is
/// taken relative to the program's working directory.
pub fn configure(settings: &Settings, cwd: &Path) {
  let context = settings.vault.as_ref().map(|_| Context {
    mode: settings.mode,
    canary_percent: settings.canary_percent,
  });
  if CONTEXT.set(context).is_err() || settings.vault.is_none() {
    return;
  }
  init(Config {
    mode: settings.mode.as_str(),
    log_path: settings.audit_log.as_ref().map(|path| cwd.join(path)),
    every_read: settings.audit_every_read,
  });
}

/// How startup ended.
pub struct Startup {
  pub active: bool,
  pub exit_code: Option<u32>,
  /// Managed keys and KV documents, when the engine started.
  pub counts: Option<(usize, usize)>,
  pub elapsed: Duration,
}

/// Emits the `startup` event. Without valid settings the trail is set up
/// from `RAGNOS_VAULT_AUDIT_LOG` alone, so that a bad setting is audited
/// too. When the process must exit now, waits for the events to reach the
/// audit file.
pub fn report_startup(startup: Startup, env: &HashMap<String, String>, cwd: &Path) {
  let context = match CONTEXT.get() {
    Some(None) => return,
    Some(Some(context)) => Some(context),
    None => {
      let log_path = env
        .get("RAGNOS_VAULT_AUDIT_LOG")
        .filter(|path| !path.trim().is_empty())
        .map(|path| cwd.join(path));
      init(Config {
        mode: Mode::Off.as_str(),
        log_path,
        every_read: false,
      });
      None
    }
  };

  let reason = match (context, startup.exit_code, startup.active) {
    (None, _, _) => "invalid_settings",
    (Some(_), Some(_), _) => "strict_failure",
    (Some(_), None, false) => "mode_off",
    (Some(_), None, true) => "ok",
  };
  let (keys, paths) = startup.counts.unwrap_or_default();
  let mut event = Event::new("startup")
    .reason(reason)
    .latency(startup.elapsed)
    .field("canary_percent", context.map_or(0.0, |c| c.canary_percent))
    .field("keys", keys)
    .field("paths", paths)
    .field("fallback_keys", key_counts().fallback);
  if let Some(context) = context {
    event = event.mode(context.mode.as_str());
  }
  if let Some(code) = startup.exit_code {
    event = event.field("exit_code", code);
  }
  emit(event);
  if startup.exit_code.is_some() {
    flush(EXIT_FLUSH);
  }
}
