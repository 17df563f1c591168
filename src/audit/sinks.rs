//! Delivery of audit events off the read path. `emit` puts an event on a
//! bounded queue without waiting; one background thread takes it off and
//! writes it to the JSON-lines file, to tracing at debug, and to the ring
//! that JavaScript listeners read. When the queue is full the event is
//! dropped and counted, so a slow disk never slows the program.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::event::Event;

/// A bounded queue and the thread that drains it into `deliver`.
pub struct Pipeline {
  sender: SyncSender<Event>,
  accepted: AtomicU64,
  dropped: AtomicU64,
  /// Events delivered so far, and the condition `flush` waits on.
  delivered: Arc<(Mutex<u64>, Condvar)>,
}

impl Pipeline {
  /// Starts the delivery thread. If it cannot start, every event counts
  /// as dropped.
  pub fn start(capacity: usize, mut deliver: impl FnMut(Event) + Send + 'static) -> Pipeline {
    let (sender, receiver) = sync_channel::<Event>(capacity);
    let delivered = Arc::new((Mutex::new(0u64), Condvar::new()));
    let progress = delivered.clone();
    let spawned = std::thread::Builder::new()
      .name("ragnos-audit".into())
      .spawn(move || {
        for event in receiver {
          deliver(event);
          let (count, changed) = &*progress;
          *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
          changed.notify_all();
        }
      });
    if let Err(error) = spawned {
      warn!("the audit thread could not start ({error}); audit events are dropped");
    }
    Pipeline {
      sender,
      accepted: AtomicU64::new(0),
      dropped: AtomicU64::new(0),
      delivered,
    }
  }

  /// Queues an event, or drops and counts it when the queue is full.
  /// Never blocks.
  pub fn send(&self, event: Event) -> bool {
    match self.sender.try_send(event) {
      Ok(()) => {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        true
      }
      Err(_) => {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
      }
    }
  }

  /// Waits until every event queued before the call is delivered, at most
  /// `timeout`. Returns whether they all were.
  pub fn flush(&self, timeout: Duration) -> bool {
    let target = self.accepted.load(Ordering::SeqCst);
    let deadline = Instant::now() + timeout;
    let (count, changed) = &*self.delivered;
    let mut delivered = count.lock().unwrap_or_else(|e| e.into_inner());
    while *delivered < target {
      let left = deadline.saturating_duration_since(Instant::now());
      if left.is_zero() {
        return false;
      }
      delivered = changed
        .wait_timeout(delivered, left)
        .unwrap_or_else(|e| e.into_inner())
        .0;
    }
    true
  }

  pub fn accepted(&self) -> u64 {
    self.accepted.load(Ordering::Relaxed)
  }

  pub fn dropped(&self) -> u64 {
    self.dropped.load(Ordering::Relaxed)
  }

  pub fn delivered(&self) -> u64 {
    *self.delivered.0.lock().unwrap_or_else(|e| e.into_inner())
  }
}

/// The append-only audit file.
pub struct LogFile {
  file: File,
  path: String,
  failed: AtomicBool,
}

impl LogFile {
  /// Opens the file for appending, creating it readable and writable by
  /// its owner only. An existing file keeps its mode, with a warning when
  /// other users can read it.
  pub fn open(path: &Path) -> std::io::Result<LogFile> {
    // Opening a FIFO for writing blocks until a reader appears, which would
    // hang startup; only a regular file, or none yet, is accepted.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
      let reason = "not a regular file";
      return Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        reason,
      ));
    }
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    let shown = path.display().to_string();
    #[cfg(unix)]
    warn_if_shared(&file, &shown);
    Ok(LogFile {
      file,
      path: shown,
      failed: AtomicBool::new(false),
    })
  }

  /// Appends one line with a single `write` call. With `O_APPEND` the
  /// kernel places each write at the end of the file as a whole, so lines
  /// from other threads and processes never interleave with it.
  pub fn append(&self, line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let result = match (&self.file).write(&bytes) {
      // A short write (a full disk) still completes the line, unless the
      // rest fails too.
      Ok(written) if written < bytes.len() => (&self.file).write_all(&bytes[written..]),
      Ok(_) => Ok(()),
      Err(error) => Err(error),
    };
    match result {
      Ok(()) => {
        if self.failed.swap(false, Ordering::Relaxed) {
          warn!("writing the audit log {} works again", self.path);
        }
      }
      Err(error) => {
        if !self.failed.swap(true, Ordering::Relaxed) {
          warn!(
            "writing the audit log {} failed ({error}); audit events are lost until it works again",
            self.path
          );
        }
      }
    }
  }
}

#[cfg(unix)]
fn warn_if_shared(file: &File, path: &str) {
  use std::os::unix::fs::PermissionsExt;
  if let Ok(metadata) = file.metadata() {
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
      warn!(
        "the audit log {path} has mode {mode:o}, so other users can read it; run chmod 600 on it"
      );
    }
  }
}

