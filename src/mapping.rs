//! Which environment keys are managed and where each one lives in Vault:
//! `vault:<path>#<field>` references, the mapping table, and keys matching
//! the include patterns looked up in the search paths.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::Settings;
use crate::error::Error;

/// Prefix that marks an environment value as a reference into Vault.
pub const REFERENCE_PREFIX: &str = "vault:";

/// Prefixes of keys that are never managed: the preloader's own settings
/// and Vault's credentials.
const RESERVED_PREFIXES: &[&str] = &["VAULT_", "BAO_", "RAGNOS_VAULT_"];

/// A field of a KV document. `path` includes the mount, as written by the
/// user (`secret/mcp/app` or `secret/data/mcp/app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
  pub path: String,
  pub field: String,
}

/// How a key came to be managed, in priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
  Reference,
  Mapped,
  Pattern,
}

/// A managed key and the places its value may come from, first match wins.
/// A reference that failed to parse has no locations and never resolves.
#[derive(Debug, Clone)]
pub struct ManagedKey {
  pub kind: Kind,
  pub locations: Vec<Location>,
}

/// The managed keys known before any fetch, and the documents to fetch.
#[derive(Debug, Default)]
pub struct Plan {
  pub keys: BTreeMap<String, ManagedKey>,
  /// Search paths, with the mount, in lookup order.
  pub search_paths: Vec<String>,
  pub include: Vec<String>,
  pub exclude: Vec<String>,
}

/// A fetched KV document: its fields as strings.
pub type Fields = HashMap<String, String>;

/// The Vault value of a key, given the documents fetched so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
  Found(&'a str),
  /// Every document was read and none contains the field.
  Missing,
  /// A document that comes before any location holding the field has not
  /// been read yet or failed to read, or the key has no location.
  Unavailable,
}

impl Plan {
  /// Builds the plan from the settings and the environment. Malformed
  /// references are returned as errors; their keys stay managed with no
  /// location so the reference string never reaches the program.
  pub fn build(settings: &Settings, env: &HashMap<String, String>) -> (Plan, Vec<Error>) {
    let mut plan = Plan {
      keys: BTreeMap::new(),
      search_paths: settings
        .search_paths
        .iter()
        .map(|p| format!("{}/{}", settings.kv_mount, p))
        .collect(),
      include: settings.include.clone(),
      exclude: settings.exclude.clone(),
    };
    let mut errors = Vec::new();

    for (key, value) in env {
      if is_reserved(key) || !value.starts_with(REFERENCE_PREFIX) {
        continue;
      }
      let locations = match parse_reference(key, value) {
        Ok(location) => vec![location],
        Err(error) => {
          errors.push(error);
          Vec::new()
        }
      };
      plan.keys.insert(
        key.clone(),
        ManagedKey {
          kind: Kind::Reference,
          locations,
        },
      );
    }

    for (key, target) in &settings.secrets {
      if is_reserved(key) || plan.keys.contains_key(key) {
        continue;
      }
      let spelled = format!(
        "{REFERENCE_PREFIX}{}",
        target.trim_start_matches(REFERENCE_PREFIX)
      );
      // A malformed entry keeps its key managed with no location, so the
      // key falls back to its environment value instead of being looked up
      // by the patterns in a place the mapping did not name.
      let locations = match parse_reference(key, &spelled) {
        Ok(location) => vec![location],
        Err(error) => {
          errors.push(error);
          Vec::new()
        }
      };
      let managed = ManagedKey {
        kind: Kind::Mapped,
        locations,
      };
      plan.keys.insert(key.clone(), managed);
    }

    for key in env.keys() {
      if !plan.keys.contains_key(key) && plan.matches_patterns(key) {
        let managed = ManagedKey {
          kind: Kind::Pattern,
          locations: plan.search_locations(key),
        };
        plan.keys.insert(key.clone(), managed);
      }
    }
    (plan, errors)
  }

  /// Returns the distinct documents that the plan reads, in a stable order.
  pub fn documents(&self) -> Vec<String> {
    let mut paths: BTreeSet<String> = self.search_paths.iter().cloned().collect();
    for key in self.keys.values() {
      paths.extend(key.locations.iter().map(|l| l.path.clone()));
    }
    paths.into_iter().collect()
  }

  /// Adds the fields of the search-path documents that match the patterns,
  /// so a secret can leave the environment once it lives in Vault.
  pub fn discover<F: Borrow<Fields>>(&mut self, documents: &HashMap<String, F>) {
    let mut found = BTreeSet::new();
    for path in &self.search_paths {
      if let Some(fields) = documents.get(path) {
        found.extend(
          fields
            .borrow()
            .keys()
            .filter(|k| is_env_name(k) && self.matches_patterns(k))
            .cloned(),
        );
      }
    }
    for key in found {
      if !self.keys.contains_key(&key) {
        let managed = ManagedKey {
          kind: Kind::Pattern,
          locations: self.search_locations(&key),
        };
        self.keys.insert(key, managed);
      }
    }
  }

