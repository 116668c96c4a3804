//! The Terraform backend: one Terraform workspace per VM, chosen with `TF_WORKSPACE` in each
//! child's environment (never `terraform workspace select`, which changes state every other
//! command shares), `terraform init` once under a lock, `-input=false` everywhere.
//!
//! Module contract: inputs `vm_name`, `memory`, `vcpus` (plus `--tf-var`s, as strings);
//! outputs `vm_ip` or `ansible_host`, optionally `ansible_user` and `ansible_port`.
//! The variables of each VM are kept (0600) in `.vm/terraform/<name>.tfvars.json`, so destroy
//! never asks for them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{BackendError, Destroyed};

/// One Terraform module driven by `vm`.
pub struct Terraform {
    bin: PathBuf,
    dir: PathBuf,
    state: PathBuf,
    log: PathBuf,
    /// Called a few times a second while Terraform runs (a progress line, in the CLI).
    tick: std::cell::RefCell<Option<Box<dyn FnMut()>>>,
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
}

fn fail(message: impl Into<String>) -> BackendError {
    BackendError::Invalid(message.into())
}

impl Terraform {
    /// Checks the program and the module before anything runs. `state` is the project's `.vm/`.
    pub fn new(bin: &str, dir: &Path, state: &Path) -> Result<Terraform, BackendError> {
        let found = if bin.contains('/') {
            Some(PathBuf::from(bin)).filter(|p| p.is_file())
        } else {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|d| d.join(bin))
                    .find(|p| p.is_file())
            })
        };
        let bin = found.ok_or_else(|| {
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
            dir,
            state,
            log,
            tick: std::cell::RefCell::new(None),
        })
    }

    /// Calls `tick` a few times a second while Terraform runs, so a caller can show progress.
    pub fn with_progress(self, tick: impl FnMut() + 'static) -> Terraform {
        *self.tick.borrow_mut() = Some(Box::new(tick));
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

    /// Runs terraform in the module folder, in `workspace` (or the default one), logging its
    /// output; fails with the log's last lines.
    fn run(&self, workspace: Option<&str>, args: &[&str]) -> Result<String, BackendError> {
        let mut command = Command::new(&self.bin);
        command
            .arg(format!("-chdir={}", self.dir.display()))
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .stdin(std::process::Stdio::null());
        match workspace {
            Some(w) => command.env("TF_WORKSPACE", w),
            None => command.env_remove("TF_WORKSPACE"),
        };
        // Terraform runs on another thread while this one keeps the progress line alive.
        let output = std::thread::scope(|scope| {
            let running = scope.spawn(|| command.output());
            while !running.is_finished() {
                if let Some(tick) = self.tick.borrow_mut().as_mut() {
                    tick();
                }
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
        if let Ok(mut log) = OpenOptions::new().create(true).append(true).open(&self.log) {
            let _ = writeln!(
                log,
                "=== {} {} (workspace {})\n{stdout}{stderr}",
                self.bin.display(),
                args.join(" "),
                workspace.unwrap_or("default")
            );
        }
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

    /// `terraform init`, once per module version, under a lock so that provisions started
    /// together never race on it.
    pub fn init(&self) -> Result<(), BackendError> {
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
            self.run(None, &["init", "-input=false", "-no-color"])?;
            let _ = File::create(&marker);
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
        let out = self.run(None, &["workspace", "list", "-no-color"])?;
        Ok(out
            .lines()
            .map(|l| l.trim_start_matches('*').trim().to_string())
            .filter(|w| !w.is_empty() && w != "default")
            .collect())
    }

    /// Applies the module in workspace `name`, then reads the address, refreshing until it
    /// appears or `timeout` passes. Everything is destroyed again on failure unless `keep`.
    pub fn provision(
        &self,
        name: &str,
        memory_mib: u64,
        vcpus: u32,
        extra: &[(String, String)],
        timeout: Duration,
        keep: bool,
    ) -> Result<Outputs, BackendError> {
        self.init()?;
        if self.workspaces()?.iter().any(|w| w == name) {
            return Err(fail(format!(
                "Terraform workspace {name} already exists in {}; pick another name, or `vm destroy {name}`",
                self.dir.display()
            )));
        }
        let mut vars = serde_json::Map::new();
        vars.insert("vm_name".into(), name.into());
        vars.insert("memory".into(), memory_mib.into());
        vars.insert("vcpus".into(), vcpus.into());
        for (k, v) in extra {
            vars.insert(k.clone(), v.clone().into());
        }
        let vars_file = self.vars_file(name);
        let written = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&vars_file)
            .and_then(|mut f| f.write_all(serde_json::Value::Object(vars).to_string().as_bytes()));
        written.map_err(|e| fail(format!("cannot write {}: {e}", vars_file.display())))?;
        let var_file = format!("-var-file={}", vars_file.display());
        let undo = |error: BackendError| {
            if !keep {
                let _ = self.destroy(name);
            }
            error
        };
        self.run(
            Some(name),
            &[
                "apply",
                "-input=false",
                "-auto-approve",
                "-no-color",
                &var_file,
            ],
        )
        .map_err(undo)?;
        let start = Instant::now();
        loop {
            if let Some(outputs) = self.outputs(name).map_err(undo)? {
                return Ok(outputs);
            }
            if start.elapsed() >= timeout {
                return Err(undo(BackendError::Timeout {
                    name: name.to_string(),
                    what: "an address output (vm_ip or ansible_host)",
                    waited: start.elapsed(),
                    tail: format!("; the Terraform log is {}", self.log.display()),
                }));
            }
            std::thread::sleep(Duration::from_secs(1));
            self.run(
                Some(name),
                &[
                    "apply",
                    "-refresh-only",
                    "-input=false",
                    "-auto-approve",
                    "-no-color",
                    &var_file,
                ],
            )
            .map_err(undo)?;
        }
    }

    /// The address outputs of workspace `name`, if the address is there yet.
    fn outputs(&self, name: &str) -> Result<Option<Outputs>, BackendError> {
        let out = self.run(Some(name), &["output", "-json", "-no-color"])?;
        let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
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
        }))
    }

    /// Destroys workspace `name`'s resources with the variables recorded at provision, then
    /// deletes the workspace and the variables. A workspace already gone is not an error.
    pub fn destroy(&self, name: &str) -> Result<Destroyed, BackendError> {
        if !self.workspaces()?.iter().any(|w| w == name) {
            let _ = fs::remove_file(self.vars_file(name));
            return Ok(Destroyed::default());
        }
        let vars_file = self.vars_file(name);
        let mut args = vec!["destroy", "-input=false", "-auto-approve", "-no-color"];
        let var_file = format!("-var-file={}", vars_file.display());
        if vars_file.exists() {
            args.push(&var_file);
        }
        self.run(Some(name), &args)?;
        self.run(None, &["workspace", "delete", "-no-color", name])?;
        let _ = fs::remove_file(&vars_file);
        Ok(Destroyed {
            domain: true,
            volumes: Vec::new(),
        })
    }
}
