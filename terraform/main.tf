# The module `vm provision --backend terraform` drives by default: one VM on libvirt through the
# dmacvicar/libvirt provider (a qcow2 overlay on a base image, a cloud-init disk, a domain).
# vm runs it in one workspace per VM (TF_WORKSPACE=<name>) with vm_name/memory/vcpus and the
# VM's SSH host key (TF_VAR_ssh_host_key / TF_VAR_ssh_host_public_key), and reads the vm_ip and
# ssh_host_public_key outputs: the key goes into the guest through the cloud-init disk, so vm
# pins it before the first connection. It cannot be applied on vm's CI machine (no provider download there);
# CI checks its formatting only.

terraform {
  required_version = ">= 1.3"
  required_providers {
    libvirt = {
      source  = "dmacvicar/libvirt"
      version = "~> 0.7.6"
    }
  }
}

variable "vm_name" {
  description = "VM name: domain, host name and inventory name (set by vm)."
  type        = string
}

variable "memory" {
  description = "Memory in MiB (set by vm)."
  type        = number
}

variable "vcpus" {
  description = "Virtual CPUs (set by vm)."
  type        = number
}

variable "libvirt_uri" {
  description = "libvirt connection."
  type        = string
  default     = "qemu:///system"
}

variable "pool" {
  description = "Storage pool for the disk and the cloud-init seed."
  type        = string
  default     = "default"
}

variable "base_image" {
  description = "Base image: a volume of the pool."
  type        = string
  default     = "debian-12.qcow2"
}

variable "disk_bytes" {
  description = "Size of the VM's disk."
  type        = number
  default     = 21474836480
}

variable "network" {
  description = "libvirt network with DHCP."
  type        = string
  default     = "default"
}

variable "user" {
  description = "User cloud-init creates, with sudo."
  type        = string
  default     = "debian"
}

variable "ssh_public_key" {
  description = "Public key allowed to log in as user (pass with --tf-var ssh_public_key=...)."
  type        = string
  default     = ""
}

variable "ssh_host_key" {
  description = "The VM's SSH host private key (OpenSSH, ed25519), made by vm; empty on destroy."
  type        = string
  default     = ""
  sensitive   = true
}

variable "running" {
  description = "Whether the VM runs (vm start/stop/reboot set it)."
  type        = bool
  default     = true
}

variable "ssh_host_public_key" {
  description = "The public half of ssh_host_key (set by vm)."
  type        = string
  default     = ""
}

provider "libvirt" {
  uri = var.libvirt_uri
}

resource "libvirt_volume" "disk" {
  name             = "${var.vm_name}.qcow2"
  pool             = var.pool
  base_volume_name = var.base_image
  base_volume_pool = var.pool
  size             = var.disk_bytes
  format           = "qcow2"
}

resource "libvirt_cloudinit_disk" "seed" {
  name = "${var.vm_name}-seed.iso"
  pool = var.pool
  user_data = join("\n", ["#cloud-config", yamlencode({
    hostname = var.vm_name
    users = [{
      name                = var.user
      sudo                = "ALL=(ALL) NOPASSWD:ALL"
      shell               = "/bin/bash"
      lock_passwd         = true
      ssh_authorized_keys = compact([var.ssh_public_key])
    }]
    ssh_pwauth = false
    # The host key vm made and pins: the guest never makes its own.
    ssh_deletekeys = true
    ssh_keys = var.ssh_host_key == "" ? {} : {
      ed25519_private = var.ssh_host_key
      ed25519_public  = var.ssh_host_public_key
    }
  })])
  meta_data = yamlencode({
    instance-id    = "${var.vm_name}-${terraform.workspace}"
    local-hostname = var.vm_name
  })

  # vm passes the host key only when it creates the VM (empty on resize and destroy): a later
  # apply must not rebuild the seed, nor the VM with it.
  lifecycle {
    ignore_changes = [user_data]
  }
}

resource "libvirt_domain" "vm" {
  name       = var.vm_name
  memory     = var.memory
  vcpu       = var.vcpus
  cloudinit  = libvirt_cloudinit_disk.seed.id
  qemu_agent = true
  running    = var.running

  disk {
    volume_id = libvirt_volume.disk.id
  }

  network_interface {
    network_name   = var.network
    wait_for_lease = true
  }

  console {
    type        = "pty"
    target_type = "serial"
    target_port = "0"
  }
}

output "vm_ip" {
  description = "Where Ansible connects; empty until the DHCP lease is known (vm refreshes)."
  value       = try(libvirt_domain.vm.network_interface[0].addresses[0], "")
}

output "ansible_user" {
  value = var.user
}

output "ssh_host_public_key" {
  description = "The host key installed in the guest (vm pins it); empty when vm gave none."
  value       = var.ssh_host_key == "" ? "" : var.ssh_host_public_key
}
