//! Audit events and counters for Vault requests: logins, token renewals,
//! document reads, and the kill switch and rotations they lead to. The
//! engine calls these with the outcome; they never see a token or a value.

use std::time::Instant;

use super::event::{Event, Source};
use super::{emit, stats};
use crate::breaker::{Change as BreakerChange, Trigger};
use crate::cache::Change;
use crate::error::Error;

/// Audits a login or token lookup that started at `began`, given the
/// token's TTL in seconds or the error.
pub fn login(began: Instant, outcome: Result<u64, &Error>) {
  emit(token_event("login", "login", began, outcome));
}

/// Audits a token renewal, as `login` does.
pub fn renewal(began: Instant, outcome: Result<u64, &Error>) {
  emit(token_event("renewal", "renew", began, outcome));
}

fn token_event(
  name: &'static str,
  target: &str,
  began: Instant,
  outcome: Result<u64, &Error>,
) -> Event {
  stats::vault_request();
  let event = Event::new(name).latency(began.elapsed());
  match outcome {
    Ok(ttl) => event.reason("ok").field("ttl_s", ttl),
    Err(error) => {
      let kind = stats::error_kind(error);
      stats::vault_error(target, kind);
      event.reason(kind)
    }
  }
}

/// Audits the read of a document: `fetch` the first time, `refresh` once
/// it is cached. The reason is what changed (`new`, `updated`,
/// `unchanged`) or the error's kind.
pub fn read(path: &str, began: Instant, cached: bool, outcome: Result<&Change, &Error>) {
  stats::vault_request();
  let name = if cached { "refresh" } else { "fetch" };
  let event = Event::new(name).path(path).latency(began.elapsed());
  let reason = match outcome {
    Ok(Change::New) => "new",
    Ok(Change::Updated) => "updated",
    Ok(Change::Unchanged) => "unchanged",
    Err(error) => {
      let kind = stats::error_kind(error);
      stats::vault_error(path, kind);
      kind
    }
  };
  emit(event.reason(reason));
}

/// Audits keys whose Vault value changed, one event each.
pub fn rotated(keys: &[String]) {
  for key in keys {
    emit(
      Event::new("rotated")
        .key(key.as_str())
        .source(Source::Vault),
    );
  }
}

/// Audits a change of the kill switch.
pub fn killswitch(change: &BreakerChange) {
  let trigger = trigger_name(&change.trigger);
  let state = if change.open { "open" } else { "closed" };
  emit(
    Event::new("killswitch")
      .reason(change.reason.as_str())
      .field("state", state)
      .field("trigger", trigger),
  );
}

/// Names what opened the kill switch, as audit events and `stats()` do.
pub fn trigger_name(trigger: &Trigger) -> &'static str {
  match trigger {
    Trigger::Errors => "errors",
    Trigger::Manual => "manual",
    Trigger::File => "file",
  }
}
