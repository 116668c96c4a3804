//! Whether the QEMU process can reach a file. libvirt hands each disk, kernel and initrd to the
//! user QEMU runs as (dynamic ownership) but never touches the folders above them, so a pool
//! under a home folder or a 0700 temporary folder failed only when the domain started, after
//! everything was made: "Cannot access storage file … (as uid:64055, gid:64055): Permission
//! denied". This finds it first, with the kernel's own rule for entering a folder: the owner,
//! group or other search bit, or the folder's POSIX ACL when it has one.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Who QEMU runs as: the user and group of libvirt's DAC label, and the supplementary groups
/// libvirt gives the process (the user's groups, as `getgrouplist` lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// The user's name, when the uid has one on this machine.
    pub name: Option<String>,
    /// Every group the process has: `gid` and the supplementary ones.
    pub groups: Vec<u32>,
}

impl Identity {
    /// From a DAC label: `+64055:+64055` (numbers) or `libvirt-qemu:kvm` (names).
    pub fn from_label(label: &str) -> Result<Identity, String> {
        let (user, group) = label
            .split_once(':')
            .ok_or_else(|| format!("unexpected DAC label {label:?}"))?;
        let uid = match user.strip_prefix('+') {
            Some(number) => number
                .parse()
                .map_err(|_| format!("bad uid in {label:?}"))?,
            None => uid_of(user).ok_or_else(|| format!("no user {user:?} on this machine"))?,
        };
        let gid = match group.strip_prefix('+') {
            Some(number) => number
                .parse()
                .map_err(|_| format!("bad gid in {label:?}"))?,
            None => gid_of(group).ok_or_else(|| format!("no group {group:?} on this machine"))?,
        };
        let name = user_name(uid);
        let groups = match &name {
            Some(name) => group_list(name, gid),
            None => vec![gid],
        };
        Ok(Identity {
            uid,
            gid,
            name,
            groups,
        })
    }

    /// `libvirt-qemu (uid:gid 64055:64055)`.
    pub fn describe(&self) -> String {
        let ids = format!("uid:gid {}:{}", self.uid, self.gid);
        match &self.name {
            Some(name) => format!("{name} ({ids})"),
            None => ids,
        }
    }
}

/// What decides whether a folder may be entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    /// The access ACL's entries, when the folder has one.
    pub acl: Option<Vec<AclEntry>>,
}

/// One entry of a POSIX access ACL, as Linux stores it in `system.posix_acl_access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclEntry {
    pub tag: u16,
    pub perm: u16,
    pub id: u32,
}

const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;
const ACL_EXECUTE: u16 = 0x01;

impl Folder {
    /// Whether `who` may search (enter) this folder.
    pub fn searchable_by(&self, who: &Identity) -> bool {
        match &self.acl {
            Some(acl) => acl_allows(acl, self.uid, self.gid, who),
            None if self.uid == who.uid => self.mode & 0o100 != 0,
            None if who.groups.contains(&self.gid) => self.mode & 0o010 != 0,
            None => self.mode & 0o001 != 0,
        }
    }

    /// `drwx------ 0:0`, for messages.
    pub fn describe(&self) -> String {
        let bits: String = (0..9)
            .map(|i| {
                let on = self.mode & (0o400 >> i) != 0;
                match (on, i % 3) {
                    (false, _) => '-',
                    (true, 0) => 'r',
                    (true, 1) => 'w',
                    (true, _) => 'x',
                }
            })
            .collect();
        let acl = if self.acl.is_some() { "+" } else { "" };
        let owner = user_name(self.uid).unwrap_or_else(|| self.uid.to_string());
        format!("d{bits}{acl} owner {owner}")
    }
}

