//! `ragnos-vault doctor`: checks the settings, reaches Vault, logs in,
//! reads every document the preloader would read, and reports where each
//! managed key would come from. It builds its own client on its own
//! runtime, so the process-wide engine never starts, and the report contains
//! no secret value and no token.

use std::collections::HashMap;
use std::path::PathBuf;

use napi_derive::napi;

use crate::config::{self, Context, Mode, Settings};
use crate::error::Error;
use crate::mapping::{Fields, Kind, Location, ManagedKey, Plan};
use crate::routing::{self, Decision, Route};
use crate::vault::{Client, ReadOutcome};

/// A token that expires sooner than this and cannot be renewed gets a
/// warning, because the program loses Vault access when it expires.
const SHORT_TTL_SECONDS: u64 = 3600;

/// The outcome of `doctor`. `problems` lists what stops the preloader
/// from serving Vault values, and `warnings` lists what is worth a look.
#[napi(object)]
pub struct DoctorReport {
  pub problems: Vec<String>,
  pub warnings: Vec<String>,
  /// Empty when the settings did not load.
  pub mode: String,
  pub app: String,
  /// The config file that was read, or empty.
  pub config_file: String,
  pub address: Option<String>,
  pub auth_method: Option<String>,
  /// The source of the token (a variable or a file), never the token.
  pub token_source: Option<String>,
  pub reachable: bool,
  pub auth_ok: bool,
  /// Seconds left on the token; 0 for a token that never expires.
  pub token_ttl_seconds: Option<u32>,
  pub renewable: Option<bool>,
  pub documents: Vec<DoctorDocument>,
  pub keys: Vec<DoctorKey>,
}

/// One KV document the preloader reads.
#[napi(object)]
pub struct DoctorDocument {
  pub path: String,
  /// `found`, `not found`, `failed` or `not read` (no login).
  pub status: String,
  /// Number of fields, when found.
  pub fields: Option<u32>,
  pub error: Option<String>,
}

/// One managed key and where its reads would come from.
#[napi(object)]
pub struct DoctorKey {
  pub name: String,
  /// `reference`, `mapped` or `pattern`.
  pub kind: String,
  /// `vault`, `env` (not taken over in this mode), `env-fallback` (should
  /// come from Vault, which has no value) or `hidden` (an unresolved
  /// reference, read as unset).
  pub source: String,
  /// The document holding the Vault value, else the first place looked.
  pub path: Option<String>,
  pub field: Option<String>,
}

/// Runs every check and returns the report.
pub fn run(env: HashMap<String, String>, cwd: PathBuf, script: Option<PathBuf>) -> DoctorReport {
  let mut report = empty_report();
  let ctx = Context {
    env: &env,
    cwd,
    script,
  };
  let settings = match config::load(&ctx) {
    Ok(settings) => settings,
    Err(e) => {
      report.problems.push(e.to_string());
      return report;
    }
  };
  report.mode = settings.mode.as_str().into();
  report.app = settings.app.clone();
  report.config_file = settings.config_file.clone();
  if settings.mode == Mode::Off {
    report
      .warnings
      .push("mode is off: the preloader serves environment values only".into());
  }
  if settings.app.is_empty() {
    report.warnings.push(
      "no app name (RAGNOS_VAULT_APP, package.json or script): search paths with {app} are skipped"
        .into(),
    );
  }

  let (mut plan, reference_errors) = Plan::build(&settings, &env);
  report
    .problems
    .extend(reference_errors.iter().map(Error::to_string));

  let documents = match &settings.vault {
    Some(vault) => {
      report.address = Some(vault.address.as_str().trim_end_matches('/').to_string());
      report.auth_method = Some(vault.auth.method_name().into());
      report.token_source = Some(vault.token_source.clone());
      check_vault(&settings, &plan, &mut report)
    }
    None => {
      report
        .problems
        .push("no Vault address: set VAULT_ADDR or BAO_ADDR, or address in the config file".into());
      HashMap::new()
    }
  };

  plan.discover(&documents);
  let killed = kill_switch_open(&settings, &mut report);
  for (name, managed) in &plan.keys {
    let key = check_key(&settings, name, managed, &documents, killed, &mut report);
    report.keys.push(key);
  }
  report
}

fn empty_report() -> DoctorReport {
  DoctorReport {
    problems: Vec::new(),
    warnings: Vec::new(),
    mode: String::new(),
    app: String::new(),
    config_file: String::new(),
    address: None,
    auth_method: None,
    token_source: None,
    reachable: false,
    auth_ok: false,
    token_ttl_seconds: None,
    renewable: None,
    documents: Vec::new(),
    keys: Vec::new(),
  }
}

