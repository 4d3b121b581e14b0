//! Progress bars on a terminal; nothing under cron or when stderr is redirected.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// True when a person is watching stderr.
#[must_use]
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar of `len` steps labelled `what`, or a hidden one when not interactive.
#[must_use]
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}
