//! Builds `ansible/inventory.ini` from `ansible/inventory.d/`: collect the fragments in Ansible's
//! directory order, parse them into one inventory with Ansible's rules, render it normalized,
//! prove the rendering reads back identically, and replace the old file atomically.
//!
//! The caller holds the inventory lock (see `lock.rs`) around [`merge`]; the functions here never
//! take it themselves, so a command can change a fragment and merge under one lock.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::fsutil::{self, Replace};

use super::ini::{Values, parse_source, parse_source_with, py_strip, splitlines};
use super::model::Inventory;
use super::render::{Provenance, render};

/// Name of the merged file inside `ansible/`.
pub const MERGED_FILE: &str = "inventory.ini";
/// Name of the fragment folder inside `ansible/`.
pub const FRAGMENT_DIR: &str = "inventory.d";
/// Mode of the merged file: Ansible and whoever runs playbooks read it; it holds no secrets.
const MERGED_MODE: u32 = 0o644;

/// How deep sub-folders are followed; Ansible has no bound and loops on a symlink cycle.
const MAX_DEPTH: usize = 32;

/// One fragment file found in the fragment folder.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path relative to the fragment folder, `/`-separated, for messages and comments.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
}

/// A fragment Ansible would refuse (or that cannot be read), with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentError {
    /// The fragment's full path.
    pub path: PathBuf,
    /// The line, when the problem is on one.
    pub line: Option<usize>,
    /// Ansible's message, or ours for problems Ansible does not have.
    pub message: String,
}

impl std::fmt::Display for FragmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Everything that can stop a merge.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// One or more fragments are invalid; nothing was replaced.
    #[error("{} invalid inventory fragment(s); {} left unchanged:\n{}", .errors.len(), .merged.display(), list(.errors))]
    Invalid {
        /// Every problem found, in fragment order.
        errors: Vec<FragmentError>,
        /// The merged file that was kept.
        merged: PathBuf,
    },
    /// The fragment folder does not exist.
    #[error(
        "no fragment folder at {0}; create it, or add a host with `vm inventory add NAME ADDRESS`"
    )]
    NoFragmentDir(PathBuf),
    /// Reading the folder or writing the merged file failed.
    #[error("{action} {path}: {source}; check that the folder exists and is writable by you")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The real `ansible-inventory` refused the new file or read it differently.
    #[error(transparent)]
    Ansible(#[from] super::ansible::AnsibleCheckError),
    /// The rendered file did not read back as the same inventory: a bug in `vm`, never shipped.
    #[error(
        "internal error: the merged inventory would not read back as the fragments ({0}); {1} left unchanged, please report this"
    )]
    Roundtrip(String, PathBuf),
}

fn list(errors: &[FragmentError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fragments, parsed and merged, ready to write.
#[derive(Debug)]
pub struct Merged {
    /// The reconciled inventory.
    pub inventory: Inventory,
    /// The fragments in the order they were read.
    pub sources: Vec<Source>,
    /// The normalized INI text.
    pub text: String,
}

/// Lists the fragments of `dir` in Ansible's order: entries sorted by bytes, sub-folders
/// recursed at their sorted place, Ansible's ignored names skipped, and only `*.ini` files kept.
pub fn collect(dir: &Path) -> Result<Vec<Source>, MergeError> {
    collect_all(dir).map(|(sources, _)| sources)
}

/// Like [`collect`], and also the files that are not fragments (not `*.ini`) but that Ansible,
/// given the folder, would try to read as inventories.
pub fn collect_all(dir: &Path) -> Result<(Vec<Source>, Vec<PathBuf>), MergeError> {
    if !dir.is_dir() {
        return Err(MergeError::NoFragmentDir(dir.to_path_buf()));
    }
    let mut sources = Vec::new();
    let mut others = Vec::new();
    walk(dir, "", 0, &mut sources, &mut others)?;
    Ok((sources, others))
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<Source>,
    others: &mut Vec<PathBuf>,
) -> Result<(), MergeError> {
    let io = |source| MergeError::Io {
        action: "cannot read the folder",
        path: dir.to_path_buf(),
        source,
    };
    if depth > MAX_DEPTH {
        return Err(io(std::io::Error::other(
            "sub-folders nested too deep (a symlink loop?)",
        )));
    }
    let mut entries: Vec<(std::ffi::OsString, fs::DirEntry)> = fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| (e.file_name(), e)))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    for (name, entry) in entries {
        let text = name.to_string_lossy();
        if is_ignored(&text) {
            continue;
        }
        let path = entry.path();
        let rel = format!("{prefix}{text}");
        // The entry's own type costs no system call; only symlinks need a stat to follow them,
        // as Ansible's os.path.isdir does.
        let is_dir = match entry.file_type() {
            Ok(t) if t.is_symlink() => path.is_dir(),
            Ok(t) => t.is_dir(),
            Err(_) => path.is_dir(),
        };
        if is_dir {
            walk(&path, &format!("{rel}/"), depth + 1, out, others)?;
        } else if text.ends_with(".ini") {
            out.push(Source { name: rel, path });
        } else {
            others.push(path);
        }
    }
    Ok(())
}

