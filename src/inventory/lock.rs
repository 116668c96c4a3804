//! The one lock that guards every read-modify-write of fragments and of the merged inventory:
//! an advisory `flock` on `ansible/.inventory.lock`, held for as long as the guard lives.
//!
//! The holder writes its pid and command line into the file so that a waiter can say who it is
//! waiting for. The lock dies with its process (even under SIGKILL), so there is never a stale
//! lock to clean up; the text left behind is only a hint and is overwritten by the next holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// File name of the lock inside the `ansible/` folder.
pub const LOCK_FILE: &str = ".inventory.lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process held it for the whole wait.
    #[error(
        "timed out after {waited:?} waiting for the inventory lock {path}, held by {holder}; \
         wait for it to finish, or raise --lock-timeout"
    )]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote about itself.
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The lock file could not be opened or locked at all.
    #[error(
        "cannot use the inventory lock {path}: {source}; check that the folder exists and is writable"
    )]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A held inventory lock; dropping it releases the lock.
#[derive(Debug)]
pub struct InventoryLock {
    file: File,
}

impl InventoryLock {
    /// Takes the lock in `ansible_dir`, waiting at most `timeout`. `on_wait` is called once, with
    /// the holder's description, when the lock is busy, so the caller can tell the user.
    pub fn acquire(
        ansible_dir: &Path,
        timeout: Duration,
        command: &str,
        on_wait: impl FnMut(&str),
    ) -> Result<InventoryLock, LockError> {
        match Self::acquire_unless(ansible_dir, timeout, command, on_wait, || false)? {
            Some(lock) => Ok(lock),
            // Unreachable: without a condition the wait ends only with the lock.
            None => Err(LockError::Io {
                path: ansible_dir.join(LOCK_FILE),
                source: std::io::Error::other(
                    "internal error: the lock wait ended without the lock",
                ),
            }),
        }
    }

    /// [`InventoryLock::acquire`], giving up the wait (`Ok(None)`) as soon as `done` holds:
    /// a writer whose change another writer's merge already took needs no lock at all.
    pub fn acquire_unless(
        ansible_dir: &Path,
        timeout: Duration,
        command: &str,
        mut on_wait: impl FnMut(&str),
        done: impl Fn() -> bool,
    ) -> Result<Option<InventoryLock>, LockError> {
        let path = ansible_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut file = match file.try_lock() {
            Ok(()) => file,
            Err(TryLockError::WouldBlock) => {
                on_wait(&holder(&mut file));
                match wait_for(file, &path, timeout, done)? {
                    Some(file) => file,
                    None => return Ok(None),
                }
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        };
        let note = format!("pid {} {}\n", std::process::id(), command);
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(note.as_bytes()))
            .map_err(io)?;
        Ok(Some(InventoryLock { file }))
    }

    /// Gives the lock back (also done on drop).
    pub fn release(self) {
        drop(self.file);
    }
}

/// How often a waiter blocked on the lock asks whether it still needs it.
const DONE_CHECK: Duration = Duration::from_millis(20);

/// Blocks for the lock on `file` (a thread waits in `flock`, so the lock is taken the moment it is
/// free, without polling), asking `done` every [`DONE_CHECK`] meanwhile. `Ok(None)` when `done`
/// holds first. A thread still waiting when this gives up releases the lock as soon as it gets
/// it: nobody takes the file back from it.
fn wait_for(
    file: File,
    path: &Path,
    timeout: Duration,
    done: impl Fn() -> bool,
) -> Result<Option<File>, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    let start = Instant::now();
    if done() {
        return Ok(None);
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("inventory-lock".into())
        .spawn(move || {
            let locked = file.lock().map(|()| file);
            // Sending fails only when the waiter gave up; the file (and the lock) then goes.
            let _ = sender.send(locked);
        })
        .map_err(io)?;
    loop {
        let waited = start.elapsed();
        if waited >= timeout {
            let holder = File::open(path).map_or_else(
                |_| "another process".to_string(),
                |mut file| holder(&mut file),
            );
            return Err(LockError::Timeout {
                path: path.to_path_buf(),
                holder,
                waited,
            });
        }
        match receiver.recv_timeout(DONE_CHECK.min(timeout - waited)) {
            Ok(Ok(file)) => return Ok(Some(file)),
            Ok(Err(e)) => return Err(io(e)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if done() {
                    return Ok(None);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io(std::io::Error::other(
                    "internal error: the thread waiting for the lock ended without it",
                )));
            }
        }
    }
}

/// The holder's self-description, or a neutral text when it wrote none yet.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(512).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "another process".to_string()
    } else {
        text.to_string()
    }
}
