//! The `vm` program: parse arguments, run, map the error to an exit code. Nothing else.
//!
//! Commands that need a backend run in `vm-backends`, installed next to `vm`
//! (`commands::needs_backends` says which, and why); this program replaces itself with it for
//! those. This crate does not depend on any backend library, so nothing here can load one.

use std::os::unix::process::CommandExt;

use clap::Parser;

fn main() {
    let cli = vm::cli::Cli::parse();
    if vm::commands::needs_backends(&cli.command) {
        let helper = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join("vm-backends")));
        let error = match &helper {
            Some(helper) => std::process::Command::new(helper)
                .args(std::env::args_os().skip(1))
                .exec(),
            None => std::io::Error::other("cannot locate this program"),
        };
        eprintln!(
            "error: cannot run {}: {error}; vm-backends must be installed next to vm (cargo install --path crates/vm-backends, or copy both programs)",
            helper.map_or_else(|| "vm-backends".into(), |h| h.display().to_string())
        );
        std::process::exit(1);
    }
    vm::commands::exit(vm::commands::run(
        cli,
        vm::commands::no_backends,
        vm::dns::no_dns,
    ));
}
