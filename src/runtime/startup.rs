//! Startup: settings, login and the first fetch of every needed path, all
//! within the startup timeout, on the JavaScript thread that loads the
//! preloader. Whatever is late keeps loading in the background.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tracing::{debug, error, info, warn};

use super::{engine::Engine, logging, refresh, runtime, STARTED};
use crate::audit;
use crate::config::{self, parse_bool, Context, Mode, CREDENTIAL_VARS};
use crate::mapping::Plan;
use crate::vault::Client;

/// Exit code for a strict-mode failure: `EX_CONFIG` from sysexits.h.
pub const EXIT_CONFIG: u32 = 78;

/// What startup tells the JavaScript side.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
  /// The proxy is installed only when the preloader manages keys.
  pub active: bool,
  pub mode: String,
  /// Set when the process must exit now (strict mode).
  pub exit_code: Option<u32>,
  /// Credential variables to remove from the environment.
  pub scrub: Vec<String>,
  pub children_env_only: bool,
}

/// The program as the preloader sees it when it loads.
pub struct StartRequest {
  pub env: HashMap<String, String>,
  pub cwd: PathBuf,
  pub script: Option<PathBuf>,
}

/// Starts the preloader once per process and returns the outcome; later
/// calls (a second `require`, a worker thread) get the first outcome.
pub fn start(request: StartRequest) -> Outcome {
  let (outcome, _) = STARTED.get_or_init(|| {
    logging::init(&config::log_level(&request.env));
    let began = Instant::now();
    let started = start_once(&request);
    audit_startup(&request, &started, began);
    debug!(
      millis = began.elapsed().as_millis() as u64,
      "startup finished"
    );
    started
  });
  outcome.clone()
}

fn start_once(request: &StartRequest) -> (Outcome, Option<Arc<Engine>>) {
  let ctx = Context {
    env: &request.env,
    cwd: request.cwd.clone(),
    script: request.script.clone(),
  };
  let strict_hint = request
    .env
    .get("RAGNOS_VAULT_STRICT")
    .and_then(|v| parse_bool(v))
    .unwrap_or(false);

  let settings = match config::load(&ctx) {
    Ok(settings) => {
      logging::set_level(&settings.log_level);
      audit::configure(&settings, &request.cwd);
      settings
    }
    Err(e) if strict_hint => {
      error!("{e}; strict mode, exiting with code {EXIT_CONFIG}");
      return (exit(), None);
    }
    Err(e) => {
      warn!("{e}; preloader off, serving environment values");
      let outcome = Outcome {
        scrub: scrub_list(scrub_hint(&request.env), &request.env),
        ..Outcome::default()
      };
      return (outcome, None);
    }
  };
  let inactive = Outcome {
    mode: Mode::Off.as_str().into(),
    ..Outcome::default()
  };
  let Some(vault) = settings.vault.clone() else {
    debug!("no VAULT_ADDR or BAO_ADDR; nothing is managed");
    return (inactive, None);
  };
  if settings.mode == Mode::Off {
    info!("mode off; serving environment values");
    let outcome = Outcome {
      scrub: scrub_list(settings.scrub_credentials, &request.env),
      ..inactive
    };
    return (outcome, None);
  }

  let (plan, reference_errors) = Plan::build(&settings, &request.env);
  for e in &reference_errors {
    warn!("{e}; the key reads as unset");
  }
  audit::keep_env_values(&plan, &request.env);
  let client = match Client::new(&vault, &settings.resilience) {
    Ok(client) => Some(Arc::new(client)),
    Err(e) => {
      warn!("{e}; serving environment values");
      None
    }
  };

  let outcome = Outcome {
    active: true,
    mode: settings.mode.as_str().into(),
    exit_code: None,
    scrub: scrub_list(settings.scrub_credentials, &request.env),
    children_env_only: settings.children == config::Children::EnvOnly,
  };
  let strict = settings.strict;
  let budget = Duration::from_millis(settings.startup_timeout_ms);
  let engine = Arc::new(Engine::new(settings, plan, client));
  info!(
    mode = %outcome.mode,
    address = %vault.address,
    token_source = %vault.token_source,
    "starting"
  );

  if engine.breaker.is_open() {
    warn!(
      "kill switch open: {}; serving environment values",
      engine.breaker.state().reason
    );
  } else {
    load_within(&engine, budget);
  }
  let view = engine.rebuild();
  if strict && !view.unresolved.is_empty() {
    let keys = view.unresolved.join(", ");
    error!("strict mode: no Vault value for {keys}; exiting with code {EXIT_CONFIG}");
    return (exit(), Some(engine));
  }
  // Keys whose documents were not read are covered by the read's own
  // message; these are the ones Vault answered for without a value.
  if !view.missing.is_empty() {
    let keys = view.missing.join(", ");
    warn!("no Vault value for {keys}; serving environment values");
  }
  if engine.client.is_some() {
    refresh::spawn(engine.clone());
  }
  (outcome, Some(engine))
}

