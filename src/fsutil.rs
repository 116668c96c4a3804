//! The two file-system chores every part of the tool shares: replacing a file so that no reader
//! ever sees half of it, and finding a program on `PATH`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why [`replace_checked`] did not replace the file.
#[derive(Debug)]
pub enum Replace<E> {
    /// Writing, syncing or renaming failed.
    Io(std::io::Error),
    /// The check refused the complete temp file.
    Refused(E),
}

/// The hidden temp file `path` is written through: `.<file name>.tmp.<pid>` in the same folder
/// (hidden, so neither Ansible nor the merge reads it; same folder, so the rename is atomic).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

/// Replaces `path` with `bytes` so that a reader sees the old file or the new one, never a mix:
/// temp file in the same folder created with `mode`, fsync, rename, fsync of the folder (so the
/// rename survives a crash). The temp file is removed on failure.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    replace_checked(
        path,
        bytes,
        mode,
        |_| Ok::<(), std::convert::Infallible>(()),
    )
    .map_err(|e| match e {
        Replace::Io(e) => e,
        Replace::Refused(never) => match never {},
    })
}

/// [`replace`], with `check` shown the complete, synced temp file before the rename; when it
/// refuses, nothing is replaced.
pub fn replace_checked<E>(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    check: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), Replace<E>> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temp = temp_path(path);
    let written = write_temp(&temp, bytes, mode, true);
    let result = written
        .map_err(Replace::Io)
        .and_then(|()| check(&temp).map_err(Replace::Refused))
        .and_then(|()| fs::rename(&temp, path).map_err(Replace::Io))
        .and_then(|()| {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(Replace::Io)
        });
    if result.is_err() {
        // Best effort: the rename may have consumed it already.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// [`replace`] without the syncs: a reader still sees the old file or the new one (a process
/// killed at any point leaves one or the other), but a power loss may lose the change until
/// [`sync_filesystem`] runs. For many small files made durable at once.
pub fn replace_unsynced(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let temp = temp_path(path);
    let written = write_temp(&temp, bytes, mode, false).and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        // Best effort: the rename may have consumed it already.
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Writes `bytes` into `temp` with exactly `mode` (the umask may have narrowed it), synced
/// when `sync`.
fn write_temp(temp: &Path, bytes: &[u8], mode: u32, sync: bool) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(temp)?;
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    if sync { file.sync_all() } else { Ok(()) }
}

/// Makes everything written on `dir`'s file system durable, with one `syncfs`: cheaper than a
/// sync per file when a batch wrote many.
pub fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    unsafe extern "C" {
        fn syncfs(fd: std::ffi::c_int) -> std::ffi::c_int;
    }
    let folder = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `folder` keeps open for the call.
    if unsafe { syncfs(folder.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Percent-encoding of one value, `encodeURIComponent` style: everything but ASCII letters,
/// digits and `-_.!~*'()` becomes `%XX`. The result has no white space, so it fits a marker
/// line or a URL.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The program `name` would run: itself when it names a path (contains `/`), else the first
/// executable file called `name` in a folder of `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let executable = |file: &Path| {
        file.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let path = PathBuf::from(name);
        return executable(&path).then_some(path);
    }
    if name.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|file| executable(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_writes_the_mode_asked_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret.json");
        replace(&file, b"one", 0o600).unwrap();
        replace(&file, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_refused_check_keeps_the_old_file_and_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inventory.ini");
        fs::write(&file, "old").unwrap();
        let refused = replace_checked(&file, b"new", 0o644, |temp| {
            assert_eq!(fs::read(temp).unwrap(), b"new");
            Err("no")
        });
        assert!(matches!(refused, Err(Replace::Refused("no"))));
        assert_eq!(fs::read_to_string(&file).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn programs_are_found_on_path_or_by_their_path() {
        assert!(find_program("sh").is_some());
        assert_eq!(find_program("/bin/sh"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(find_program("/nonexistent/sh"), None);
        assert_eq!(find_program("no-such-program-vm-test"), None);
        assert_eq!(find_program(""), None);
    }
}
