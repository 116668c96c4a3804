//! `vm`: provision VMs and keep one Ansible inventory correct while they come and go.
//!
//! This crate is everything but the hypervisor libraries: the inventory engine, the settings,
//! the provision pipeline, the commands and the [`backend::Backend`] seam. The backends
//! themselves (libvirt, Terraform) are in `crates/vm-backends`, which the light `vm` program
//! never links (DESIGN.md).

pub mod apply;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod dns;
pub mod error;
pub mod fsutil;
pub mod guest;
pub mod inventory;
pub mod libvirt_uri;
pub mod output;
pub mod pipeline;
pub mod project;
pub mod settings;
