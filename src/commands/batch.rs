//! Group commit of fragment changes: many `vm inventory add/remove` at once cost about one merge.
//!
//! A writer stages its change in `ansible/.pending/` (a file written atomically), then waits for
//! the inventory lock. Whoever holds the lock leads: it applies every staged change it finds to
//! the fragment folder, merges once, and writes each writer's result next to its change. A
//! writer that gets the lock and finds its result there is done, without merging. A staged
//! fragment the merge refuses is put back as it was and only its writer gets the refusal (exit
//! 3); the others' changes are merged. The invariants stay: `inventory.ini` is replaced
//! atomically and means what the fragments mean; each writer's exit status says whether its own
//! change is in the `inventory.ini` it leaves; a writer killed at any point leaves either its
//! staged change (applied by the next leader) or nothing.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Context;
use crate::error::Error;
use crate::fsutil;
use crate::inventory::fragment::Marker;
use crate::inventory::merge::MergeError;
use crate::project::Validate;

/// Folder of staged changes, in `ansible/`.
pub const PENDING_DIR: &str = ".pending";

/// A staged change, as written to its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Staged {
    /// The fragment's file name.
    fragment: String,
    /// The new text; `None` removes the fragment.
    text: Option<String>,
    /// Validation asked for.
    validate: Validate,
}

/// What the leader says to a writer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Outcome {
    /// Exit code: 0 when the change is in the merged inventory.
    code: i32,
    /// Why not, otherwise.
    message: String,
    /// Whether the fragment existed before the change.
    existed: bool,
    /// The merged inventory's counts.
    counts: Counts,
}

/// What a merged inventory holds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Fragments read.
    pub fragments: usize,
    /// Hosts.
    pub hosts: usize,
    /// Groups besides `all` and `ungrouped`.
    pub groups: usize,
}

/// A committed change.
#[derive(Debug, Clone, Copy)]
pub struct Committed {
    /// Whether the fragment existed before.
    pub existed: bool,
    /// The merged inventory that holds the change.
    pub counts: Counts,
    /// Whether this writer's own merge wrote it (else another writer's did).
    pub merged_here: bool,
}

/// Stages `text` (or the removal, `None`) for fragment `file_name`, and returns once it is in
/// `inventory.ini`, or refused.
pub fn commit(
    context: &Context,
    file_name: &str,
    text: Option<&str>,
    validate: Validate,
) -> Result<Committed, Error> {
    let pending = context.settings.project.ansible_dir().join(PENDING_DIR);
    let result = stage_and_wait(context, &pending, file_name, text, validate);
    // An empty staging folder goes; one still in use by other writers stays (removing a
    // non-empty folder fails, which is the point).
    let _ = fs::remove_dir(&pending);
    result
}

fn stage_and_wait(
    context: &Context,
    pending: &Path,
    file_name: &str,
    text: Option<&str>,
    validate: Validate,
) -> Result<Committed, Error> {
    let fragment = context.settings.project.fragment_dir().join(file_name);
    fs::create_dir_all(pending).map_err(|e| {
        Error::Failed(format!(
            "cannot change {}: cannot create {}: {e}; check that the folder is writable by you",
            fragment.display(),
            pending.display()
        ))
    })?;
    let id = format!(
        "{:020}-{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
        std::process::id(),
        file_name
    );
    let staged_path = pending.join(format!("{id}.json"));
    let staged = Staged {
        fragment: file_name.to_string(),
        text: text.map(str::to_string),
        validate,
    };
    let json = serde_json::to_vec(&staged)
        .map_err(|e| Error::Failed(format!("internal error: cannot stage a change: {e}")))?;
    fsutil::replace(&staged_path, &json, 0o600)
        .map_err(|e| Error::Failed(format!("cannot write {}: {e}", staged_path.display())))?;
    // While waiting, the result may come from another writer's merge: then no lock is needed.
    let result = staged_path.with_extension("result");
    let lock = match context.lock_unless(|| result.exists()) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return match take_result(&staged_path) {
                Some(outcome) => into_result(outcome, false),
                None => Err(Error::Failed(format!(
                    "internal error: the result of {} vanished",
                    staged_path.display()
                ))),
            };
        }
        Err(e) => {
            // Not staged any more: nobody will apply it. A leader may have taken it meanwhile;
            // then its result says so.
            return match take_result(&staged_path) {
                Some(outcome) => into_result(outcome, false),
                None => {
                    remove_quietly(&staged_path);
                    Err(e)
                }
            };
        }
    };
    if let Some(outcome) = take_result(&staged_path) {
        drop(lock);
        return into_result(outcome, false);
    }
    lead(context, pending);
    drop(lock);
    match take_result(&staged_path) {
        Some(outcome) => into_result(outcome, true),
        None => Err(Error::Failed(format!(
            "internal error: the change staged in {} got no result",
            staged_path.display()
        ))),
    }
}

