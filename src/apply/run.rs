//! Carrying out a plan: creations up to `--parallel` at once, each start at least `--stagger`
//! seconds after the previous one, each VM joining the inventory as soon as it is ready; then
//! updates (fragments rewritten) and, with `--prune`, destroys. Every VM is attempted; a failed
//! one is rolled back by the pipeline and listed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::plan::{Action, Step};
use super::{FILE_DETAIL, KEY_DETAIL};
use crate::cli::{DestroyArgs, ValidateArg};
use crate::commands::{Context, batch};
use crate::error::Error;
use crate::inventory::fragment::{Address, FragmentSpec, Marker};
use crate::output::{Board, Progress};
use crate::pipeline;

/// How one key ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Key.
    pub key: String,
    /// VM name.
    pub name: String,
    /// What was planned.
    pub action: &'static str,
    /// `ok`, `failed`, `skipped`, `unchanged`.
    pub result: &'static str,
    /// Address, when known.
    pub address: Option<String>,
    /// Seconds the action took.
    pub seconds: f64,
    /// Why it failed, or what to know.
    pub message: String,
}

impl Outcome {
    fn new(step: &Step, result: &'static str) -> Outcome {
        Outcome {
            key: step.key.clone(),
            name: step.name.clone(),
            action: step.action.name(),
            result,
            address: None,
            seconds: 0.0,
            message: String::new(),
        }
    }
}

/// How apply runs.
pub struct Options {
    /// Creations at once.
    pub parallel: usize,
    /// Least time between two starts.
    pub stagger: Duration,
    /// `--validate` of the merges.
    pub validate: ValidateArg,
    /// Restart VMs whose new size needs it.
    pub restart: bool,
}

/// Carries out `steps`; returns one outcome per step, in plan order.
pub fn apply(context: &Context, steps: &[Step], options: &Options) -> Vec<Outcome> {
    let board = Board::new(context.settings.reporter, context.settings.json);
    let mut outcomes: Vec<Option<Outcome>> = steps.iter().map(|_| None).collect();
    let creations: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].action == Action::Create)
        .collect();
    let next = Mutex::new(creations.into_iter());
    let last_start: Mutex<Option<Instant>> = Mutex::new(None);
    let done = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.parallel.max(1) {
            scope.spawn(|| {
                while let Some(i) = next.lock().ok().and_then(|mut n| n.next()) {
                    wait_for_turn(&last_start, options.stagger);
                    let outcome = create(context, &steps[i], &board);
                    if let Ok(mut done) = done.lock() {
                        done.push((i, outcome));
                    }
                }
            });
        }
    });
    board.finish();
    for (i, outcome) in done.into_inner().unwrap_or_default() {
        outcomes[i] = Some(outcome);
    }
    for (i, step) in steps.iter().enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        let start = Instant::now();
        let mut outcome = match &step.action {
            Action::Noop => Outcome::new(step, "unchanged"),
            Action::Keep => {
                let mut outcome = Outcome::new(step, "kept");
                outcome.message = step.action.detail();
                outcome
            }
            Action::Conflict(why) => {
                let mut outcome = Outcome::new(step, "refused");
                outcome.message = why.clone();
                outcome
            }
            Action::Update(what) => update(context, step, what, options),
            Action::Destroy => destroy(context, step, &options.validate),
            Action::Create => Outcome::new(step, "failed"),
        };
        outcome.seconds = start.elapsed().as_secs_f64();
        outcomes[i] = Some(outcome);
    }
    outcomes.into_iter().flatten().collect()
}

