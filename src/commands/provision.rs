//! `vm provision NAME [MEMORY_MIB] [VCPUS]`: settings resolved, the backend opened, the
//! pipeline run.

use super::Context;
use crate::cli::ProvisionArgs;
use crate::error::Error;
use crate::output::print_json;
use crate::pipeline;

/// Runs `vm provision`.
pub fn run(mut context: Context, args: &ProvisionArgs) -> Result<(), Error> {
    let vm = context.settings.provision(args)?;
    let target = context.settings.default_target();
    let backend = (context.open)(&target, &context.settings)?;
    let mut progress = context.settings.reporter.progress(&vm.name);
    let row = pipeline::provision(&context, backend.as_ref(), &vm, &mut progress)?;
    drop(progress);
    let at = match row.port {
        Some(port) => format!("{}:{port}", row.address),
        None => row.address.clone(),
    };
    context.settings.reporter.info(format!(
        "provisioned {} at {at} in {}; ansible-playbook -i {} PLAYBOOK --limit {}",
        row.name,
        crate::output::human(std::time::Duration::from_secs_f64(row.seconds)),
        context.settings.project.merged_path().display(),
        row.name
    ));
    if context.settings.json {
        print_json(&row)?;
    }
    Ok(())
}
