//! Shared test support: a project builder that drives the real `vm` binary, the Ansible oracle
//! (`tests/oracle/ansible_oracle.py`) that answers what real ansible-core makes of an inventory,
//! the seedable random generator (`rng`) and snapshots of what is on disk (`tree`).
//!
//! ```ignore
//! let project = Project::new().fragment("web.ini", "[web]\nweb-1\n");
//! project.run(&["inventory", "merge"]).success();
//! ```
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod bind;
pub mod guest;
pub mod libvirt;
pub mod netns;
pub mod reader;
pub mod rng;
pub mod sshd;
pub mod tree;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// Where the fragment sets of the differential corpus live.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

// ---------------------------------------------------------------------------------------------
// Project builder
// ---------------------------------------------------------------------------------------------

/// A throw-away project folder (`ansible/inventory.d/` exists, nothing else) that `vm` runs in.
pub struct Project {
    dir: TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vm-test-")
            .tempdir()
            .expect("create a temporary project folder");
        fs::create_dir_all(dir.path().join("ansible/inventory.d")).expect("create inventory.d");
        Project { dir }
    }

    /// A project whose `ansible/inventory.d` is a copy of `source` (files, sub-folders, hidden
    /// names and all, byte for byte).
    pub fn with_inventory_d(source: &Path) -> Self {
        let project = Project::new();
        copy_tree(source, &project.inventory_d());
        project
    }

    /// Write `ansible/inventory.d/<relative>` (sub-folders are created).
    pub fn fragment(self, relative: &str, contents: &str) -> Self {
        self.fragment_bytes(relative, contents.as_bytes())
    }

    pub fn fragment_bytes(self, relative: &str, contents: &[u8]) -> Self {
        let path = self.inventory_d().join(relative);
        write_file(&path, contents);
        self
    }

    /// Write any file of the project, relative to its root.
    pub fn file(self, relative: &str, contents: &str) -> Self {
        self.write(relative, contents);
        self
    }

    /// The shipped fragment template, extended so that the fragment of every host for which the
    /// Tera `condition` holds (`host == "bad"`) gets a line Ansible refuses.
    pub fn refusing_hosts_where(self, condition: &str) -> Self {
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/inventory.ini.tera"),
        )
        .expect("read the shipped fragment template");
        self.file(
            "templates/inventory.ini.tera",
            &format!(
                "{shipped}{{% if {condition} %}}[broken:vars]\nnot a variable line\n{{% endif %}}\n"
            ),
        )
    }

    /// [`Project::file`] for a project in use: write (or replace) a file, relative to its root.
    pub fn write(&self, relative: &str, contents: &str) {
        write_file(&self.root().join(relative), contents.as_bytes());
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn inventory_d(&self) -> PathBuf {
        self.root().join("ansible/inventory.d")
    }

    /// The merged inventory `vm inventory merge` writes.
    pub fn inventory_ini(&self) -> PathBuf {
        self.root().join("ansible/inventory.ini")
    }

    /// Bytes of a project file, `None` when it does not exist.
    pub fn read(&self, relative: &str) -> Option<Vec<u8>> {
        fs::read(self.root().join(relative)).ok()
    }

    /// Run `vm --project <root> ARGS...` with no stdin, a neutral environment and no colour.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_under(&[], args)
    }

    /// [`Project::run`] under `wrapper`, a program and its arguments that then run `vm`
    /// (`setpriv …`); no wrapper when it is empty.
    pub fn run_under(&self, wrapper: &[&str], args: &[&str]) -> Run {
        let output = self
            .command_under(wrapper, args)
            .output()
            .expect("run the vm binary");
        Run {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Start `vm` as [`Project::run`] does, in the background with its output discarded: for
    /// tests that kill it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command_under(&[], args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start `vm {}`: {e}", args.join(" ")))
    }

    fn command_under(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(vm_bin());
                command
            }
            None => Command::new(vm_bin()),
        };
        command
            .arg("--project")
            .arg(self.root())
            .args(args)
            .current_dir(self.root())
            .env_remove("VM_PROJECT")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }
}

