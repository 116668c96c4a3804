//! The inventory engine: Ansible-exact parsing of INI fragments, merging them with Ansible's
//! semantics, and replacing `ansible/inventory.ini` atomically under a lock.
//!
//! Reading order of the modules: `shlex`, `hostpattern` and `pyliteral` reproduce the Python
//! pieces Ansible's INI plugin is built on; `ini` is the plugin itself driving `model`
//! (Ansible's inventory data); `export` lists it as `ansible-inventory` does; `render` writes it
//! back normalized; `merge` and `lock` make the replacement safe; `fragment` writes one VM's
//! fragment; `check` finds what is wrong; `ansible` asks the real Ansible for a second opinion.

pub mod ansible;
pub mod check;
pub mod export;
pub mod fragment;
pub mod hostpattern;
pub mod hostvars;
pub mod ini;
pub mod lock;
pub mod merge;
pub mod model;
pub mod pyliteral;
pub mod render;
pub mod shlex;
#[cfg(test)]
pub(crate) mod test_oracle;
