//! `vm`: provision VMs and keep one Ansible inventory correct while they come and go.
//!
//! The binary in `main.rs` only parses arguments and maps errors to exit codes; everything else
//! lives here so integration tests and benchmarks can reach the domain code.

pub mod backend;
pub mod cli;
pub mod cloudinit;
pub mod commands;
pub mod error;
pub mod fsutil;
pub mod hostkey;
pub mod inventory;
pub mod output;
pub mod project;
pub mod wait;