/// Audits the end of startup, and when the process must exit now, waits
/// for the audit trail to reach its file.
fn audit_startup(request: &StartRequest, started: &(Outcome, Option<Arc<Engine>>), began: Instant) {
  let (outcome, engine) = started;
  let counts = engine.as_ref().map(|engine| {
    let plan = engine.plan.read().unwrap_or_else(|e| e.into_inner());
    (plan.keys.len(), plan.documents().len())
  });
  let report = audit::Startup {
    active: outcome.active,
    exit_code: outcome.exit_code,
    counts,
    elapsed: began.elapsed(),
  };
  audit::report_startup(report, &request.env, &request.cwd);
}

/// Reads `RAGNOS_VAULT_SCRUB_CREDENTIALS` alone, for when the settings as a
/// whole are invalid: credentials are scrubbed unless it is false.
fn scrub_hint(env: &HashMap<String, String>) -> bool {
  env
    .get("RAGNOS_VAULT_SCRUB_CREDENTIALS")
    .and_then(|v| parse_bool(v))
    .unwrap_or(true)
}

fn exit() -> Outcome {
  Outcome {
    exit_code: Some(EXIT_CONFIG),
    ..Outcome::default()
  }
}

/// Names the credential variables present in the environment.
fn scrub_list(enabled: bool, env: &HashMap<String, String>) -> Vec<String> {
  if !enabled {
    return Vec::new();
  }
  CREDENTIAL_VARS
    .iter()
    .filter(|name| env.contains_key(**name))
    .map(|name| name.to_string())
    .collect()
}

/// Logs in and fetches every path, waiting at most `budget`. Past it, the
/// work goes on in the background and rebuilds the view as paths arrive.
fn load_within(engine: &Arc<Engine>, budget: Duration) {
  let Some(client) = engine.client.clone() else {
    return;
  };
  let task = runtime().spawn(load_all(engine.clone(), client));
  // The task keeps running past the budget; dropping the handle does not
  // cancel it.
  let waited = runtime().block_on(async { tokio::time::timeout(budget, task).await });
  if waited.is_err() {
    warn!(
      "startup timed out after {} ms reading from {}; serving environment values until Vault answers",
      budget.as_millis(),
      engine.client.as_ref().map_or("", |c| c.address())
    );
  }
}

async fn load_all(engine: Arc<Engine>, client: Arc<Client>) {
  if engine.login().await.is_err() {
    return;
  }
  let mut pending = engine
    .plan
    .read()
    .unwrap_or_else(|e| e.into_inner())
    .documents();
  while let Some(first) = pending.first().cloned() {
    // The first read below a mount learns the mount's KV version. Every path
    // whose mount is then known is read at once, one read per document
    // however it is spelled; paths below other mounts wait for a later round.
    let _ = engine.fetch(std::slice::from_ref(&first)).await;
    let first_name = client.canonical(&first);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for path in pending.drain(..).skip(1) {
      match client.canonical(&path) {
        Some(name) if Some(&name) == first_name.as_ref() => engine.cache.alias(&path, &name),
        Some(name) => groups.entry(name).or_default().push(path),
        None => unknown.push(path),
      }
    }
    join_all(groups.values().map(|paths| engine.fetch(paths))).await;
    pending = unknown;
  }
  // Publishes paths that arrive after the startup timeout; at startup the
  // caller rebuilds again, which costs one more generation and no request.
  engine.rebuild();
}
