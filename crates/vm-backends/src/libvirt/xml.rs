//! The little XML the libvirt backend writes and reads: the escape function of the domain
//! template, and reading back with a real parser a domain's disks and our metadata, a volume's
//! format and backing file, a pool's folder and the user QEMU runs as.

use std::io::Write;

/// Namespace of the `<metadata>` element `vm` puts in every domain it creates.
pub const NAMESPACE: &str = "https://vm.invalid/xmlns/domain/1";

/// The domain template's escape function: text safe in XML content and quoted attributes.
pub fn escape_xml(input: &str, output: &mut dyn Write) -> std::io::Result<()> {
    let mut start = 0;
    for (i, c) in input.char_indices() {
        let entity = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&apos;",
            _ => continue,
        };
        output.write_all(&input.as_bytes()[start..i])?;
        output.write_all(entity.as_bytes())?;
        start = i + 1;
    }
    output.write_all(&input.as_bytes()[start..])
}

/// Our metadata, as read back from a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The project folder the VM belongs to.
    pub project: Option<String>,
    /// The fragment file name.
    pub fragment: Option<String>,
    /// The cloud-init user.
    pub user: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: Option<String>,
    /// The libvirt URI it was created through.
    pub connection: Option<String>,
    /// The forwarded SSH port, with user-mode networking.
    pub ssh_port: Option<u16>,
}

/// What matters of a domain's XML: its disks' files and our metadata (if it is ours).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainDoc {
    /// `<disk><source file=…>` paths, in order.
    pub disk_files: Vec<String>,
    /// `<log file=…>` of the serial console.
    pub console_log: Option<String>,
    /// Our metadata, when the domain carries it.
    pub metadata: Option<Metadata>,
}

/// Parses a domain's XML (as `virDomainGetXMLDesc` returns it).
pub fn read_domain(xml: &str) -> Result<DomainDoc, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    let mut out = DomainDoc::default();
    for disk in root.descendants().filter(|n| n.has_tag_name("disk")) {
        if let Some(file) = disk
            .children()
            .find(|n| n.has_tag_name("source"))
            .and_then(|s| s.attribute("file"))
        {
            out.disk_files.push(file.to_string());
        }
    }
    out.console_log = root
        .descendants()
        .filter(|n| n.has_tag_name("serial"))
        .flat_map(|s| s.children())
        .find(|n| n.has_tag_name("log"))
        .and_then(|l| l.attribute("file"))
        .map(str::to_string);
    let ours = root
        .descendants()
        .find(|n| n.has_tag_name((NAMESPACE, "vm")));
    out.metadata = ours.map(|vm| {
        let text = |tag: &str| {
            vm.children()
                .find(|n| n.has_tag_name((NAMESPACE, tag)))
                .and_then(|n| n.text())
                .map(|t| t.trim().to_string())
        };
        Metadata {
            project: text("project"),
            fragment: text("fragment"),
            user: text("user"),
            created_at: text("created-at"),
            connection: text("connection"),
            ssh_port: text("ssh-port").and_then(|p| p.parse().ok()),
        }
    });
    Ok(out)
}

/// What preflight needs of a volume's XML (`virStorageVolGetXMLDesc`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeDoc {
    /// `<target><format type=…>`: `qcow2`, `raw`, `iso`, … as libvirt probed it.
    pub format: Option<String>,
    /// `<backingStore><path>`: the file a qcow2 overlay reads through to (libvirt resolves a
    /// relative name against the image's folder).
    pub backing: Option<String>,
}

fn child<'a, 'input>(
    parent: roxmltree::Node<'a, 'input>,
    tag: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    parent.children().find(|n| n.has_tag_name(tag))
}

/// Parses a volume's XML.
pub fn read_volume(xml: &str) -> Result<VolumeDoc, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    let format = child(root, "target")
        .and_then(|t| child(t, "format"))
        .and_then(|f| f.attribute("type"))
        .map(str::to_string);
    let backing = child(root, "backingStore")
        .and_then(|b| child(b, "path"))
        .and_then(|p| p.text())
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    Ok(VolumeDoc { format, backing })
}

/// A pool's folder: `<pool><target><path>`.
pub fn read_pool_path(xml: &str) -> Result<Option<String>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    Ok(doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("target"))
        .and_then(|t| t.children().find(|n| n.has_tag_name("path")))
        .and_then(|p| p.text())
        .map(|p| p.trim().to_string()))
}

/// The `user:group` label QEMU processes of `domain_type` run under, from the host
/// capabilities' DAC security model (`<baselabel type='kvm'>+64055:+64055</baselabel>`); the
/// first label when none names the type; `None` without a DAC model (drivers that run no
/// process, such as the test driver).
pub fn read_dac_label(capabilities: &str, domain_type: &str) -> Result<Option<String>, String> {
    let doc = roxmltree::Document::parse(capabilities).map_err(|e| e.to_string())?;
    let dac = doc
        .descendants()
        .filter(|n| n.has_tag_name("secmodel"))
        .find(|m| {
            m.children()
                .any(|c| c.has_tag_name("model") && c.text().map(str::trim) == Some("dac"))
        });
    let labels: Vec<(Option<&str>, &str)> = dac
        .iter()
        .flat_map(|m| m.children())
        .filter(|n| n.has_tag_name("baselabel"))
        .filter_map(|n| Some((n.attribute("type"), n.text()?.trim())))
        .collect();
    Ok(labels
        .iter()
        .find(|(kind, _)| *kind == Some(domain_type))
        .or(labels.first())
        .map(|(_, label)| label.to_string()))
}

