//! Everything the user reads: diagnostics on stderr (the [`Reporter`]), progress through the
//! [`Progress`] trait (so work on several VMs can draw one coherent display), and results on
//! stdout — typed rows, of which a closed pipe (`vm … | head -1`) is a normal end.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Error;

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
            emit(&message.to_string());
        }
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, message: impl std::fmt::Display) {
        if self.verbose > 0 && !self.quiet {
            emit(&message.to_string());
        }
    }

    /// Something the user should know even with `-q`.
    pub fn warn(&self, message: impl std::fmt::Display) {
        emit(&format!("warning: {message}"));
    }

    /// A progress display for one VM: a redrawn line on a terminal, a line per phase with
    /// `-v` elsewhere, nothing with `-q`.
    pub fn progress(&self, vm: &str) -> Spinner {
        Spinner {
            vm: vm.to_string(),
            phase: String::new(),
            start: Instant::now(),
            tty: !self.quiet && std::io::stderr().is_terminal(),
            reporter: *self,
            frame: 0,
        }
    }
}

/// Progress of work on one VM: the pipeline says which phase it is in and ticks while it waits.
pub trait Progress {
    /// A new phase begins ("waiting for SSH").
    fn phase(&mut self, what: &str);
    /// Still waiting.
    fn tick(&mut self);
    /// Removes what the display drew (before a result line is printed).
    fn clear(&mut self);
}

/// One VM's progress on stderr.
pub struct Spinner {
    vm: String,
    phase: String,
    start: Instant,
    tty: bool,
    reporter: Reporter,
    frame: usize,
}

impl Progress for Spinner {
    fn phase(&mut self, what: &str) {
        self.phase = what.to_string();
        if self.tty {
            self.tick();
        } else {
            self.reporter.detail(format!("{}: {what}", self.vm));
        }
    }

    fn tick(&mut self) {
        if self.tty {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            self.frame = (self.frame + 1) % FRAMES.len();
            // A progress line that cannot be drawn is no reason to stop the work.
            let _ = write!(
                std::io::stderr(),
                "\r\x1b[2K{} {}: {} ({})",
                FRAMES[self.frame],
                self.vm,
                self.phase,
                human(self.start.elapsed())
            );
        }
    }

