//! Erases credentials from the process's initial environment block.
//!
//! Removing a variable with `unsetenv` drops it from `environ`, but the
//! bytes the kernel copied at exec stay where they were, and
//! `/proc/<pid>/environ` keeps showing them to anyone allowed to read it.
//! After the JavaScript side has deleted a credential, this overwrites the
//! value's bytes in that block with NULs.

/// Erases the values of `names` from the initial block. Returns how many
/// entries were erased. A name still set in the environment is skipped,
/// so nothing that `getenv` can reach is ever changed.
#[cfg(target_os = "linux")]
pub fn erase(names: &[String]) -> usize {
  let names: Vec<&String> = names
    .iter()
    .filter(|n| !n.is_empty() && std::env::var_os(n.as_str()).is_none())
    .collect();
  let Some((start, end)) = block_bounds() else {
    return 0;
  };
  if names.is_empty() || end <= start {
    return 0;
  }

  let mut erased = 0;
  let mut offset = start;
  while offset < end {
    // SAFETY: [start, end) is the environment block that the kernel
    // reports in /proc/self/stat: mapped, writable stack memory of this
    // process for its whole life. Reads and writes stay inside it.
    let length = unsafe { entry_length(offset, end) };
    for name in &names {
      // SAFETY: as above; the entry spans [offset, offset + length).
      if unsafe { entry_has_name(offset, length, name.as_bytes()) } {
        let value_start = offset + name.len() + 1;
        for address in value_start..offset + length {
          // SAFETY: as above. Volatile, so the stores are not elided.
          unsafe { std::ptr::write_volatile(address as *mut u8, 0) };
        }
        erased += 1;
      }
    }
    offset += length + 1;
  }
  erased
}

#[cfg(not(target_os = "linux"))]
pub fn erase(_names: &[String]) -> usize {
  0
}

/// Returns the length of the NUL-terminated entry at `offset`.
///
/// # Safety
/// `[offset, end)` must be readable.
#[cfg(target_os = "linux")]
unsafe fn entry_length(offset: usize, end: usize) -> usize {
  let mut length = 0;
  while offset + length < end && unsafe { *((offset + length) as *const u8) } != 0 {
    length += 1;
  }
  length
}

/// Tells whether the entry at `offset` is `name=...`.
///
/// # Safety
/// `[offset, offset + length)` must be readable.
#[cfg(target_os = "linux")]
unsafe fn entry_has_name(offset: usize, length: usize, name: &[u8]) -> bool {
  if length <= name.len() {
    return false;
  }
  let entry = unsafe { std::slice::from_raw_parts(offset as *const u8, length) };
  entry.starts_with(name) && entry[name.len()] == b'='
}

/// Reads `env_start` and `env_end` (fields 50 and 51 of /proc/self/stat,
/// present since Linux 3.5).
#[cfg(target_os = "linux")]
fn block_bounds() -> Option<(usize, usize)> {
  let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
  // The command name (field 2) may hold spaces and parentheses, so fields
  // are counted from the last closing parenthesis: field 3 comes first.
  let rest = &stat[stat.rfind(')')? + 1..];
  let fields: Vec<&str> = rest.split_whitespace().collect();
  let start = fields.get(50 - 3)?.parse::<usize>().ok()?;
  let end = fields.get(51 - 3)?.parse::<usize>().ok()?;
  (start > 0 && end > start).then_some((start, end))
}