/// Ansible's `IGNORED` pattern for directory entries (ansible-core 2.19 defaults).
pub fn is_ignored(name: &str) -> bool {
    const ENDINGS: &[&str] = &[
        ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg",
        ".retry",
    ];
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || ENDINGS.iter().any(|e| name.ends_with(e))
}

/// Reads and parses every source into one inventory. Returns every problem, not just the first.
pub fn parse_all(sources: &[Source]) -> Result<Inventory, Vec<FragmentError>> {
    let mut inventory = Inventory::new();
    let mut errors = Vec::new();
    let mut parse_one = |index: usize, bytes: Result<&[u8], &std::io::Error>| {
        let fail = |line, message: String| FragmentError {
            path: sources[index].path.clone(),
            line,
            message,
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(e) => return errors.push(fail(None, format!("cannot read: {e}"))),
        };
        if is_vault_encrypted(bytes) {
            return errors.push(fail(None, VAULT_REFUSAL.to_string()));
        }
        let text = match decode(bytes) {
            Ok(text) => text,
            Err(line) => {
                return errors.push(fail(
                    Some(line),
                    "bytes that are not UTF-8 outside a comment; Ansible would read them as \
                     escaped surrogates and print '?' for them. Save the file as UTF-8"
                        .to_string(),
                ));
            }
        };
        if let Err(e) = parse_source(&mut inventory, index, &text) {
            errors.push(fail(Some(e.line), e.message));
        }
    };
    read_in_order(sources, |first, (buffer, ranges)| {
        for (offset, range) in ranges.iter().enumerate() {
            let bytes = range.as_ref().map(|r| &buffer[r.clone()]);
            parse_one(first + offset, bytes);
        }
    });
    if let Err((e, at)) = inventory.reconcile() {
        errors.push(FragmentError {
            path: at
                .and_then(|o| sources.get(o.source))
                .or(sources.first())
                .map_or_else(PathBuf::new, |s| s.path.clone()),
            line: at.map(|o| o.line),
            message: e.to_string(),
        });
    }
    if errors.is_empty() {
        Ok(inventory)
    } else {
        Err(errors)
    }
}

/// Why a vault-encrypted fragment is refused, and where its secrets go instead.
pub const VAULT_REFUSAL: &str = "ansible-vault encrypted fragments cannot be merged; put secrets \
     in vault-encrypted group_vars/ or host_vars/ files (or `!vault` values there) and keep the \
     fragment plain";