/// POSIX.1e access check for the execute (search) bit: the owner entry, else a named user
/// entry, else the group entries (any matching one that grants), else other; named and group
/// entries are limited by the mask.
fn acl_allows(acl: &[AclEntry], owner: u32, group: u32, who: &Identity) -> bool {
    let mask = acl
        .iter()
        .find(|e| e.tag == ACL_MASK)
        .map_or(0xffff, |e| e.perm);
    let grants = |e: &AclEntry, masked: bool| {
        let perm = if masked { e.perm & mask } else { e.perm };
        perm & ACL_EXECUTE != 0
    };
    if who.uid == owner {
        return acl
            .iter()
            .find(|e| e.tag == ACL_USER_OBJ)
            .is_some_and(|e| grants(e, false));
    }
    if let Some(entry) = acl.iter().find(|e| e.tag == ACL_USER && e.id == who.uid) {
        return grants(entry, true);
    }
    let groups: Vec<&AclEntry> = acl
        .iter()
        .filter(|e| {
            (e.tag == ACL_GROUP_OBJ && who.groups.contains(&group))
                || (e.tag == ACL_GROUP && who.groups.contains(&e.id))
        })
        .collect();
    if !groups.is_empty() {
        return groups.iter().any(|e| grants(e, true));
    }
    acl.iter()
        .find(|e| e.tag == ACL_OTHER)
        .is_some_and(|e| grants(e, false))
}

