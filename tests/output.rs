//! What the user reads: a closed pipe is a normal end, and `--json` prints typed rows only.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Project, vm_bin};

/// `vm inventory list | head -1` on a big inventory: the reader goes away after one line.
fn first_line_then_close(project: &Project, args: &[&str]) -> (String, std::process::Output) {
    let mut child = Command::new(vm_bin())
        .arg("--project")
        .arg(project.root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vm");
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    (first, child.wait_with_output().unwrap())
}

#[test]
fn a_reader_that_closes_the_pipe_ends_list_quietly_with_exit_0() {
    let mut project = Project::new();
    // Far more than a pipe holds (64 KiB), so vm is still writing when the reader goes.
    for i in 0..4000 {
        project = project.fragment(
            &format!("host-{i:05}.ini"),
            &format!(
                "[web]\nhost-{i:05} ansible_host=10.1.{}.{} note=padding-padding-padding\n",
                i / 250,
                i % 250
            ),
        );
    }
    for args in [
        &["inventory", "list"][..],
        &["inventory", "list", "--ansible-json"],
        &["--json", "inventory", "list"],
    ] {
        let (first, output) = first_line_then_close(&project, args);
        assert!(!first.is_empty(), "{args:?} printed nothing");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stderr.is_empty(),
            "{args:?} said: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

const MODULE: &str = r#"
variable "vm_name" { type = string }
variable "memory" { type = number }
variable "vcpus" { type = number }
resource "terraform_data" "vm" { input = var.vm_name }
output "vm_ip" { value = "10.9.0.7" }
"#;

#[test]
fn json_rows_of_provision_list_check_and_destroy_are_typed_and_alone_on_stdout() {
    let project = Project::new();
    let dir = project.root().join("tf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), MODULE).unwrap();
    std::fs::write(
        project.root().join("vm.toml"),
        format!(
            "backend = \"terraform\"\nterraform_dir = {:?}\nvalidate = \"internal\"\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    let provisioned = project.run(&["--json", "provision", "tf-json", "1024", "2", "--no-wait"]);
    provisioned.success();
    let row = provisioned.json();
    assert_eq!(row["name"], "tf-json");
    assert_eq!(row["backend"], "terraform");
    assert_eq!(row["address"], "10.9.0.7");
    assert_eq!(row["port"], serde_json::Value::Null);
    // A module that does not output the host key: pinned on first use, and said so.
    assert_eq!(row["host_key"], "first-use");
    assert_eq!(row["hosts"], 1);
    provisioned.stderr_contains("accept-new");

    let list = project.run(&["--json", "list"]);
    list.success();
    let rows = list.json();
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(row["name"], "tf-json");
    assert_eq!(row["backend"], "terraform");
    assert_eq!(row["state"], "applied");
    assert_eq!(row["memory_mib"], 1024);
    assert_eq!(row["vcpus"], 2);
    assert_eq!(row["address"], "10.9.0.7");
    assert_eq!(row["fragment"], "current");
    assert_eq!(row["host_key"], "first-use");

    let check = project.run(&["--json", "inventory", "check"]);
    check.success();
    let report = check.json();
    assert_eq!(
        report["problems"],
        serde_json::json!([]),
        "{}",
        check.describe()
    );

    let destroyed = project.run(&["--json", "destroy", "tf-json", "--yes"]);
    destroyed.success();
    let row = destroyed.json();
    assert_eq!(row["name"], "tf-json");
    assert_eq!(row["backend"], "terraform");
    assert_eq!(row["existed"], true);
    assert_eq!(row["fragment_removed"], true);
}
