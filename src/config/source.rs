//! Raw setting values and where they came from: an environment variable, the
//! JSON config file, or the default. Parsers here turn either kind of raw
//! value into a typed one and report failures with the setting's origin.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::Error;

/// One raw value of a setting, before parsing.
pub enum Raw<'a> {
  Env(&'static str, &'a str),
  File(&'a str, &'a Value),
}

impl Raw<'_> {
  /// Describes where the value came from, for error messages.
  pub fn origin(&self, file: &str) -> String {
    match self {
      Raw::Env(name, _) => name.to_string(),
      Raw::File(field, _) => format!("{field} in {file}"),
    }
  }

  fn shown(&self) -> String {
    match self {
      Raw::Env(_, text) => text.to_string(),
      // The error message quotes the value, so a JSON string is shown
      // without its own quotes to avoid quoting it twice.
      Raw::File(_, Value::String(text)) => text.clone(),
      Raw::File(_, value) => value.to_string(),
    }
  }
}

/// The environment and the config file, looked up by setting.
pub struct Sources<'a> {
  pub env: &'a HashMap<String, String>,
  pub file: Map<String, Value>,
  pub file_path: String,
}

impl<'a> Sources<'a> {
  /// Returns a non-empty environment variable. An empty one counts as unset,
  /// as in most shells' `VAR= command` idiom.
  pub fn env_var(&self, name: &str) -> Option<&'a str> {
    self
      .env
      .get(name)
      .map(String::as_str)
      .filter(|v| !v.is_empty())
  }

  /// Finds the raw value of a setting: the variable first, then the file.
  pub fn raw(&self, env_name: &'static str, file_field: &'static str) -> Option<Raw<'_>> {
    if let Some(text) = self.env_var(env_name) {
      return Some(Raw::Env(env_name, text));
    }
    self.file.get(file_field).map(|v| Raw::File(file_field, v))
  }

  fn invalid(&self, field: &'static str, raw: &Raw, reason: &str) -> Error {
    Error::InvalidSetting {
      field,
      value: raw.shown(),
      origin: raw.origin(&self.file_path),
      reason: reason.to_string(),
    }
  }

  /// Parses a string setting, checking it against `allowed` when given.
  pub fn string(
    &self,
    env_name: &'static str,
    field: &'static str,
    allowed: &[&str],
  ) -> Result<Option<String>, Error> {
    let Some(raw) = self.raw(env_name, field) else {
      return Ok(None);
    };
    let text = match &raw {
      Raw::Env(_, text) => text.to_string(),
      Raw::File(_, Value::String(text)) => text.clone(),
      Raw::File(..) => return Err(self.invalid(field, &raw, "expected a string")),
    };
    if !allowed.is_empty() && !allowed.contains(&text.as_str()) {
      let reason = format!("expected one of {}", allowed.join(", "));
      return Err(self.invalid(field, &raw, &reason));
    }
    Ok(Some(text))
  }

  /// Parses a number setting within `min..=max`.
  pub fn number(
    &self,
    env_name: &'static str,
    field: &'static str,
    min: f64,
    max: f64,
  ) -> Result<Option<f64>, Error> {
    let Some(raw) = self.raw(env_name, field) else {
      return Ok(None);
    };
    let parsed = match &raw {
      Raw::Env(_, text) => text.trim().parse::<f64>().ok(),
      Raw::File(_, value) => value.as_f64(),
    };
    match parsed {
      Some(n) if n.is_finite() && n >= min && n <= max => Ok(Some(n)),
      Some(_) => Err(self.invalid(field, &raw, &format!("expected {min} to {max}"))),
      None => Err(self.invalid(field, &raw, "expected a number")),
    }
  }

  /// Parses a boolean setting: true/false, 1/0, yes/no or on/off.
  pub fn boolean(
    &self,
    env_name: &'static str,
    field: &'static str,
  ) -> Result<Option<bool>, Error> {
    let Some(raw) = self.raw(env_name, field) else {
      return Ok(None);
    };
    let parsed = match &raw {
      Raw::Env(_, text) => parse_bool(text),
      Raw::File(_, value) => value.as_bool(),
    };
    parsed
      .map(Some)
      .ok_or_else(|| self.invalid(field, &raw, "expected true or false"))
  }

  /// Parses a list setting: a comma-separated variable or a JSON array of
  /// strings. Blank items are dropped.
  pub fn list(
    &self,
    env_name: &'static str,
    field: &'static str,
  ) -> Result<Option<Vec<String>>, Error> {
    let Some(raw) = self.raw(env_name, field) else {
      return Ok(None);
    };
    let items: Option<Vec<String>> = match &raw {
      Raw::Env(_, text) => Some(text.split(',').map(|s| s.trim().to_string()).collect()),
      Raw::File(_, Value::Array(values)) => values
        .iter()
        .map(|v| v.as_str().map(|s| s.trim().to_string()))
        .collect(),
      Raw::File(..) => None,
    };
    match items {
      Some(items) => Ok(Some(items.into_iter().filter(|s| !s.is_empty()).collect())),
      None => Err(self.invalid(field, &raw, "expected a list of strings")),
    }
  }

  /// Parses a map of strings: a JSON object in the variable or the file.
  pub fn string_map(
    &self,
    env_name: &'static str,
    field: &'static str,
  ) -> Result<Option<Vec<(String, String)>>, Error> {
    let Some(raw) = self.raw(env_name, field) else {
      return Ok(None);
    };
    let parsed: Option<Value> = match &raw {
      Raw::Env(_, text) => serde_json::from_str(text).ok(),
      Raw::File(_, value) => Some((*value).clone()),
    };
    let entries = parsed
      .as_ref()
      .and_then(Value::as_object)
      .and_then(|object| {
        object
          .iter()
          .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
          .collect::<Option<Vec<_>>>()
      });
    entries
      .map(Some)
      .ok_or_else(|| self.invalid(field, &raw, "expected a JSON object of strings"))
  }
}

/// Parses the boolean spellings that shells and Vault's own tools accept.
pub fn parse_bool(text: &str) -> Option<bool> {
  match text.trim().to_ascii_lowercase().as_str() {
    "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
    "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
    _ => None,
  }
}
