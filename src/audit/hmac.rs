//! HMAC-SHA256 of values that a comparison needs, under a random key made
//! once per process, as Vault's own audit devices hash secrets. Two digests
//! from one process are equal exactly when the values are; no digest can
//! be checked against a guessed value without the key, which never leaves
//! memory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use hmac::{Hmac, Mac};
use once_cell::sync::Lazy;
use sha2::Sha256;
use tracing::warn;

static KEY: Lazy<[u8; 32]> = Lazy::new(random_key);

fn random_key() -> [u8; 32] {
  let mut key = [0u8; 32];
  // getrandom reads the kernel's generator (getrandom(2) or /dev/urandom on
  // Linux), which fails only when the system has no entropy source.
  if let Err(error) = getrandom::getrandom(&mut key) {
    warn!("no random source for the audit HMAC key ({error}); using the hasher's random seed");
    for chunk in key.chunks_mut(8) {
      let word = RandomState::new().build_hasher().finish();
      chunk.copy_from_slice(&word.to_le_bytes());
    }
  }
  key
}

/// Returns `hmac-sha256:<hex>` for a value.
pub fn digest(value: &str) -> String {
  let mut mac =
    Hmac::<Sha256>::new_from_slice(KEY.as_slice()).expect("HMAC takes a key of any length");
  mac.update(value.as_bytes());
  let bytes = mac.finalize().into_bytes();
  let mut text = String::with_capacity(12 + 64);
  text.push_str("hmac-sha256:");
  for byte in bytes {
    text.push_str(&format!("{byte:02x}"));
  }
  text
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn equal_values_give_equal_digests() {
    assert_eq!(digest("postgres://db"), digest("postgres://db"));
    assert_ne!(digest("postgres://db"), digest("postgres://db "));
  }

  #[test]
  fn digest_is_hex_and_differs_from_plain_sha256() {
    let text = digest("abc");
    let hex = text.strip_prefix("hmac-sha256:").unwrap();
    assert_eq!(hex.len(), 64);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    // SHA-256 of "abc" without a key, which a keyed digest must not equal.
    assert_ne!(
      hex,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
  }
}
