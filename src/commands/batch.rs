//! Group commit of fragment changes: many `vm inventory add/remove` at once cost about one merge.
//!
//! A writer stages its change in `ansible/.pending/`: the fragment's new text as a file
//! (`<id>.add`, written atomically, mode 0644) or an empty `<id>.remove`, the id naming the
//! writer's pid, the validation it asked for and the fragment. Then it waits for the inventory
//! lock. Whoever holds the lock leads: it gathers the changes staged while others keep arriving,
//! journals the batch (each fragment's previous text and its new one, one file), moves each
//! staged text into place with a rename, merges once, and answers every writer at once: one
//! outcomes file, hard-linked as `<id>.result` for each writer. A writer whose result appears
//! while it waits is done without merging. A staged fragment the merge refuses is put back as it
//! was and only its writer gets the refusal (exit 3); the others' changes are merged.
//!
//! Why these files: creating a file is what costs most here (ext4 looks for a free inode, and
//! without a journal skips the recently deleted ones), so a change costs one new file, its
//! staged text, which becomes the fragment; a batch adds two, its journal and its outcomes.
//!
//! The invariants stay: `inventory.ini` is replaced atomically and means what the fragments
//! mean; each writer's exit status says whether its own change is in the `inventory.ini` it
//! leaves; a writer killed at any point leaves its staged change (applied by the next leader) or
//! nothing; a leader killed at any point leaves a journal, from which the next leader puts the
//! fragments back and stages the changes again, or finishes answering a batch already merged.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use super::Context;
use crate::error::Error;
use crate::fsutil;
use crate::inventory::fragment::{FRAGMENT_MODE, Marker};
use crate::inventory::merge::MergeError;
use crate::project::Validate;

/// Folder of staged changes, in `ansible/`.
pub const PENDING_DIR: &str = ".pending";

/// A staged change's kind, the extension of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    /// `<id>.add`: the fragment's new text.
    Add,
    /// `<id>.remove`: empty; the fragment goes.
    Remove,
    /// `<id>.gone`: empty; the fragment of a destroyed VM goes, and stays gone even when the
    /// merge fails (its VM is not there to come back to).
    Gone,
}

impl Kind {
    fn extension(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Remove => "remove",
            Kind::Gone => "gone",
        }
    }

    /// The kind of a staged change's file; `None` for any other file, hidden temp files
    /// included.
    fn of(path: &Path) -> Option<Kind> {
        if path.file_name()?.as_encoded_bytes().starts_with(b".") {
            return None;
        }
        match path.extension()?.to_str()? {
            "add" => Some(Kind::Add),
            "remove" => Some(Kind::Remove),
            "gone" => Some(Kind::Gone),
            _ => None,
        }
    }
}

/// What a staged change's id says: `<time>-<pid>-<validate>-<fragment file name>`.
#[derive(Debug, Clone)]
struct Id {
    /// The whole id, the file name without its extension.
    text: String,
    /// The writer's process.
    pid: u32,
    validate: Validate,
    /// The fragment's file name in the fragment folder.
    fragment: String,
}

/// Nanoseconds since 1970, the first part of the names this module gives: they sort in time.
fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

impl Id {
    fn new(validate: Validate, fragment: &str) -> Id {
        let pid = std::process::id();
        let word = validate
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        Id {
            text: format!("{:020}-{pid}-{word}-{fragment}", now_nanos()),
            pid,
            validate,
            fragment: fragment.to_string(),
        }
    }

    /// The id of a staged or result file, if its name is one.
    fn parse(path: &Path) -> Option<Id> {
        Id::from_text(path.file_stem()?.to_str()?)
    }

    /// The id `text`, if it is one.
    fn from_text(text: &str) -> Option<Id> {
        let mut parts = text.splitn(4, '-');
        let (_time, pid, validate, fragment) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let validate = Validate::from_str(validate, false).ok()?;
        // A plain `*.ini` name: nothing that could lead out of the fragment folder.
        if !fragment.ends_with(".ini") || fragment.starts_with('.') || fragment.contains('/') {
            return None;
        }
        Some(Id {
            text: text.to_string(),
            pid: pid.parse().ok()?,
            validate,
            fragment: fragment.to_string(),
        })
    }