/// The most recent events as JSON lines, numbered, for JavaScript
/// listeners. Each realm keeps its own cursor, so listeners on the main
/// thread and in workers all get every event. A realm that polls too
/// rarely misses the oldest ones, and `read` returns how many.
pub struct Ring {
  lines: VecDeque<Arc<str>>,
  /// The number of the oldest line kept.
  first: u64,
  capacity: usize,
}

/// Lines read from the ring.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
  pub lines: Vec<String>,
  /// The cursor to pass to the next read.
  pub next: u64,
  /// Lines that left the ring before this read.
  pub missed: u64,
}

impl Ring {
  pub const fn new(capacity: usize) -> Ring {
    Ring {
      lines: VecDeque::new(),
      first: 0,
      capacity,
    }
  }

  pub fn push(&mut self, line: Arc<str>) {
    if self.lines.len() == self.capacity {
      self.lines.pop_front();
      self.first += 1;
    }
    self.lines.push_back(line);
  }

  /// Returns the cursor of the next line to come.
  pub fn end(&self) -> u64 {
    self.first + self.lines.len() as u64
  }

  /// Returns up to `max` lines from `cursor` on.
  pub fn read(&self, cursor: u64, max: usize) -> Batch {
    let start = cursor.clamp(self.first, self.end());
    let skip = (start - self.first) as usize;
    let lines: Vec<String> = self
      .lines
      .iter()
      .skip(skip)
      .take(max)
      .map(|line| line.to_string())
      .collect();
    Batch {
      next: start + lines.len() as u64,
      missed: self.first.saturating_sub(cursor),
      lines,
    }
  }
}

/// Writes a delivered event to tracing at debug.
pub fn trace(line: &str) {
  debug!("audit {line}");
}

#[cfg(test)]
mod tests {
  use super::*;

  use std::sync::mpsc;

  #[test]
  fn full_queue_drops_and_counts_without_blocking() {
    let (release, wait) = mpsc::channel::<()>();
    let pipeline = Pipeline::start(2, move |_| {
      let _ = wait.recv();
    });
    let began = Instant::now();
    let sent: Vec<bool> = (0..10).map(|_| pipeline.send(Event::new("read"))).collect();
    assert!(began.elapsed() < Duration::from_millis(500));
    // One event is in the blocked thread's hands and two fill the queue;
    // the thread may not have taken the first yet, so 2 or 3 get in.
    let accepted = sent.iter().filter(|s| **s).count() as u64;
    assert!((2..=3).contains(&accepted), "accepted {accepted}");
    assert_eq!(pipeline.accepted(), accepted);
    assert_eq!(pipeline.dropped(), 10 - accepted);
    drop(release);
  }

  #[test]
  fn flush_waits_for_queued_events() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pipeline = Pipeline::start(64, move |event| {
      std::thread::sleep(Duration::from_millis(2));
      sink.lock().unwrap().push(event.name().to_string());
    });
    for name in ["a", "b", "c"] {
      assert!(pipeline.send(Event::new(name)));
    }
    assert!(pipeline.flush(Duration::from_secs(5)));
    assert_eq!(*seen.lock().unwrap(), ["a", "b", "c"]);
    assert_eq!(pipeline.delivered(), 3);
  }

  #[test]
  fn flush_gives_up_after_the_timeout() {
    let (_release, wait) = mpsc::channel::<()>();
    let pipeline = Pipeline::start(4, move |_| {
      let _ = wait.recv();
    });
    pipeline.send(Event::new("stuck"));
    assert!(!pipeline.flush(Duration::from_millis(50)));
  }

  #[test]
  fn ring_reads_from_each_cursor_and_counts_missed_lines() {
    let mut ring = Ring::new(3);
    for n in 0..5 {
      ring.push(Arc::from(format!("line {n}")));
    }
    assert_eq!(ring.end(), 5);
    let late = ring.read(0, 10);
    assert_eq!(late.lines, ["line 2", "line 3", "line 4"]);
    assert_eq!(late.missed, 2);
    assert_eq!(late.next, 5);
    let partial = ring.read(3, 1);
    assert_eq!(partial.lines, ["line 3"]);
    assert_eq!(partial.missed, 0);
    assert_eq!(partial.next, 4);
    assert_eq!(
      ring.read(5, 10),
      Batch {
        lines: vec![],
        next: 5,
        missed: 0
      }
    );
  }

  #[cfg(unix)]
  #[test]
  fn log_file_is_private_and_appends_whole_lines() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ragnos-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);

    let log = Arc::new(LogFile::open(&path).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let writers: Vec<_> = (0..4)
      .map(|t| {
        let log = log.clone();
        std::thread::spawn(move || {
          for n in 0..200 {
            log.append(&format!(
              r#"{{"thread":{t},"n":{n},"pad":"{}"}}"#,
              "x".repeat(300)
            ));
          }
        })
      })
      .collect();
    for writer in writers {
      writer.join().unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 800);
    for line in lines {
      serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
  }
}
