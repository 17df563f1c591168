use super::*;

use std::collections::BTreeSet;

const TAKEOVER_KINDS: [Kind; 2] = [Kind::Mapped, Kind::Pattern];
const FLAGS: [bool; 2] = [false, true];

/// A lookup result that can be reused across the cases of a loop.
#[derive(Debug, Clone, Copy)]
enum Probe {
  Found,
  Missing,
  Unavailable,
}

const ALL_PROBES: [Probe; 3] = [Probe::Found, Probe::Missing, Probe::Unavailable];
const UNRESOLVED: [Probe; 2] = [Probe::Missing, Probe::Unavailable];

fn decide_for(mode: Mode, kind: Kind, probe: Probe, in_canary: bool, killed: bool) -> Decision {
  let lookup = match probe {
    Probe::Found => Lookup::Found("from-vault"),
    Probe::Missing => Lookup::Missing,
    Probe::Unavailable => Lookup::Unavailable,
  };
  decide(&Route {
    mode,
    kind,
    in_canary,
    lookup,
    killed,
  })
}

fn vault(value: &str) -> Decision {
  Decision::Vault(value.to_string())
}

const ENV: Decision = Decision::Env { fallback: false };
const FALLBACK: Decision = Decision::Env { fallback: true };

/// Keys `KEY_0` to `KEY_9999`.
fn generated_keys() -> Vec<String> {
  (0..10_000).map(|i| format!("KEY_{i}")).collect()
}

fn canary_set(salt: &str, keys: &[String], percent: f64) -> BTreeSet<String> {
  keys
    .iter()
    .filter(|k| in_canary(salt, k, percent))
    .cloned()
    .collect()
}

// decide(): the tests below cover all 144 combinations of mode, kind,
// lookup, canary and kill switch between them.

#[test]
fn off_reads_env_for_every_key() {
  for kind in [Kind::Reference, Kind::Mapped, Kind::Pattern] {
    for lookup in ALL_PROBES {
      for in_canary in FLAGS {
        for killed in FLAGS {
          let case = format!("{kind:?} {lookup:?} canary={in_canary} killed={killed}");
          let decision = decide_for(Mode::Off, kind, lookup, in_canary, killed);
          assert_eq!(decision, ENV, "{case}");
        }
      }
    }
  }
}

#[test]
fn reference_served_from_vault_when_found() {
  for mode in [Mode::Shadow, Mode::Dual, Mode::Vault] {
    for in_canary in FLAGS {
      for killed in FLAGS {
        let case = format!("{mode:?} canary={in_canary} killed={killed}");
        let decision = decide_for(mode, Kind::Reference, Probe::Found, in_canary, killed);
        assert_eq!(decision, vault("from-vault"), "{case}");
      }
    }
  }
}

#[test]
fn reference_hidden_when_unresolved() {
  for mode in [Mode::Shadow, Mode::Dual, Mode::Vault] {
    for lookup in UNRESOLVED {
      for in_canary in FLAGS {
        for killed in FLAGS {
          let case = format!("{mode:?} {lookup:?} canary={in_canary} killed={killed}");
          let decision = decide_for(mode, Kind::Reference, lookup, in_canary, killed);
          assert_eq!(decision, Decision::Hidden, "{case}");
        }
      }
    }
  }
}

#[test]
fn shadow_reads_env_for_takeover_kinds() {
  for kind in TAKEOVER_KINDS {
    for lookup in ALL_PROBES {
      for in_canary in FLAGS {
        for killed in FLAGS {
          let case = format!("{kind:?} {lookup:?} canary={in_canary} killed={killed}");
          let decision = decide_for(Mode::Shadow, kind, lookup, in_canary, killed);
          assert_eq!(decision, ENV, "{case}");
        }
      }
    }
  }
}

#[test]
fn dual_outside_canary_reads_env() {
  for kind in TAKEOVER_KINDS {
    for lookup in ALL_PROBES {
      for killed in FLAGS {
        let case = format!("{kind:?} {lookup:?} killed={killed}");
        let decision = decide_for(Mode::Dual, kind, lookup, false, killed);
        assert_eq!(decision, ENV, "{case}");
      }
    }
  }
}

#[test]
fn takeover_serves_found_value() {
  let takeovers = [
    (Mode::Dual, true),
    (Mode::Vault, false),
    (Mode::Vault, true),
  ];
  for (mode, in_canary) in takeovers {
    for kind in TAKEOVER_KINDS {
      let case = format!("{mode:?} {kind:?} canary={in_canary}");
      let decision = decide_for(mode, kind, Probe::Found, in_canary, false);
      assert_eq!(decision, vault("from-vault"), "{case}");
    }
  }
}

