//! Terminal progress bars behind the library's [`Progress`] calls.

use std::io::IsTerminal;

use cdn_client::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Transfers smaller than this finish before a bar is worth drawing.
const LARGE_TRANSFER: u64 = 8 * 1024 * 1024;

/// A bar that shows itself only for a large transfer of known size, and only
/// when stderr is a terminal, so scripts and logs get no escape codes.
pub struct TransferBar {
    bar: ProgressBar,
    label: String,
}

impl TransferBar {
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            bar: ProgressBar::hidden(),
            label: label.into(),
        }
    }
}

impl Progress for TransferBar {
    fn start(&self, total: Option<u64>) {
        let Some(total) = total else { return };
        if total < LARGE_TRANSFER || !std::io::stderr().is_terminal() {
            return;
        }
        let template =
            "{msg} {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}";
        // The template is fixed, so this only guards against a future
        // indicatif reading it differently: a plain bar is still a bar.
        let style =
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar.set_length(total);
        self.bar.set_message(self.label.clone());
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for TransferBar {
    /// A failed transfer never calls `finish`; clear the bar so the error
    /// message that follows starts on a clean line.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
