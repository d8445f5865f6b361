//! Tracing set-up shared by the app and `gatehoused`: human-readable lines on stderr and a daily
//! rolling file in `<data dir>/logs`. Secrets never reach a log line: they are typed (redacted
//! `Debug`, no `Display`), and the HTTP trace layer marks `Authorization` and `Cookie` as sensitive.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keep the returned guard alive for as long as the process logs; dropping it flushes the file.
pub struct LogGuard {
    _file: Option<WorkerGuard>,
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter (`info`).
/// A second call (tests that start several gateways) is a no-op.
pub fn init(data_dir: &Path, file_prefix: &str) -> LogGuard {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let log_dir = crate::config::log_dir(data_dir);
    let file = std::fs::create_dir_all(&log_dir).ok().and_then(|()| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix(file_prefix)
            .filename_suffix("log")
            .max_log_files(14)
            .build(&log_dir)
            .ok()
    });
    let (file_layer, guard) = match file {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer);
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let stderr_layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    LogGuard { _file: guard }
}
