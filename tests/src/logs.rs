//! Log lines, collected while a test runs, to assert what was logged and how often.
//!
//! ```
//! let logs = guard_tests::logs::Logs::default();
//! let _capture = logs.capture(tracing::Level::INFO);
//! tracing::warn!(cause = "example", "something to see");
//! assert!(logs.text().contains("WARN") && logs.text().contains("cause=\"example\""));
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// What was logged, shared by its clones.
#[derive(Clone, Default, Debug)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Collects every event at `level` or above on this thread until the returned guard is
    /// dropped (plain text, no colours; each line has the level and the target).
    pub fn capture(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(level)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// How many lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}
