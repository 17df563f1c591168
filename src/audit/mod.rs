//! The audit trail: events, their sinks and the counters behind `stats()`.
//!
//! An event is one JSON object: `time` (RFC 3339), `pid`, `event`, `key`,
//! `source` (`vault`, `env`, `stale`, `override`, `hidden`), `mode`,
//! `reason` and `latency_ms`, plus fields of its own such as `path`. It
//! never holds a secret value, a resolved reference, a token or a secret
//! id; a comparison carries HMACs (see `hmac`).
//!
//! Any module reports an event with one call, which never blocks:
//!
//! ```ignore
//! use crate::audit::{self, Event, Source};
//! audit::emit(Event::new("rotated").key("OPENAI_API_KEY").path("secret/mcp/app"));
//! audit::emit(Event::new("renewal").reason("ok").latency(elapsed).field("ttl_s", 3600));
//! audit::emit(Event::new("killswitch").reason("manual").field("state", "open"));
//! ```
//!
//! Events reach three sinks from one background thread: the JSON-lines file
//! (`audit_log`), tracing at debug, and the ring that `onAudit` listeners
//! and the `rotated` and `killswitch` JavaScript events read.

mod event;
mod hmac;
mod keys;
mod shadow;
mod sinks;
mod startup;
pub mod stats;
pub mod vault;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use once_cell::sync::{Lazy, OnceCell};
use tracing::warn;

pub use event::{Event, Source};
pub use keys::{reason, KeyCounts};
pub use shadow::env_value;
pub use sinks::Batch;
pub use startup::{configure, report_startup, Startup};

use crate::mapping::{Kind, Plan};
use crate::routing::{Decision, Route};
use crate::runtime::Engine;
use keys::Tracker;
use sinks::{LogFile, Pipeline, Ring};

/// Events waiting for the audit thread before new ones are dropped.
const QUEUE_CAPACITY: usize = 4096;
/// Recent events kept for JavaScript listeners.
const RING_CAPACITY: usize = 1024;
/// Events returned by one `read_since` call.
const BATCH_SIZE: usize = 256;

static MODE: OnceCell<&'static str> = OnceCell::new();
static EVERY_READ: AtomicBool = AtomicBool::new(false);
static LOG: OnceCell<LogFile> = OnceCell::new();
static RING: Mutex<Ring> = Mutex::new(Ring::new(RING_CAPACITY));
static PIPELINE: Lazy<Pipeline> = Lazy::new(|| Pipeline::start(QUEUE_CAPACITY, deliver));
static TRACKER: Lazy<Mutex<Tracker>> = Lazy::new(|| Mutex::new(Tracker::default()));

/// The audit settings of the process.
#[derive(Debug, Clone, Default)]
pub struct Config {
  /// The mode every event carries.
  pub mode: &'static str,
  /// The JSON-lines file, already resolved against the working directory.
  pub log_path: Option<PathBuf>,
  /// Audit every read rather than the first of each key and each change
  /// of its source.
  pub every_read: bool,
}

/// Sets up the audit trail once per process; later calls change nothing.
pub fn init(config: Config) {
  if MODE.set(config.mode).is_err() {
    return;
  }
  EVERY_READ.store(config.every_read, Ordering::Relaxed);
  let Some(path) = config.log_path else {
    return;
  };
  match LogFile::open(&path) {
    Ok(log) => {
      let _ = LOG.set(log);
    }
    Err(error) => warn!(
      "opening the audit log {} failed ({error}); audit events go to listeners and debug logs only",
      path.display()
    ),
  }
}

/// Queues an event for every sink. Never blocks: when the queue is full
/// the event is dropped and counted in `stats()`.
pub fn emit(event: Event) {
  PIPELINE.send(event);
}

/// Waits until the events emitted so far reach their sinks, at most
/// `timeout`, so that they survive an exit. Returns whether they all did.
pub fn flush(timeout: Duration) -> bool {
  match Lazy::get(&PIPELINE) {
    Some(pipeline) => pipeline.flush(timeout),
    None => true,
  }
}

/// Tells whether every read is audited, not only the first of each key.
pub fn every_read() -> bool {
  EVERY_READ.load(Ordering::Relaxed)
}

fn mode() -> &'static str {
  MODE.get().copied().unwrap_or("off")
}

fn deliver(event: Event) {
  let line = event.to_json(std::process::id(), mode());
  if let Some(log) = LOG.get() {
    log.append(&line);
  }
  sinks::trace(&line);
  RING
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .push(Arc::from(line));
}

/// Returns the cursor of the next event, from which a JavaScript realm
/// starts listening.
pub fn cursor() -> u64 {
  RING.lock().unwrap_or_else(|e| e.into_inner()).end()
}

/// Returns the events delivered from `cursor` on, as JSON lines.
pub fn read_since(cursor: u64) -> Batch {
  RING
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .read(cursor, BATCH_SIZE)
}

/// Audits a read of a managed key, as the JavaScript proxy reports it.
pub fn read(key: String, source: &str, reason: Option<String>) {
  let mut event = Event::new("read").key(key);
  if let Some(source) = Source::parse(source) {
    event = event.source(source);
  }
  if let Some(reason) = reason {
    event = event.reason(reason);
  }
  emit(event);
}

/// Keeps the startup environment values of the pattern and mapped keys,
/// which shadow comparisons hash. A reference's value is no secret and is
/// never compared.
pub fn keep_env_values(plan: &Plan, env: &HashMap<String, String>) {
  let keys = plan
    .keys
    .iter()
    .filter(|(_, managed)| managed.kind != Kind::Reference)
    .map(|(key, _)| key);
  shadow::keep_env_values(keys, env);
}

/// Reports what changed for one managed key at a rebuild of the view:
/// fallbacks, recoveries and shadow comparisons.
pub fn observe(key: &str, route: &Route, decision: &Decision, has_location: bool) {
  let env = shadow::env_value(key);
  let events = TRACKER.lock().unwrap_or_else(|e| e.into_inner()).observe(
    key,
    route,
    decision,
    has_location,
    env,
  );
  events.into_iter().for_each(emit);
}

/// Returns the reason of every key that falls back, for read events.
pub fn fallback_reasons() -> HashMap<String, &'static str> {
  TRACKER
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .fallback_reasons()
}

pub fn key_counts() -> KeyCounts {
  TRACKER.lock().unwrap_or_else(|e| e.into_inner()).counts()
}

/// What happened to the events emitted so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct Delivery {
  pub emitted: u64,
  pub delivered: u64,
  pub dropped: u64,
}

pub fn delivery() -> Delivery {
  let Some(pipeline) = Lazy::get(&PIPELINE) else {
    return Delivery::default();
  };
  Delivery {
    emitted: pipeline.accepted() + pipeline.dropped(),
    delivered: pipeline.delivered(),
    dropped: pipeline.dropped(),
  }
}

/// The kill switch as `stats()` and `status()` report it.
#[derive(Debug, Default, Clone)]
pub struct KillSwitch {
  pub open: bool,
  /// `errors`, `manual` or `file` while open.
  pub trigger: Option<String>,
  pub reason: Option<String>,
}

pub fn kill_switch(engine: Option<&Engine>) -> KillSwitch {
  let Some(engine) = engine else {
    return KillSwitch::default();
  };
  let state = engine.breaker.state();
  if !state.open {
    return KillSwitch::default();
  }
  KillSwitch {
    open: true,
    trigger: state.trigger.map(|t| vault::trigger_name(&t).to_string()),
    reason: Some(state.reason),
  }
}
