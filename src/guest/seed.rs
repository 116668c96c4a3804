//! The cloud-init NoCloud seed a VM boots with: `user-data`, `meta-data` and `network-config`
//! rendered from templates, packed into a small FAT image labelled `CIDATA`.
//!
//! A FAT image (rather than ISO9660) because the `fatfs` crate writes one in memory, in pure
//! Rust: no external program has to be installed, and the bytes can be uploaded to a remote
//! libvirt pool through a stream like any other volume. cloud-init's NoCloud datasource reads
//! a vfat or iso9660 filesystem labelled `cidata`, in either case.

use std::io::{Cursor, Write};
use std::path::Path;

/// Size of the seed image. Plenty for three small files; FAT12 needs nothing more.
const SEED_BYTES: usize = 1024 * 1024;

/// Problems building a seed; nothing exists yet when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum CloudInitError {
    /// A template (built-in or the project's) failed to render.
    #[error("cannot render the cloud-init template {template}: {message}")]
    Template {
        /// Which template.
        template: String,
        /// Tera's message.
        message: String,
    },
    /// An SSH public key that does not parse.
    #[error("invalid SSH public key {source_name}: {why}; give a file like ~/.ssh/id_ed25519.pub")]
    Key {
        /// Where the key came from.
        source_name: String,
        /// What is wrong.
        why: String,
    },
    /// Writing the FAT image failed (a bug, or the files are absurdly large).
    #[error("cannot build the cloud-init seed image: {0}")]
    Image(std::io::Error),
}

/// What the guest learns from cloud-init.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Host name (the VM's name).
    pub hostname: String,
    /// The user to create, with passwordless sudo.
    pub user: String,
    /// Public keys that may log in as `user`, one per entry, each validated.
    pub ssh_authorized_keys: Vec<String>,
    /// Unique per creation, so cloud-init treats every new VM as a first boot.
    pub instance_id: String,
    /// The VM's SSH host key (private, public), made by `vm` so it can be verified.
    pub host_key: Option<(String, String)>,
}

/// The rendered files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFiles {
    /// `user-data`.
    pub user_data: String,
    /// `meta-data`.
    pub meta_data: String,
    /// `network-config`, only when the project has `templates/network-config.tera`: without
    /// it cloud-init brings up the first NIC with DHCP, which is what a VM wants by default (a
    /// network-config naming interfaces by pattern does not work with cloud-init 22.4, which
    /// takes the entry's name for the interface's).
    pub network_config: Option<String>,
}

const USER_DATA: &str = include_str!("../../templates/user-data.tera");
const META_DATA: &str = include_str!("../../templates/meta-data.tera");

impl Seed {
    /// Renders the three files, each from the project's `templates/<name>.tera` if it exists.
    pub fn render(&self, project_templates: &Path) -> Result<SeedFiles, CloudInitError> {
        let mut context = tera::Context::new();
        context.insert("hostname", &self.hostname);
        context.insert("user", &self.user);
        context.insert("ssh_authorized_keys", &self.ssh_authorized_keys);
        context.insert("instance_id", &self.instance_id);
        if let Some((private, public)) = &self.host_key {
            context.insert("host_key_private", private);
            context.insert("host_key_public", public);
        }
        let render =
            |name: &str, built_in: Option<&str>| -> Result<Option<String>, CloudInitError> {
                let custom = project_templates.join(format!("{name}.tera"));
                let (source, shown) = match (std::fs::read_to_string(&custom), built_in) {
                    (Ok(text), _) => (text, custom.display().to_string()),
                    (Err(_), Some(text)) => (
                        text.to_string(),
                        format!("templates/{name}.tera (built in)"),
                    ),
                    (Err(_), None) => return Ok(None),
                };
                let fail = |e: tera::Error| CloudInitError::Template {
                    template: shown.clone(),
                    message: e.to_string(),
                };
                let mut tera = tera::Tera::default();
                tera.set_escape_fn(escape_yaml);
                tera.autoescape_on([".yaml"]);
                let key = format!("{name}.yaml");
                tera.add_raw_template(&key, &source).map_err(fail)?;
                tera.render(&key, &context).map(Some).map_err(fail)
            };
        Ok(SeedFiles {
            user_data: render("user-data", Some(USER_DATA))?.unwrap_or_default(),
            meta_data: render("meta-data", Some(META_DATA))?.unwrap_or_default(),
            network_config: render("network-config", None)?,
        })
    }
}

/// The templates' escape function: every value becomes a YAML double-quoted scalar. JSON string
/// syntax is a subset of YAML's double-quoted style, so serde_json's quoting is exactly right.
fn escape_yaml(input: &str, output: &mut dyn Write) -> std::io::Result<()> {
    output.write_all(serde_json::Value::from(input).to_string().as_bytes())
}

