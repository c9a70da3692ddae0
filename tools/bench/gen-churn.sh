#!/usr/bin/env bash
# Writes a 32764-slot churn scenario to $1: every slot created, then the first $2 (8192) moved,
# read by the guest and deleted; within the 8 MiB and 100000-step limits (docs/limits.md). docs/performance.md times `kvmsim validate` and
# `kvmsim run` on it (item 3 of issue 12: parsing against the model's own cost).
set -euo pipefail
n=32764
churn=${2:-8192}
{
  echo '{"name": "churn", "description": "32764 memslots created, then 8192 of them moved, read and deleted (benchmark input)",'
  echo ' "vm": {"type": "default", "platform": "vmx"},'
  echo ' "host": {"mmap": [{"name": "ram", "hva": "0x7f0000000000", "size": "256M", "prot": "rw"}]}, "steps": ['
  echo '{"op": "KVM_CREATE_VCPU", "id": 0},'
  for ((i = 0; i < n; i++)); do
    printf '{"op": "KVM_SET_USER_MEMORY_REGION", "slot": %d, "flags": [], "guest_phys_addr": "0x%x", "memory_size": "4K", "userspace_addr": "ram+0x%x"},\n' \
      "$i" $((0x100000000 + i * 8192)) $(((i % 65536) * 4096))
  done
  for ((i = 0; i < churn; i++)); do
    printf '{"op": "KVM_SET_USER_MEMORY_REGION", "slot": %d, "flags": [], "guest_phys_addr": "0x%x", "memory_size": "4K", "userspace_addr": "ram+0x%x"},\n' \
      "$i" $((0x100000000 + i * 8192 + 4096)) $(((i % 65536) * 4096))
    printf '{"op": "guest_read", "vcpu": 0, "gpa": "0x%x", "size": 4},\n' $((0x100000000 + i * 8192 + 4096))
    printf '{"op": "KVM_SET_USER_MEMORY_REGION", "slot": %d, "flags": [], "guest_phys_addr": "0x%x", "memory_size": "0", "userspace_addr": "ram+0x%x"},\n' \
      "$i" $((0x100000000 + i * 8192 + 4096)) $(((i % 65536) * 4096))
  done
  echo '{"op": "KVM_CHECK_EXTENSION", "cap": "KVM_CAP_NR_MEMSLOTS"}]}'
} >"$1"