    fn clear(&mut self) {
        if self.tty {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Progress that shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn phase(&mut self, _: &str) {}
    fn tick(&mut self) {}
    fn clear(&mut self) {}
}

/// A duration as people read it: `850 ms`, `4.2 s`, `2 min 5 s`, `1 h 3 min`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0 => format!("{} ms", duration.as_millis()),
        1..10 => format!("{:.1} s", duration.as_secs_f64()),
        10..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Prints lines on stdout. A reader that went away (`| head -1`) ends the command quietly:
/// [`Error::ClosedPipe`], which `main` turns into a normal exit.
pub fn print_lines<I, S>(lines: I) -> Result<(), Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in lines {
        writeln!(out, "{}", line.as_ref()).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)
}

/// Prints `row` as one line of JSON on stdout.
pub fn print_json(row: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string(row)
        .map_err(|e| Error::Failed(format!("internal error: cannot print JSON: {e}")))?;
    print_lines([text])
}

fn stdout_error(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Error::ClosedPipe
    } else {
        Error::Failed(format!("cannot write to standard output: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_millis(4_240)), "4.2 s");
        assert_eq!(human(Duration::from_secs(42)), "42 s");
        assert_eq!(human(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(human(Duration::from_secs(3_780)), "1 h 3 min");
    }
}

/// Progress of several VMs at once, drawn as one display: on a terminal one line per VM with
/// its phase and elapsed time, redrawn in place; elsewhere one line per event on stderr; with
/// `--json`, one JSON line per event on stdout instead.
#[derive(Clone)]
pub struct Board {
    state: std::sync::Arc<std::sync::Mutex<BoardState>>,
    mode: BoardMode,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BoardMode {
    Terminal,
    Lines,
    Json,
    Quiet,
}

struct BoardState {
    start: Instant,
    rows: Vec<(String, String, Instant)>,
    drawn: usize,
}

/// The board drawn on the terminal now, if any: lines for stderr are printed above it.
static SHOWN: std::sync::Mutex<Option<Board>> = std::sync::Mutex::new(None);

/// Prints a diagnostic line on stderr, above the board when one is drawn.
fn emit(line: &str) {
    let shown = SHOWN.lock().ok().and_then(|b| b.clone());
    match shown {
        Some(board) => board.message(line),
        None => eprintln!("{line}"),
    }
}

/// One JSON line of `vm apply --json` progress.
#[derive(Serialize)]
struct BoardEvent<'a> {
    event: &'static str,
    vm: &'a str,
    phase: &'a str,
    seconds: f64,
}

impl Board {
    /// A board for this run's settings.
    pub fn new(reporter: Reporter, json: bool) -> Board {
        let mode = if json {
            BoardMode::Json
        } else if reporter.is_quiet() {
            BoardMode::Quiet
        } else if std::io::stderr().is_terminal() {
            BoardMode::Terminal
        } else {
            BoardMode::Lines
        };
        let board = Board {
            state: std::sync::Arc::new(std::sync::Mutex::new(BoardState {
                start: Instant::now(),
                rows: Vec::new(),
                drawn: 0,
            })),
            mode,
        };
        if mode == BoardMode::Terminal
            && let Ok(mut shown) = SHOWN.lock()
        {
            *shown = Some(board.clone());
        }
        board
    }

    /// Stops drawing: lines for stderr go there directly again; the board stays as drawn.
    pub fn finish(&self) {
        if let Ok(mut shown) = SHOWN.lock() {
            *shown = None;
        }
    }

    /// Prints `line` above the board and draws the board again below it.
    fn message(&self, line: &str) {
        let Ok(mut state) = self.state.lock() else {
            eprintln!("{line}");
            return;
        };
        let mut out = String::new();
        if state.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", state.drawn));
        }
        out.push_str(&format!("\r\x1b[J{line}\n"));
        let _ = write!(std::io::stderr(), "{out}");
        state.drawn = 0;
        Self::draw(&mut state);
    }

    /// The progress of `vm` on this board.
    pub fn vm(&self, vm: &str) -> BoardVm {
        BoardVm {
            board: self.clone(),
            vm: vm.to_string(),
        }
    }

    fn set(&self, vm: &str, phase: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        match state.rows.iter_mut().find(|(name, ..)| name == vm) {
            Some(row) => {
                row.1 = phase.to_string();
            }
            None => state.rows.push((vm.to_string(), phase.to_string(), now)),
        }
        let seconds = state.start.elapsed().as_secs_f64();
        match self.mode {
            BoardMode::Terminal => Self::draw(&mut state),
            BoardMode::Lines => eprintln!("{vm}: {phase} ({})", human(now - state.start)),
            BoardMode::Json => {
                // Progress lines that cannot be written are no reason to stop the work.
                let _ = print_json(&BoardEvent {
                    event: "phase",
                    vm,
                    phase,
                    seconds,
                });
            }
            BoardMode::Quiet => {}
        }
    }

    fn tick(&self) {
        if self.mode == BoardMode::Terminal
            && let Ok(mut state) = self.state.lock()
        {
            Self::draw(&mut state);
        }
    }

    /// Redraws every row in place: up to the first row, then each row on its own line.
    fn draw(state: &mut BoardState) {
        let mut out = String::new();
        if state.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", state.drawn));
        }
        for (vm, phase, since) in &state.rows {
            out.push_str(&format!(
                "\r\x1b[2K{vm:<20} {phase:<28} {}\n",
                human(since.elapsed())
            ));
        }
        state.drawn = state.rows.len();
        let _ = write!(std::io::stderr(), "{out}");
    }
}

/// One VM's rows on a [`Board`].
pub struct BoardVm {
    board: Board,
    vm: String,
}

impl Progress for BoardVm {
    fn phase(&mut self, what: &str) {
        self.board.set(&self.vm, what);
    }

    fn tick(&mut self) {
        self.board.tick();
    }

    fn clear(&mut self) {}
}