/// The `vm` binary cargo built for these tests; `vm-backends`, which it executes for the
/// backend commands, must be next to it.
pub fn vm_bin() -> PathBuf {
    let vm = assert_cmd::cargo::cargo_bin("vm");
    let backends = vm.with_file_name("vm-backends");
    assert!(
        backends.is_file(),
        "{} is missing: build both programs first (`cargo build --workspace`; scripts/test does)",
        backends.display()
    );
    vm
}

fn write_file(path: &Path, contents: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent folders");
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Copy a folder tree byte for byte (no symlinks are expected in the corpus).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create copy target");
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.expect("read folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("entry type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// What one `vm` run did. Assertions panic with the whole run in the message.
#[derive(Debug, Clone)]
pub struct Run {
    pub args: Vec<String>,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// A one-paragraph account of the run, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "`vm {}` exited {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "{}", self.describe());
        self
    }

    pub fn success(&self) -> &Self {
        self.code(0)
    }

    pub fn stdout_contains(&self, needle: &str) -> &Self {
        self.contains("stdout", &self.stdout, needle)
    }

    pub fn stderr_contains(&self, needle: &str) -> &Self {
        self.contains("stderr", &self.stderr, needle)
    }

    fn contains(&self, which: &str, text: &str, needle: &str) -> &Self {
        assert!(
            text.contains(needle),
            "{which} lacks {needle:?}\n{}",
            self.describe()
        );
        self
    }

    /// The JSON lines of `vm --json apply` on stdout.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", self.describe()))
            })
            .collect()
    }

    /// When `vm --json apply` started each VM (its "starting" events), in order: asserts there
    /// are `count` and that each came at least `stagger` seconds after the previous one.
    pub fn assert_staggered_starts(&self, count: usize, stagger: f64) {
        let mut started: Vec<f64> = self
            .json_lines()
            .iter()
            .filter(|l| l["event"] == "phase" && l["phase"] == "starting")
            .map(|l| l["seconds"].as_f64().unwrap())
            .collect();
        started.sort_by(f64::total_cmp);
        assert_eq!(started.len(), count, "{}", self.describe());
        for pair in started.windows(2) {
            assert!(
                pair[1] - pair[0] >= stagger,
                "starts too close: {started:?}"
            );
        }
    }

    /// stdout parsed as JSON (Python's `Infinity`/`NaN` tokens accepted, see [`parse_json`]).
    pub fn json(&self) -> Value {
        parse_json(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", self.describe()))
    }

    /// The row named `name` of the JSON array on stdout (`vm --json list`).
    pub fn json_row(&self, name: &str) -> Value {
        self.json()
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no row named {name:?}\n{}", self.describe()))
    }
}

// ---------------------------------------------------------------------------------------------
// The Ansible oracle
// ---------------------------------------------------------------------------------------------

/// What `ansible-inventory -i PATH --list --export` said about one path.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// It succeeded and printed this JSON.
    Ok(Value),
    /// It failed; everything it printed on stderr (the error and its underlying cause).
    Error(String),
}

impl Answer {
    pub fn is_ok(&self) -> bool {
        matches!(self, Answer::Ok(_))
    }

    /// Ansible's own words for why it refused, without its framing: the first line of the
    /// innermost "caused by" part, less `Failed to parse inventory: `; for an error found after
    /// parsing (a loop through `all` when groups are reconciled) the `[ERROR]: ` line.
    pub fn cause(&self) -> Option<String> {
        let Answer::Error(text) = self else {
            return None;
        };
        if !text.contains("<<< caused by >>>") {
            return text
                .lines()
                .find_map(|line| line.strip_prefix("[ERROR]: "))
                .map(str::to_string);
        }
        let after = text.rsplit("<<< caused by >>>").next().unwrap_or(text);
        after
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .map(|line| {
                line.strip_prefix("Failed to parse inventory: ")
                    .unwrap_or(line)
                    .to_string()
            })
    }

