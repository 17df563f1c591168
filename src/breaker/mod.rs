//! The kill switch. Automatic: enough Vault errors within a window open it,
//! and after a cooldown one probe decides whether it closes. Manual: the
//! `RAGNOS_VAULT_KILL` setting, a kill file, or `kill()` and `revive()`.
//! While it is open, every managed key reads from the environment and
//! references keep their last cached value.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::KillSwitchSettings;

/// The cause that opened the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
  /// Too many Vault errors; closes after a successful probe.
  Errors,
  /// `kill()` or `RAGNOS_VAULT_KILL`; closes on `revive()`.
  Manual,
  /// The kill file exists; closes when it is removed or on `revive()`.
  File,
}

/// A change of state, for the log, the audit trail and JavaScript events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
  pub open: bool,
  pub trigger: Trigger,
  pub reason: String,
}

/// Whether a Vault request may go out now.
#[derive(Debug, PartialEq, Eq)]
pub enum Permit {
  Allowed,
  /// The cooldown has passed: this one request decides.
  Probe,
  Denied,
}

/// A snapshot of the state, for `stats()` and `status()`.
#[derive(Debug, Clone)]
pub struct State {
  pub open: bool,
  pub trigger: Option<Trigger>,
  pub reason: String,
  pub open_for_ms: u64,
  pub recent_errors: usize,
}

struct Opened {
  trigger: Trigger,
  reason: String,
  since: Instant,
  probing: bool,
}

struct Inner {
  opened: Option<Opened>,
  errors: VecDeque<Instant>,
}

pub struct Breaker {
  settings: KillSwitchSettings,
  inner: Mutex<Inner>,
}

impl Breaker {
  /// Creates the switch, open from the start when the settings say so.
  pub fn new(settings: KillSwitchSettings) -> Breaker {
    let opened = settings.killed.then(|| Opened {
      trigger: Trigger::Manual,
      reason: "RAGNOS_VAULT_KILL is set".into(),
      since: Instant::now(),
      probing: false,
    });
    Breaker {
      settings,
      inner: Mutex::new(Inner {
        opened,
        errors: VecDeque::new(),
      }),
    }
  }

  fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
    self.inner.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// Tells whether managed keys read from the environment now.
  pub fn is_open(&self) -> bool {
    self.lock().opened.is_some()
  }

  /// Asks whether a Vault request may go out.
  pub fn permit(&self) -> Permit {
    let mut inner = self.lock();
    let cooldown = Duration::from_millis(self.settings.cooldown_ms);
    match inner.opened.as_mut() {
      None => Permit::Allowed,
      Some(opened) if opened.trigger != Trigger::Errors => Permit::Denied,
      Some(opened) if opened.probing || opened.since.elapsed() < cooldown => Permit::Denied,
      Some(opened) => {
        opened.probing = true;
        Permit::Probe
      }
    }
  }

  /// Counts a Vault error. Opens the switch when the window holds
  /// `max_errors` of them; a failed probe restarts the cooldown.
  pub fn record_error(&self, reason: &str) -> Option<Change> {
    let mut inner = self.lock();
    let now = Instant::now();
    if let Some(opened) = inner.opened.as_mut() {
      if opened.probing {
        opened.probing = false;
        opened.since = now;
      }
      return None;
    }
    let window = Duration::from_millis(self.settings.window_ms);
    inner.errors.push_back(now);
    while inner
      .errors
      .front()
      .is_some_and(|t| now.duration_since(*t) > window)
    {
      inner.errors.pop_front();
    }
    if inner.errors.len() < self.settings.max_errors as usize {
      return None;
    }
    let count = inner.errors.len();
    inner.errors.clear();
    let reason = format!(
      "{count} vault errors within {} ms, the last: {reason}",
      self.settings.window_ms
    );
    Some(open(&mut inner, Trigger::Errors, reason))
  }

  /// Records a successful request; a successful probe closes the switch.
  pub fn record_success(&self) -> Option<Change> {
    let mut inner = self.lock();
    let probed = inner.opened.as_ref().is_some_and(|o| o.probing);
    if !probed {
      return None;
    }
    inner.opened = None;
    inner.errors.clear();
    Some(Change {
      open: false,
      trigger: Trigger::Errors,
      reason: "probe succeeded".into(),
    })
  }

  /// Opens the switch by hand, or by the kill file.
  pub fn kill(&self, trigger: Trigger, reason: &str) -> Option<Change> {
    let mut inner = self.lock();
    if inner.opened.as_ref().is_some_and(|o| o.trigger == trigger) {
      return None;
    }
    Some(open(&mut inner, trigger, reason.to_string()))
  }

  /// Closes the switch, whatever opened it.
  pub fn revive(&self, reason: &str) -> Option<Change> {
    let mut inner = self.lock();
    let opened = inner.opened.take()?;
    inner.errors.clear();
    Some(Change {
      open: false,
      trigger: opened.trigger,
      reason: reason.to_string(),
    })
  }

  /// Opens or closes the switch to match the kill file's existence. Only a
  /// switch the file opened closes when the file goes away.
  pub fn check_kill_file(&self) -> Option<Change> {
    let path = self.settings.kill_file.as_ref()?;
    let exists = path.exists();
    let opened_by_file = self
      .lock()
      .opened
      .as_ref()
      .map(|o| o.trigger == Trigger::File);
    match (exists, opened_by_file) {
      (true, None) | (true, Some(false)) => self.kill(
        Trigger::File,
        &format!("kill file {} exists", path.display()),
      ),
      (false, Some(true)) => self.revive(&format!("kill file {} removed", path.display())),
      _ => None,
    }
  }

  /// Returns the current state.
  pub fn state(&self) -> State {
    let inner = self.lock();
    State {
      open: inner.opened.is_some(),
      trigger: inner.opened.as_ref().map(|o| o.trigger.clone()),
      reason: inner
        .opened
        .as_ref()
        .map(|o| o.reason.clone())
        .unwrap_or_default(),
      open_for_ms: inner
        .opened
        .as_ref()
        .map_or(0, |o| o.since.elapsed().as_millis() as u64),
      recent_errors: inner.errors.len(),
    }
  }
}

fn open(inner: &mut Inner, trigger: Trigger, reason: String) -> Change {
  inner.opened = Some(Opened {
    trigger: trigger.clone(),
    reason: reason.clone(),
    since: Instant::now(),
    probing: false,
  });
  Change {
    open: true,
    trigger,
    reason,
  }
}

#[cfg(test)]
mod tests;
