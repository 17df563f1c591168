//! Mode and canary: the decision, made once per key and per change of the
//! cache, of where a managed key's value comes from.

use sha2::{Digest, Sha256};

use crate::config::Mode;
use crate::mapping::{Kind, Lookup};

/// Where a read of a managed key is answered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
  /// The Vault value.
  Vault(String),
  /// The real environment: the key is not taken over, or Vault has no
  /// value and the environment is the fallback.
  Env { fallback: bool },
  /// Neither: an unresolved reference, whose string must not be returned.
  Hidden,
}

/// Everything the decision for one key depends on.
pub struct Route<'a> {
  pub mode: Mode,
  pub kind: Kind,
  pub in_canary: bool,
  pub lookup: Lookup<'a>,
  /// Open kill switch: managed keys read from the environment.
  pub killed: bool,
}

/// Decides where one managed key reads from.
pub fn decide(route: &Route) -> Decision {
  if route.mode == Mode::Off {
    return Decision::Env { fallback: false };
  }
  if route.kind == Kind::Reference {
    // A reference's environment value is the reference string, which is no
    // value for the program: it resolves in every mode that is not off.
    return match route.lookup {
      Lookup::Found(value) => Decision::Vault(value.to_string()),
      _ => Decision::Hidden,
    };
  }
  let takes_over = match route.mode {
    Mode::Vault => true,
    Mode::Dual => route.in_canary,
    Mode::Shadow | Mode::Off => false,
  };
  if !takes_over {
    return Decision::Env { fallback: false };
  }
  match (&route.lookup, route.killed) {
    (Lookup::Found(value), false) => Decision::Vault(value.to_string()),
    _ => Decision::Env { fallback: true },
  }
}

/// Tells whether a key is in the canary: a stable hash of the salt and the
/// key puts it in one of 10,000 buckets, and the first `percent` × 100
/// buckets are in. The same key lands in the same bucket in every process.
pub fn in_canary(salt: &str, key: &str, percent: f64) -> bool {
  if percent >= 100.0 {
    return true;
  }
  let bucket = canary_bucket(salt, key);
  (bucket as f64) < percent * 100.0
}

/// Returns the key's bucket, 0 to 9,999.
pub fn canary_bucket(salt: &str, key: &str) -> u32 {
  let mut hasher = Sha256::new();
  hasher.update(salt.as_bytes());
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  hasher.update([0u8]);
  hasher.update(key.as_bytes());
  let digest = hasher.finalize();
  let head = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
  head % 10_000
}

#[cfg(test)]
mod tests;