impl SeedFiles {
    /// A FAT12 image labelled `CIDATA` holding the three files.
    pub fn image(&self) -> Result<Vec<u8>, CloudInitError> {
        let mut disk = Cursor::new(vec![0u8; SEED_BYTES]);
        let options = fatfs::FormatVolumeOptions::new()
            .volume_label(*b"CIDATA     ")
            .fat_type(fatfs::FatType::Fat12);
        fatfs::format_volume(&mut disk, options).map_err(CloudInitError::Image)?;
        {
            let fs = fatfs::FileSystem::new(&mut disk, fatfs::FsOptions::new())
                .map_err(CloudInitError::Image)?;
            let files = [
                ("user-data", Some(&self.user_data)),
                ("meta-data", Some(&self.meta_data)),
                ("network-config", self.network_config.as_ref()),
            ];
            for (name, text) in files.into_iter().filter_map(|(n, t)| Some((n, t?))) {
                let mut file = fs
                    .root_dir()
                    .create_file(name)
                    .map_err(CloudInitError::Image)?;
                file.truncate().map_err(CloudInitError::Image)?;
                file.write_all(text.as_bytes())
                    .map_err(CloudInitError::Image)?;
                file.flush().map_err(CloudInitError::Image)?;
            }
            fs.unmount().map_err(CloudInitError::Image)?;
        }
        Ok(disk.into_inner())
    }
}

/// Key types OpenSSH accepts in `authorized_keys`.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Checks one OpenSSH public key line (`TYPE BASE64 [COMMENT]`) and returns it as one clean
/// line: a known type, valid base64 whose first field names that same type.
pub fn validate_public_key(text: &str, source_name: &str) -> Result<String, CloudInitError> {
    let bad = |why: &str| CloudInitError::Key {
        source_name: source_name.to_string(),
        why: why.to_string(),
    };
    let line = text.trim();
    if line.is_empty() {
        return Err(bad("it is empty"));
    }
    if line.lines().count() != 1 {
        return Err(bad("it must be a single line"));
    }
    if line.starts_with("-----BEGIN") {
        return Err(bad(
            "this is a private key, never give that; use the .pub file",
        ));
    }
    let mut fields = line.split_whitespace();
    let kind = fields.next().unwrap_or_default();
    if !KEY_TYPES.contains(&kind) {
        return Err(bad(&format!("unknown key type {kind:?}")));
    }
    let blob = fields
        .next()
        .and_then(decode_base64)
        .ok_or_else(|| bad("the key data is not base64"))?;
    let named = blob
        .get(..4)
        .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize)
        .and_then(|n| blob.get(4..4 + n));
    if named != Some(kind.as_bytes()) {
        return Err(bad("the key data does not match its type"));
    }
    if line.chars().any(|c| c.is_control()) {
        return Err(bad("it contains control characters"));
    }
    Ok(line.to_string())
}

/// Standard base64 with padding, as OpenSSH writes it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, quad) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | u32::from(value(c)?);
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK/DDfZAPCku6GLsGvM08iKxCGBiuqiG1UbmVyXhbmKF me@host";

    fn seed() -> Seed {
        Seed {
            hostname: "web-vm".into(),
            user: "debian".into(),
            ssh_authorized_keys: vec![KEY.into()],
            instance_id: "web-vm-1".into(),
            host_key: None,
        }
    }

    #[test]
    fn user_data_is_cloud_config_with_every_value_quoted() {
        let mut hostile = seed();
        hostile.user = "a\"b\nc: d".into();
        let files = hostile.render(Path::new("/nonexistent")).unwrap();
        assert!(files.user_data.starts_with("#cloud-config\n"));
        assert!(files.user_data.contains(r#"- name: "a\"b\nc: d""#));
        assert!(files.user_data.contains(&format!("      - \"{KEY}\"")));
        assert!(files.meta_data.contains("instance-id: \"web-vm-1\""));
        assert!(!files.user_data.contains("ssh_keys"));
    }

    #[test]
    fn a_host_key_goes_into_user_data_as_one_quoted_multi_line_value() {
        let mut with_key = seed();
        let private =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n";
        with_key.host_key = Some((private.into(), "ssh-ed25519 AAAAx".into()));
        let files = with_key.render(Path::new("/nonexistent")).unwrap();
        assert!(files.user_data.contains(
            "ed25519_private: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Blbn\\n-----END OPENSSH PRIVATE KEY-----\\n\""
        ), "{}", files.user_data);
        assert!(files.user_data.contains("ssh_deletekeys: true"));
    }

    #[test]
    fn seed_image_is_fat_labelled_cidata_with_the_three_files() {
        let files = seed().render(Path::new("/nonexistent")).unwrap();
        let image = files.image().unwrap();
        let fs = fatfs::FileSystem::new(Cursor::new(image), fatfs::FsOptions::new()).unwrap();
        assert_eq!(fs.volume_label(), "CIDATA");
        assert_eq!(files.network_config, None);
        for (name, text) in [
            ("user-data", &files.user_data),
            ("meta-data", &files.meta_data),
        ] {
            let mut read = String::new();
            fs.root_dir()
                .open_file(name)
                .unwrap()
                .read_to_string(&mut read)
                .unwrap();
            assert_eq!(&read, text, "{name}");
        }
    }

    #[test]
    fn public_keys_are_checked_for_type_and_data() {
        assert_eq!(validate_public_key(&format!("{KEY}\n"), "k").unwrap(), KEY);
        for bad in [
            "",
            "ssh-dss AAAAB3NzaC1kc3MAAA== x",
            "ssh-ed25519 not-base64",
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIK/DDfZAPCku6GLsGvM08iKxCGBiuqiG1UbmVyXhbmKF",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "ssh-ed25519 AAAA\nssh-ed25519 AAAA",
        ] {
            assert!(validate_public_key(bad, "k").is_err(), "{bad:?}");
        }
    }
}
