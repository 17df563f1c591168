use super::*;

/// Builds an environment map from pairs.
fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
  pairs
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Creates an empty folder, so that no ragnos-vault.json is picked up.
fn empty_dir(name: &str) -> PathBuf {
  let dir = std::env::temp_dir().join(format!("ragnos-doctor-{name}-{}", std::process::id()));
  std::fs::create_dir_all(&dir).expect("temporary folder");
  dir
}

/// Runs `check_key` for every managed key against `documents`.
fn sources(
  pairs: &[(&str, &str)],
  documents: &[(&str, &[(&str, &str)])],
) -> (Vec<(String, String)>, DoctorReport) {
  let env = env(pairs);
  let ctx = Context {
    env: &env,
    cwd: empty_dir("keys"),
    script: None,
  };
  let settings = config::load(&ctx).expect("valid settings");
  let (mut plan, _) = Plan::build(&settings, &env);
  let documents: HashMap<String, Fields> = documents
    .iter()
    .map(|(path, fields)| {
      (
        path.to_string(),
        Fields::from_iter(fields.iter().map(|(k, v)| (k.to_string(), v.to_string()))),
      )
    })
    .collect();
  plan.discover(&documents);
  let mut report = empty_report();
  let found = plan
    .keys
    .iter()
    .map(|(name, managed)| {
      let key = check_key(&settings, name, managed, &documents, false, &mut report);
      (key.name, key.source)
    })
    .collect();
  (found, report)
}

#[test]
fn missing_address_is_a_problem() {
  let report = run(env(&[]), empty_dir("no-address"), None);
  assert!(report
    .problems
    .iter()
    .any(|p| p.contains("no Vault address")));
  assert!(!report.reachable);
  assert!(report.keys.is_empty());
}

#[test]
fn invalid_setting_stops_the_checks() {
  let report = run(
    env(&[
      ("VAULT_ADDR", "http://127.0.0.1:1"),
      ("RAGNOS_VAULT_MODE", "fast"),
    ]),
    empty_dir("invalid"),
    None,
  );
  assert_eq!(report.problems.len(), 1);
  assert!(report.problems[0].contains("RAGNOS_VAULT_MODE"));
  assert_eq!(report.mode, "");
  assert_eq!(report.address, None);
}

#[test]
fn vault_mode_sources() {
  let (keys, report) = sources(
    &[
      ("VAULT_ADDR", "http://127.0.0.1:1"),
      ("RAGNOS_VAULT_MODE", "vault"),
      ("RAGNOS_VAULT_APP", "app"),
      ("GITHUB_TOKEN", "from-env"),
      ("REF", "vault:secret/refs#missing"),
    ],
    &[
      ("secret/mcp/app", &[("OPENAI_API_KEY", "v")]),
      ("secret/mcp/shared", &[]),
      ("secret/refs", &[]),
    ],
  );
  let expected = vec![
    ("GITHUB_TOKEN".to_string(), "env-fallback".to_string()),
    ("OPENAI_API_KEY".to_string(), "vault".to_string()),
    ("REF".to_string(), "hidden".to_string()),
  ];
  assert_eq!(keys, expected);
  assert!(report.problems.iter().any(|p| p.starts_with("REF:")));
  assert!(report
    .warnings
    .iter()
    .any(|w| w.starts_with("GITHUB_TOKEN:")));
}

#[test]
fn shadow_mode_serves_the_environment() {
  let (keys, report) = sources(
    &[
      ("VAULT_ADDR", "http://127.0.0.1:1"),
      ("RAGNOS_VAULT_MODE", "shadow"),
      ("RAGNOS_VAULT_APP", "app"),
    ],
    &[
      ("secret/mcp/app", &[("OPENAI_API_KEY", "v")]),
      ("secret/mcp/shared", &[]),
    ],
  );
  assert_eq!(
    keys,
    vec![("OPENAI_API_KEY".to_string(), "env".to_string())]
  );
  assert!(report.problems.is_empty());
  assert!(report.warnings.is_empty());
}

#[test]
fn strict_mode_turns_fallback_into_a_problem() {
  let (keys, report) = sources(
    &[
      ("VAULT_ADDR", "http://127.0.0.1:1"),
      ("RAGNOS_VAULT_MODE", "vault"),
      ("RAGNOS_VAULT_STRICT", "true"),
      ("RAGNOS_VAULT_APP", "app"),
      ("GITHUB_TOKEN", "from-env"),
    ],
    &[("secret/mcp/app", &[]), ("secret/mcp/shared", &[])],
  );
  assert_eq!(
    keys,
    vec![("GITHUB_TOKEN".to_string(), "env-fallback".to_string())]
  );
  assert!(report
    .problems
    .iter()
    .any(|p| p.starts_with("GITHUB_TOKEN:")));
}

#[test]
fn login_failures_classified_by_reach() {
  let unreachable = Error::Unreachable {
    address: "a".into(),
    reason: "refused".into(),
  };
  let rejected = Error::TokenRejected {
    address: "a".into(),
    status: 403,
  };
  assert!(!reached(&unreachable));
  assert!(reached(&rejected));
}
