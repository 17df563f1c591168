//! N-API entry points of the preloader. The JavaScript side (index.js and
//! lib/) calls these; everything else lives in the modules below.

pub mod audit;
pub mod breaker;
pub mod cache;
pub mod config;
pub mod error;
pub mod mapping;
pub mod routing;
pub mod runtime;
pub mod vault;

use std::collections::HashMap;
use std::path::PathBuf;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The program's environment, working directory and main script when the
/// preloader loads.
#[napi(object)]
pub struct StartOptions {
  /// The environment as the program received it.
  pub env: HashMap<String, String>,
  pub cwd: String,
  /// The main script, when there is one (`process.argv[1]`).
  pub script: Option<String>,
}

/// The outcome of startup.
#[napi(object)]
pub struct StartResult {
  /// Whether the preloader manages keys, so the proxy is needed.
  pub active: bool,
  pub mode: String,
  /// Set when the process must exit now, with this code.
  pub exit_code: Option<u32>,
  /// Credential variables to remove from the environment.
  pub scrub: Vec<String>,
  /// Whether children spawned with the default environment get only the
  /// real environment.
  pub children_env_only: bool,
  /// Whether every read of a managed key is audited, not only the first
  /// and each change of its source.
  pub audit_every_read: bool,
}

/// Every managed key, where its reads come from (`vault`, `stale`, `env`
/// or `hidden`), and the value for those served from the cache.
#[napi(object)]
pub struct Snapshot {
  pub generation: u32,
  pub keys: Vec<String>,
  pub sources: Vec<String>,
  pub values: Vec<Option<String>>,
  /// Why each key reads from the environment, or as unset, when it should
  /// read from Vault (`missing_in_vault`, `vault_unavailable`, ...).
  pub reasons: Vec<Option<String>>,
}

/// Starts the preloader once per process; later calls return the first
/// outcome.
#[napi]
pub fn start(options: StartOptions) -> StartResult {
  let outcome = runtime::start(runtime::startup::StartRequest {
    env: options.env,
    cwd: PathBuf::from(options.cwd),
    script: options.script.filter(|s| !s.is_empty()).map(PathBuf::from),
  });
  StartResult {
    active: outcome.active,
    mode: outcome.mode,
    exit_code: outcome.exit_code,
    scrub: outcome.scrub,
    children_env_only: outcome.children_env_only,
    audit_every_read: audit::every_read(),
  }
}

/// Returns the managed keys served from Vault, or hidden, with the
/// generation they belong to.
#[napi]
pub fn snapshot() -> Snapshot {
  let view = runtime::engine().map(|e| e.view()).unwrap_or_default();
  let mut snapshot = Snapshot {
    generation: view.generation,
    keys: Vec::with_capacity(view.entries.len()),
    sources: Vec::with_capacity(view.entries.len()),
    values: Vec::with_capacity(view.entries.len()),
    reasons: Vec::with_capacity(view.entries.len()),
  };
  let reasons = audit::fallback_reasons();
  for (key, served) in &view.entries {
    snapshot.keys.push(key.clone());
    snapshot.sources.push(served.source().to_string());
    // Stale keys carry their last value too: the proxy serves it until
    // max_stale_ms runs out, and a missing value would read as unset.
    snapshot.values.push(served.value().map(str::to_string));
    let reason = reasons.get(key.as_str()).map(|r| r.to_string());
    snapshot.reasons.push(reason);
  }
  snapshot
}

/// Returns a 4-byte buffer holding the current generation as a 32-bit
/// integer, updated in place whenever the view changes.
#[napi]
pub fn generation_buffer(env: &Env) -> Result<ArrayBuffer<'_>> {
  let slot = runtime::generation::new_slot();
  // SAFETY: the slot is a live 4-byte allocation owned by the generation
  // registry until the finalizer releases it; no other buffer uses it.
  unsafe {
    ArrayBuffer::from_external(env, slot, 4, slot as usize, |_, address| {
      runtime::generation::release_slot(address)
    })
  }
}

/// Returns the effective settings as JSON, with credentials redacted.
#[napi]
pub fn settings_json() -> String {
  runtime::engine()
    .map(|e| config::redacted_json(&e.settings))
    .unwrap_or_else(|| "null".into())
}

/// Erases the named credentials, already deleted from `process.env`, from
/// the initial environment block that `/proc/<pid>/environ` shows. Returns
/// how many entries were erased.
#[napi]
pub fn erase_credentials(names: Vec<String>) -> u32 {
  runtime::environ::erase(&names) as u32
}

/// Opens the kill switch: managed keys read from the environment until
/// `revive()`. Returns whether the state changed.
#[napi]
pub fn kill(reason: Option<String>) -> bool {
  runtime::control::kill(reason.as_deref().unwrap_or_default())
}

/// Closes the kill switch and refreshes from Vault. Returns whether the
/// state changed.
#[napi]
pub fn revive() -> bool {
  runtime::control::revive()
}

/// An event for JavaScript listeners: `rotated` names keys, `killswitch`
/// tells whether the switch is open and why.
#[napi(object)]
pub struct NativeEvent {
  pub name: String,
  pub keys: Vec<String>,
  pub open: Option<bool>,
  pub reason: String,
}

/// Takes the events raised since the last call.
#[napi]
pub fn take_events() -> Vec<NativeEvent> {
  runtime::events::drain()
    .into_iter()
    .map(|e| NativeEvent {
      name: e.name.to_string(),
      keys: e.keys,
      open: e.open,
      reason: e.reason,
    })
    .collect()
}