  fn search_locations(&self, key: &str) -> Vec<Location> {
    let location = |path: &String| Location {
      path: path.clone(),
      field: key.to_string(),
    };
    self.search_paths.iter().map(location).collect()
  }

  /// Tells whether a key matches an include pattern and no exclude pattern.
  pub fn matches_patterns(&self, key: &str) -> bool {
    !is_reserved(key)
      && self.include.iter().any(|p| glob_match(p, key))
      && !self.exclude.iter().any(|p| glob_match(p, key))
  }
}

impl ManagedKey {
  /// Looks the key up in the fetched documents, in location order. A
  /// document not read yet stops the search, because its value would win
  /// over any later location's.
  pub fn lookup<'a, F: Borrow<Fields>>(&self, documents: &'a HashMap<String, F>) -> Lookup<'a> {
    if self.locations.is_empty() {
      return Lookup::Unavailable;
    }
    for location in &self.locations {
      let Some(fields) = documents.get(&location.path) else {
        return Lookup::Unavailable;
      };
      if let Some(value) = fields.borrow().get(&location.field) {
        return Lookup::Found(value);
      }
    }
    Lookup::Missing
  }
}

impl ManagedKey {
  /// Returns the path of the document that supplies the key's value.
  pub fn found_in<'a, F: Borrow<Fields>>(
    &'a self,
    documents: &HashMap<String, F>,
  ) -> Option<&'a str> {
    self
      .locations
      .iter()
      .find(|l| {
        documents
          .get(&l.path)
          .is_some_and(|f| f.borrow().contains_key(&l.field))
      })
      .map(|l| l.path.as_str())
  }
}

/// Tells whether a name can be an environment variable that a child
/// process receives intact: a letter or `_`, then letters, digits or `_`.
/// A Vault field named `NODE_OPTIONS=--require=...` must never become one,
/// since Node builds a child's environment block as `key=value`.
pub fn is_env_name(name: &str) -> bool {
  let mut chars = name.chars();
  matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Tells whether a key belongs to the preloader or to Vault's credentials.
pub fn is_reserved(key: &str) -> bool {
  RESERVED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Checks a KV path (or part of one) before it becomes part of a URL:
/// no empty, `.` or `..` segment, and none of the characters that would
/// change the URL's meaning.
pub fn check_path(path: &str) -> Result<(), String> {
  if path
    .split('/')
    .any(|segment| segment.is_empty() || segment == "." || segment == "..")
  {
    return Err("empty, . or .. segment in the path".into());
  }
  if path
    .chars()
    .any(|c| c.is_control() || matches!(c, '?' | '%' | '#'))
  {
    return Err("control character, ?, % or # in the path".into());
  }
  Ok(())
}

/// Parses `vault:<path>#<field>`. The field follows the last `#`, and the
/// path may not contain another.
pub fn parse_reference(key: &str, value: &str) -> Result<Location, Error> {
  let invalid = |reason: &str| Error::InvalidReference {
    key: key.to_string(),
    value: value.to_string(),
    reason: reason.to_string(),
  };
  let body = value
    .strip_prefix(REFERENCE_PREFIX)
    .ok_or_else(|| invalid("expected vault:<path>#<field>"))?;
  let (path, field) = body
    .rsplit_once('#')
    .ok_or_else(|| invalid("missing #<field> after the path"))?;
  let path = path.trim_matches('/');
  if path.is_empty() {
    return Err(invalid("empty path"));
  }
  if field.is_empty() {
    return Err(invalid("empty field after #"));
  }
  if !path.contains('/') {
    return Err(invalid("expected <mount>/<path>, as in secret/mcp/app"));
  }
  check_path(path).map_err(|reason| invalid(&reason))?;
  Ok(Location {
    path: path.to_string(),
    field: field.to_string(),
  })
}

/// Matches a key against a pattern where `*` stands for any run of
/// characters and `?` for one character. Matching is case-sensitive, as
/// environment keys are on Linux and macOS.
pub fn glob_match(pattern: &str, key: &str) -> bool {
  let pattern: Vec<char> = pattern.chars().collect();
  let key: Vec<char> = key.chars().collect();
  let (mut p, mut k) = (0, 0);
  let mut backtrack: Option<(usize, usize)> = None;
  while k < key.len() {
    if p < pattern.len() && (pattern[p] == '?' || pattern[p] == key[k]) {
      p += 1;
      k += 1;
    } else if p < pattern.len() && pattern[p] == '*' {
      backtrack = Some((p, k));
      p += 1;
    } else if let Some((star, matched)) = backtrack {
      // Let the last star absorb one more character and retry from there.
      p = star + 1;
      k = matched + 1;
      backtrack = Some((star, matched + 1));
    } else {
      return false;
    }
  }
  pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