/// Whether Ansible would take a fragment for ansible-vault data and try to decrypt it instead of
/// parsing it. Without the vault password it then refuses the whole folder; with it, the merged
/// `inventory.ini` (plain, written for everyone to read) would hold the secrets in clear. Either
/// way the merge refuses it.
///
/// ansible-core 2.19's exact rule: the INI plugin reads a source through
/// `DataLoader._get_file_contents`, whose `_decrypt_if_vault_data` asks
/// `ansible.parsing.vault.is_encrypted(whole file)`: the whole file must decode as strict ASCII
/// (one byte >= 0x80 anywhere, even in a comment, and it is not vault data), and its bytes must
/// start with `$ANSIBLE_VAULT`, case-sensitive, at byte 0: a BOM (not ASCII), a space or a blank
/// line before it make it a plain fragment, and nothing after the marker is checked (a bare
/// `$ANSIBLE_VAULTxyz` is "vaulted", and fails to decrypt). `tests/corpus/*vault*` pins each of
/// these against the real ansible-core.
pub fn is_vault_encrypted(bytes: &[u8]) -> bool {
    bytes.starts_with(b"$ANSIBLE_VAULT") && bytes.is_ascii()
}

/// Decodes a fragment as Ansible does, minus what cannot be written back: bytes that are not
/// UTF-8 are fine on comment and blank lines (Ansible skips those lines), and refused anywhere
/// else with the 1-based line number.
fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, usize> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    // Rebuild the text with U+FFFD for each bad sequence, remembering where they went.
    let mut text = String::with_capacity(bytes.len() + 16);
    let mut bad_at = Vec::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            bad_at.push(text.len());
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    let mut offset = 0;
    for (index, line) in splitlines(&text).enumerate() {
        let start = line.as_ptr() as usize - text.as_ptr() as usize;
        let end = start + line.len();
        if bad_at[offset..].iter().any(|&at| at >= start && at < end) {
            let stripped = py_strip(line);
            if !(stripped.is_empty() || stripped.starts_with('#') || stripped.starts_with(';')) {
                return Err(index + 1);
            }
        }
        while offset < bad_at.len() && bad_at[offset] < end {
            offset += 1;
        }
    }
    Ok(std::borrow::Cow::Owned(text))
}

/// The contents of the sources of one reader: one buffer, each file a range of it, so that
/// thousands of small fragments cost a few allocations instead of one each.
type Chunk = (Vec<u8>, Vec<std::io::Result<std::ops::Range<usize>>>);

fn read_chunk(part: &[Source]) -> Chunk {
    let mut buffer = Vec::with_capacity(part.len() * 256);
    let ranges = part
        .iter()
        .map(|source| {
            let start = buffer.len();
            append_file(&source.path, &mut buffer)
                .map(|()| start..buffer.len())
                .inspect_err(|_| buffer.truncate(start))
        })
        .collect();
    (buffer, ranges)
}