    /// The inventory source Ansible named as the one it could not parse.
    pub fn failed_source(&self) -> Option<String> {
        let Answer::Error(text) = self else {
            return None;
        };
        text.lines()
            .find_map(|line| {
                line.split("Completely failed to parse inventory source ")
                    .nth(1)
            })
            .map(|s| s.trim().to_string())
    }
}

/// The bin folder of the ansible-core virtualenv (`VM_ANSIBLE_BIN`). Fails, never skips,
/// when it is not set: these tests are the proof that `vm` agrees with Ansible.
pub fn ansible_bin() -> PathBuf {
    let bin = std::env::var_os("VM_ANSIBLE_BIN").unwrap_or_else(|| {
        panic!(
            "VM_ANSIBLE_BIN is not set. The differential tests need real ansible-core: run \
             `scripts/test`, or `export VM_ANSIBLE_BIN=$(scripts/setup-ansible)` then `cargo test`."
        )
    });
    let bin = PathBuf::from(bin);
    assert!(
        bin.join("python").exists() && bin.join("ansible-inventory").exists(),
        "VM_ANSIBLE_BIN={} holds no python and ansible-inventory; `scripts/setup-ansible` prints \
         the right folder",
        bin.display()
    );
    bin
}

fn oracle_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/ansible_oracle.py")
}

/// Ask Ansible about every path, in few processes (one per core, at most two: the oracle is
/// CPU-bound and CI has two cores). Answers come back in the order of `paths`.
pub fn ask_ansible(paths: &[PathBuf]) -> Vec<Answer> {
    ask_ansible_with(paths, false)
}

/// The same questions answered by one real `ansible-inventory` subprocess per path.
pub fn ask_ansible_subprocess(paths: &[PathBuf]) -> Vec<Answer> {
    ask_ansible_with(paths, true)
}

fn ask_ansible_with(paths: &[PathBuf], subprocess: bool) -> Vec<Answer> {
    if paths.is_empty() {
        return Vec::new();
    }
    let workers = if paths.len() >= 40 { 2 } else { 1 };
    let chunk = paths.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| scope.spawn(move || ask_one_process(part, subprocess)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("oracle thread panicked"))
            .collect()
    })
}

fn ask_one_process(paths: &[PathBuf], subprocess: bool) -> Vec<Answer> {
    let bin = ansible_bin();
    let question: Vec<String> = paths
        .iter()
        .map(|p| p.to_str().expect("test paths are UTF-8").to_string())
        .collect();
    let mut command = Command::new(bin.join("python"));
    command.arg(oracle_script());
    if subprocess {
        command.arg("--subprocess");
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}/python: {e}", bin.display()));
    let input = serde_json::to_vec(&question).expect("paths as JSON");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(&input)
        .expect("send paths to the oracle");
    let output = child.wait_with_output().expect("wait for the oracle");
    let stdout = String::from_utf8(output.stdout).expect("oracle prints UTF-8");
    let answers: Vec<Answer> = stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("oracle printed a line that is not JSON ({e}): {line}"));
            match (value.get("ok"), value.get("error")) {
                (Some(ok), None) => Answer::Ok(ok.clone()),
                (None, Some(Value::String(error))) => Answer::Error(error.clone()),
                _ => panic!("oracle printed an unexpected line: {line}"),
            }
        })
        .collect();
    assert!(
        output.status.success() && answers.len() == paths.len(),
        "the oracle exited {:?} after {} of {} answers\n--- stderr ---\n{}",
        output.status.code(),
        answers.len(),
        paths.len(),
        String::from_utf8_lossy(&output.stderr)
    );
    answers
}

// ---------------------------------------------------------------------------------------------
// JSON comparison
// ---------------------------------------------------------------------------------------------

/// Parse JSON as Python's `json` module writes it: the bare tokens `Infinity`, `-Infinity` and
/// `NaN` (which a float infinity in an inventory produces) become `{"$nonfinite": "<token>"}`,
/// the form the oracle uses, so both sides compare.
pub fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(first) => {
            let tagged = tag_nonfinite(text);
            if tagged == text {
                Err(first)
            } else {
                serde_json::from_str(&tagged)
            }
        }
    }
}

