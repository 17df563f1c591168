//! One audit event, built with chained setters, and its JSON line.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

use super::hmac;

/// The origin of a read of a managed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
  Vault,
  Env,
  /// A cached Vault value past its TTL, served while refreshes fail.
  Stale,
  /// The program's own write to a managed key.
  Override,
  /// Neither: an unresolved reference reads as unset.
  Hidden,
}

impl Source {
  pub fn as_str(self) -> &'static str {
    match self {
      Source::Vault => "vault",
      Source::Env => "env",
      Source::Stale => "stale",
      Source::Override => "override",
      Source::Hidden => "hidden",
    }
  }

  /// Parses the name that `as_str` returns.
  pub fn parse(text: &str) -> Option<Source> {
    match text {
      "vault" => Some(Source::Vault),
      "env" => Some(Source::Env),
      "stale" => Some(Source::Stale),
      "override" => Some(Source::Override),
      "hidden" => Some(Source::Hidden),
      _ => None,
    }
  }
}

/// Field names every line has; `Event::field` must not reuse them.
const RESERVED: &[&str] = &[
  "time",
  "pid",
  "event",
  "key",
  "source",
  "mode",
  "reason",
  "latency_ms",
];

/// An audit event. It must never hold a secret value, a resolved
/// reference, a token or a secret id: key names, paths, reason codes,
/// counts, durations and HMACs only.
///
/// ```ignore
/// audit::emit(Event::new("rotated").key("OPENAI_API_KEY").path("secret/mcp/app"));
/// ```
#[derive(Debug, Clone)]
pub struct Event {
  time: SystemTime,
  name: Cow<'static, str>,
  key: Option<String>,
  source: Option<Source>,
  mode: Option<&'static str>,
  reason: Option<String>,
  latency_ms: Option<f64>,
  fields: Map<String, Value>,
}

impl Event {
  /// Starts an event named `name` (`startup`, `read`, `rotated`, ...),
  /// timed now.
  pub fn new(name: impl Into<Cow<'static, str>>) -> Event {
    Event {
      time: SystemTime::now(),
      name: name.into(),
      key: None,
      source: None,
      mode: None,
      reason: None,
      latency_ms: None,
      fields: Map::new(),
    }
  }

  /// Names the environment key the event is about.
  pub fn key(mut self, key: impl Into<String>) -> Event {
    self.key = Some(key.into());
    self
  }

  pub fn source(mut self, source: Source) -> Event {
    self.source = Some(source);
    self
  }

  /// Overrides the process's mode, which every event carries by default.
  pub fn mode(mut self, mode: &'static str) -> Event {
    self.mode = Some(mode);
    self
  }

  /// Sets the reason: a short code such as `missing_in_vault`, or an error
  /// kind. Never a value.
  pub fn reason(mut self, reason: impl Into<String>) -> Event {
    self.reason = Some(reason.into());
    self
  }

  /// Sets how long the operation took.
  pub fn latency(mut self, elapsed: Duration) -> Event {
    let micros = elapsed.as_micros() as f64;
    self.latency_ms = Some(micros / 1000.0);
    self
  }

  /// Names the Vault path (with its mount) the event is about.
  pub fn path(self, path: impl Into<String>) -> Event {
    self.field("path", path.into())
  }

  /// Adds a field of its own, such as a count. The value must not be a
  /// secret: use `hmac` for a value that a comparison needs. A reserved
  /// name (`time`, `key`, `reason`, ...) is ignored: use its setter.
  pub fn field(mut self, name: &str, value: impl Into<Value>) -> Event {
    if !RESERVED.contains(&name) {
      self.fields.insert(name.to_string(), value.into());
    }
    self
  }

  /// Adds the HMAC-SHA256 of a value under the process's audit key, so two
  /// values can be compared without either appearing.
  pub fn hmac(self, name: &str, value: &str) -> Event {
    let digest = hmac::digest(value);
    self.field(name, digest)
  }

  pub fn name(&self) -> &str {
    &self.name
  }

  pub fn key_name(&self) -> Option<&str> {
    self.key.as_deref()
  }

  /// Renders the event as one JSON line without the trailing newline.
  pub fn to_json(&self, pid: u32, mode: &str) -> String {
    let line = Line {
      time: rfc3339(self.time),
      pid,
      event: &self.name,
      key: self.key.as_deref(),
      source: self.source.map(Source::as_str),
      mode: self.mode.unwrap_or(mode),
      reason: self.reason.as_deref(),
      latency_ms: self.latency_ms,
      fields: &self.fields,
    };
    // Serializing strings, numbers and a map of JSON values cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
  }
}

