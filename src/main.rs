//! The `zerodown` binary: parse the command line, run it, exit with its code.

fn main() -> std::process::ExitCode {
    zerodown::cli::parse_and_run()
}
