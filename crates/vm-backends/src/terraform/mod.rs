//! The Terraform backend: one Terraform workspace per VM, chosen with `TF_WORKSPACE` in each
//! child's environment (never `terraform workspace select`, which changes state every other
//! command shares), `terraform init` once under a lock, `-input=false` everywhere.
//!
//! Module contract: inputs `vm_name`, `memory`, `vcpus` (plus `--tf-var`s, as strings) and
//! the VM's SSH host key `vm` made, `ssh_host_key` (private, sensitive) and
//! `ssh_host_public_key` (given through `TF_VAR_…` in the environment only, never written to
//! a file by vm; a module should declare them with `default = ""` and `sensitive = true`);
//! outputs `vm_ip` or `ansible_host`, optionally `ansible_user`, `ansible_port`, and
//! `ssh_host_public_key`: the host key the module installed in the guest (or read from it
//! through its provider's authenticated API). Without that output the key is pinned on first
//! use. An optional input `running` (bool) lets `vm start|stop|reboot` change the VM's power
//! state by applying the module again. The other variables of each VM are kept (0600) in `.vm/terraform/<name>.tfvars.json`,
//! so destroy never asks for them.

mod backend;

use std::cell::RefCell;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use vm::backend::{BackendError, Destroyed};
use vm::fsutil;
use vm::inventory::shlex::quote;

/// One Terraform module driven by `vm`.
pub struct Terraform {
    bin: PathBuf,
    dir: PathBuf,
    state: PathBuf,
    log: PathBuf,
    target: vm::backend::Target,
    /// `--tf-var`s of a provision.
    vars: Vec<(String, String)>,
    /// The workspaces, listed once for presence checks.
    listed: RefCell<Option<Result<Vec<String>, String>>>,
}

/// What the module's outputs say about a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// Address (`vm_ip` or `ansible_host`).
    pub host: String,
    /// `ansible_port`, when the module gives one other than 22.
    pub port: Option<u16>,
    /// `ansible_user`, when the module gives one.
    pub user: Option<String>,
    /// `ssh_host_public_key`, when the module gives one.
    pub host_key: Option<String>,
}

/// The host key pair passed to a module through the environment (`TF_VAR_…`).
pub struct HostKeyVars<'a> {
    /// OpenSSH private key.
    pub private: &'a str,
    /// `ssh-ed25519 AAAA…`.
    pub public: &'a str,
}

/// Empty host key inputs: for runs that must not change what the module made (destroy).
const NO_HOST_KEY: HostKeyVars<'static> = HostKeyVars {
    private: "",
    public: "",
};

fn fail(message: impl Into<String>) -> BackendError {
    BackendError::Invalid(message.into())
}