/// Whether a host's domain capabilities (`virConnectGetDomainCapabilities`) offer EFI firmware
/// for libvirt's autoselection: `<os><enum name='firmware'><value>efi</value>`. libvirt lists it
/// only when a firmware descriptor (Debian: the `ovmf` package's) matches the emulator.
pub fn offers_efi(capabilities: &str) -> Result<bool, String> {
    let doc = roxmltree::Document::parse(capabilities).map_err(|e| e.to_string())?;
    let os = doc.root_element().children().find(|n| n.has_tag_name("os"));
    Ok(os
        .iter()
        .flat_map(|os| os.children())
        .filter(|n| n.has_tag_name("enum") && n.attribute("name") == Some("firmware"))
        .flat_map(|e| e.children())
        .any(|v| v.has_tag_name("value") && v.text().map(str::trim) == Some("efi")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape_xml(s, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escaping_covers_content_and_both_quote_styles() {
        assert_eq!(escaped("a<b>&'\"/é"), "a&lt;b&gt;&amp;&apos;&quot;/é");
    }

    #[test]
    fn disks_console_and_our_metadata_are_read_back() {
        let xml = format!(
            "<domain type='qemu'><name>w</name><metadata><vm:vm xmlns:vm='{NAMESPACE}'>\
             <vm:fragment>w.ini</vm:fragment><vm:ssh-port>2222</vm:ssh-port></vm:vm></metadata>\
             <devices><disk type='file'><source file='/p/w.qcow2'/></disk>\
             <disk type='file'><source file='/p/w-seed.img'/></disk><disk type='network'><source protocol='nbd'/></disk>\
             <serial type='pty'><log file='/l/w.log'/></serial></devices></domain>"
        );
        let doc = read_domain(&xml).unwrap();
        assert_eq!(doc.disk_files, ["/p/w.qcow2", "/p/w-seed.img"]);
        assert_eq!(doc.console_log.as_deref(), Some("/l/w.log"));
        let meta = doc.metadata.unwrap();
        assert_eq!(meta.fragment.as_deref(), Some("w.ini"));
        assert_eq!(meta.ssh_port, Some(2222));
        assert_eq!(read_domain("<domain/>").unwrap().metadata, None);
    }

    #[test]
    fn a_volumes_format_and_backing_file_and_a_pools_folder_are_read_back() {
        let volume = read_volume(
            "<volume><name>o</name><target><path>/p/o</path><format type='qcow2'/></target>\
             <backingStore><path>/p/base.qcow2</path><format type='raw'/></backingStore></volume>",
        )
        .unwrap();
        assert_eq!(volume.format.as_deref(), Some("qcow2"));
        assert_eq!(volume.backing.as_deref(), Some("/p/base.qcow2"));
        assert_eq!(read_volume("<volume/>").unwrap(), VolumeDoc::default());
        let pool = "<pool type='dir'><source/><target><path>/var/p</path></target></pool>";
        assert_eq!(read_pool_path(pool).unwrap().as_deref(), Some("/var/p"));
    }

    #[test]
    fn the_dac_label_of_the_domain_type_is_read_from_the_capabilities() {
        let caps = "<capabilities><host><secmodel><model>none</model><doi>0</doi></secmodel>\
                    <secmodel><model>dac</model><doi>0</doi>\
                    <baselabel type='kvm'>+64055:+64055</baselabel>\
                    <baselabel type='qemu'>+107:+108</baselabel></secmodel></host></capabilities>";
        assert_eq!(
            read_dac_label(caps, "qemu").unwrap().as_deref(),
            Some("+107:+108")
        );
        assert_eq!(
            read_dac_label(caps, "xen").unwrap().as_deref(),
            Some("+64055:+64055")
        );
        let none =
            "<capabilities><host><secmodel><model>none</model></secmodel></host></capabilities>";
        assert_eq!(read_dac_label(none, "kvm").unwrap(), None);
    }

    #[test]
    fn efi_is_offered_only_when_the_firmware_enum_lists_it() {
        // As libvirt 9.0 answers with and without Debian's ovmf package installed.
        let with = "<domainCapabilities><os supported='yes'><enum name='firmware'><value>efi</value>\
                    </enum><loader supported='yes'><value>/usr/share/OVMF/OVMF_CODE_4M.fd</value>\
                    </loader></os></domainCapabilities>";
        let without = "<domainCapabilities><os supported='yes'><enum name='firmware'/>\
                       <loader supported='yes'><enum name='type'><value>rom</value></enum></loader>\
                       </os></domainCapabilities>";
        // `efi` elsewhere (a loader path, another enum) is no EFI firmware.
        let elsewhere = "<domainCapabilities><os><loader><value>efi</value></loader></os>\
                         <features><enum name='firmware'><value>efi</value></enum></features>\
                         </domainCapabilities>";
        assert_eq!(offers_efi(with), Ok(true));
        assert_eq!(offers_efi(without), Ok(false));
        assert_eq!(offers_efi(elsewhere), Ok(false));
        assert!(offers_efi("<domainCapabilities>").is_err());
    }
}
