//! `vm apply [-f vms.toml]`: plan the file against what exists, print the plan (`--dry-run`),
//! or carry it out and close with a table of what happened.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Context;
use crate::apply::Source;
use crate::apply::plan::{self, Action};
use crate::apply::run::{self, Options};
use crate::backend::Backends;
use crate::cli::ApplyArgs;
use crate::error::Error;
use crate::output::{print_json, print_lines};

/// The file of VMs: `-f FILE`, else `vms.toml` in the project.
pub fn file_path(context: &Context, file: Option<&Path>) -> PathBuf {
    file.map_or_else(
        || context.settings.project.root.join("vms.toml"),
        Path::to_path_buf,
    )
}

/// Runs `vm apply`.
pub fn run(context: Context, args: &ApplyArgs) -> Result<(), Error> {
    if !(0.0..=86_400.0).contains(&args.stagger) {
        return Err(Error::Usage(format!(
            "--stagger {} is out of range; give 0 to 86400 seconds",
            args.stagger
        )));
    }
    let path = file_path(&context, args.file.as_deref());
    let source = Source::read(&path, &context.settings.project.root)?;
    let backends = Backends::new(&context.settings, context.open);
    let steps = plan::plan(
        &context,
        &source,
        &backends,
        args.prune,
        args.adopt,
        args.no_wait,
    )?;
    drop(backends);
    if args.dry_run {
        return print_plan(&context, &steps);
    }
    let destroys: Vec<&str> = steps
        .iter()
        .filter(|s| s.action == Action::Destroy)
        .map(|s| s.name.as_str())
        .collect();
    if !destroys.is_empty() && !args.yes {
        confirm(&destroys)?;
    }
    if !steps
        .iter()
        .any(|s| !matches!(s.action, Action::Noop | Action::Keep))
    {
        context.settings.reporter.info(format!(
            "{}: nothing to do ({} VMs as the file says)",
            path.display(),
            steps.iter().filter(|s| s.action == Action::Noop).count()
        ));
    }
    if context.settings.project.fragment_dir().exists()
        || steps.iter().any(|s| s.action == Action::Create)
    {
        std::fs::create_dir_all(context.settings.project.fragment_dir()).map_err(|e| {
            Error::Failed(format!(
                "cannot create {}: {e}",
                context.settings.project.fragment_dir().display()
            ))
        })?;
    }
    let options = Options {
        parallel: args.parallel as usize,
        stagger: Duration::from_secs_f64(args.stagger),
        validate: args.validate.clone(),
        restart: args.restart,
    };
    let outcomes = run::apply(&context, &steps, &options);
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o.result, "failed" | "refused"))
        .count();
    if context.settings.json {
        for outcome in &outcomes {
            print_json(outcome)?;
        }
    } else {
        let line = |c: [&str; 5]| {
            format!(
                "{:<24} {:<9} {:<10} {:<22} {:>8}",
                c[0], c[1], c[2], c[3], c[4]
            )
        };
        let mut lines = vec![line(["NAME", "ACTION", "RESULT", "ADDRESS", "SECONDS"])];
        for o in &outcomes {
            lines.push(line([
                &o.name,
                o.action,
                o.result,
                o.address.as_deref().unwrap_or("-"),
                &format!("{:.1}", o.seconds),
            ]));
        }
        print_lines(lines)?;
        for o in outcomes.iter().filter(|o| !o.message.is_empty()) {
            let level = if matches!(o.result, "failed" | "refused") {
                "error"
            } else {
                "note"
            };
            eprintln!("{level}: {} ({}): {}", o.name, o.key, o.message);
        }
    }
    if failed > 0 {
        Err(Error::Failed(format!(
            "{failed} of {} VMs of {} failed (see above); the others are done",
            outcomes.len(),
            path.display()
        )))
    } else {
        Ok(())
    }
}

fn print_plan(context: &Context, steps: &[plan::Step]) -> Result<(), Error> {
    if context.settings.json {
        for step in steps {
            print_json(&step.row())?;
        }
        return Ok(());
    }
    let line = |c: [&str; 5]| {
        format!(
            "{:<16} {:<24} {:<9} {:<10} {}",
            c[0], c[1], c[2], c[3], c[4]
        )
    };
    let mut lines = vec![line(["KEY", "NAME", "ACTION", "BACKEND", "DETAIL"])];
    for step in steps {
        let row = step.row();
        lines.push(line([
            &row.key,
            &row.name,
            row.action,
            &row.backend,
            &row.detail,
        ]));
    }
    print_lines(lines)
}

/// Asks before destroying; refuses without `--yes` off a terminal.
fn confirm(names: &[&str]) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "--prune would destroy {}: pass --yes as well (not on a terminal)",
            names.join(", ")
        )));
    }
    eprint!("Destroy {} (gone from the file)? [y/N] ", names.join(", "));
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::Failed(format!("cannot read the answer: {e}; pass --yes")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Failed("nothing done".into()))
    }
}
