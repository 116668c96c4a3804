//! For unit tests only: run a script under the Python that has ansible-core 2.19, the oracle the
//! differential tests compare against. Without it the tests fail; they never pass silently.

use std::io::Write;
use std::process::{Command, Stdio};

/// The oracle interpreter: `VM_PYTHON`, else the venv `scripts/setup-ansible` made (exported as
/// `VM_ANSIBLE_BIN` by `scripts/test`), else the default venv location.
pub fn python() -> String {
    if let Ok(python) = std::env::var("VM_PYTHON") {
        return python;
    }
    let candidates = [
        std::env::var("VM_ANSIBLE_BIN")
            .ok()
            .map(|bin| format!("{bin}/python3")),
        std::env::var("HOME")
            .ok()
            .map(|home| format!("{home}/.cache/vm/ansible-core-2.19.14/bin/python3")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!(
                "no Python with ansible-core 2.19 to compare against: run `scripts/setup-ansible` \
                 (or `scripts/test`, which runs it), or point VM_PYTHON at a python3 that can \
                 `import ansible`"
            )
        })
}

/// Runs `script` (`python -c`) with `input` on stdin and returns its stdout; panics with its
/// stderr unless it exits 0.
pub fn run(script: &str, input: &str) -> String {
    let python = python();
    let mut child = Command::new(&python)
        .args(["-c", script])
        .env("PYTHONHASHSEED", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("the oracle runs");
    writer
        .join()
        .expect("writer thread")
        .expect("stdin written");
    assert!(
        output.status.success(),
        "the oracle {python} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the oracle prints UTF-8")
}

/// The seedable generator of the integration tests, `tests/common/rng.rs`, included rather than
/// copied: `XorShift(state)` is its raw-state constructor, so the unit tests' seeds keep their
/// cases.
#[allow(dead_code)]
#[path = "../../tests/common/rng.rs"]
mod rng;
pub use rng::Rng as XorShift;

/// A JSON string literal, for handing cases to the oracle.
pub fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}
