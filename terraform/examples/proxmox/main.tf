# A module for `vm provision --backend terraform --terraform-dir terraform/examples/proxmox` on
# Proxmox VE through the bpg/proxmox provider: clone a cloud-init template, DHCP, the guest
# agent reports the address. Same contract as ../../main.tf: inputs vm_name, memory, vcpus and
# the host key vm made (ssh_host_key, ssh_host_public_key); outputs vm_ip and
# ssh_host_public_key. The user-data (with the host key) is a snippet on the node's
# `snippets_datastore`, which must allow the "snippets" content type. Not applied in vm's CI (no provider download there): formatting is checked only.

terraform {
  required_version = ">= 1.3"
  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = "~> 0.66"
    }
  }
}

variable "vm_name" {
  type = string
}

variable "memory" {
  type = number
}

variable "vcpus" {
  type = number
}

variable "proxmox_endpoint" {
  description = "API endpoint, e.g. https://pve.example:8006/."
  type        = string
}

variable "proxmox_api_token" {
  description = "API token, user@realm!id=secret (keep it out of the repository: TF_VAR_proxmox_api_token)."
  type        = string
  sensitive   = true
}

variable "node_name" {
  description = "Proxmox node that hosts the VM."
  type        = string
}

variable "template_vm_id" {
  description = "ID of the cloud-init ready template to clone."
  type        = number
}

variable "bridge" {
  type    = string
  default = "vmbr0"
}

variable "user" {
  type    = string
  default = "debian"
}

variable "ssh_public_key" {
  type    = string
  default = ""
}

variable "snippets_datastore" {
  description = "Datastore holding the cloud-init user-data snippet (content type snippets)."
  type        = string
  default     = "local"
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

provider "proxmox" {
  endpoint  = var.proxmox_endpoint
  api_token = var.proxmox_api_token
}

resource "proxmox_virtual_environment_file" "user_data" {
  content_type = "snippets"
  datastore_id = var.snippets_datastore
  node_name    = var.node_name

  source_raw {
    file_name = "${var.vm_name}-user-data.yaml"
    data = join("\n", ["#cloud-config", yamlencode({
      hostname = var.vm_name
      users = [{
        name                = var.user
        sudo                = "ALL=(ALL) NOPASSWD:ALL"
        shell               = "/bin/bash"
        lock_passwd         = true
        ssh_authorized_keys = compact([var.ssh_public_key])
      }]
      ssh_pwauth     = false
      ssh_deletekeys = true
      ssh_keys = var.ssh_host_key == "" ? {} : {
        ed25519_private = var.ssh_host_key
        ed25519_public  = var.ssh_host_public_key
      }
      packages = ["qemu-guest-agent"]
      runcmd   = [["systemctl", "enable", "--now", "qemu-guest-agent"]]
    })])
  }

  # vm passes the host key only when it creates the VM (empty on resize and destroy).
  lifecycle {
    ignore_changes = [source_raw]
  }
}

resource "proxmox_virtual_environment_vm" "vm" {
  name      = var.vm_name
  node_name = var.node_name
  started   = var.running

  clone {
    vm_id = var.template_vm_id
  }

  agent {
    enabled = true
  }

  cpu {
    cores = var.vcpus
  }

  memory {
    dedicated = var.memory
  }

  network_device {
    bridge = var.bridge
  }

  initialization {
    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }
    user_data_file_id = proxmox_virtual_environment_file.user_data.id
  }
}

output "vm_ip" {
  description = "The first non-loopback IPv4 address the guest agent reports; empty until then."
  value = try([
    for ip in flatten(proxmox_virtual_environment_vm.vm.ipv4_addresses) : ip if ip != "127.0.0.1"
  ][0], "")
}

output "ansible_user" {
  value = var.user
}

output "ssh_host_public_key" {
  description = "The host key installed in the guest (vm pins it); empty when vm gave none."
  value       = var.ssh_host_key == "" ? "" : var.ssh_host_public_key
}
