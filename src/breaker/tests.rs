use std::thread::sleep;

use super::*;

fn settings(max_errors: u32, window_ms: u64, cooldown_ms: u64) -> KillSwitchSettings {
  KillSwitchSettings {
    max_errors,
    window_ms,
    cooldown_ms,
    killed: false,
    kill_file: None,
  }
}

#[test]
fn opens_after_max_errors_within_window() {
  let breaker = Breaker::new(settings(3, 60_000, 60_000));
  assert_eq!(breaker.record_error("a"), None);
  assert_eq!(breaker.record_error("b"), None);
  let change = breaker.record_error("c").expect("third error opens");
  assert!(change.open);
  assert_eq!(change.trigger, Trigger::Errors);
  assert!(change.reason.contains("3 vault errors"));
  assert!(breaker.is_open());
  assert_eq!(breaker.permit(), Permit::Denied);
}

#[test]
fn errors_outside_window_do_not_count() {
  let breaker = Breaker::new(settings(2, 20, 60_000));
  assert_eq!(breaker.record_error("a"), None);
  sleep(Duration::from_millis(40));
  assert_eq!(breaker.record_error("b"), None);
  assert!(!breaker.is_open());
}

#[test]
fn probe_after_cooldown_closes_on_success() {
  let breaker = Breaker::new(settings(1, 60_000, 20));
  breaker.record_error("down");
  assert_eq!(breaker.permit(), Permit::Denied);
  sleep(Duration::from_millis(40));
  assert_eq!(breaker.permit(), Permit::Probe);
  assert_eq!(breaker.permit(), Permit::Denied, "one probe at a time");
  let change = breaker.record_success().expect("probe closes");
  assert!(!change.open);
  assert_eq!(breaker.permit(), Permit::Allowed);
}

#[test]
fn failed_probe_restarts_cooldown() {
  let breaker = Breaker::new(settings(1, 60_000, 30));
  breaker.record_error("down");
  sleep(Duration::from_millis(50));
  assert_eq!(breaker.permit(), Permit::Probe);
  assert_eq!(breaker.record_error("still down"), None);
  assert!(breaker.is_open());
  assert_eq!(breaker.permit(), Permit::Denied);
  sleep(Duration::from_millis(50));
  assert_eq!(breaker.permit(), Permit::Probe);
}

#[test]
fn success_without_probe_changes_nothing() {
  let breaker = Breaker::new(settings(2, 60_000, 60_000));
  breaker.record_error("a");
  assert_eq!(breaker.record_success(), None);
  assert!(!breaker.is_open());
}

#[test]
fn manual_kill_denies_even_after_cooldown() {
  let breaker = Breaker::new(settings(10, 60_000, 1));
  let change = breaker.kill(Trigger::Manual, "operator").expect("opens");
  assert!(change.open);
  sleep(Duration::from_millis(5));
  assert_eq!(breaker.permit(), Permit::Denied);
  assert_eq!(
    breaker.kill(Trigger::Manual, "again"),
    None,
    "no second change"
  );
  let revived = breaker.revive("operator").expect("closes");
  assert!(!revived.open);
  assert_eq!(breaker.revive("again"), None);
}

#[test]
fn kill_setting_opens_from_start() {
  let mut s = settings(10, 60_000, 60_000);
  s.killed = true;
  let breaker = Breaker::new(s);
  assert!(breaker.is_open());
  assert_eq!(breaker.state().trigger, Some(Trigger::Manual));
}

#[test]
fn kill_file_opens_and_its_removal_closes() {
  let dir = std::env::temp_dir().join(format!("ragnos-breaker-{}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let file = dir.join("kill");
  let mut s = settings(10, 60_000, 60_000);
  s.kill_file = Some(file.clone());
  let breaker = Breaker::new(s);
  assert_eq!(breaker.check_kill_file(), None);
  std::fs::write(&file, "").unwrap();
  assert!(breaker.check_kill_file().expect("file opens").open);
  assert_eq!(breaker.check_kill_file(), None);
  std::fs::remove_file(&file).unwrap();
  assert!(!breaker.check_kill_file().expect("removal closes").open);
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_file_removal_leaves_manual_kill_open() {
  let dir = std::env::temp_dir().join(format!("ragnos-breaker-m-{}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let mut s = settings(10, 60_000, 60_000);
  s.kill_file = Some(dir.join("absent"));
  let breaker = Breaker::new(s);
  breaker.kill(Trigger::Manual, "operator");
  assert_eq!(breaker.check_kill_file(), None);
  assert!(breaker.is_open());
  std::fs::remove_dir_all(&dir).unwrap();
}
