//! N-API entry points of the preloader. The JavaScript side (index.js and
//! lib/) calls these; everything else lives in the modules below.

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

/// What the program looks like when the preloader loads.
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
}

/// Every managed key, where its reads come from (`vault`, `stale`, `env`
/// or `hidden`), and the value for those served from the cache.
#[napi(object)]
pub struct Snapshot {
  pub generation: u32,
  pub keys: Vec<String>,
  pub sources: Vec<String>,
  pub values: Vec<Option<String>>,
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
  };
  for (key, served) in &view.entries {
    snapshot.keys.push(key.clone());
    snapshot.sources.push(served.source().to_string());
    // Stale keys carry their last value too: the proxy serves it until
    // max_stale_ms runs out, and a missing value would read as unset.
    snapshot.values.push(served.value().map(str::to_string));
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

/// Reads every document from Vault now; resolves when all have answered.
#[napi]
pub fn refresh() -> AsyncTask<RefreshTask> {
  AsyncTask::new(RefreshTask)
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
