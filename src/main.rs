//! The `vm` binary: parse arguments, run, map the error to an exit code. Nothing else.
//!
//! Commands that need a backend run in `vm-backends`, installed next to `vm` (see
//! `commands::is_light` for why); this program replaces itself with it for those.

use std::os::unix::process::CommandExt;

use clap::Parser;

fn main() {
    let cli = vm::cli::Cli::parse();
    let result = if vm::commands::is_light(&cli.command) {
        vm::commands::run_light(cli)
    } else {
        let helper = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join("vm-backends")));
        let error = match helper {
            Some(helper) => std::process::Command::new(&helper)
                .args(std::env::args_os().skip(1))
                .exec(),
            None => std::io::Error::other("cannot locate this program"),
        };
        eprintln!("error: cannot run vm-backends next to vm: {error}; reinstall vm");
        std::process::exit(1);
    };
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