    fn file(&self, pending: &Path, extension: &str) -> PathBuf {
        pending.join(format!("{}.{extension}", self.text))
    }
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

/// A change to one fragment.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// The fragment's new text.
    Write(&'a str),
    /// The fragment goes; put back if the merge refuses.
    Remove,
    /// The fragment of a destroyed VM goes, and stays gone even if the merge refuses.
    RemoveDestroyed,
}

/// Stages `request` for fragment `file_name`, and returns once it is in `inventory.ini`, or
/// refused.
pub fn commit(
    context: &Context,
    file_name: &str,
    request: Request<'_>,
    validate: Validate,
) -> Result<Committed, Error> {
    let pending = context.settings.project.ansible_dir().join(PENDING_DIR);
    let result = stage_and_wait(context, &pending, file_name, request, validate);
    // An empty staging folder goes; one still in use by other writers stays (removing a
    // non-empty folder fails, which is the point).
    let _ = fs::remove_dir(&pending);
    result
}

fn stage_and_wait(
    context: &Context,
    pending: &Path,
    file_name: &str,
    request: Request<'_>,
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
    let id = Id::new(validate, file_name);
    let (kind, text) = match request {
        Request::Write(text) => (Kind::Add, text),
        Request::Remove => (Kind::Remove, ""),
        Request::RemoveDestroyed => (Kind::Gone, ""),
    };
    let staged = id.file(pending, kind.extension());
    // Not synced: until a leader applies it nobody was told it is done, so a machine that dies
    // first may lose it; the leader syncs the file system before its merge makes it count.
    let bytes = text.as_bytes();
    let mut written = fsutil::replace_unsynced(&staged, bytes, FRAGMENT_MODE);
    for _ in 0..3 {
        // Another writer, done, may have removed the folder while it looked empty.
        match written {
            Err(ref e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = fs::create_dir_all(pending);
                written = fsutil::replace_unsynced(&staged, bytes, FRAGMENT_MODE);
            }
            _ => break,
        }
    }
    written.map_err(|e| Error::Failed(format!("cannot write {}: {e}", staged.display())))?;
    // While waiting, the result may come from another writer's merge: then no lock is needed.
    let result = id.file(pending, "result");
    let lock = match context.lock_unless(|| result.exists()) {
        Ok(Some(lock)) => lock,
        Ok(None) => return take_result(&id, pending, false),
        Err(e) => return withdraw(context, &id, pending, &staged, e),
    };
    if result.exists() {
        drop(lock);
        return take_result(&id, pending, false);
    }
    lead(context, pending);
    drop(lock);
    take_result(&id, pending, true)
}

/// The wait for the lock failed (`error`): the change is withdrawn, unless a leader has already
/// taken it, whose answer is then awaited.
fn withdraw(
    context: &Context,
    id: &Id,
    pending: &Path,
    staged: &Path,
    error: Error,
) -> Result<Committed, Error> {
    match fs::remove_file(staged) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        _ => return Err(error),
    }
    // Gone: a leader moved it into place and is merging it. It answers before it lets go of the
    // lock (or, killed, leaves a journal the next leader acts on).
    let result = id.file(pending, "result");
    match context.lock_unless(|| result.exists()) {
        Ok(lock) => {
            drop(lock);
            take_result(id, pending, false)
        }
        Err(_) => Err(error),
    }
}

/// The answer the leader linked as `<id>.result`, which then goes.
fn take_result(id: &Id, pending: &Path, merged_here: bool) -> Result<Committed, Error> {
    let result = id.file(pending, "result");
    let outcomes = fs::read(&result)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<BTreeMap<String, Outcome>>(&bytes).ok());
    remove_quietly(&result);
    let Some(outcome) = outcomes.and_then(|mut o| o.remove(&id.text)) else {
        return Err(Error::Failed(format!(
            "internal error: the change staged in {} as {} got no result",
            pending.display(),
            id.text
        )));
    };
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

