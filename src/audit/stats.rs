//! Process-wide counters behind `stats()` and the last error of each Vault
//! request target behind `status()`. Reads are counted in JavaScript, per
//! realm, where they happen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use super::event::rfc3339;
use crate::error::Error;

static VAULT_REQUESTS: AtomicU64 = AtomicU64::new(0);
static VAULT_ERRORS: AtomicU64 = AtomicU64::new(0);

/// The last error of each target (a path, or `login`), newest last.
static LAST_ERRORS: Mutex<Vec<LastError>> = Mutex::new(Vec::new());

/// Targets remembered in `LAST_ERRORS`; the oldest is forgotten first.
const MAX_LAST_ERRORS: usize = 32;

/// The last failure of a Vault request target. The kind is a fixed code,
/// so no message text (which may quote a setting) reaches `status()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
  /// A path with its mount, or `login`.
  pub target: String,
  pub kind: &'static str,
  /// RFC 3339 time of the failure.
  pub time: String,
}

/// Counts one request to Vault.
pub fn vault_request() {
  VAULT_REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// Counts a failed request and remembers it as the target's last error.
pub fn vault_error(target: &str, kind: &'static str) {
  VAULT_ERRORS.fetch_add(1, Ordering::Relaxed);
  let mut errors = LAST_ERRORS.lock().unwrap_or_else(|e| e.into_inner());
  errors.retain(|e| e.target != target);
  if errors.len() == MAX_LAST_ERRORS {
    errors.remove(0);
  }
  errors.push(LastError {
    target: target.to_string(),
    kind,
    time: rfc3339(SystemTime::now()),
  });
}

pub fn vault_requests() -> u64 {
  VAULT_REQUESTS.load(Ordering::Relaxed)
}

pub fn vault_errors() -> u64 {
  VAULT_ERRORS.load(Ordering::Relaxed)
}

/// Returns the last error of each target that failed, oldest first.
pub fn last_errors() -> Vec<LastError> {
  LAST_ERRORS
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .clone()
}

/// Names the kind of an error with a fixed code for audit events and
/// `status()`.
pub fn error_kind(error: &Error) -> &'static str {
  match error {
    Error::InvalidSetting { .. } => "invalid_setting",
    Error::ConfigFile { .. } => "config_file",
    Error::InvalidReference { .. } => "invalid_reference",
    Error::Unreachable { .. } => "unreachable",
    Error::TokenRejected { .. } => "token_rejected",
    Error::Read { .. } => "read_failed",
    Error::Timeout { .. } => "timeout",
    Error::Tls { .. } => "tls",
    Error::Login { .. } => "login_failed",
    Error::NoToken { .. } => "no_token",
    Error::Sealed { .. } => "sealed",
    Error::Denied { .. } => "permission_denied",
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn last_errors_keep_one_entry_per_target() {
    vault_error("secret/stats-test/a", "timeout");
    vault_error("secret/stats-test/b", "unreachable");
    vault_error("secret/stats-test/a", "permission_denied");
    let errors: Vec<LastError> = last_errors()
      .into_iter()
      .filter(|e| e.target.starts_with("secret/stats-test/"))
      .collect();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].target, "secret/stats-test/b");
    assert_eq!(errors[1].kind, "permission_denied");
    assert!(vault_errors() >= 3);
  }

  #[test]
  fn error_kind_is_a_fixed_code() {
    let error = Error::Denied {
      path: "secret/x".into(),
    };
    assert_eq!(error_kind(&error), "permission_denied");
  }
}
