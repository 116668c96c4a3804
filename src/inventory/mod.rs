//! The inventory engine: Ansible-exact parsing of INI fragments, merging them with Ansible's
//! semantics, and replacing `ansible/inventory.ini` atomically under a lock.
