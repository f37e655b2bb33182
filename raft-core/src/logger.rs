//! Logging: the core reports what it does through a [`Logger`] supplied in
//! the [`Config`](crate::Config). Messages are formatted only when the
//! logger's level lets them through.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Severity of a log line, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Detailed replication traces.
    Debug = 0,
    /// Role changes, elections, configuration switches.
    Info = 1,
    /// Unusual but handled situations.
    Warn = 2,
    /// Errors the core recovered from.
    Error = 3,
    /// Conditions that make the node refuse further work.
    Fatal = 4,
    /// Above every level: a logger at this level prints nothing.
    Off = 5,
}

impl Level {
    /// The upper-case name used as a line prefix (`DEBUG`, `INFO`, `WARN`,
    /// `ERROR`, `FATAL`, `NONE`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
            Level::Off => "NONE",
        }
    }

    /// The level for a number (values above `Off` saturate to `Off`).
    pub fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Debug,
            1 => Level::Info,
            2 => Level::Warn,
            3 => Level::Error,
            4 => Level::Fatal,
            _ => Level::Off,
        }
    }
}

/// A sink for the core's log lines.
pub trait Logger: Send + Sync {
    /// Whether a line at `level` would be written; the core skips formatting
    /// when this is false.
    fn enabled(&self, level: Level) -> bool;
    /// Writes one line (without a trailing newline).
    fn log(&self, level: Level, msg: fmt::Arguments<'_>);
}

/// A logger that writes `LEVEL message` lines to standard error, filtered by
/// a level that can be changed at any time.
#[derive(Debug)]
pub struct StderrLogger {
    level: AtomicU8,
}

impl StderrLogger {
    /// A logger that prints lines at `level` and above.
    pub fn new(level: Level) -> Self {
        StderrLogger {
            level: AtomicU8::new(level as u8),
        }
    }
    /// The current threshold.
    pub fn level(&self) -> Level {
        Level::from_u8(self.level.load(Ordering::Relaxed))
    }
    /// Changes the threshold.
    pub fn set_level(&self, level: Level) {
        self.level.store(level as u8, Ordering::Relaxed);
    }
}

impl Logger for StderrLogger {
    fn enabled(&self, level: Level) -> bool {
        level != Level::Off && level >= self.level()
    }
    fn log(&self, level: Level, msg: fmt::Arguments<'_>) {
        eprintln!("{} {}", level.name(), msg);
    }
}

/// A logger that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullLogger;

impl Logger for NullLogger {
    fn enabled(&self, _: Level) -> bool {
        false
    }
    fn log(&self, _: Level, _: fmt::Arguments<'_>) {}
}

/// The logger used when a [`Config`](crate::Config) names none: standard
/// error, warnings and above.
pub fn default_logger() -> Arc<dyn Logger> {
    Arc::new(StderrLogger::new(Level::Warn))
}

/// Logs through `$logger` (an `Arc<dyn Logger>` or `&dyn Logger`) at
/// `$level`, formatting only when enabled.
#[macro_export]
#[doc(hidden)]
macro_rules! raft_log {
    ($logger:expr, $level:expr, $($arg:tt)+) => {{
        let l = &$logger;
        if l.enabled($level) {
            l.log($level, format_args!($($arg)+));
        }
    }};
}