fn tag_nonfinite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        let token = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        match token {
            Some(t) => {
                write!(out, "{{\"$nonfinite\": \"{t}\"}}").expect("write to String");
                rest = &rest[t.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// `None` when equal; else every differing place as `path: left vs right`, one per line.
/// Object key order is ignored (Ansible sorts keys); array order is not (host order matters);
/// numbers compare by kind too (`22` and `22.0` differ, as they do for Ansible).
pub fn json_diff(left_name: &str, left: &Value, right_name: &str, right: &Value) -> Option<String> {
    let mut lines = Vec::new();
    diff_into(&mut lines, "", left, right);
    if lines.is_empty() {
        return None;
    }
    let mut out = format!("differences ({left_name} vs {right_name}):\n");
    for line in lines.iter().take(40) {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    if lines.len() > 40 {
        writeln!(out, "  ... and {} more", lines.len() - 40).expect("write to String");
    }
    Some(out)
}

fn diff_into(out: &mut Vec<String>, at: &str, left: &Value, right: &Value) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            let keys: BTreeMap<&String, ()> = l.keys().chain(r.keys()).map(|k| (k, ())).collect();
            for key in keys.keys() {
                let here = format!("{at}/{key}");
                match (l.get(*key), r.get(*key)) {
                    (Some(a), Some(b)) => diff_into(out, &here, a, b),
                    (Some(a), None) => out.push(format!("{here}: {a} vs (absent)")),
                    (None, Some(b)) => out.push(format!("{here}: (absent) vs {b}")),
                    (None, None) => unreachable!("key came from one of the maps"),
                }
            }
        }
        (Value::Array(l), Value::Array(r)) if l.len() == r.len() => {
            for (i, (a, b)) in l.iter().zip(r).enumerate() {
                diff_into(out, &format!("{at}/{i}"), a, b);
            }
        }
        _ if left != right => {
            let at = if at.is_empty() { "/" } else { at };
            out.push(format!("{at}: {left} vs {right}"));
        }
        _ => {}
    }
}

/// Compare what `vm` printed or produced with what Ansible printed; `Err` holds the diff.
pub fn assert_same_json(ansible: &Value, vm: &Value) -> Result<(), String> {
    match json_diff("ansible", ansible, "vm", vm) {
        None => Ok(()),
        Some(diff) => Err(diff),
    }
}

/// Collects failures of many cases so one test reports all of them at once.
#[derive(Default)]
pub struct Failures {
    items: Vec<(String, String)>,
    checked: usize,
}

/// How many failures are shown in full; the others are only named.
const SHOWN_IN_FULL: usize = 25;

impl Failures {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn checked(&mut self) {
        self.checked += 1;
    }

    pub fn add(&mut self, case: impl Into<String>, why: impl Into<String>) {
        self.items.push((case.into(), why.into()));
    }

    /// Panic listing every failing case, if any.
    pub fn finish(self, what: &str) {
        if self.items.is_empty() {
            assert!(self.checked > 0, "{what}: no case was checked");
            eprintln!("{what}: {} cases checked, all agree", self.checked);
            return;
        }
        let mut names: Vec<&str> = self.items.iter().map(|(c, _)| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut report = format!(
            "{what}: {} of {} cases fail: {}\n",
            names.len(),
            self.checked,
            names.join(", ")
        );
        for (case, why) in self.items.iter().take(SHOWN_IN_FULL) {
            writeln!(report, "\n=== {case} ===\n{}", why.trim_end()).expect("write to String");
        }
        if self.items.len() > SHOWN_IN_FULL {
            writeln!(
                report,
                "\n({} more failures not shown)",
                self.items.len() - SHOWN_IN_FULL
            )
            .expect("write to String");
        }
        panic!("{report}");
    }
}

/// Makes an ed25519 key pair without passphrase at `path` (and `path.pub`) with ssh-keygen.
pub fn keygen(path: &Path, comment: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .status()
        .expect("run ssh-keygen (openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

/// A TCP port of 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
