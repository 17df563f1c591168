//! Timeouts, retries, refresh and the kill switch.

use std::path::PathBuf;

use super::source::Sources;
use crate::error::Error;

/// How hard to try Vault, and when to stop trying.
#[derive(Debug, Clone)]
pub struct Resilience {
  pub connect_timeout_ms: u64,
  pub request_timeout_ms: u64,
  /// Cap of the exponential backoff between retries.
  pub retry_max_ms: u64,
  pub cache_ttl_ms: u64,
  pub max_stale_ms: u64,
  pub kill_switch: KillSwitchSettings,
}

/// When the kill switch opens and how it closes again.
#[derive(Debug, Clone)]
pub struct KillSwitchSettings {
  pub max_errors: u32,
  pub window_ms: u64,
  pub cooldown_ms: u64,
  /// Open from the start (`RAGNOS_VAULT_KILL=1`).
  pub killed: bool,
  /// A file whose existence opens the switch in a running process.
  pub kill_file: Option<PathBuf>,
}

impl Default for Resilience {
  fn default() -> Self {
    Resilience {
      connect_timeout_ms: 2000,
      request_timeout_ms: 5000,
      retry_max_ms: 30_000,
      cache_ttl_ms: 300_000,
      max_stale_ms: 3_600_000,
      kill_switch: KillSwitchSettings::default(),
    }
  }
}

impl Default for KillSwitchSettings {
  fn default() -> Self {
    KillSwitchSettings {
      max_errors: 10,
      window_ms: 60_000,
      cooldown_ms: 300_000,
      killed: false,
      kill_file: None,
    }
  }
}

/// Reads a duration in milliseconds, from 1 ms to one day.
pub fn millis(
  src: &Sources,
  env: &'static str,
  field: &'static str,
  default: u64,
) -> Result<u64, Error> {
  let value = src.number(env, field, 1.0, 86_400_000.0)?;
  Ok(value.map_or(default, |v| v as u64))
}

/// Reads the resilience settings.
pub fn read_resilience(src: &Sources) -> Result<Resilience, Error> {
  let max_errors = src
    .number(
      "RAGNOS_VAULT_KILL_SWITCH_MAX_ERRORS",
      "kill_switch.max_errors",
      1.0,
      1e6,
    )?
    .map_or(10, |v| v as u32);
  Ok(Resilience {
    connect_timeout_ms: millis(
      src,
      "RAGNOS_VAULT_CONNECT_TIMEOUT_MS",
      "connect_timeout_ms",
      2000,
    )?,
    request_timeout_ms: millis(
      src,
      "RAGNOS_VAULT_REQUEST_TIMEOUT_MS",
      "request_timeout_ms",
      5000,
    )?,
    retry_max_ms: millis(src, "RAGNOS_VAULT_RETRY_MAX_MS", "retry_max_ms", 30_000)?,
    cache_ttl_ms: millis(src, "RAGNOS_VAULT_CACHE_TTL_MS", "cache_ttl_ms", 300_000)?,
    max_stale_ms: millis(src, "RAGNOS_VAULT_MAX_STALE_MS", "max_stale_ms", 3_600_000)?,
    kill_switch: KillSwitchSettings {
      max_errors,
      window_ms: millis(
        src,
        "RAGNOS_VAULT_KILL_SWITCH_WINDOW_MS",
        "kill_switch.window_ms",
        60_000,
      )?,
      cooldown_ms: millis(
        src,
        "RAGNOS_VAULT_KILL_SWITCH_COOLDOWN_MS",
        "kill_switch.cooldown_ms",
        300_000,
      )?,
      killed: src.boolean("RAGNOS_VAULT_KILL", "kill")?.unwrap_or(false),
      kill_file: src
        .string("RAGNOS_VAULT_KILL_FILE", "kill_file", &[])?
        .map(PathBuf::from),
    },
  })
}
