//! Logging to stderr through `tracing`. stdout belongs to the program: an
//! MCP stdio server speaks JSON-RPC there, and one stray byte breaks it.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, Layer, Registry};

/// Changes the level once the settings, config file included, are known.
static RELOAD: once_cell::sync::OnceCell<reload::Handle<Targets, Registry>> =
  once_cell::sync::OnceCell::new();

/// Formats each event as one line: `ragnos-vault: warn: message`.
struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
  S: Subscriber + for<'a> LookupSpan<'a>,
  N: for<'a> FormatFields<'a> + 'static,
{
  fn format_event(
    &self,
    ctx: &FmtContext<'_, S, N>,
    mut writer: Writer<'_>,
    event: &Event<'_>,
  ) -> fmt::Result {
    let level = match *event.metadata().level() {
      Level::ERROR => "error",
      Level::WARN => "warn",
      Level::INFO => "info",
      Level::DEBUG => "debug",
      Level::TRACE => "trace",
    };
    write!(writer, "ragnos-vault: {level}: ")?;
    if let Some(scope) = ctx.event_scope() {
      for span in scope.from_root() {
        write!(writer, "{}: ", span.name())?;
      }
    }
    ctx.field_format().format_fields(writer.by_ref(), event)?;
    writeln!(writer)
  }
}

/// Installs the process-wide subscriber at `level`, read from
/// `RAGNOS_VAULT_LOG` alone so that errors in the other settings are
/// reported at the level the user asked for.
pub fn init(level: &str) {
  let (filter, handle) = reload::Layer::new(targets(level));
  let layer = tracing_subscriber::fmt::layer()
    .with_writer(std::io::stderr)
    .with_ansi(false)
    .event_format(LineFormat)
    .with_filter(filter);
  let subscriber = tracing_subscriber::registry().with(layer);
  // A second install fails when the host already set a global subscriber;
  // the preloader then logs through that one, which is the host's choice.
  if tracing::subscriber::set_global_default(subscriber).is_ok() {
    let _ = RELOAD.set(handle);
  }
}

/// Applies the level from the full settings, which may come from the
/// config file.
pub fn set_level(level: &str) {
  if let Some(handle) = RELOAD.get() {
    let _ = handle.reload(targets(level));
  }
}

/// The preloader's own events follow the level; those of the HTTP and
/// Vault client libraries appear only at trace, since they repeat what the
/// preloader reports.
fn targets(level: &str) -> Targets {
  let own = parse_level(level);
  let libraries = if own == LevelFilter::TRACE {
    LevelFilter::TRACE
  } else {
    LevelFilter::OFF
  };
  Targets::new()
    .with_target(env!("CARGO_CRATE_NAME"), own)
    .with_default(libraries)
}

fn parse_level(level: &str) -> LevelFilter {
  match level {
    "off" => LevelFilter::OFF,
    "error" => LevelFilter::ERROR,
    "info" => LevelFilter::INFO,
    "debug" => LevelFilter::DEBUG,
    "trace" => LevelFilter::TRACE,
    _ => LevelFilter::WARN,
  }
}
