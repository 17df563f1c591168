//! Startup: settings, login and the first fetch of every needed path, all
//! within the startup timeout, on the JavaScript thread that loads the
//! preloader. Whatever is late keeps loading in the background.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};

use super::refresh::{document_groups, fetch_groups};
use super::{engine::Engine, logging, refresh, runtime, STARTED};
use crate::audit;
use crate::config::{self, parse_bool, Context, Mode, CREDENTIAL_VARS};
use crate::mapping::Plan;
use crate::vault::Client;

/// Exit code for a strict-mode failure: `EX_CONFIG` from sysexits.h.
pub const EXIT_CONFIG: u32 = 78;

/// The outcome of startup, returned to the JavaScript side.
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

/// The program's environment, working directory and main script.
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
  // Strict mode must hold even when the settings fail to load, so it is
  // read on its own: the variable, else the config file's `strict` field.
  let strict_hint = match request
    .env
    .get("RAGNOS_VAULT_STRICT")
    .filter(|v| !v.is_empty())
  {
    Some(text) => parse_bool(text).unwrap_or(false),
    None => config::peek_strict(
      request.env.get("RAGNOS_VAULT_CONFIG").map(String::as_str),
      &request.cwd,
    ),
  };

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
    address = %config::shown_address(&vault.address),
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
  // With nothing read, strict mode cannot tell which keys Vault would have
  // served, so documents that could not be read fail it too.
  let unread = engine.unread_documents();
  if strict && !unread.is_empty() {
    let paths = unread.join(", ");
    error!("strict mode: could not read {paths} from Vault; exiting with code {EXIT_CONFIG}");
    return (exit(), Some(engine));
  }
  // Keys whose documents were not read are covered by the read's own
  // message. These are the keys missing from documents Vault returned.
  let (references, others) = split_references(&engine, &view.missing);
  if !others.is_empty() {
    warn!(
      "no Vault value for {}; serving environment values",
      list(&others)
    );
  }
  if !references.is_empty() {
    warn!(
      "no Vault value for {}; these references read as unset",
      list(&references)
    );
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

/// Splits keys into references, shown with the path and field they name,
/// and the other keys.
fn split_references(engine: &Engine, keys: &[String]) -> (Vec<String>, Vec<String>) {
  let plan = engine.plan.read().unwrap_or_else(|e| e.into_inner());
  let mut references = Vec::new();
  let mut others = Vec::new();
  for key in keys {
    match plan.keys.get(key) {
      Some(managed) if managed.kind == crate::mapping::Kind::Reference => {
        let target = managed
          .locations
          .first()
          .map(|l| format!(" ({}#{})", l.path, l.field));
        references.push(format!("{key}{}", target.unwrap_or_default()));
      }
      _ => others.push(key.clone()),
    }
  }
  (references, others)
}

/// Joins names for one log line, naming at most 20 and counting the rest.
fn list(names: &[String]) -> String {
  const SHOWN: usize = 20;
  let mut text = names
    .iter()
    .take(SHOWN)
    .cloned()
    .collect::<Vec<_>>()
    .join(", ");
  if names.len() > SHOWN {
    text.push_str(&format!(" and {} more", names.len() - SHOWN));
  }
  text
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
  let paths = engine
    .plan
    .read()
    .unwrap_or_else(|e| e.into_inner())
    .documents();
  // A given token is checked while the first mount is looked up, which
  // saves a round trip. A login method has no token before its login, and
  // a mount lookup without one would settle for the fallback mount.
  let login = engine.login();
  let logged_in = match paths.first() {
    Some(first) if !client.logs_in() => {
      let (login, _) = futures::join!(login, client.learn_mount(first));
      login
    }
    _ => login.await,
  };
  if logged_in.is_err() {
    return;
  }

  // Mount lookups first, one per mount, so that every spelling of a
  // document is known before the reads, which then all go out together:
  // a slow document no longer delays the others.
  for path in &paths {
    if client.canonical(path).is_none() && client.learn_mount(path).await.is_err() {
      break;
    }
  }

  let groups = document_groups(&engine);
  fetch_groups(&engine, &groups.into_values().collect::<Vec<_>>()).await;

  // Publishes paths that arrive after the startup timeout; at startup the
  // caller rebuilds again, which costs one more generation and no request.
  engine.rebuild();
}