/// Removes a file of the staging folder; one already gone is fine, and one that cannot be
/// removed is only a leftover the next leader cleans.
fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("warning: cannot remove {}: {e}", path.display());
    }
}

/// How long a leader that finds other writers' changes staged waits for the stream of changes
/// to pause before it merges: commands started together arrive over a spread of milliseconds,
/// and a merge of a big inventory started among them runs slowly (it shares the processors with
/// them) and leaves the rest for a second merge.
const GATHER_QUIET: Duration = Duration::from_millis(15);

/// How long a leader whose change is the only one staged waits for a second one.
const GATHER_LONE: Duration = Duration::from_millis(5);

/// The longest a leader gathers changes, however steadily they keep arriving.
const GATHER_MAX: Duration = Duration::from_millis(500);

/// Under the lock: waits until no new change has arrived for [`GATHER_QUIET`] ([`GATHER_LONE`]
/// while the leader's own change is the only one), at most [`GATHER_MAX`], so that one merge
/// takes the writers started together instead of the few that staged first.
fn gather(pending: &Path) {
    let arrivals = |seen: &mut HashSet<std::ffi::OsString>| -> usize {
        fs::read_dir(pending).map_or(0, |d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|n| Kind::of(Path::new(n)).is_some())
                .filter(|n| seen.insert(n.clone()))
                .count()
        })
    };
    let mut seen = HashSet::new();
    let start = Instant::now();
    let mut last_arrival = start;
    let mut window = if arrivals(&mut seen) < 2 {
        GATHER_LONE
    } else {
        GATHER_QUIET
    };
    while start.elapsed() < GATHER_MAX && last_arrival.elapsed() < window {
        std::thread::sleep(Duration::from_millis(2));
        if arrivals(&mut seen) > 0 {
            last_arrival = Instant::now();
            window = GATHER_QUIET;
        }
    }
}

/// One change of a batch, as journalled.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Change {
    /// The staged change's id.
    id: String,
    kind: Kind,
    /// The fragment's file name.
    fragment: String,
    /// Its text before the batch; `None` when there was none.
    previous: Option<String>,
    /// The new text (`None` for a removal).
    text: Option<String>,
}

/// A change being applied, and what to tell its writer.
struct Applied {
    change: Change,
    pid: u32,
    path: PathBuf,
    /// Whether the fragment folder holds the change (else there is nothing to undo).
    done: bool,
    outcome: Option<Outcome>,
}

/// Under the lock: recovers what a killed leader left, gathers, applies every staged change,
/// merges once, answers every writer.
fn lead(context: &Context, pending: &Path) {
    let dir = context.settings.project.fragment_dir();
    recover(context, pending, &dir);
    gather(pending);
    let mut staged: Vec<PathBuf> = fs::read_dir(pending)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    staged.sort();
    let mut batch: Vec<Applied> = Vec::new();
    let mut earlier = std::collections::HashMap::new();
    let mut validate = context.settings.validate;
    for path in staged {
        let (Some(kind), Some(id)) = (Kind::of(&path), Id::parse(&path)) else {
            clean_leftover(&path);
            continue;
        };
        if id.validate == Validate::Ansible {
            validate = Validate::Ansible;
        } else if id.validate == Validate::Internal && validate == Validate::Auto {
            validate = Validate::Internal;
        }
        let applied = prepare(&dir, &path, kind, id, &earlier);
        if applied.outcome.is_none() {
            earlier.insert(applied.change.fragment.clone(), applied.change.text.clone());
        }
        batch.push(applied);
    }
    if batch.is_empty() {
        return;
    }
    let journal = pending.join(format!(
        "batch-{:020}-{}.journal",
        now_nanos(),
        std::process::id()
    ));
    let changes: Vec<&Change> = batch
        .iter()
        .filter(|a| a.outcome.is_none())
        .map(|a| &a.change)
        .collect();
    let journalled = serde_json::to_vec(&changes)
        .map_err(std::io::Error::other)
        .and_then(|json| fsutil::replace_unsynced(&journal, &json, 0o600));
    match journalled {
        Ok(()) => {
            for applied in &mut batch {
                apply(pending, applied);
            }
        }
        Err(e) => {
            let error = Error::Failed(format!("cannot write {}: {e}", journal.display()));
            fail_all(context, &mut batch, &error);
        }
    }
    // Journal and fragments were written without a sync each: one sync of the file system
    // makes the whole batch durable before the merge replaces inventory.ini.
    if let Err(e) = fsutil::sync_filesystem(&dir) {
        let error = Error::Failed(format!("cannot sync {}: {e}", dir.display()));
        fail_all(context, &mut batch, &error);
    }
    let counts = merge_batch(context, &mut batch, validate);
    let refused = batch
        .iter()
        .filter(|a| a.outcome.as_ref().is_some_and(|o| o.code != 0))
        .count();
    context.settings.reporter.detail(format!(
        "merged {} staged change(s) at once ({refused} refused)",
        batch.len()
    ));
    let outcomes: BTreeMap<String, Outcome> = batch
        .iter_mut()
        .map(|a| {
            let outcome = a.outcome.take().unwrap_or(Outcome {
                code: 0,
                message: String::new(),
                existed: a.change.previous.is_some(),
                counts,
            });
            (a.change.id.clone(), outcome)
        })
        .collect();
    let writers: Vec<(String, u32)> = batch.iter().map(|a| (a.change.id.clone(), a.pid)).collect();
    answer(pending, &journal, &outcomes, &writers);
}