/// The JSON form, with the common fields first and in a fixed order.
#[derive(Serialize)]
struct Line<'a> {
  time: String,
  pid: u32,
  event: &'a str,
  key: Option<&'a str>,
  source: Option<&'static str>,
  mode: &'a str,
  reason: Option<&'a str>,
  latency_ms: Option<f64>,
  #[serde(flatten)]
  fields: &'a Map<String, Value>,
}

/// Formats a time as RFC 3339 in UTC with milliseconds, as in
/// `2026-01-31T09:05:07.042Z`.
pub fn rfc3339(time: SystemTime) -> String {
  let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
  let seconds = since_epoch.as_secs();
  let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
  let of_day = seconds % 86_400;
  format!(
    "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
    of_day / 3600,
    of_day % 3600 / 60,
    of_day % 60,
    since_epoch.subsec_millis()
  )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date, with
/// Howard Hinnant's `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
  let shifted = days + 719_468;
  let era = shifted.div_euclid(146_097);
  let day_of_era = shifted.rem_euclid(146_097);
  let year_of_era =
    (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
  let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  let month_index = (5 * day_of_year + 2) / 153;
  let day = day_of_year - (153 * month_index + 2) / 5 + 1;
  let month = if month_index < 10 {
    month_index + 3
  } else {
    month_index - 9
  };
  let year = year_of_era + era * 400 + i64::from(month <= 2);
  (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
  use super::*;

  fn at(seconds: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
  }

  #[test]
  fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
    assert_eq!(rfc3339(at(1_709_251_199, 999)), "2024-02-29T23:59:59.999Z");
    assert_eq!(rfc3339(at(4_102_444_800, 0)), "2100-01-01T00:00:00.000Z");
  }

  #[test]
  fn json_line_has_every_common_field_in_order() {
    let line = Event::new("read")
      .key("OPENAI_API_KEY")
      .source(Source::Vault)
      .to_json(42, "vault");
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["pid"], 42);
    assert_eq!(value["event"], "read");
    assert_eq!(value["key"], "OPENAI_API_KEY");
    assert_eq!(value["source"], "vault");
    assert_eq!(value["mode"], "vault");
    assert!(value["reason"].is_null());
    assert!(value["latency_ms"].is_null());
    let names: Vec<&str> = value
      .as_object()
      .unwrap()
      .keys()
      .map(String::as_str)
      .collect();
    assert_eq!(names.len(), RESERVED.len());
    assert!(line.starts_with(r#"{"time":""#));
    assert!(!line.contains('\n'));
  }

  #[test]
  fn builder_sets_reason_latency_path_and_fields() {
    let line = Event::new("refresh")
      .path("secret/mcp/app")
      .reason("updated")
      .latency(Duration::from_micros(12_345))
      .field("version", 3)
      .mode("shadow")
      .to_json(1, "vault");
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["path"], "secret/mcp/app");
    assert_eq!(value["reason"], "updated");
    assert_eq!(value["latency_ms"], 12.345);
    assert_eq!(value["version"], 3);
    assert_eq!(value["mode"], "shadow");
  }

  #[test]
  fn hmac_field_never_holds_the_value() {
    let line = Event::new("shadow")
      .hmac("vault_hmac", "sk-secret-value")
      .to_json(1, "shadow");
    assert!(!line.contains("sk-secret-value"));
    let value: Value = serde_json::from_str(&line).unwrap();
    assert!(value["vault_hmac"]
      .as_str()
      .unwrap()
      .starts_with("hmac-sha256:"));
  }

  #[test]
  fn field_ignores_reserved_names() {
    let line = Event::new("read").field("key", "X").to_json(1, "off");
    let value: Value = serde_json::from_str(&line).unwrap();
    assert!(value["key"].is_null());
  }

  #[test]
  fn sources_round_trip_through_their_names() {
    for source in [
      Source::Vault,
      Source::Env,
      Source::Stale,
      Source::Override,
      Source::Hidden,
    ] {
      assert_eq!(Source::parse(source.as_str()), Some(source));
    }
    assert_eq!(Source::parse("cache"), None);
  }
}