/// Logs in and reads every document, on a runtime of its own. Returns the
/// documents read, by path as written.
fn check_vault(
  settings: &Settings,
  plan: &Plan,
  report: &mut DoctorReport,
) -> HashMap<String, Fields> {
  let Some(vault) = settings.vault.as_ref() else {
    return HashMap::new();
  };
  let runtime = match tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
  {
    Ok(runtime) => runtime,
    Err(e) => {
      report
        .problems
        .push(format!("the async runtime could not start: {e}"));
      return HashMap::new();
    }
  };
  let paths = plan.documents();
  runtime.block_on(async {
    let client = match Client::new(vault, &settings.resilience) {
      Ok(client) => client,
      Err(e) => {
        report.problems.push(e.to_string());
        return HashMap::new();
      }
    };
    match client.login().await {
      Ok(info) => {
        report.reachable = true;
        report.auth_ok = true;
        report.token_ttl_seconds = Some(u32::try_from(info.ttl_seconds).unwrap_or(u32::MAX));
        report.renewable = Some(info.renewable);
        if info.ttl_seconds > 0 && info.ttl_seconds < SHORT_TTL_SECONDS && !info.renewable {
          report.warnings.push(format!(
            "the token expires in {} s and is not renewable",
            info.ttl_seconds
          ));
        }
      }
      Err(e) => {
        report.reachable = reached(&e);
        report.problems.push(e.to_string());
        report.documents = paths.iter().map(|p| unread(p)).collect();
        return HashMap::new();
      }
    }
    read_all(&client, &paths, report).await
  })
}

async fn read_all(
  client: &Client,
  paths: &[String],
  report: &mut DoctorReport,
) -> HashMap<String, Fields> {
  let mut documents = HashMap::new();
  for path in paths {
    let check = match client.read(path).await {
      Ok(ReadOutcome::Found(document)) => {
        let check = DoctorDocument {
          path: path.clone(),
          status: "found".into(),
          fields: Some(document.fields.len() as u32),
          error: None,
        };
        documents.insert(path.clone(), document.fields);
        check
      }
      Ok(ReadOutcome::NotFound { .. }) => {
        documents.insert(path.clone(), Fields::new());
        DoctorDocument {
          path: path.clone(),
          status: "not found".into(),
          fields: None,
          error: None,
        }
      }
      Err(e) => {
        report.problems.push(e.to_string());
        DoctorDocument {
          path: path.clone(),
          status: "failed".into(),
          fields: None,
          error: Some(e.to_string()),
        }
      }
    };
    report.documents.push(check);
  }
  documents
}

fn unread(path: &str) -> DoctorDocument {
  DoctorDocument {
    path: path.to_string(),
    status: "not read".into(),
    fields: None,
    error: None,
  }
}

/// Tells whether a failed login received a response from the server.
fn reached(error: &Error) -> bool {
  !matches!(
    error,
    Error::Unreachable { .. } | Error::Timeout { .. } | Error::Tls { .. }
  )
}

/// Reports an open kill switch, set from the start or by its file.
fn kill_switch_open(settings: &Settings, report: &mut DoctorReport) -> bool {
  let kill = &settings.resilience.kill_switch;
  let by_file = kill.kill_file.as_ref().filter(|file| file.exists());
  if let Some(file) = by_file {
    report.warnings.push(format!(
      "kill switch open: {} exists; managed keys read from the environment",
      file.display()
    ));
  } else if kill.killed {
    report
      .warnings
      .push("kill switch open from the start; managed keys read from the environment".into());
  }
  kill.killed || by_file.is_some()
}

fn check_key(
  settings: &Settings,
  name: &str,
  managed: &ManagedKey,
  documents: &HashMap<String, Fields>,
  killed: bool,
  report: &mut DoctorReport,
) -> DoctorKey {
  let in_canary = routing::in_canary(&settings.canary_salt, name, settings.canary_percent);
  let route = Route {
    mode: settings.mode,
    kind: managed.kind,
    in_canary,
    lookup: managed.lookup(documents),
    killed,
  };
  let source = match routing::decide(&route) {
    Decision::Vault(_) => "vault",
    Decision::Env { fallback: false } => "env",
    Decision::Env { fallback: true } => "env-fallback",
    Decision::Hidden => "hidden",
  };
  let expects_vault = match (managed.kind, settings.mode) {
    (_, Mode::Off) => false,
    (Kind::Reference, _) | (_, Mode::Vault) => true,
    (_, Mode::Dual) => in_canary,
    (_, Mode::Shadow) => false,
  };
  if expects_vault && source != "vault" && !killed {
    let message = match source {
      "hidden" => format!("{name}: the reference has no value in Vault, so the key reads as unset"),
      _ => format!("{name}: no Vault value, so the environment value is served"),
    };
    if source == "hidden" || settings.strict {
      report.problems.push(message);
    } else {
      report.warnings.push(message);
    }
  }
  let location = found_at(managed, documents).or(managed.locations.first());
  DoctorKey {
    name: name.to_string(),
    kind: match managed.kind {
      Kind::Reference => "reference",
      Kind::Mapped => "mapped",
      Kind::Pattern => "pattern",
    }
    .into(),
    source: source.into(),
    path: location.map(|l| l.path.clone()),
    field: location.map(|l| l.field.clone()),
  }
}

/// Returns the first location, in lookup order, whose document contains
/// the key.
fn found_at<'a>(
  managed: &'a ManagedKey,
  documents: &HashMap<String, Fields>,
) -> Option<&'a Location> {
  managed.locations.iter().find(|l| {
    documents
      .get(&l.path)
      .is_some_and(|fields| fields.contains_key(&l.field))
  })
}

#[cfg(test)]
mod tests;
