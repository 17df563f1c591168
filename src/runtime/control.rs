//! What the JavaScript API can ask of the engine: open or close the kill
//! switch, refresh every document now.

use crate::breaker::Trigger;

use super::{engine, refresh, runtime};

/// Opens the kill switch by hand. Returns whether its state changed.
pub fn kill(reason: &str) -> bool {
  let Some(engine) = engine() else {
    return false;
  };
  let reason = if reason.is_empty() {
    "kill() called"
  } else {
    reason
  };
  match engine.breaker.kill(Trigger::Manual, reason) {
    Some(change) => {
      engine.apply_breaker(change);
      true
    }
    None => false,
  }
}

/// Closes the kill switch, whatever opened it. Returns whether its state
/// changed.
pub fn revive() -> bool {
  let Some(engine) = engine() else {
    return false;
  };
  match engine.breaker.revive("revive() called") {
    Some(change) => {
      engine.apply_breaker(change);
      true
    }
    None => false,
  }
}

/// Reads every document now and waits for the answers. Runs on a thread
/// of Node's pool, never on the JavaScript thread.
pub fn refresh_blocking() {
  if let Some(engine) = engine() {
    if !engine.breaker.is_open() {
      runtime().block_on(refresh::refresh_all(&engine));
    }
  }
}