/// Reads what a staged change will replace; refuses it (outcome set) when the fragment there is
/// one `vm` did not write, or, for a removal, is not there.
/// `earlier` holds what the batch's earlier changes leave of a fragment (`None`: removed): a
/// second change of one fragment in a batch replaces the first, as it would one after the other.
fn prepare(
    dir: &Path,
    staged: &Path,
    kind: Kind,
    id: Id,
    earlier: &std::collections::HashMap<String, Option<String>>,
) -> Applied {
    let path = dir.join(&id.fragment);
    let name = id.fragment.trim_end_matches(".ini").to_string();
    let mut applied = Applied {
        change: Change {
            id: id.text,
            kind,
            fragment: id.fragment,
            previous: None,
            text: None,
        },
        pid: id.pid,
        path,
        done: false,
        outcome: None,
    };
    if kind == Kind::Add {
        match fs::read_to_string(staged) {
            Ok(text) => applied.change.text = Some(text),
            Err(e) => {
                applied.outcome =
                    Some(refusal(1, format!("cannot read {}: {e}", staged.display())));
                return applied;
            }
        }
    }
    let current = match earlier.get(&applied.change.fragment) {
        Some(Some(text)) => Ok(text.clone()),
        Some(None) => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
        None => fs::read_to_string(&applied.path),
    };
    match current {
        Ok(text) if Marker::parse(&text).is_none() => {
            applied.outcome = Some(refusal(
                1,
                format!(
                    "{} was not written by vm (no marker line), so vm will not change it; edit \
                     or delete it yourself, or pick another name than {name}",
                    applied.path.display()
                ),
            ));
        }
        Ok(text) => applied.change.previous = Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if kind != Kind::Add {
                applied.outcome = Some(refusal(
                    1,
                    format!(
                        "no fragment for {name} at {}; `vm inventory list` shows the hosts there are",
                        applied.path.display()
                    ),
                ));
            }
        }
        Err(e) => {
            applied.outcome = Some(refusal(
                1,
                format!("cannot read {}: {e}", applied.path.display()),
            ));
        }
    }
    applied
}