impl Terraform {
    /// Checks the program and the module before anything runs. `state` is the project's `.vm/`.
    pub fn new(bin: &str, dir: &Path, state: &Path) -> Result<Terraform, BackendError> {
        let bin = fsutil::find_program(bin).ok_or_else(|| {
            fail(format!(
                "{bin} not found; install Terraform (or OpenTofu) or pass --terraform-bin PATH"
            ))
        })?;
        let has_module = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".tf"))
            })
            .unwrap_or(false);
        if !has_module {
            return Err(fail(format!(
                "no Terraform module (*.tf files) in {}; pass --terraform-dir DIR",
                dir.display()
            )));
        }
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let state = state.join("terraform");
        fs::create_dir_all(&state)
            .map_err(|e| fail(format!("cannot create {}: {e}", state.display())))?;
        let log = state.join("terraform.log");
        Ok(Terraform {
            bin,
            target: vm::backend::Target {
                kind: vm::backend::BackendKind::Terraform,
                connection: dir.display().to_string(),
            },
            dir,
            state,
            log,
            vars: Vec::new(),
            listed: RefCell::new(None),
        })
    }

    /// The same module, with the `--tf-var`s of a provision.
    pub fn with_vars(mut self, vars: Vec<(String, String)>) -> Terraform {
        self.vars = vars;
        self
    }

    /// The module folder (recorded in fragment markers).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log of every Terraform run.
    pub fn log(&self) -> &Path {
        &self.log
    }

    fn vars_file(&self, name: &str) -> PathBuf {
        self.state.join(format!("{name}.tfvars.json"))
    }

    /// Runs terraform in the module folder, in `workspace` (or the default one), with the
    /// host key inputs in its environment, logging its output; fails with the log's last
    /// lines. `tick` is called a few times a second meanwhile (a progress line).
    fn run(
        &self,
        workspace: Option<&str>,
        args: &[&str],
        host_key: &HostKeyVars,
        tick: &dyn Fn(),
    ) -> Result<String, BackendError> {
        let mut command = Command::new(&self.bin);
        command
            .arg(format!("-chdir={}", self.dir.display()))
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("TF_VAR_ssh_host_key", host_key.private)
            .env("TF_VAR_ssh_host_public_key", host_key.public)
            .stdin(std::process::Stdio::null());
        match workspace {
            Some(w) => command.env("TF_WORKSPACE", w),
            None => command.env_remove("TF_WORKSPACE"),
        };
        // Terraform runs on another thread while this one keeps the progress line alive.
        let output = std::thread::scope(|scope| {
            let running = scope.spawn(|| command.output());
            while !running.is_finished() {
                tick();
                std::thread::sleep(Duration::from_millis(200));
            }
            running
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .map_err(|e| {
            fail(format!(
                "cannot run {}: {e}; install Terraform or pass --terraform-bin",
                self.bin.display()
            ))
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        self.append_log(&format!(
            "=== {} {} (workspace {})\n{stdout}{stderr}",
            self.bin.display(),
            args.join(" "),
            workspace.unwrap_or("default")
        ));
        if output.status.success() {
            Ok(stdout)
        } else {
            let text = format!("{stdout}{stderr}");
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = lines[lines.len().saturating_sub(12)..].join("\n");
            Err(BackendError::Call {
                action: format!("terraform {} failed (log: {})", args[0], self.log.display()),
                message: tail,
            })
        }
    }

    /// Appends to the log of every Terraform run. A log that cannot be written is said once
    /// per run, and the run goes on: the log is for diagnosis, not for the result.
    fn append_log(&self, text: &str) {
        use std::io::Write;
        let written = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut log| writeln!(log, "{text}"));
        if let Err(e) = written {
            eprintln!("warning: cannot append to {}: {e}", self.log.display());
        }
    }

    /// `terraform init`, once per module version, under a lock so that provisions started
    /// together never race on it.
    pub fn init(&self, tick: &dyn Fn()) -> Result<(), BackendError> {
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.state.join("init.lock"))
            .map_err(|e| fail(format!("cannot open the terraform init lock: {e}")))?;
        lock.lock()
            .map_err(|e| fail(format!("cannot take the terraform init lock: {e}")))?;
        let marker = self.state.join(format!("init-{}", self.module_hash()));
        if !marker.exists() {
            self.run(
                None,
                &["init", "-input=false", "-no-color"],
                &NO_HOST_KEY,
                tick,
            )?;
            // Without the marker the next provision initializes again: slower, still right.
            if let Err(e) = File::create(&marker) {
                eprintln!("warning: cannot create {}: {e}", marker.display());
            }
        }
        Ok(())
    }

    /// A hash of the module's `*.tf` files: a changed module is initialized again.
    fn module_hash(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".tf"))
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            fs::read(e.path()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.dir.hash(&mut hasher);
        files.hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// The workspaces other than `default`: the VMs this module made.
    pub fn workspaces(&self) -> Result<Vec<String>, BackendError> {
        let out = self.run(
            None,
            &["workspace", "list", "-no-color"],
            &NO_HOST_KEY,
            &|| {},
        )?;
        Ok(out
            .lines()
            .map(|l| l.trim_start_matches('*').trim().to_string())
            .filter(|w| !w.is_empty() && w != "default")
            .collect())
    }

    /// Applies the module in workspace `name`, then reads the address, refreshing until it
    /// appears or `timeout` passes. Everything is destroyed again on failure unless `keep`;
    /// what cannot be is said.
    pub fn provision(
        &self,
        request: &Request,
        host_key: &HostKeyVars,
        tick: &dyn Fn(),
        keep: bool,
    ) -> Result<Outputs, BackendError> {
        let name = request.name;
        self.init(tick)?;
        if self.workspaces()?.iter().any(|w| w == name) {
            return Err(fail(format!(
                "Terraform workspace {name} already exists in {}; pick another name, or `vm destroy {name}`",
                self.dir.display()
            )));
        }
        let mut vars = serde_json::Map::new();
        vars.insert("vm_name".into(), name.into());
        vars.insert("memory".into(), request.memory_mib.into());
        vars.insert("vcpus".into(), request.vcpus.into());
        for (k, v) in &self.vars {
            vars.insert(k.clone(), v.clone().into());
        }
        let vars_file = self.vars_file(name);
        fsutil::replace(
            &vars_file,
            serde_json::Value::Object(vars).to_string().as_bytes(),
            0o600,
        )
        .map_err(|e| fail(format!("cannot write {}: {e}", vars_file.display())))?;
        let result = self.apply(name, &vars_file, host_key, request.timeout, tick);
        match result {
            Ok(outputs) => Ok(outputs),
            Err(error) if keep => Err(error),
            Err(error) => match self.destroy(name) {
                Ok(_) => Err(error),
                Err(failed) => Err(BackendError::Leftover {
                    error: Box::new(error),
                    left: format!("workspace {name} of {} ({failed})", self.dir.display()),
                    hint: self.cleanup(name),
                }),
            },
        }
    }

    fn apply(
        &self,
        name: &str,
        vars_file: &Path,
        host_key: &HostKeyVars,
        timeout: Duration,
        tick: &dyn Fn(),
    ) -> Result<Outputs, BackendError> {
        let var_file = format!("-var-file={}", vars_file.display());
        let apply = [
            "apply",
            "-input=false",
            "-auto-approve",
            "-no-color",
            &var_file,
        ];
        self.run(Some(name), &apply, host_key, tick)?;
        let start = Instant::now();
        loop {
            if let Some(outputs) = self.outputs(name)? {
                return Ok(outputs);
            }
            if start.elapsed() >= timeout {
                return Err(BackendError::Timeout {
                    name: name.to_string(),
                    what: "an address output (vm_ip or ansible_host)",
                    waited: start.elapsed(),
                    tail: format!("; the Terraform log is {}", self.log.display()),
                });
            }
            std::thread::sleep(Duration::from_secs(1));
            let refresh = [
                "apply",
                "-refresh-only",
                "-input=false",
                "-auto-approve",
                "-no-color",
                &var_file,
            ];
            self.run(Some(name), &refresh, host_key, tick)?;
        }
    }

    /// The outputs of workspace `name`, once the address is there.
    fn outputs(&self, name: &str) -> Result<Option<Outputs>, BackendError> {
        let out = self.run(
            Some(name),
            &["output", "-json", "-no-color"],
            &NO_HOST_KEY,
            &|| {},
        )?;
        let json: serde_json::Value = serde_json::from_str(&out).map_err(|e| {
            fail(format!(
                "terraform output -json printed no JSON ({e}); the Terraform log is {}",
                self.log.display()
            ))
        })?;
        let value = |key: &str| json.get(key).and_then(|o| o.get("value"));
        let text = |key: &str| {
            value(key).and_then(|v| match v {
                serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            })
        };
        let Some(host) = text("vm_ip").or_else(|| text("ansible_host")) else {
            return Ok(None);
        };
        let port = value("ansible_port").and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        Ok(Some(Outputs {
            host,
            port: port.filter(|&p| p != 22),
            user: text("ansible_user"),
            host_key: text("ssh_host_public_key"),
        }))
    }

    /// Destroys workspace `name`'s resources with the variables recorded at provision, then
    /// deletes the workspace and the variables. A workspace already gone is not an error.
    pub fn destroy(&self, name: &str) -> Result<Destroyed, BackendError> {
        let vars_file = self.vars_file(name);
        if !self.workspaces()?.iter().any(|w| w == name) {
            remove_vars(&vars_file)?;
            return Ok(Destroyed::default());
        }
        let mut args = vec!["destroy", "-input=false", "-auto-approve", "-no-color"];
        let var_file = format!("-var-file={}", vars_file.display());
        if vars_file.exists() {
            args.push(&var_file);
        }
        self.run(Some(name), &args, &NO_HOST_KEY, &|| {})?;
        self.run(
            None,
            &["workspace", "delete", "-no-color", name],
            &NO_HOST_KEY,
            &|| {},
        )?;
        remove_vars(&vars_file)?;
        Ok(Destroyed {
            existed: true,
            volumes: Vec::new(),
        })
    }

    /// Applies workspace `name` again with new `memory` and `vcpus` in its recorded variables.
    /// The host key inputs are empty, as on destroy: a module ignores changes of them after
    /// creation (terraform/main.tf does, with `ignore_changes`).
    pub fn apply_size(&self, name: &str, memory_mib: u64, vcpus: u32) -> Result<(), BackendError> {
        self.apply_vars(
            name,
            &[("memory", memory_mib.into()), ("vcpus", vcpus.into())],
        )
    }

    /// Applies workspace `name` again with `changes` in its recorded variables (kept, so a
    /// later destroy or resize sees them too).
    pub fn apply_vars(
        &self,
        name: &str,
        changes: &[(&str, serde_json::Value)],
    ) -> Result<(), BackendError> {
        let vars_file = self.vars_file(name);
        let text = fs::read_to_string(&vars_file).map_err(|e| {
            fail(format!(
                "cannot read {}: {e}; it records {name}'s variables",
                vars_file.display()
            ))
        })?;
        let mut vars: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| fail(format!("{} is not JSON: {e}", vars_file.display())))?;
        for (key, value) in changes {
            vars.insert((*key).into(), value.clone());
        }
        fsutil::replace(
            &vars_file,
            serde_json::Value::Object(vars).to_string().as_bytes(),
            0o600,
        )
        .map_err(|e| fail(format!("cannot write {}: {e}", vars_file.display())))?;
        let var_file = format!("-var-file={}", vars_file.display());
        self.run(
            Some(name),
            &[
                "apply",
                "-input=false",
                "-auto-approve",
                "-no-color",
                &var_file,
            ],
            &NO_HOST_KEY,
            &|| {},
        )
        .map(|_| ())
    }

    /// Whether the module declares the input `input`: a `variable "input"` block in one of its
    /// top-level `.tf` files (Terraform reads no other).
    pub fn declares(&self, input: &str) -> bool {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return false;
        };
        let quoted = format!("\"{input}\"");
        let declares = |line: &str| {
            line.trim_start()
                .strip_prefix("variable")
                .filter(|rest| rest.starts_with(char::is_whitespace))
                .and_then(|rest| rest.trim_start().strip_prefix(quoted.as_str()))
                .is_some_and(|rest| rest.trim_start().starts_with('{'))
        };
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tf"))
            .filter_map(|p| fs::read_to_string(p).ok())
            .any(|text| text.lines().any(declares))
    }

    /// The commands that remove what is left of `name` when vm could not.
    pub fn cleanup(&self, name: &str) -> String {
        // A line to paste into a shell: every path and name quoted where it needs to be.
        let path = |p: &Path| quote(&p.display().to_string());
        format!(
            "TF_WORKSPACE={name} {bin} {dir} destroy {vars} && {bin} {dir} workspace delete {name}",
            name = quote(name),
            bin = path(&self.bin),
            dir = quote(&format!("-chdir={}", self.dir.display())),
            vars = quote(&format!("-var-file={}", self.vars_file(name).display())),
        )
    }
}

/// What a provision asks of the module.
pub struct Request<'a> {
    /// The VM (and workspace) name.
    pub name: &'a str,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// vCPUs.
    pub vcpus: u32,
    /// Bound of the wait for the address output.
    pub timeout: Duration,
}

/// Deletes a VM's recorded variables; gone already is fine.
fn remove_vars(path: &Path) -> Result<(), BackendError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fail(format!(
            "cannot delete {}: {e}; delete it yourself",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cleanup_line_quotes_a_module_folder_a_shell_would_split_or_expand() {
        let root = std::env::temp_dir().join(format!("vm-tf-cleanup-{}", std::process::id()));
        let dir = root.join("my module; $(touch x)");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("main.tf"), "").unwrap();
        let terraform = Terraform::new("/bin/true", &dir, &root.join("state")).unwrap();
        let line = terraform.cleanup("web-1");
        fs::remove_dir_all(&root).unwrap();
        let expected_dir = format!("'-chdir={}'", dir.display());
        assert!(line.contains(&expected_dir), "{line}");
        assert!(line.starts_with("TF_WORKSPACE=web-1 /bin/true "), "{line}");
    }
}
