//! The `vm` binary: parse arguments, run, map the error to an exit code. Nothing else.

use clap::Parser;

fn main() {
    let cli = vm::cli::Cli::parse();
    if let Err(error) = vm::commands::run(cli) {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
