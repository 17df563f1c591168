//! Vault requests made by the engine, with their accounting: each failure
//! counts toward the kill switch and is logged once per state change, and
//! a rejected token gets one fresh login when the auth method can log in.

use std::sync::atomic::Ordering;
use std::time::Instant;

use tracing::{info, warn};

use super::engine::{Engine, TokenState};
use crate::audit;
use crate::breaker::{self, Permit};
use crate::cache::Change;
use crate::error::{Error, Result};
use crate::vault::{Client, ReadOutcome};

impl Engine {
  /// Logs in (or checks the token) and records the token's lifetime.
  pub async fn login(&self) -> Result<()> {
    let Some(client) = &self.client else {
      return Ok(());
    };
    let began = Instant::now();
    let result = client.login().await;
    audit::vault::login(began, result.as_ref().map(|info| info.ttl_seconds));
    match result {
      Ok(info) => {
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(TokenState {
          info,
          obtained: Instant::now(),
        });
        self.logins.fetch_add(1, Ordering::SeqCst);
        self
          .readable
          .lock()
          .unwrap_or_else(|e| e.into_inner())
          .clear();
        self.note_success("login");
        Ok(())
      }
      Err(error) => {
        self.note_failure("login", &error);
        Err(error)
      }
    }
  }

  /// Tells whether a login or token lookup has succeeded.
  pub fn logged_in(&self) -> bool {
    self
      .token
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .is_some()
  }

  /// Reads one document, given every spelling of its path, and stores it
  /// under each.
  pub async fn fetch(&self, paths: &[String]) -> Result<Change> {
    let (Some(client), Some(path)) = (&self.client, paths.first()) else {
      return Ok(Change::Unchanged);
    };
    let logins = self.logins.load(Ordering::SeqCst);
    let began = Instant::now();
    let cached = self.cache.entry(path).is_some();
    let mut result = client.read(path).await;
    if let Err(denied @ Error::Denied { .. }) = result {
      result = self.after_denied(client, path, logins, denied).await;
    }
    match result {
      Ok(outcome) => {
        self
          .readable
          .lock()
          .unwrap_or_else(|e| e.into_inner())
          .insert(path.clone());
        self.note_success(path);
        let change = self.cache.store(paths, outcome);
        audit::vault::read(path, began, cached, Ok(&change));
        Ok(change)
      }
      Err(error) => {
        audit::vault::read(path, began, cached, Err(&error));
        self.note_failure(path, &error);
        Err(error)
      }
    }
  }

  /// Handles a 403 on `path`, given the login count before the read. A
  /// token lookup distinguishes a rejected token from a missing policy,
  /// which never starts a login. A rejected token is the error when the method
  /// cannot log in. Otherwise one fresh login replaces it and the read is
  /// retried, but only for a path this token has read before: a token
  /// without the default policy gets a 403 on its own lookup too, and a
  /// fresh token that has read nothing yet would log in on every retry.
  /// So each token starts at most one login, and concurrent 403s share it.
  async fn after_denied(
    &self,
    client: &Client,
    path: &str,
    logins: u64,
    denied: Error,
  ) -> Result<ReadOutcome> {
    let _single = self.relogin.lock().await;
    if self.logins.load(Ordering::SeqCst) != logins {
      // Another read logged in while this one waited, so retry with the
      // new token.
      return client.read(path).await;
    }
    let read_before = self
      .readable
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .contains(path);
    if client.logs_in() && !read_before {
      return Err(denied);
    }
    match client.check_token().await {
      Err(rejected @ Error::TokenRejected { .. }) if !client.logs_in() => Err(rejected),
      Err(Error::TokenRejected { .. }) => {
        info!("vault rejected the token; logging in again");
        if self.login().await.is_err() {
          return Err(denied);
        }
        client.read(path).await
      }
      _ => Err(denied),
    }
  }

  /// Records a successful request: clears the failure it ends, and closes
  /// the kill switch when it was the probe.
  fn note_success(&self, what: &str) {
    let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
    let recovered = failing.remove(what).is_some() && failing.is_empty();
    drop(failing);
    if recovered {
      let address = self.client.as_ref().map_or("", |c| c.address());
      warn!("vault at {address} answers again; serving Vault values");
    }
    if let Some(change) = self.breaker.record_success() {
      self.apply_breaker(change);
    }
  }

  /// Records a failed request: logs it once per distinct reason and counts
  /// it toward the kill switch.
  fn note_failure(&self, what: &str, error: &Error) {
    let reason = error.to_string();
    let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
    let known = failing.values().any(|r| *r == reason);
    let repeated = failing.insert(what.to_string(), reason.clone()).as_ref() == Some(&reason);
    drop(failing);
    if !known {
      let next = if self.cache.is_empty() {
        "serving environment values"
      } else {
        "serving cached values until they expire, then environment values"
      };
      warn!("{reason}; {next}");
    }
    // A missing policy is a configuration error, not an outage: it counts
    // toward the kill switch once per path, not at every retry, so it
    // cannot turn off keys that read fine from other paths.
    if repeated && matches!(error, Error::Denied { .. }) {
      return;
    }
    if let Some(change) = self.breaker.record_error(&reason) {
      self.apply_breaker(change);
    }
  }

  /// Asks the kill switch whether a request may go out now.
  pub fn permit(&self) -> Permit {
    self.breaker.permit()
  }

  /// Publishes a change of the kill switch: one line at warn, a new view,
  /// and on closing, an immediate refresh.
  pub fn apply_breaker(&self, change: breaker::Change) {
    if change.open {
      warn!(
        "kill switch open: {}; serving environment values",
        change.reason
      );
    } else {
      warn!(
        "kill switch closed: {}; serving Vault values",
        change.reason
      );
      self.wake.notify_one();
    }
    self.rebuild();
    super::events::killswitch(&change);
  }
}

impl Engine {
  /// Renews the token at two thirds of its TTL, or logs in again when it
  /// cannot be renewed and the method can log in. A token that never
  /// expires (TTL 0) is left alone.
  pub async fn renew_if_due(&self) {
    let Some(client) = &self.client else {
      return;
    };
    let Some(state) = *self.token.lock().unwrap_or_else(|e| e.into_inner()) else {
      return;
    };
    let ttl = std::time::Duration::from_secs(state.info.ttl_seconds);
    if ttl.is_zero() || state.obtained.elapsed() < ttl * 2 / 3 {
      return;
    }
    if !state.info.renewable {
      if client.logs_in() {
        let _ = self.login().await;
      }
      return;
    }
    let began = Instant::now();
    let renewed = client.renew().await;
    audit::vault::renewal(began, renewed.as_ref().map(|info| info.ttl_seconds));
    match renewed {
      Ok(info) => {
        info!(ttl = info.ttl_seconds, "token renewed");
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(TokenState {
          info,
          obtained: Instant::now(),
        });
        self.note_success("renew");
      }
      Err(Error::TokenRejected { .. }) if client.logs_in() => {
        let _ = self.login().await;
      }
      Err(error) => self.note_failure("renew", &error),
    }
  }
}