fn into_result(outcome: Outcome, merged_here: bool) -> Result<Committed, Error> {
    match outcome.code {
        0 => Ok(Committed {
            existed: outcome.existed,
            counts: outcome.counts,
            merged_here,
        }),
        3 => Err(Error::Refused(outcome.message)),
        _ => Err(Error::Failed(outcome.message)),
    }
}

/// The result the leader wrote for a staged change, if any; the change and its result go.
fn take_result(staged: &Path) -> Option<Outcome> {
    let result = staged.with_extension("result");
    let outcome = fs::read(&result)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if outcome.is_some() {
        // The change first, its result last: a leader that finds the change without a result
        // takes it for unapplied, so the change must never outlive its result. (A writer takes
        // its result without the lock, while a leader may be listing the folder.)
        remove_quietly(staged);
        remove_quietly(&staged.with_extension("previous"));
        remove_quietly(&result);
    }
    outcome
}

/// Removes a file of the staging folder; one already gone is fine, and one that cannot be
/// removed is only a leftover the next leader ignores (its result exists) or cleans.
fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("warning: cannot remove {}: {e}", path.display());
    }
}

/// One change being applied: where, what was there, what to say.
struct Applied {
    staged_path: PathBuf,
    fragment: PathBuf,
    previous: Option<String>,
    outcome: Option<Outcome>,
}

/// Under the lock: applies every staged change without a result, merges once, writes results.
fn lead(context: &Context, pending: &Path) {
    let dir = context.settings.project.fragment_dir();
    let mut entries: Vec<PathBuf> = fs::read_dir(pending)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    let mut batch = Vec::new();
    let mut validate = context.settings.validate;
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        if path.with_extension("result").exists() {
            // Answered; its writer reads and removes it, unless it was killed meanwhile.
            if !writer_alive(&path) {
                for leftover in [
                    path.with_extension("result"),
                    path.with_extension("previous"),
                ] {
                    remove_quietly(&leftover);
                }
                remove_quietly(&path);
            }
            continue;
        }
        let Some(staged) = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Staged>(&b).ok())
        else {
            continue;
        };
        if staged.validate == Validate::Ansible {
            validate = Validate::Ansible;
        } else if staged.validate == Validate::Internal && validate == Validate::Auto {
            validate = Validate::Internal;
        }
        batch.push(apply(&dir, path, staged));
    }
    if batch.is_empty() {
        return;
    }
    // Journals and fragments were written without a sync each: one sync of the file system
    // makes the whole batch durable before the merge replaces inventory.ini.
    if let Err(e) = fsutil::sync_filesystem(&dir) {
        let error = Error::Failed(format!("cannot sync {}: {e}", dir.display()));
        fail_all(context, &mut batch, &error);
    }
    let counts = loop {
        if batch.iter().all(|a| a.outcome.is_some()) {
            break Counts::default();
        }
        match context.merge_locked(Some(validate)) {
            Ok(merged) => {
                let counts = Counts {
                    fragments: merged.sources.len(),
                    hosts: merged.inventory.hosts.len(),
                    groups: merged.inventory.groups.len() - 2,
                };
                // The process may end right after; freeing thousands of hosts is wasted time.
                std::mem::forget(merged);
                break counts;
            }
            Err(Error::Merge(MergeError::Invalid { errors, merged })) => {
                let mut blamed = false;
                for applied in batch.iter_mut().filter(|a| a.outcome.is_none()) {
                    let own: Vec<String> = errors
                        .iter()
                        .filter(|e| e.path == applied.fragment)
                        .map(ToString::to_string)
                        .collect();
                    if !own.is_empty() {
                        blamed = true;
                        undo(context, applied);
                        applied.outcome = Some(refusal(
                            3,
                            format!(
                                "{} invalid inventory fragment(s); {} left unchanged:\n  {}",
                                own.len(),
                                merged.display(),
                                own.join("\n  ")
                            ),
                        ));
                    }
                }
                if !blamed {
                    // The folder is invalid for a reason none of these changes brings.
                    let error = Error::Merge(MergeError::Invalid { errors, merged });
                    fail_all(context, &mut batch, &error);
                    break Counts::default();
                }
            }
            Err(error) => {
                fail_all(context, &mut batch, &error);
                break Counts::default();
            }
        }
    };
    let refused = batch.iter().filter(|a| a.outcome.is_some()).count();
    context.settings.reporter.detail(format!(
        "merged {} staged change(s) at once ({refused} refused)",
        batch.len()
    ));
    for applied in &mut batch {
        let outcome = applied.outcome.take().unwrap_or(Outcome {
            code: 0,
            message: String::new(),
            existed: applied.previous.is_some(),
            counts,
        });
        if !writer_alive(&applied.staged_path) {
            // Its writer was killed: nobody will read the result; the change itself is done
            // (merged, or undone).
            remove_quietly(&applied.staged_path.with_extension("previous"));
            remove_quietly(&applied.staged_path);
            continue;
        }
        let json = serde_json::to_vec(&outcome).unwrap_or_default();
        let result = applied.staged_path.with_extension("result");
        if let Err(e) = fsutil::replace_unsynced(&result, &json, 0o600) {
            eprintln!(
                "warning: cannot write {}: {e}; its writer will merge again",
                result.display()
            );
        }
    }
}

