//! `vm-backends`: the part of `vm` that talks to hypervisors. `vm` runs the inventory-only
//! commands itself and executes this program, next to it, for the others. Same arguments, same
//! exit codes; not meant to be run by hand.

use clap::Parser;

fn main() {
    let cli = vm::cli::Cli::parse();
    vm::commands::exit(vm::commands::run(
        cli,
        vm_backends::open,
        vm_backends::open_dns,
    ));
}