#[test]
fn takeover_falls_back_when_unresolved() {
  let takeovers = [
    (Mode::Dual, true),
    (Mode::Vault, false),
    (Mode::Vault, true),
  ];
  for (mode, in_canary) in takeovers {
    for kind in TAKEOVER_KINDS {
      for lookup in UNRESOLVED {
        for killed in FLAGS {
          let case = format!("{mode:?} {kind:?} {lookup:?} canary={in_canary} killed={killed}");
          let decision = decide_for(mode, kind, lookup, in_canary, killed);
          assert_eq!(decision, FALLBACK, "{case}");
        }
      }
    }
  }
}

#[test]
fn kill_switch_falls_back_to_env() {
  let takeovers = [
    (Mode::Dual, true),
    (Mode::Vault, false),
    (Mode::Vault, true),
  ];
  for (mode, in_canary) in takeovers {
    for kind in TAKEOVER_KINDS {
      let case = format!("{mode:?} {kind:?} canary={in_canary}");
      let decision = decide_for(mode, kind, Probe::Found, in_canary, true);
      assert_eq!(decision, FALLBACK, "{case}");
    }
  }
}

#[test]
fn vault_mode_ignores_canary() {
  for kind in TAKEOVER_KINDS {
    for lookup in ALL_PROBES {
      let outside = decide_for(Mode::Vault, kind, lookup, false, false);
      let inside = decide_for(Mode::Vault, kind, lookup, true, false);
      assert_eq!(outside, inside, "{kind:?} {lookup:?}");
    }
  }
}

// Canary

#[test]
fn canary_bucket_pinned() {
  // The first four bytes of SHA-256(salt, 0x00, key) as a big-endian
  // integer, modulo 10,000. Every process and release must agree on these,
  // or a rollout reshuffles its keys.
  assert_eq!(canary_bucket("", "OPENAI_API_KEY"), 9493);
  assert_eq!(canary_bucket("fleet-1", "DATABASE_URL"), 8856);
}

#[test]
fn canary_salt_key_boundary_matters() {
  assert_eq!(canary_bucket("ab", "c"), 7811);
  assert_eq!(canary_bucket("a", "bc"), 8685);
}

#[test]
fn canary_stable_across_calls() {
  let keys = generated_keys();
  let first = canary_set("salt", &keys, 37.5);
  let second = canary_set("salt", &keys, 37.5);
  assert_eq!(first, second);
  for key in keys.iter().take(100) {
    assert_eq!(
      canary_bucket("salt", key),
      canary_bucket("salt", key),
      "{key}"
    );
  }
}

#[test]
fn canary_buckets_in_range() {
  for key in generated_keys() {
    let bucket = canary_bucket("salt", &key);
    assert!(bucket < 10_000, "{key}: {bucket}");
  }
}

#[test]
fn canary_zero_percent_takes_none() {
  let keys = generated_keys();
  assert!(canary_set("salt", &keys, 0.0).is_empty());
  assert!(canary_set("salt", &keys, -5.0).is_empty());
}

#[test]
fn canary_full_percent_takes_all() {
  let keys = generated_keys();
  assert_eq!(canary_set("salt", &keys, 100.0).len(), keys.len());
  assert_eq!(canary_set("salt", &keys, 150.0).len(), keys.len());
}

#[test]
fn canary_share_roughly_proportional() {
  let keys = generated_keys();
  let in_canary_count = canary_set("salt", &keys, 25.0).len();
  assert!(
    in_canary_count >= 2_000,
    "{in_canary_count} of 10,000 keys at 25%"
  );
  assert!(
    in_canary_count <= 3_000,
    "{in_canary_count} of 10,000 keys at 25%"
  );
}

#[test]
fn canary_percent_counts_hundredths() {
  // 0.01% is one bucket: bucket 0 is in, bucket 1 is not.
  let keys = generated_keys();
  let in_bucket = |target: u32| {
    keys
      .iter()
      .find(|k| canary_bucket("salt", k) == target)
      .expect("a key in the bucket")
      .clone()
  };
  let first = in_bucket(0);
  let second = in_bucket(1);
  assert!(in_canary("salt", &first, 0.01));
  assert!(!in_canary("salt", &second, 0.01));
  assert!(in_canary("salt", &second, 0.02));
}

#[test]
fn canary_salts_move_different_keys() {
  let keys = generated_keys();
  let first = canary_set("salt-a", &keys, 50.0);
  let second = canary_set("salt-b", &keys, 50.0);
  let moved = first.symmetric_difference(&second).count();
  // Independent halves differ on about 5,000 keys.
  assert!(moved > 4_000, "{moved} keys changed sides");
  assert!(moved < 6_000, "{moved} keys changed sides");
}

#[test]
fn canary_monotonic_in_percent() {
  let keys = generated_keys();
  let at_ten = canary_set("salt", &keys, 10.0);
  let at_twenty = canary_set("salt", &keys, 20.0);
  assert!(at_ten.is_subset(&at_twenty));
  assert!(at_twenty.len() > at_ten.len());
}
