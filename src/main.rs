//! `roster`: see the library for everything; this only wires settings, telemetry and the CLI.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = roster::cli::Cli::parse();
    roster::telemetry::init(cli.settings.log_format);
    roster::cli::run(cli)
}
