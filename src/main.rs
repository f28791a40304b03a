//! `roster`: see the library for everything; this only wires settings, telemetry and the CLI.

use clap::Parser;

/// mimalloc rather than glibc's malloc: under many request threads glibc's arenas showed up in
/// profiles as lock contention (`docs/performance.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = roster::cli::Cli::parse();
    roster::telemetry::init(cli.settings.log_format);
    roster::cli::run(cli)
}
