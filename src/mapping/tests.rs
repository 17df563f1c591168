use super::*;

use std::sync::Arc;

use crate::config::{Children, Mode, Resilience};

fn strings(items: &[&str]) -> Vec<String> {
  items.iter().map(|s| s.to_string()).collect()
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
  pairs
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Settings with the `secret` mount, the search paths `mcp/app` then
/// `mcp/shared`, and the given patterns and mapping table.
fn settings(include: &[&str], exclude: &[&str], secrets: &[(&str, &str)]) -> Settings {
  Settings {
    mode: Mode::Vault,
    canary_percent: 0.0,
    canary_salt: String::new(),
    app: "app".into(),
    kv_mount: "secret".into(),
    search_paths: strings(&["mcp/app", "mcp/shared"]),
    include: strings(include),
    exclude: strings(exclude),
    secrets: secrets
      .iter()
      .map(|(k, v)| (k.to_string(), v.to_string()))
      .collect(),
    startup_timeout_ms: 2000,
    resilience: Resilience::default(),
    strict: false,
    log_level: "warn".into(),
    children: Children::Inherit,
    scrub_credentials: true,
    audit_log: None,
    audit_every_read: false,
    vault: None,
    config_file: String::new(),
  }
}

fn location(path: &str, field: &str) -> Location {
  Location {
    path: path.into(),
    field: field.into(),
  }
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
  vars(pairs)
}

const APP: &str = "secret/mcp/app";
const SHARED: &str = "secret/mcp/shared";

/// Parses a reference that must be rejected and returns the reason.
fn rejection(value: &str) -> String {
  match parse_reference("KEY", value) {
    Ok(location) => panic!("{value:?} parsed as {location:?}"),
    Err(Error::InvalidReference { reason, .. }) => reason,
    Err(other) => panic!("{value:?} gave an unexpected error: {other}"),
  }
}

// References

#[test]
fn reference_with_kv_path_parsed() {
  let parsed = parse_reference("KEY", "vault:secret/mcp/x#f").expect("valid reference");
  assert_eq!(parsed, location("secret/mcp/x", "f"));
}

#[test]
fn reference_kv_v2_data_spelling_kept() {
  let parsed = parse_reference("KEY", "vault:secret/data/mcp/x#f").expect("valid reference");
  assert_eq!(parsed, location("secret/data/mcp/x", "f"));
}

#[test]
fn reference_outer_slashes_trimmed() {
  let parsed = parse_reference("KEY", "vault:/secret/mcp/x/#f").expect("valid reference");
  assert_eq!(parsed, location("secret/mcp/x", "f"));
}

#[test]
fn reference_with_two_hashes_rejected() {
  // The field follows the last `#`; a `#` left in the path would end the
  // URL's path early.
  let error = parse_reference("KEY", "vault:secret/a#b/c#f").unwrap_err();
  assert!(error.to_string().contains("# in the path"), "{error}");
  assert!(parse_reference("KEY", "vault:secret/x#a#b").is_err());
}

#[test]
fn reference_field_kept_verbatim() {
  let parsed = parse_reference("KEY", "vault:secret/x#api key/v1").expect("valid reference");
  assert_eq!(parsed.field, "api key/v1");
}

#[test]
fn reference_without_prefix_rejected() {
  let reason = rejection("secret/mcp/x#f");
  assert!(reason.contains("expected vault:<path>#<field>"), "{reason}");
}

#[test]
fn reference_without_hash_rejected() {
  let reason = rejection("vault:secret/mcp/x");
  assert!(reason.contains("missing #<field>"), "{reason}");
}

#[test]
fn reference_empty_field_rejected() {
  let reason = rejection("vault:secret/mcp/x#");
  assert!(reason.contains("empty field"), "{reason}");
}

#[test]
fn reference_empty_path_rejected() {
  for value in ["vault:#f", "vault:/#f", "vault://#f"] {
    let reason = rejection(value);
    assert!(reason.contains("empty path"), "{value:?}: {reason}");
  }
}

#[test]
fn reference_without_slash_rejected() {
  let reason = rejection("vault:secret#f");
  assert!(reason.contains("<mount>/<path>"), "{reason}");
}

#[test]
fn reference_dot_segments_rejected() {
  for value in [
    "vault:secret/../sys/x#f",
    "vault:secret/mcp/..#f",
    "vault:secret/./x#f",
    "vault:secret//x#f",
  ] {
    let reason = rejection(value);
    assert!(reason.contains("segment"), "{value:?}: {reason}");
  }
}

#[test]
fn reference_control_characters_rejected() {
  for value in [
    "vault:secret/x\n#f",
    "vault:secret/a\tb#f",
    "vault:secret/x\u{7f}#f",
  ] {
    let reason = rejection(value);
    assert!(reason.contains("control character"), "{value:?}: {reason}");
  }
}

#[test]
fn reference_query_and_percent_rejected() {
  for value in ["vault:secret/x?version=1#f", "vault:secret/%2e%2e/x#f"] {
    let reason = rejection(value);
    assert!(reason.contains("?, % or #"), "{value:?}: {reason}");
  }
}

#[test]
fn reference_error_names_key_and_value() {
  let error = parse_reference("OPENAI_API_KEY", "vault:secret/x").unwrap_err();
  let message = error.to_string();
  assert!(message.contains("OPENAI_API_KEY"), "{message}");
  assert!(message.contains("\"vault:secret/x\""), "{message}");
}

// Glob patterns

#[test]
fn glob_suffix_pattern() {
  assert!(glob_match("*_API_KEY", "OPENAI_API_KEY"));
  assert!(glob_match("*_API_KEY", "_API_KEY"));
  assert!(!glob_match("*_API_KEY", "OPENAI_API_KEYS"));
  assert!(!glob_match("*_API_KEY", "API_KEY"));
}

#[test]
fn glob_is_case_sensitive() {
  assert!(!glob_match("*_API_KEY", "openai_api_key"));
  assert!(!glob_match("DATABASE_URL", "database_url"));
}

#[test]
fn glob_question_mark_matches_one_char() {
  assert!(glob_match("A?C", "ABC"));
  assert!(glob_match("A?C", "AÉC"));
  assert!(!glob_match("A?C", "AC"));
  assert!(!glob_match("A?C", "ABBC"));
}

#[test]
fn glob_multiple_stars() {
  assert!(glob_match("*_*_KEY", "A_B_KEY"));
  assert!(glob_match("*_*_KEY", "A_B_C_KEY"));
  assert!(!glob_match("*_*_KEY", "AB_KEY"));
  assert!(glob_match("*DB*", "MY_DB_URL"));
  assert!(glob_match("*DB*", "DB"));
  assert!(glob_match("**", ""));
  assert!(glob_match("*A*B", "XAYB"));
  assert!(!glob_match("*A*B", "XAYBZ"));
}

#[test]
fn glob_star_backtracks() {
  assert!(glob_match("*AB", "AAB"));
  assert!(glob_match("*_TOKEN", "GH_TOKEN_TOKEN"));
  assert!(glob_match("S*S?", "SASSX"));
}

#[test]
fn glob_empty_pattern_matches_only_empty_key() {
  assert!(glob_match("", ""));
  assert!(!glob_match("", "A"));
}

#[test]
fn glob_star_matches_anything() {
  assert!(glob_match("*", ""));
  assert!(glob_match("*", "ANY_KEY"));
}

#[test]
fn glob_exact_pattern() {
  assert!(glob_match("DATABASE_URL", "DATABASE_URL"));
  assert!(!glob_match("DATABASE_URL", "DATABASE_URL2"));
  assert!(!glob_match("DATABASE_URL", "XDATABASE_URL"));
}

// Reserved keys

#[test]
fn reserved_prefixes_recognised() {
  assert!(is_reserved("VAULT_TOKEN"));
  assert!(is_reserved("BAO_ADDR"));
  assert!(is_reserved("RAGNOS_VAULT_MODE"));
  assert!(!is_reserved("MY_VAULT_TOKEN"));
  assert!(!is_reserved("VAULTED_SECRET"));
  assert!(!is_reserved("RAGNOS_TOKEN"));
}

#[test]
fn reserved_keys_not_managed_by_patterns() {
  let env = vars(&[
    ("VAULT_TOKEN", "hvs.x"),
    ("BAO_TOKEN", "s.x"),
    ("RAGNOS_VAULT_SECRET", "x"),
    ("GITHUB_TOKEN", "ghp_x"),
  ]);
  let (plan, errors) = Plan::build(&settings(&["*"], &[], &[]), &env);
  assert!(errors.is_empty());
  assert!(!plan.keys.contains_key("VAULT_TOKEN"));
  assert!(!plan.keys.contains_key("BAO_TOKEN"));
  assert!(!plan.keys.contains_key("RAGNOS_VAULT_SECRET"));
  assert!(plan.keys.contains_key("GITHUB_TOKEN"));
}

#[test]
fn reserved_keys_with_references_not_managed() {
  let env = vars(&[
    ("VAULT_TOKEN", "vault:secret/ci#token"),
    ("BAO_NAMESPACE", "vault:bad"),
    ("RAGNOS_VAULT_APP", "vault:secret/x#app"),
  ]);
  let (plan, errors) = Plan::build(&settings(&["*"], &[], &[]), &env);
  assert!(plan.keys.is_empty(), "{:?}", plan.keys);
  assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn reserved_keys_in_mapping_not_managed() {
  let secrets = [("VAULT_TOKEN", "secret/ci#token")];
  let (plan, errors) = Plan::build(&settings(&[], &[], &secrets), &HashMap::new());
  assert!(plan.keys.is_empty(), "{:?}", plan.keys);
  assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn reserved_fields_not_discovered() {
  let (mut plan, _) = Plan::build(&settings(&["*"], &[], &[]), &HashMap::new());
  let documents = HashMap::from([(
    APP.to_string(),
    fields(&[("VAULT_TOKEN", "x"), ("APP_SECRET", "y")]),
  )]);
  plan.discover(&documents);
  assert!(!plan.keys.contains_key("VAULT_TOKEN"));
  assert!(plan.keys.contains_key("APP_SECRET"));
}

// Plan::build

#[test]
fn reference_wins_over_mapping() {
  let env = vars(&[("OPENAI_API_KEY", "vault:secret/ref#key")]);
  let secrets = [("OPENAI_API_KEY", "secret/mapped#key")];
  let (plan, errors) = Plan::build(&settings(&["*_API_KEY"], &[], &secrets), &env);
  assert!(errors.is_empty(), "{errors:?}");
  let managed = &plan.keys["OPENAI_API_KEY"];
  assert_eq!(managed.kind, Kind::Reference);
  assert_eq!(managed.locations, vec![location("secret/ref", "key")]);
}

#[test]
fn mapping_wins_over_pattern() {
  let env = vars(&[("OPENAI_API_KEY", "sk-from-env")]);
  let secrets = [("OPENAI_API_KEY", "secret/mapped#key")];
  let (plan, errors) = Plan::build(&settings(&["*_API_KEY"], &[], &secrets), &env);
  assert!(errors.is_empty(), "{errors:?}");
  let managed = &plan.keys["OPENAI_API_KEY"];
  assert_eq!(managed.kind, Kind::Mapped);
  assert_eq!(managed.locations, vec![location("secret/mapped", "key")]);
}

#[test]
fn mapping_accepts_optional_prefix() {
  let secrets = [
    ("PLAIN", "secret/a#one"),
    ("PREFIXED", "vault:secret/b#two"),
  ];
  let (plan, errors) = Plan::build(&settings(&[], &[], &secrets), &HashMap::new());
  assert!(errors.is_empty(), "{errors:?}");
  assert_eq!(
    plan.keys["PLAIN"].locations,
    vec![location("secret/a", "one")]
  );
  assert_eq!(
    plan.keys["PREFIXED"].locations,
    vec![location("secret/b", "two")]
  );
}

#[test]
fn mapped_key_managed_without_env_value() {
  let secrets = [("STRIPE_KEY", "secret/payments#stripe")];
  let (plan, _) = Plan::build(&settings(&[], &[], &secrets), &HashMap::new());
  let managed = plan.keys.get("STRIPE_KEY").expect("mapped key managed");
  assert_eq!(managed.kind, Kind::Mapped);
}

#[test]
fn malformed_mapping_returns_error() {
  let secrets = [("STRIPE_KEY", "secret/payments")];
  let env = vars(&[("STRIPE_KEY", "sk_env")]);
  let (plan, errors) = Plan::build(&settings(&["*_KEY"], &[], &secrets), &env);
  // Managed as mapped with nowhere to look, not looked up by the patterns.
  let managed = &plan.keys["STRIPE_KEY"];
  assert_eq!(managed.kind, Kind::Mapped);
  assert!(managed.locations.is_empty());
  assert_eq!(errors.len(), 1);
  let message = errors[0].to_string();
  assert!(message.contains("STRIPE_KEY"), "{message}");
}

#[test]
fn pattern_key_searches_each_path_in_order() {
  let env = vars(&[("GITHUB_TOKEN", "ghp_env")]);
  let (plan, _) = Plan::build(&settings(&["*_TOKEN"], &[], &[]), &env);
  let managed = &plan.keys["GITHUB_TOKEN"];
  assert_eq!(managed.kind, Kind::Pattern);
  assert_eq!(
    managed.locations,
    vec![
      location(APP, "GITHUB_TOKEN"),
      location(SHARED, "GITHUB_TOKEN")
    ]
  );
}

#[test]
fn unmatched_and_excluded_keys_not_managed() {
  let env = vars(&[
    ("GITHUB_TOKEN", "ghp_env"),
    ("CI_JOB_TOKEN", "ci"),
    ("PATH", "/usr/bin"),
  ]);
  let (plan, _) = Plan::build(&settings(&["*_TOKEN"], &["CI_*"], &[]), &env);
  assert!(plan.keys.contains_key("GITHUB_TOKEN"));
  assert!(!plan.keys.contains_key("CI_JOB_TOKEN"));
  assert!(!plan.keys.contains_key("PATH"));
}

#[test]
fn reference_managed_without_matching_pattern() {
  let env = vars(&[("PLAIN_SETTING", "vault:secret/app#setting")]);
  let (plan, _) = Plan::build(&settings(&[], &["*"], &[]), &env);
  assert_eq!(plan.keys["PLAIN_SETTING"].kind, Kind::Reference);
}

#[test]
fn malformed_reference_keeps_key_managed() {
  let env = vars(&[("DATABASE_URL", "vault:secret/db")]);
  let (plan, errors) = Plan::build(&settings(&["DATABASE_URL"], &[], &[]), &env);
  let managed = plan.keys.get("DATABASE_URL").expect("key stays managed");
  assert_eq!(managed.kind, Kind::Reference);
  assert!(managed.locations.is_empty());
  assert_eq!(errors.len(), 1);
  assert!(matches!(errors[0], Error::InvalidReference { .. }));
  let empty: HashMap<String, Fields> = HashMap::new();
  assert_eq!(managed.lookup(&empty), Lookup::Unavailable);
}

#[test]
fn plan_search_paths_include_mount() {
  let (plan, _) = Plan::build(&settings(&[], &[], &[]), &HashMap::new());
  assert_eq!(plan.search_paths, vec![APP, SHARED]);
}

// Documents and discovery

#[test]
fn documents_dedup_and_include_search_paths() {
  let env = vars(&[
    ("A_KEY", "vault:secret/mcp/app#a"),
    ("B_KEY", "vault:secret/other#b"),
    ("C_KEY", "vault:secret/other#c"),
    ("D_TOKEN", "from-env"),
  ]);
  let secrets = [("E_KEY", "secret/data/other#e")];
  let (plan, _) = Plan::build(&settings(&["*_TOKEN"], &[], &secrets), &env);
  assert_eq!(
    plan.documents(),
    vec![
      "secret/data/other",
      "secret/mcp/app",
      "secret/mcp/shared",
      "secret/other",
    ]
  );
}

#[test]
fn documents_list_search_paths_without_keys() {
  let (plan, _) = Plan::build(&settings(&[], &[], &[]), &HashMap::new());
  assert_eq!(plan.documents(), vec![APP, SHARED]);
}

#[test]
fn discover_adds_matching_fields() {
  let (mut plan, _) = Plan::build(&settings(&["*_API_KEY"], &[], &[]), &HashMap::new());
  let documents = HashMap::from([
    (
      APP.to_string(),
      fields(&[("NEW_API_KEY", "k1"), ("PLAIN", "p")]),
    ),
    (SHARED.to_string(), fields(&[("SHARED_API_KEY", "k2")])),
  ]);
  plan.discover(&documents);
  let found = plan.keys.get("NEW_API_KEY").expect("discovered key");
  assert_eq!(found.kind, Kind::Pattern);
  assert_eq!(
    found.locations,
    vec![
      location(APP, "NEW_API_KEY"),
      location(SHARED, "NEW_API_KEY")
    ]
  );
  assert!(plan.keys.contains_key("SHARED_API_KEY"));
  assert!(!plan.keys.contains_key("PLAIN"));
}

#[test]
fn discover_ignores_other_documents() {
  let env = vars(&[("REF_KEY", "vault:secret/other#ref")]);
  let (mut plan, _) = Plan::build(&settings(&["*"], &[], &[]), &env);
  let documents = HashMap::from([(
    "secret/other".to_string(),
    fields(&[("ref", "r"), ("EXTRA_TOKEN", "t")]),
  )]);
  plan.discover(&documents);
  assert!(!plan.keys.contains_key("EXTRA_TOKEN"));
  assert!(!plan.keys.contains_key("ref"));
}

#[test]
fn discover_skips_excluded_fields() {
  let (mut plan, _) = Plan::build(&settings(&["*_TOKEN"], &["CI_*"], &[]), &HashMap::new());
  let documents = HashMap::from([(
    APP.to_string(),
    fields(&[("CI_TOKEN", "c"), ("GH_TOKEN", "g")]),
  )]);
  plan.discover(&documents);
  assert!(!plan.keys.contains_key("CI_TOKEN"));
  assert!(plan.keys.contains_key("GH_TOKEN"));
}

#[test]
fn discover_keeps_existing_keys() {
  let secrets = [("GH_TOKEN", "secret/github#token")];
  let (mut plan, _) = Plan::build(&settings(&["*_TOKEN"], &[], &secrets), &HashMap::new());
  let documents = HashMap::from([(APP.to_string(), fields(&[("GH_TOKEN", "g")]))]);
  plan.discover(&documents);
  let managed = &plan.keys["GH_TOKEN"];
  assert_eq!(managed.kind, Kind::Mapped);
  assert_eq!(managed.locations, vec![location("secret/github", "token")]);
}

#[test]
fn discover_accepts_shared_documents() {
  let (mut plan, _) = Plan::build(&settings(&["*_SECRET"], &[], &[]), &HashMap::new());
  let documents: HashMap<String, Arc<Fields>> =
    HashMap::from([(SHARED.to_string(), Arc::new(fields(&[("JWT_SECRET", "j")])))]);
  plan.discover(&documents);
  assert!(plan.keys.contains_key("JWT_SECRET"));
}

#[test]
fn matches_patterns_needs_include_and_no_exclude() {
  let (plan, _) = Plan::build(
    &settings(&["*_TOKEN", "DATABASE_URL"], &["CI_*"], &[]),
    &HashMap::new(),
  );
  assert!(plan.matches_patterns("GH_TOKEN"));
  assert!(plan.matches_patterns("DATABASE_URL"));
  assert!(!plan.matches_patterns("CI_TOKEN"));
  assert!(!plan.matches_patterns("HOME"));
  assert!(!plan.matches_patterns("VAULT_TOKEN"));
}

// Lookup

fn pattern_key(field: &str) -> ManagedKey {
  ManagedKey {
    kind: Kind::Pattern,
    locations: vec![location(APP, field), location(SHARED, field)],
  }
}

#[test]
fn lookup_first_search_path_wins() {
  let documents = HashMap::from([
    (APP.to_string(), fields(&[("DATABASE_URL", "app-db")])),
    (SHARED.to_string(), fields(&[("DATABASE_URL", "shared-db")])),
  ]);
  let lookup = pattern_key("DATABASE_URL").lookup(&documents);
  assert_eq!(lookup, Lookup::Found("app-db"));
}

#[test]
fn lookup_falls_through_to_later_path() {
  let documents = HashMap::from([
    (APP.to_string(), fields(&[("OTHER", "x")])),
    (SHARED.to_string(), fields(&[("DATABASE_URL", "shared-db")])),
  ]);
  let lookup = pattern_key("DATABASE_URL").lookup(&documents);
  assert_eq!(lookup, Lookup::Found("shared-db"));
}

#[test]
fn lookup_missing_when_every_document_read() {
  let documents = HashMap::from([
    (APP.to_string(), fields(&[])),
    (SHARED.to_string(), fields(&[("OTHER", "x")])),
  ]);
  let lookup = pattern_key("DATABASE_URL").lookup(&documents);
  assert_eq!(lookup, Lookup::Missing);
}

#[test]
fn lookup_unavailable_when_document_unread() {
  let documents = HashMap::from([(APP.to_string(), fields(&[]))]);
  let lookup = pattern_key("DATABASE_URL").lookup(&documents);
  assert_eq!(lookup, Lookup::Unavailable);
}

#[test]
fn lookup_unavailable_when_earlier_document_unread() {
  // The unread document comes first, so its value would win once read.
  let documents = HashMap::from([(SHARED.to_string(), fields(&[("DATABASE_URL", "shared-db")]))]);
  let lookup = pattern_key("DATABASE_URL").lookup(&documents);
  assert_eq!(lookup, Lookup::Unavailable);
}

#[test]
fn lookup_found_before_unread_later_document() {
  let documents = HashMap::from([(APP.to_string(), fields(&[("DATABASE_URL", "app-db")]))]);
  let lookup = pattern_key("DATABASE_URL").lookup(&documents);
  assert_eq!(lookup, Lookup::Found("app-db"));
}

#[test]
fn lookup_without_locations_unavailable() {
  let managed = ManagedKey {
    kind: Kind::Reference,
    locations: Vec::new(),
  };
  let documents = HashMap::from([(APP.to_string(), fields(&[("X", "x")]))]);
  assert_eq!(managed.lookup(&documents), Lookup::Unavailable);
}

#[test]
fn lookup_matches_field_not_key() {
  let managed = ManagedKey {
    kind: Kind::Reference,
    locations: vec![location("secret/db", "url")],
  };
  let documents = HashMap::from([(
    "secret/db".to_string(),
    fields(&[("DATABASE_URL", "wrong"), ("url", "right")]),
  )]);
  assert_eq!(managed.lookup(&documents), Lookup::Found("right"));
}

#[test]
fn lookup_reads_shared_documents() {
  let documents: HashMap<String, Arc<Fields>> = HashMap::from([
    (APP.to_string(), Arc::new(fields(&[]))),
    (SHARED.to_string(), Arc::new(fields(&[("API_TOKEN", "t")]))),
  ]);
  let lookup = pattern_key("API_TOKEN").lookup(&documents);
  assert_eq!(lookup, Lookup::Found("t"));
}

#[test]
fn discovery_skips_fields_that_are_not_env_names() {
  let mut plan = Plan::build(&settings(&["*_TOKEN"], &[], &[]), &HashMap::new()).0;
  let mut fields = Fields::new();
  fields.insert(
    "NODE_OPTIONS=--require=/tmp/x.js --title=A_TOKEN".into(),
    "x".into(),
  );
  fields.insert("B\u{0}_TOKEN".into(), "x".into());
  fields.insert("GOOD_TOKEN".into(), "x".into());
  let documents: HashMap<String, Fields> = [(APP.to_string(), fields)].into();
  plan.discover(&documents);
  let keys: Vec<&String> = plan.keys.keys().collect();
  assert_eq!(keys, vec!["GOOD_TOKEN"]);
}