/// Waits until at least `stagger` has passed since the previous start, then records this one.
/// The lock is held while waiting, so starts are spaced one after another.
fn wait_for_turn(last_start: &Mutex<Option<Instant>>, stagger: Duration) {
    let Ok(mut last) = last_start.lock() else {
        return;
    };
    if let Some(previous) = *last {
        let due = previous + stagger;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
    *last = Some(Instant::now());
}

/// Makes one VM through the pipeline, in this thread, with its own backend connection.
fn create(context: &Context, step: &Step, board: &Board) -> Outcome {
    let start = Instant::now();
    let mut progress = board.vm(&step.name);
    progress.phase("starting");
    let mut outcome = Outcome::new(step, "failed");
    let Some((settings, vm)) = &step.request else {
        return outcome;
    };
    let own = Context {
        settings: settings.clone(),
        ..context.clone()
    };
    let made = (own.open)(&step.target, &own.settings)
        .map_err(Error::from)
        .and_then(|backend| pipeline::provision(&own, backend.as_ref(), vm, &mut progress));
    match made {
        Ok(row) => {
            progress.phase("ready");
            outcome.result = "ok";
            outcome.address = Some(match row.port {
                Some(port) => format!("{}:{port}", row.address),
                None => row.address,
            });
        }
        Err(e) => {
            progress.phase("failed");
            outcome.message = e.to_string();
        }
    }
    outcome.seconds = start.elapsed().as_secs_f64();
    outcome
}

/// Rewrites the fragment with the file's groups and vars (and this file's marker when adopted),
/// and gives the VM the file's memory and vCPUs (restarting it with `--restart` when needed).
fn update(context: &Context, step: &Step, what: &[String], options: &Options) -> Outcome {
    let validate = &options.validate;
    let mut outcome = Outcome::new(step, "failed");
    let (Some((settings, vm)), Some(path)) = (&step.request, &step.fragment) else {
        return outcome;
    };
    let result = (|| -> Result<Option<String>, Error> {
        let previous = std::fs::read_to_string(path)
            .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
        let marker = Marker::parse(&previous)
            .ok_or_else(|| Error::Failed(format!("{} lost its marker line", path.display())))?;
        let mut marker = Marker {
            details: marker
                .details
                .into_iter()
                .filter(|(k, _)| k != KEY_DETAIL && k != FILE_DETAIL)
                .collect(),
            ..marker
        };
        for (key, value) in &vm.marker_details {
            marker = marker.with_detail(key, value)?;
        }
        let own = super::plan::fragment_host(&previous);
        let address = Address {
            host: own.host.clone().unwrap_or_default(),
            port: own.port,
        };
        outcome.address = Some(match address.port {
            Some(port) => format!("{}:{port}", address.host),
            None => address.host.clone(),
        });
        let mut vars = vm.vars.clone();
        if let Some(args) = own.ssh_args {
            vars.push(("ansible_ssh_common_args".into(), args));
        }
        let spec = FragmentSpec {
            name: vm.name.clone(),
            address,
            user: own.user,
            groups: vm.groups.clone(),
            vars,
            marker,
        };
        let text = spec.render(&context.settings.project.templates_dir())?;
        let file_name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        batch::commit(
            context,
            &file_name,
            batch::Request::Write(&text),
            context.settings.validate(validate.validate),
        )?;
        let sized: Vec<&str> = what
            .iter()
            .filter(|w| w.starts_with("memory") || w.starts_with("vCPUs"))
            .map(String::as_str)
            .collect();
        if sized.is_empty() {
            return Ok(None);
        }
        let backend = (context.open)(&step.target, settings)?;
        let resized = backend.resize(&vm.name, vm.memory_mib, vm.vcpus)?;
        match (resized.restart_needed, options.restart) {
            (false, _) => Ok(None),
            (true, true) => {
                backend.restart(&vm.name)?;
                Ok(Some(format!("{}: restarted", sized.join(", "))))
            }
            (true, false) => Ok(Some(format!(
                "{}: in its configuration, in effect after a restart (`vm apply --restart`)",
                sized.join(", ")
            ))),
        }
    })();
    match result {
        Ok(note) => {
            outcome.result = "ok";
            outcome.message = note.unwrap_or_default();
        }
        Err(e) => outcome.message = e.to_string(),
    }
    outcome
}

/// Destroys a VM whose key left the file (`--prune`).
fn destroy(context: &Context, step: &Step, validate: &ValidateArg) -> Outcome {
    let mut outcome = Outcome::new(step, "failed");
    let marker = step
        .fragment
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| Marker::parse(&t));
    let args = DestroyArgs {
        names: vec![step.name.clone()],
        all: false,
        file: None,
        yes: true,
        keep_disk: false,
        connect: None,
        validate: validate.clone(),
    };
    match crate::commands::destroy::destroy_one(
        context,
        &step.name,
        &step.target,
        marker.as_ref(),
        &args,
    ) {
        Ok(_) => outcome.result = "ok",
        Err(e) => outcome.message = e.to_string(),
    }
    outcome
}
