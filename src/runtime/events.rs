//! Events for JavaScript listeners (`rotated`, `killswitch`). They carry key
//! names and reasons, never values. The queue is bounded: JavaScript drains
//! it on a timer, and a program that never does loses the oldest events.

use std::collections::VecDeque;
use std::sync::Mutex;

use tracing::info;

use crate::breaker::Change;

/// Events kept for JavaScript before the oldest are dropped.
const CAPACITY: usize = 1024;

/// One event for JavaScript listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsEvent {
  pub name: &'static str,
  pub keys: Vec<String>,
  pub open: Option<bool>,
  pub reason: String,
}

static QUEUE: Mutex<VecDeque<JsEvent>> = Mutex::new(VecDeque::new());

fn push(event: JsEvent) {
  let mut queue = QUEUE.lock().unwrap_or_else(|e| e.into_inner());
  if queue.len() == CAPACITY {
    queue.pop_front();
  }
  queue.push_back(event);
}

/// Announces keys whose Vault value changed.
pub fn rotated(keys: &[String]) {
  if keys.is_empty() {
    return;
  }
  info!(keys = %keys.join(", "), "rotated");
  crate::audit::vault::rotated(keys);
  push(JsEvent {
    name: "rotated",
    keys: keys.to_vec(),
    open: None,
    reason: String::new(),
  });
}

/// Announces a change of the kill switch.
pub fn killswitch(change: &Change) {
  crate::audit::vault::killswitch(change);
  push(JsEvent {
    name: "killswitch",
    keys: Vec::new(),
    open: Some(change.open),
    reason: change.reason.clone(),
  });
}

/// Takes every pending event.
pub fn drain() -> Vec<JsEvent> {
  QUEUE
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .drain(..)
    .collect()
}
