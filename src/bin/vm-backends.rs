//! `vm-backends`: the part of `vm` that talks to libvirt and Terraform. `vm` runs the
//! inventory-only commands itself and executes this program, next to it, for the others, so
//! that those frequent commands do not load libvirt at every start. Same arguments, same exit
//! codes; not meant to be run by hand.

use clap::Parser;

fn main() {
    let cli = vm::cli::Cli::parse();
    if let Err(error) = vm::commands::run(cli) {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