/// Puts one journalled change in place: the staged text renamed over the fragment (written
/// instead when the two folders are on different file systems), or the fragment removed.
fn apply(pending: &Path, applied: &mut Applied) {
    if applied.outcome.is_some() {
        return;
    }
    let path = &applied.path;
    let written = match applied.change.kind {
        Kind::Add => {
            let staged = pending.join(format!("{}.add", applied.change.id));
            match fs::rename(&staged, path) {
                Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                    let text = applied.change.text.as_deref().unwrap_or_default();
                    fsutil::replace_unsynced(path, text.as_bytes(), FRAGMENT_MODE)
                        .inspect(|()| remove_quietly(&staged))
                }
                other => other,
            }
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        // The marker is taken first, as a text is by its rename: a writer that gave up waiting
        // and finds its staged change gone knows a leader has it.
        Kind::Remove | Kind::Gone => {
            let kind = applied.change.kind.extension();
            match fs::remove_file(pending.join(format!("{}.{kind}", applied.change.id))) {
                Err(e) => Err(format!(
                    "the staged removal is gone ({e}): its writer withdrew it"
                )),
                Ok(()) => match fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!(
                        "cannot delete {}: {e}; check that its folder is writable by you",
                        path.display()
                    )),
                    _ => Ok(()),
                },
            }
        }
    };
    match written {
        Ok(()) => applied.done = true,
        Err(message) => applied.outcome = Some(refusal(1, message)),
    }
}

/// Merges the applied batch; a change the merge blames is undone and refused alone, and the
/// merge runs again without it. The counts of the inventory that holds the rest.
fn merge_batch(context: &Context, batch: &mut [Applied], validate: Validate) -> Counts {
    loop {
        if batch.iter().all(|a| a.outcome.is_some()) {
            return Counts::default();
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
                return counts;
            }
            Err(Error::Merge(MergeError::Invalid { errors, merged })) => {
                let mut blamed = false;
                // Newest first, and only the newest change of a fragment: the text on disk is
                // its; once it is undone, the next merge judges the text it puts back.
                let mut judged = HashSet::new();
                for applied in batch.iter_mut().rev().filter(|a| a.outcome.is_none()) {
                    if !judged.insert(applied.path.clone()) {
                        continue;
                    }
                    let own: Vec<String> = errors
                        .iter()
                        .filter(|e| e.path == applied.path)
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
                    fail_all(context, batch, &error);
                    return Counts::default();
                }
            }
            Err(error) => {
                fail_all(context, batch, &error);
                return Counts::default();
            }
        }
    }
}

/// Answers the batch: the outcomes written once and linked as each live writer's
/// `<id>.result`; then what is left of the staged changes, the journal and the outcomes' own
/// name go. Written before anything is linked, the outcomes mark the batch as merged: a leader
/// killed meanwhile leaves them, and the next one finishes here.
fn answer(
    pending: &Path,
    journal: &Path,
    outcomes: &BTreeMap<String, Outcome>,
    writers: &[(String, u32)],
) {
    let all = journal.with_extension("outcomes");
    let json = serde_json::to_vec(outcomes).unwrap_or_default();
    if let Err(e) = fsutil::replace_unsynced(&all, &json, 0o600) {
        eprintln!(
            "warning: cannot write {}: {e}; the writers of this batch will report an error \
             though their changes are merged",
            all.display()
        );
    }
    finish(pending, journal, writers);
}

/// The end of [`answer`], also run for a batch a killed leader merged and answered in part.
fn finish(pending: &Path, journal: &Path, writers: &[(String, u32)]) {
    let all = journal.with_extension("outcomes");
    for (id, pid) in writers {
        // The staged change first, its result last: a leader that found the change without a
        // result would take it for unapplied.
        for kind in [Kind::Add, Kind::Remove, Kind::Gone] {
            remove_quietly(&pending.join(format!("{id}.{}", kind.extension())));
        }
        let result = pending.join(format!("{id}.result"));
        if !alive(*pid) || result.exists() {
            continue;
        }
        if let Err(e) = fs::hard_link(&all, &result) {
            eprintln!(
                "warning: cannot link {} as {}: {e}; its writer will report an error",
                all.display(),
                result.display()
            );
        }
    }
    remove_quietly(journal);
    remove_quietly(&all);
}

/// Under the lock, for `vm inventory merge`: changes left staged (their writers were killed
/// before any leader took them) are applied and merged as the next writer would; the folder goes
/// when nothing else is left in it.
pub fn apply_staged(context: &Context) {
    let pending = context.settings.project.ansible_dir().join(PENDING_DIR);
    let staged = fs::read_dir(&pending)
        .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| Kind::of(&e.path()).is_some())));
    if staged {
        lead(context, &pending);
    }
    let _ = fs::remove_dir(&pending);
}

