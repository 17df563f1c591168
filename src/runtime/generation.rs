//! The generation counter that tells each JavaScript realm its view of the
//! cache is out of date. Every realm (the main thread and each worker) gets
//! its own 4-byte external `ArrayBuffer`, because Node rejects two buffers
//! over the same memory; a bump writes the new number into all of them, and
//! the proxy compares it with the one it last loaded, without an N-API call.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

static CURRENT: AtomicU32 = AtomicU32::new(1);

/// Addresses of the live slots, one per realm, stored as `usize` so the
/// registry is `Send`.
static SLOTS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Returns the current generation.
pub fn current() -> u32 {
  CURRENT.load(Ordering::SeqCst)
}

/// Starts a new generation and publishes it to every realm.
pub fn bump() -> u32 {
  let slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
  let next = CURRENT.fetch_add(1, Ordering::SeqCst) + 1;
  for &address in slots.iter() {
    // SAFETY: every address in SLOTS comes from `Box::into_raw` in
    // `new_slot` and stays valid until `release_slot` removes it, which
    // takes the same lock.
    let slot = unsafe { &*(address as *const AtomicU32) };
    slot.store(next, Ordering::SeqCst);
  }
  next
}

/// Allocates a slot holding the current generation and registers it.
pub fn new_slot() -> *mut u8 {
  let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
  let slot = Box::into_raw(Box::new(AtomicU32::new(current())));
  slots.push(slot as usize);
  slot.cast()
}

/// Unregisters and frees a slot, when its `ArrayBuffer` is collected.
pub fn release_slot(address: usize) {
  let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
  if let Some(index) = slots.iter().position(|&a| a == address) {
    slots.swap_remove(index);
    // SAFETY: the address came from `Box::into_raw` in `new_slot` and was
    // still registered, so it has not been freed; it is now unreachable.
    drop(unsafe { Box::from_raw(address as *mut AtomicU32) });
  }
}
