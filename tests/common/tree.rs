//! What is on disk, for proving what a command changed or left behind: a snapshot of a folder
//! tree and the temp files in a project.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::Project;

/// What a path is: a file's bytes (or why they could not be read), a folder, or a symlink's
/// target (not followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File(Result<Vec<u8>, String>),
    Dir,
    Link(PathBuf),
}

/// Every path under `dir` (relative to it, sub-folders included) and what it is.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("folder entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path)
                .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path)
                    .unwrap_or_else(|e| panic!("read link {}: {e}", path.display()));
                out.insert(rel, Entry::Link(target));
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                walk(root, &path, out);
            } else {
                out.insert(rel, Entry::File(fs::read(&path).map_err(|e| e.to_string())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The paths whose entries differ between two snapshots (added, removed or changed).
pub fn changed<'a>(
    before: &'a BTreeMap<String, Entry>,
    after: &'a BTreeMap<String, Entry>,
) -> Vec<&'a str> {
    let mut paths: Vec<&str> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths
}

impl Project {
    /// [`snapshot`] of the whole project, except the lock file, whose text is only a hint about
    /// the last holder and is rewritten by every command that takes the lock.
    pub fn snapshot(&self) -> BTreeMap<String, Entry> {
        let mut tree = snapshot(self.root());
        tree.remove("ansible/.inventory.lock");
        tree
    }

    /// Temp files (names containing `.tmp`) in `ansible/` and `ansible/inventory.d/`, as full
    /// paths: what a killed or refused write could leave behind.
    pub fn temp_files(&self) -> Vec<String> {
        let mut found = Vec::new();
        for dir in [self.root().join("ansible"), self.inventory_d()] {
            for entry in
                fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            {
                let name = entry.expect("folder entry").file_name();
                let name = name.to_string_lossy();
                if name.contains(".tmp") {
                    found.push(format!("{}/{name}", dir.display()));
                }
            }
        }
        found
    }
}