/// Under the lock, for commands that merge by themselves: what a killed leader left, dealt with
/// as [`recover`] does.
pub fn recover_left(context: &Context) {
    let pending = context.settings.project.ansible_dir().join(PENDING_DIR);
    if pending.is_dir() {
        recover(context, &pending, &context.settings.project.fragment_dir());
    }
}

/// What a killed leader left: a batch it merged and answered (its outcomes exist) is finished;
/// one it did not get that far with is undone from its journal, its changes staged again.
fn recover(context: &Context, pending: &Path, dir: &Path) {
    let journals: Vec<PathBuf> = fs::read_dir(pending)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "journal"))
                .collect()
        })
        .unwrap_or_default();
    for journal in journals {
        let Some(changes) = fs::read(&journal)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<Change>>(&b).ok())
        else {
            // Killed while writing it: a journal is renamed into place whole, so this is a
            // leftover of another kind; nothing was applied after a journal that is not there.
            remove_quietly(&journal);
            continue;
        };
        let writers: Vec<(String, u32)> = changes
            .iter()
            .map(|c| {
                let pid = Id::from_text(&c.id).map_or(0, |id| id.pid);
                (c.id.clone(), pid)
            })
            .collect();
        if journal.with_extension("outcomes").exists() {
            finish(pending, &journal, &writers);
            continue;
        }
        // Newest first: a fragment changed twice in the batch gets back what it held before.
        for change in changes.iter().rev() {
            let path = dir.join(&change.fragment);
            super::restore_fragment(context, &path, change.previous.as_deref());
            let staged = pending.join(format!("{}.{}", change.id, change.kind.extension()));
            if !staged.exists() {
                let text = change.text.as_deref().unwrap_or_default();
                if let Err(e) = fsutil::replace_unsynced(&staged, text.as_bytes(), FRAGMENT_MODE) {
                    context.settings.reporter.warn(format!(
                        "cannot stage {} again in {}: {e}; its change is lost",
                        change.fragment,
                        staged.display()
                    ));
                }
            }
        }
        remove_quietly(&journal);
    }
}

/// Removes a file of the staging folder that is no staged change, once nobody uses it: a result
/// whose writer is gone, a temp file of a killed writer, outcomes without their journal, a
/// change in an older format whose writer is gone.
fn clean_leftover(path: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pid = if name.starts_with('.') {
        // `.<staged>.tmp.<pid>`
        name.rsplit('.').next().and_then(|p| p.parse().ok())
    } else if name.ends_with(".outcomes") {
        Some(0)
    } else {
        // `<time>-<pid>-…`: results of writers gone, and what an older `vm` staged (`.json`,
        // `.previous`, `.result` of the format before this one) once its writer is gone.
        let mut parts = name.splitn(3, '-');
        match (parts.next(), parts.next()) {
            (Some(time), Some(pid))
                if time.len() == 20 && time.bytes().all(|b| b.is_ascii_digit()) =>
            {
                pid.parse().ok()
            }
            _ => None,
        }
    };
    if pid.is_some_and(|pid| !alive(pid)) {
        remove_quietly(path);
    }
}

/// Whether process `pid` still runs (0: none).
fn alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

fn refusal(code: i32, message: String) -> Outcome {
    Outcome {
        code,
        message,
        existed: false,
        counts: Counts::default(),
    }
}

/// Puts a fragment back as it was before its change (a destroyed VM's stays gone).
fn undo(context: &Context, applied: &mut Applied) {
    if applied.done && applied.change.kind != Kind::Gone {
        super::restore_fragment(context, &applied.path, applied.change.previous.as_deref());
        applied.done = false;
    }
}

/// Every change of the batch undone, each writer told `error`.
fn fail_all(context: &Context, batch: &mut [Applied], error: &Error) {
    // Newest first: a fragment changed twice gets back what it held before the batch.
    for applied in batch.iter_mut().rev().filter(|a| a.outcome.is_none()) {
        undo(context, applied);
        applied.outcome = Some(refusal(error.exit_code(), error.to_string()));
    }
}
