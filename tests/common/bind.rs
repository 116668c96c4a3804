//! A real BIND 9 (Debian's `bind9`) for the DNS tests: started in the foreground on 127.0.0.1
//! and a free port, its files in a temp folder (no system path read or written), a key made by
//! `tsig-keygen`, and the zone `home.lab` with its reverse zone `122.168.192.in-addr.arpa`, both
//! `update-policy { grant vm-key zonesub A AAAA PTR; }`. Stopped when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running named.
pub struct Bind {
    child: Child,
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1 (UDP and TCP).
    pub port: u16,
}

impl Bind {
    /// Starts named; panics with what to do when it cannot.
    pub fn start() -> Bind {
        for program in ["/usr/sbin/named", "/usr/sbin/tsig-keygen", "/usr/bin/dig"] {
            assert!(
                Path::new(program).is_file(),
                "{program} is missing: the DNS tests need a real BIND 9 (apt-get install bind9 \
                 bind9-utils bind9-dnsutils; .ci/run does)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("vm-bind-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for key in ["vm-key", "other-key"] {
            let output = Command::new("/usr/sbin/tsig-keygen")
                .args(["-a", "hmac-sha256", key])
                .output()
                .unwrap();
            assert!(output.status.success());
            let file = d.join(format!("{key}.key"));
            std::fs::write(&file, output.stdout).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let soa = "$TTL 300\n@ IN SOA ns.home.lab. hostmaster.home.lab. ( 1 3600 600 86400 300 )\n  IN NS ns.home.lab.\n";
        std::fs::write(d.join("home.lab.zone"), format!("{soa}ns IN A 127.0.0.1\n")).unwrap();
        std::fs::write(d.join("reverse.zone"), soa).unwrap();
        let port = free_port();
        let d = d.display();
        let zone = |name: &str, file: &str| {
            format!(
                "zone \"{name}\" {{ type primary; file \"{d}/{file}\"; journal \"{d}/{file}.jnl\";\n  \
                 update-policy {{ grant vm-key zonesub A AAAA PTR; }}; }};\n"
            )
        };
        let config = format!(
            "include \"{d}/vm-key.key\";\ninclude \"{d}/other-key.key\";\n\
             options {{ directory \"{d}\"; pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\";\n\
             managed-keys-directory \"{d}\"; dump-file \"{d}/dump.db\"; statistics-file \"{d}/stats\";\n\
             listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no;\n\
             allow-query {{ 127.0.0.1; }}; allow-transfer {{ none; }}; notify no; dnssec-validation no; }};\n\
             controls {{ }};\n{}{}",
            zone("home.lab", "home.lab.zone"),
            zone("122.168.192.in-addr.arpa", "reverse.zone"),
        );
        let conf = dir.path().join("named.conf");
        std::fs::write(&conf, config).unwrap();
        let log = std::fs::File::create(dir.path().join("named.log")).unwrap();
        let child = Command::new("/usr/sbin/named")
            .args(["-g", "-4", "-u", "root", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start named");
        let mut bind = Bind { child, dir, port };
        for _ in 0..100 {
            if bind.dig("home.lab", "SOA").contains("hostmaster") {
                return bind;
            }
            if let Ok(Some(status)) = bind.child.try_wait() {
                panic!("named exited ({status}):\n{}", bind.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "named does not answer on 127.0.0.1:{}:\n{}",
            bind.port,
            bind.log()
        );
    }

    /// `host:port` for vm.toml.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The key file vm uses (granted by the zones' policy).
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("vm-key.key")
    }

    /// A valid key the server knows but the policies grant nothing.
    pub fn other_key_file(&self) -> PathBuf {
        self.dir.path().join("other-key.key")
    }

    /// A key file whose secret is not the server's (same name and algorithm).
    pub fn wrong_secret_key_file(&self) -> PathBuf {
        let text = std::fs::read_to_string(self.key_file()).unwrap();
        let start = text.find("secret \"").unwrap() + "secret \"".len();
        let end = start + text[start..].find('"').unwrap();
        let wrong = format!(
            "{}{}{}",
            &text[..start],
            "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1zZXJ2ZXJzLWF0LWFsbA==",
            &text[end..]
        );
        let file = self.dir.path().join("wrong-secret.key");
        std::fs::write(&file, wrong).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        file
    }

    /// `dig +short` of `name` `type`, asked of this server.
    pub fn dig(&self, name: &str, kind: &str) -> String {
        let output = Command::new("/usr/bin/dig")
            .args(["+short", "+tries=1", "+time=1", "@127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args([name, kind])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Runs `nsupdate` with the server's key on `lines` (a test's own changes behind vm's back).
    pub fn nsupdate(&self, lines: &str) {
        let mut child = Command::new("/usr/bin/nsupdate")
            .arg("-k")
            .arg(self.key_file())
            .stdin(Stdio::piped())
            .spawn()
            .expect("run nsupdate");
        use std::io::Write;
        let script = format!(
            "server 127.0.0.1 {}\nzone home.lab\n{lines}\nsend\n",
            self.port
        );
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "nsupdate failed");
    }

    /// named's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        // The named this test started; gone already is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on 127.0.0.1 for both TCP and UDP now.
fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on 127.0.0.1");
}
