//! Logs on stderr through env_logger, at the level of `--log-level`/`LOG_LEVEL`.

use std::io::IsTerminal;

/// Starts the logger. An unknown level falls back to `warn` with a warning, so a typo
/// in a unit file never silences errors. Colour only on a terminal and never with
/// `NO_COLOR`.
pub fn init(level: &str) {
    let parsed = level.trim().parse::<log::LevelFilter>();
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut builder = env_logger::Builder::new();
    builder
        // Dependencies stay at warn whatever the level: ureq's debug and trace lines
        // print request headers, and those carry credentials.
        .filter_level(log::LevelFilter::Warn)
        .filter_module("dum", *parsed.as_ref().unwrap_or(&log::LevelFilter::Warn))
        .format_timestamp(None)
        .format_target(false)
        .write_style(if colour {
            env_logger::WriteStyle::Always
        } else {
            env_logger::WriteStyle::Never
        });
    builder.init();
    if parsed.is_err() {
        log::warn!("unknown log level {level:?}: using warn (error, warn, info, debug, trace)");
    }
}