/// Appends a file's bytes to `buffer` with plain reads: no size query first, since fragments
/// are small and the query is one more system call per file.
fn append_file(path: &Path, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    let mut block = [0u8; 8192];
    loop {
        match file.read(&mut block) {
            Ok(0) => return Ok(()),
            Ok(n) => buffer.extend_from_slice(&block[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// How many fragments one reader reads at a time.
const CHUNK: usize = 256;

/// Reads every source and hands them to `consume` in order, a chunk at a time (with the index of
/// its first source). Reader threads, one per core, read ahead while `consume` works: for
/// thousands of small fragments the system calls dominate, and they overlap with parsing.
fn read_in_order(sources: &[Source], mut consume: impl FnMut(usize, Chunk)) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunks: Vec<&[Source]> = sources.chunks(CHUNK).collect();
    if threads < 2 || chunks.len() < 2 {
        for (i, part) in chunks.iter().enumerate() {
            consume(i * CHUNK, read_chunk(part));
        }
        return;
    }
    std::thread::scope(|scope| {
        let chunks = &chunks;
        // Reader `w` reads chunks w, w + threads, …; a bounded channel each keeps memory flat.
        let receivers: Vec<_> = (0..threads)
            .map(|w| {
                let (sender, receiver) = std::sync::mpsc::sync_channel(4);
                scope.spawn(move || {
                    for i in (w..chunks.len()).step_by(threads) {
                        if sender.send(read_chunk(chunks[i])).is_err() {
                            return;
                        }
                    }
                });
                receiver
            })
            .collect();
        for i in 0..chunks.len() {
            match receivers[i % threads].recv() {
                Ok(chunk) => consume(i * CHUNK, chunk),
                // Only if a reader panicked, which the scope then reports.
                Err(_) => return,
            }
        }
    });
}

/// The fragments of `fragment_dir` and the inventory Ansible reads from them (nothing is
/// rendered or written; `merged_path` only names the file an error keeps).
pub fn read(
    fragment_dir: &Path,
    merged_path: &Path,
) -> Result<(Vec<Source>, Inventory), MergeError> {
    let sources = collect(fragment_dir)?;
    let inventory = parse_all(&sources).map_err(|errors| MergeError::Invalid {
        errors,
        merged: merged_path.to_path_buf(),
    })?;
    Ok((sources, inventory))
}

/// Collects, parses and renders the fragments of `fragment_dir`. [`merge`] also proves that the
/// rendered text reads back as the same inventory before writing it.
pub fn build(fragment_dir: &Path, merged_path: &Path) -> Result<Merged, MergeError> {
    let (sources, inventory) = read(fragment_dir, merged_path)?;
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let text = render(
        &inventory,
        &Provenance {
            folder: &display_folder(fragment_dir),
            sources: &names,
        },
    );
    Ok(Merged {
        inventory,
        sources,
        text,
    })
}

fn display_folder(dir: &Path) -> String {
    let mut parts: Vec<String> = dir
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.reverse();
    parts.join("/")
}

/// Parses `text` as Ansible would read the merged file and compares the two inventories:
/// groups, memberships, children and every variable, hidden ones included.
fn verify_roundtrip(inventory: &Inventory, text: &str) -> Result<(), String> {
    let mut again = Inventory::new();
    parse_source_with(&mut again, 0, text, Values::TextOnly)
        .map_err(|e| format!("line {}: {}", e.line, e.message))?;
    again.reconcile().map_err(|(e, _)| e.to_string())?;
    let difference = inventory.difference(&again);
    // Freeing thousands of small allocations takes milliseconds the merge need not wait for.
    std::thread::spawn(move || drop(again));
    match difference {
        None => Ok(()),
        Some(difference) => Err(difference),
    }
}

/// Replaces `path` with `text` (mode 0644) through [`fsutil::replace_checked`]: a reader sees the
/// old file or the new one, never a mix. Leftover temp files of killed merges are removed first;
/// the caller holds the lock, so none of them is being written. `before_rename` sees the complete
/// temp file and may refuse it (the temp file is then removed).
pub fn write_atomically(
    path: &Path,
    text: &[u8],
    before_rename: impl FnOnce(&Path) -> Result<(), MergeError>,
) -> Result<(), MergeError> {
    remove_stale_temps(path);
    fsutil::replace_checked(path, text, MERGED_MODE, before_rename).map_err(|e| match e {
        Replace::Refused(e) => e,
        Replace::Io(source) => MergeError::Io {
            action: "cannot write",
            path: path.to_path_buf(),
            source,
        },
    })
}

/// Removes the temp files killed commands left: those of the merged file `merged_path`
/// ([`fsutil::temp_path`] names them `.<file>.tmp.<pid>`, whatever the pid), and those of
/// fragments in the `inventory.d` next to it.
fn remove_stale_temps(merged_path: &Path) {
    let dir = merged_path.parent().unwrap_or(Path::new("."));
    let prefix = temp_prefix(merged_path);
    remove_matching(dir, |name| name.starts_with(&prefix));
    // Fragments are written the same way, then renamed; a command killed in between leaves one.
    // Nobody writes them without the lock the caller holds.
    remove_matching(&dir.join(FRAGMENT_DIR), |name| {
        name.starts_with('.') && name.contains(".ini.tmp.")
    });
}

/// `.<file>.tmp.`: what every temp file of `path` starts with, whichever process wrote it.
fn temp_prefix(path: &Path) -> String {
    let temp = fsutil::temp_path(path);
    let name = temp
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let pid = std::process::id().to_string();
    name.strip_suffix(&pid).unwrap_or(&name).to_string()
}

fn remove_matching(dir: &Path, matches: impl Fn(&str) -> bool) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if matches(&entry.file_name().to_string_lossy()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Builds and writes the merged inventory; returns what was written. `validate` sees the
/// complete temp file before the rename and may refuse it. An unchanged file is not rewritten
/// (`validate` then sees the file itself).
pub fn merge(
    fragment_dir: &Path,
    merged_path: &Path,
    validate: impl FnOnce(&Merged, &Path) -> Result<(), MergeError>,
) -> Result<Merged, MergeError> {
    let merged = build(fragment_dir, merged_path)?;
    let unchanged = fs::read(merged_path).is_ok_and(|old| old == merged.text.as_bytes());
    if unchanged {
        remove_stale_temps(merged_path);
        // Nothing to replace, but a second opinion asked for is still given, on the file itself.
        validate(&merged, merged_path)?;
        return Ok(merged);
    }
    // The round-trip proof runs on another core while the temp file is written and synced;
    // the rename waits for both.
    std::thread::scope(|scope| {
        let proof = scope.spawn(|| verify_roundtrip(&merged.inventory, &merged.text));
        write_atomically(merged_path, merged.text.as_bytes(), |temp| {
            proof
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map_err(|why| MergeError::Roundtrip(why, merged_path.to_path_buf()))?;
            validate(&merged, temp)
        })
    })?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temp_files_of_any_process_are_recognised_by_their_prefix() {
        let merged = Path::new("/p/ansible/inventory.ini");
        assert_eq!(temp_prefix(merged), ".inventory.ini.tmp.");
        assert!(
            fsutil::temp_path(merged)
                .to_string_lossy()
                .ends_with(&format!("/.inventory.ini.tmp.{}", std::process::id()))
        );
    }

    #[test]
    fn the_merged_file_is_written_0644_and_a_refusal_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let merged = dir.path().join(MERGED_FILE);
        write_atomically(&merged, b"[web]\n", |_| Ok(())).unwrap();
        let mode = fs::metadata(&merged).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let refused = write_atomically(&merged, b"[db]\n", |_| {
            Err(MergeError::Roundtrip("no".into(), merged.clone()))
        });
        assert!(matches!(refused, Err(MergeError::Roundtrip(..))));
        assert_eq!(fs::read(&merged).unwrap(), b"[web]\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn vault_data_is_what_ansible_would_try_to_decrypt() {
        let vaulted: [&[u8]; 4] = [
            b"$ANSIBLE_VAULT;1.1;AES256\n6162\n",
            b"$ANSIBLE_VAULT;1.2;AES256;prod\r\n6162\r\n",
            b"$ANSIBLE_VAULT",
            b"$ANSIBLE_VAULTnot-an-envelope\n[web]\nweb-1\n",
        ];
        for bytes in vaulted {
            assert!(
                is_vault_encrypted(bytes),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let plain: [&[u8]; 6] = [
            b"\xef\xbb\xbf$ANSIBLE_VAULT;1.1;AES256\n6162\n",
            b" $ANSIBLE_VAULT;1.1;AES256\n6162\n",
            b"\n$ANSIBLE_VAULT;1.1;AES256\n6162\n",
            b"$ansible_vault;1.1;AES256\n6162\n",
            b"$ANSIBLE_VAULT;1.1;AES256\n6162\n# caf\xc3\xa9\n",
            b"[web]\n$ANSIBLE_VAULT;1.1;AES256\n",
        ];
        for bytes in plain {
            assert!(
                !is_vault_encrypted(bytes),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