/// Whether the writer that staged `path` (`<time>-<pid>-<fragment>.json`) still runs.
fn writer_alive(path: &Path) -> bool {
    let pid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('-').nth(1))
        .and_then(|p| p.parse::<u32>().ok());
    pid.is_none_or(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// Applies one staged change to the fragment folder, unless the fragment there is one `vm`
/// did not write (or, for a removal, is not there).
fn apply(dir: &Path, staged_path: PathBuf, staged: Staged) -> Applied {
    let fragment = dir.join(&staged.fragment);
    let mut applied = Applied {
        staged_path,
        previous: None,
        outcome: None,
        fragment: fragment.clone(),
    };
    let name = staged.fragment.trim_end_matches(".ini");
    // What the fragment was before this change, kept next to it first: a leader killed after
    // changing the fragment leaves it, so the next leader still knows what to put back.
    let journal = applied.staged_path.with_extension("previous");
    if let Some(previous) = fs::read(&journal)
        .ok()
        .and_then(|b| serde_json::from_slice::<Option<String>>(&b).ok())
    {
        applied.previous = previous;
        return write_change(applied, &staged, name);
    }
    match fs::read_to_string(&fragment) {
        Ok(text) if Marker::parse(&text).is_none() => {
            applied.outcome = Some(refusal(
                1,
                format!(
                    "{} was not written by vm (no marker line), so vm will not change it; edit \
                     or delete it yourself, or pick another name than {name}",
                    fragment.display()
                ),
            ));
            return applied;
        }
        Ok(text) => applied.previous = Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            applied.outcome = Some(refusal(
                1,
                format!("cannot read {}: {e}", fragment.display()),
            ));
            return applied;
        }
    }
    let json = serde_json::to_vec(&applied.previous).unwrap_or_default();
    if let Err(e) = fsutil::replace_unsynced(&journal, &json, 0o600) {
        applied.outcome = Some(refusal(
            1,
            format!("cannot write {}: {e}", journal.display()),
        ));
        return applied;
    }
    write_change(applied, &staged, name)
}

/// Writes (or removes) the fragment as the staged change says.
fn write_change(mut applied: Applied, staged: &Staged, name: &str) -> Applied {
    let fragment = applied.fragment.clone();
    let written = match &staged.text {
        Some(text) => fsutil::replace_unsynced(&fragment, text.as_bytes(), 0o644)
            .map_err(|e| format!("cannot write {}: {e}", fragment.display())),
        None if applied.previous.is_none() && !fragment.exists() => Err(format!(
            "no fragment for {name} at {}; `vm inventory list` shows the hosts there are",
            fragment.display()
        )),
        None => match fs::remove_file(&fragment) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!(
                "cannot delete {}: {e}; check that its folder is writable by you",
                fragment.display()
            )),
            _ => Ok(()),
        },
    };
    if let Err(message) = written {
        applied.outcome = Some(refusal(1, message));
    }
    applied
}

fn refusal(code: i32, message: String) -> Outcome {
    Outcome {
        code,
        message,
        existed: false,
        counts: Counts::default(),
    }
}

/// Puts a fragment back as it was before its change.
fn undo(context: &Context, applied: &Applied) {
    super::restore_fragment(context, &applied.fragment, applied.previous.as_deref());
}

/// Every change of the batch undone, each writer told `error`.
fn fail_all(context: &Context, batch: &mut [Applied], error: &Error) {
    for applied in batch.iter_mut().filter(|a| a.outcome.is_none()) {
        undo(context, applied);
        applied.outcome = Some(refusal(error.exit_code(), error.to_string()));
    }
}
