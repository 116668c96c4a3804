//! Diagnostics for people, on stderr; results go to stdout through the commands.

/// How chatty to be on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    quiet: bool,
    verbose: u8,
}

impl Reporter {
    /// A reporter for `-q` / `-v` settings.
    pub fn new(quiet: bool, verbose: u8) -> Self {
        Reporter { quiet, verbose }
    }

    /// Whether `-q` was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// A progress or result line, hidden by `-q`.
    pub fn info(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, message: impl std::fmt::Display) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{message}");
        }
    }

    /// Something the user should know even with `-q`.
    pub fn warn(&self, message: impl std::fmt::Display) {
        eprintln!("warning: {message}");
    }
}