pub struct RefreshTask;

impl Task for RefreshTask {
  type Output = ();
  type JsValue = ();

  fn compute(&mut self) -> Result<()> {
    runtime::control::refresh_blocking();
    Ok(())
  }

  fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
    Ok(())
  }
}

/// Reads every document from Vault now. The promise resolves once every
/// read has succeeded or failed.
#[napi]
pub fn refresh() -> AsyncTask<RefreshTask> {
  AsyncTask::new(RefreshTask)
}

/// Audits a read of a managed key from `source` (`vault`, `env`, `stale`,
/// `override` or `hidden`), with the fallback reason when there is one.
/// The proxy calls it on the first read of each key, on each change of its
/// source, and on every read with `audit_every_read`.
#[napi]
pub fn audit_read(key: String, source: String, reason: Option<String>) {
  audit::read(key, &source, reason);
}

/// Returns the position in the audit ring of the next event, where a realm
/// starts reading.
#[napi]
pub fn audit_cursor() -> f64 {
  audit::cursor() as f64
}

/// Audit events as JSON lines, read from a position in the ring.
#[napi(object)]
pub struct AuditBatch {
  pub events: Vec<String>,
  /// The position to read from next.
  pub next: f64,
  /// Events that left the ring before they were read.
  pub missed: f64,
}

/// Returns the audit events delivered from `cursor` on, up to 256.
#[napi]
pub fn audit_events(cursor: f64) -> AuditBatch {
  let batch = audit::read_since(cursor.max(0.0) as u64);
  AuditBatch {
    events: batch.lines,
    next: batch.next as f64,
    missed: batch.missed as f64,
  }
}

/// Waits up to `timeout_ms` for queued audit events to reach their sinks.
/// Returns whether they all did.
#[napi]
pub fn audit_flush(timeout_ms: u32) -> bool {
  audit::flush(std::time::Duration::from_millis(u64::from(timeout_ms)))
}

/// Process-wide counters for `stats()`. Reads are counted in JavaScript.
#[napi(object)]
pub struct NativeStats {
  pub vault_requests: f64,
  pub vault_errors: f64,
  pub managed_keys: u32,
  pub fallback_keys: u32,
  pub canary_keys: u32,
  pub canary_from_vault: u32,
  pub audit_emitted: f64,
  pub audit_written: f64,
  pub audit_dropped: f64,
  pub kill_switch_open: bool,
  /// `errors`, `manual` or `file` while the switch is open.
  pub kill_switch_trigger: Option<String>,
  pub kill_switch_reason: Option<String>,
}

/// Returns the process-wide counters that `stats()` reports.
#[napi]
pub fn native_stats() -> NativeStats {
  let keys = audit::key_counts();
  let delivery = audit::delivery();
  let switch = audit::kill_switch(runtime::engine().as_deref());
  NativeStats {
    vault_requests: audit::stats::vault_requests() as f64,
    vault_errors: audit::stats::vault_errors() as f64,
    managed_keys: keys.managed,
    fallback_keys: keys.fallback,
    canary_keys: keys.canary,
    canary_from_vault: keys.canary_from_vault,
    audit_emitted: delivery.emitted as f64,
    audit_written: delivery.delivered as f64,
    audit_dropped: delivery.dropped as f64,
    kill_switch_open: switch.open,
    kill_switch_trigger: switch.trigger,
    kill_switch_reason: switch.reason,
  }
}

/// The last failure of a Vault request target, by kind.
#[napi(object)]
pub struct LastError {
  /// A path with its mount, `login` or `renew`.
  pub target: String,
  /// A fixed code such as `unreachable` or `permission_denied`.
  pub kind: String,
  /// RFC 3339 time of the failure.
  pub time: String,
}

/// What `status()` reports beyond `active` and `mode`. No secrets.
#[napi(object)]
pub struct NativeStatus {
  pub generation: u32,
  pub managed_keys: u32,
  /// The KV documents read, with their mounts.
  pub paths: Vec<String>,
  pub logged_in: bool,
  pub last_errors: Vec<LastError>,
  pub kill_switch_open: bool,
}

/// Returns what `status()` reports beyond `active` and `mode`.
#[napi]
pub fn native_status() -> NativeStatus {
  let engine = runtime::engine();
  let (managed_keys, paths) = match &engine {
    Some(engine) => {
      let plan = engine.plan.read().unwrap_or_else(|e| e.into_inner());
      (plan.keys.len() as u32, plan.documents())
    }
    None => (0, Vec::new()),
  };
  let last_errors = audit::stats::last_errors()
    .into_iter()
    .map(|e| LastError {
      target: e.target,
      kind: e.kind.to_string(),
      time: e.time,
    })
    .collect();
  NativeStatus {
    generation: runtime::generation::current(),
    managed_keys,
    paths,
    logged_in: engine.as_ref().is_some_and(|e| e.logged_in()),
    last_errors,
    kill_switch_open: audit::kill_switch(engine.as_deref()).open,
  }
}

/// Checks the settings, Vault and every managed key as the preloader would
/// see them for `options`, without starting it. The report holds no value.
#[napi]
pub fn doctor(options: StartOptions) -> runtime::doctor::DoctorReport {
  runtime::doctor::run(
    options.env,
    PathBuf::from(options.cwd),
    options.script.filter(|s| !s.is_empty()).map(PathBuf::from),
  )
}
