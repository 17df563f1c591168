//! The one `tokio` runtime of the process and the engine that runs on it.
//! Workers that load the addon share both: statics are per process, and
//! the first realm to start the preloader sets them up.

pub mod control;
pub mod doctor;
mod engine;
pub mod environ;
pub mod events;
pub mod generation;
pub mod logging;
mod refresh;
mod requests;
pub mod startup;

use std::sync::Arc;

use once_cell::sync::OnceCell;
use tokio::runtime::Runtime;

pub use engine::{Engine, Served, View};
pub use startup::{start, Outcome};

static RUNTIME: OnceCell<Runtime> = OnceCell::new();
static STARTED: OnceCell<(Outcome, Option<Arc<Engine>>)> = OnceCell::new();

/// Returns the process's runtime, creating it on first use. Two worker
/// threads are enough: the work is a handful of HTTP requests per TTL.
pub fn runtime() -> &'static Runtime {
  RUNTIME.get_or_init(|| {
    tokio::runtime::Builder::new_multi_thread()
      .worker_threads(2)
      .thread_name("ragnos-vault")
      .enable_all()
      .build()
      .expect("the tokio runtime could not start: out of threads or memory")
  })
}

/// Returns the engine, once started and active.
pub fn engine() -> Option<Arc<Engine>> {
  STARTED.get().and_then(|(_, engine)| engine.clone())
}
