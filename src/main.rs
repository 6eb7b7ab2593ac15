//! The `zerodown` binary: parse the command line, run it, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    zerodown::cli::run(zerodown::cli::Cli::parse())
}
