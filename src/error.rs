//! The one error type commands return, and the exit code each case maps to
//! (DESIGN.md: 0 done · 1 failed · 2 usage · 3 inventory invalid · 4 check found problems ·
//! 5 timed out).

use crate::backend::BackendError;
use crate::guest::GuestError;
use crate::guest::seed::CloudInitError;
use crate::inventory::ansible::AnsibleCheckError;
use crate::inventory::fragment::{FragmentError, FragmentInputError};
use crate::inventory::lock::LockError;
use crate::inventory::merge::MergeError;
use crate::project::ProjectError;

/// Everything a command can fail with; `Display` is the message the user reads.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments.
    #[error(transparent)]
    Input(#[from] FragmentInputError),
    /// The project or its `vm.toml`.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Merging.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// The inventory lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Writing or reading a fragment.
    #[error(transparent)]
    Fragment(#[from] FragmentError),
    /// The real `ansible-inventory` disagreed.
    #[error(transparent)]
    Ansible(#[from] AnsibleCheckError),
    /// A bad argument that clap could not catch (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The VM backend.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The cloud-init seed (templates, keys).
    #[error(transparent)]
    CloudInit(#[from] CloudInitError),
    /// SSH host keys and known_hosts.
    #[error(transparent)]
    HostKey(#[from] crate::guest::hostkey::HostKeyError),
    /// A DNS update or query.
    #[error(transparent)]
    Dns(#[from] crate::dns::DnsError),
    /// The guest did not become ready.
    #[error(transparent)]
    Guest(#[from] GuestError),
    /// A step failed and undoing what was made failed too.
    #[error("{error}\nrolling back failed: {left} is left; remove it with `{hint}`")]
    Leftover {
        /// The step that failed.
        error: Box<Error>,
        /// What is left.
        left: String,
        /// The command that removes it.
        hint: String,
    },
    /// A change the merge refused (exit 3), with the merge's message.
    #[error("{0}")]
    Refused(String),
    /// Standard output was closed by its reader (`| head`): a normal end, exit 0.
    #[error("standard output closed")]
    ClosedPipe,
    /// `check` found problems (already printed).
    #[error("{0} problem(s) found")]
    ProblemsFound(usize),
    /// Anything else, with its own full message.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Usage(_) => 2,
            Error::CloudInit(CloudInitError::Key { .. }) => 2,
            Error::Backend(BackendError::Timeout { .. }) => 5,
            Error::Backend(BackendError::Leftover { error, .. })
                if matches!(**error, BackendError::Timeout { .. }) =>
            {
                5
            }
            Error::Guest(GuestError::Timeout { .. }) => 5,
            Error::Dns(crate::dns::DnsError::Timeout { .. }) => 5,
            Error::Leftover { error, .. } => error.exit_code(),
            Error::ClosedPipe => 0,
            Error::Refused(_) => 3,
            Error::Merge(MergeError::Invalid { .. }) => 3,
            Error::Ansible(AnsibleCheckError::Refused(_)) => 3,
            Error::Merge(MergeError::Ansible(AnsibleCheckError::Refused(_))) => 3,
            Error::ProblemsFound(_) => 4,
            Error::Lock(LockError::Timeout { .. }) => 5,
            _ => 1,
        }
    }
}