/// Parses the value of `system.posix_acl_access`: a version 2 header, then 8-byte entries.
pub fn parse_acl(bytes: &[u8]) -> Option<Vec<AclEntry>> {
    let (header, rest) = bytes.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*header) != 2 || rest.len() % 8 != 0 {
        return None;
    }
    Some(
        rest.chunks_exact(8)
            .map(|c| AclEntry {
                tag: u16::from_le_bytes([c[0], c[1]]),
                perm: u16::from_le_bytes([c[2], c[3]]),
                id: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

/// The folders `who` must be able to enter for QEMU to open something in `folder`, that it
/// cannot enter: `folder` and each one above it, as given and as the symbolic links resolve.
/// A folder that cannot be read is taken as passable: the check must never refuse what would
/// work.
pub fn blocked(folder: &Path, who: &Identity) -> Vec<(PathBuf, Folder)> {
    let mut chains = vec![folder.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(folder)
        && real != folder
    {
        chains.push(real);
    }
    let mut out: Vec<(PathBuf, Folder)> = Vec::new();
    for chain in &chains {
        for dir in chain.ancestors() {
            if out.iter().any(|(seen, _)| seen == dir) {
                continue;
            }
            if let Some(meta) = read_folder(dir)
                && !meta.searchable_by(who)
            {
                out.push((dir.to_path_buf(), meta));
            }
        }
    }
    // Top-down, the order a reader fixes them in.
    out.sort_by_key(|(dir, _)| dir.components().count());
    out
}

fn read_folder(dir: &Path) -> Option<Folder> {
    let meta = std::fs::metadata(dir).ok()?;
    if !meta.is_dir() {
        return None;
    }
    Some(Folder {
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode() & 0o7777,
        acl: read_acl(dir),
    })
}

fn read_acl(dir: &Path) -> Option<Vec<AclEntry>> {
    let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
    let name = c"system.posix_acl_access";
    let mut buf = vec![0u8; 4096];
    // SAFETY: both strings are NUL-terminated and the buffer is as long as we say.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    parse_acl(&buf)
}

fn uid_of(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; `found` is null or points at `pwd`.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(pwd.pw_uid)
}

fn gid_of(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in uid_of.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(grp.gr_gid)
}

fn user_name(uid: u32) -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: as in uid_of; pw_name points into `buf`, read before it is dropped.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return None;
    }
    // SAFETY: a successful getpwuid_r leaves a NUL-terminated name in `buf`.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// `gid` and the groups `user` is a member of: the groups libvirt gives the QEMU process
/// (its virGetGroupList is getgrouplist of the user's name and the label's group).
fn group_list(user: &str, gid: u32) -> Vec<u32> {
    let Ok(name) = CString::new(user) else {
        return vec![gid];
    };
    let mut groups = vec![0 as libc::gid_t; 256];
    let mut count = groups.len() as libc::c_int;
    // SAFETY: `count` is the buffer's length; getgrouplist writes at most that many.
    let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
    if rc < 0 {
        return vec![gid];
    }
    groups.truncate(count.max(0) as usize);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu() -> Identity {
        Identity {
            uid: 64055,
            gid: 64055,
            name: Some("libvirt-qemu".into()),
            groups: vec![64055, 107],
        }
    }

    fn folder(uid: u32, gid: u32, mode: u32) -> Folder {
        Folder {
            uid,
            gid,
            mode,
            acl: None,
        }
    }

    #[test]
    fn the_owner_group_or_other_search_bit_decides_in_that_order() {
        let who = qemu();
        assert!(!folder(0, 0, 0o700).searchable_by(&who));
        assert!(folder(0, 0, 0o701).searchable_by(&who));
        assert!(
            folder(0, 107, 0o710).searchable_by(&who),
            "supplementary group"
        );
        assert!(
            !folder(0, 107, 0o701).searchable_by(&who),
            "group class wins"
        );
        assert!(folder(64055, 0, 0o700).searchable_by(&who));
        assert!(
            !folder(64055, 0, 0o077).searchable_by(&who),
            "owner class wins"
        );
    }

    #[test]
    fn an_acl_grants_to_a_named_user_within_the_mask() {
        let entry = |tag, perm, id| AclEntry { tag, perm, id };
        let mut acl = vec![
            entry(ACL_USER_OBJ, 7, 0),
            entry(ACL_USER, 1, 64055),
            entry(ACL_GROUP_OBJ, 0, 0),
            entry(ACL_MASK, 1, 0),
            entry(ACL_OTHER, 0, 0),
        ];
        let with = |acl: &[AclEntry]| Folder {
            acl: Some(acl.to_vec()),
            ..folder(0, 0, 0o710)
        };
        assert!(with(&acl).searchable_by(&qemu()));
        acl[3].perm = 0;
        assert!(!with(&acl).searchable_by(&qemu()), "masked out");
        // The stored form round-trips through the parser.
        let mut bytes = 2u32.to_le_bytes().to_vec();
        for e in &acl {
            bytes.extend(e.tag.to_le_bytes());
            bytes.extend(e.perm.to_le_bytes());
            bytes.extend(e.id.to_le_bytes());
        }
        assert_eq!(parse_acl(&bytes), Some(acl));
        assert_eq!(parse_acl(&[1, 0, 0, 0]), None);
    }

    #[test]
    fn labels_with_numbers_or_names_give_the_identity() {
        let who = Identity::from_label("+64055:+64055").unwrap();
        assert_eq!((who.uid, who.gid), (64055, 64055));
        assert!(who.groups.contains(&64055));
        let root = Identity::from_label("root:root").unwrap();
        assert_eq!(
            (root.uid, root.gid, root.name.as_deref()),
            (0, 0, Some("root"))
        );
        assert!(Identity::from_label("nonsense").is_err());
    }

    #[test]
    fn a_0700_folder_above_blocks_and_is_named_with_nothing_below_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("pool");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = Identity {
            uid: 65534,
            gid: 65534,
            name: None,
            groups: vec![65534],
        };
        let blocked = blocked_paths(&inner, &nobody);
        assert!(blocked.contains(&dir.path().to_path_buf()), "{blocked:?}");
        assert!(!blocked.contains(&inner));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        assert!(
            !blocked_paths(&inner, &nobody).contains(&dir.path().to_path_buf()),
            "o+x lets it through"
        );
    }

    fn blocked_paths(folder: &Path, who: &Identity) -> Vec<PathBuf> {
        blocked(folder, who).into_iter().map(|b| b.0).collect()
    }
}
