#!/usr/bin/env bash
# Writes the hostile scenarios that are too large to keep in git (thousands of steps) into $1.
# Each is built from a short loop; hostile.sh runs them with the files of this folder.
set -euo pipefail
out=$1
mkdir -p "$out"
head='"name": "hostile", "description": "generated hostile input", "vm": {"type": "default", "platform": "vmx"}'

# 32764 slots (the x86 maximum), then 500 VMM steps: the VMM outcome must not copy the table each time.
{
  echo "{ $head, \"host\": {\"mmap\": [{\"name\": \"ram\", \"hva\": \"0x7f0000000000\", \"size\": \"256M\", \"prot\": \"rw\"}]}, \"steps\": ["
  for ((i = 0; i < 32764; i++)); do
    printf '{"op": "KVM_SET_USER_MEMORY_REGION", "slot": %d, "flags": [], "guest_phys_addr": "0x%x", "memory_size": "4K", "userspace_addr": "ram+0x%x"},\n' \
      "$i" $((0x100000000 + i * 4096)) $(((i % 65536) * 4096))
  done
  echo '{"op": "KVM_CREATE_VCPU", "id": 0},'
  for ((i = 0; i < 500; i++)); do
    printf '{"op": "vmm_guest_read", "vcpu": 0, "gpa": "0x%x", "size": 4},\n' $((0x100000000 + i * 4096))
  done
  echo '{"op": "KVM_CHECK_EXTENSION", "cap": "KVM_CAP_NR_MEMSLOTS"}]}'
} >"$out/slots-32764-then-vmm-steps.json"

# 4096 kvmtool memory banks, each its own slot.
{
  echo "{ $head, \"host\": {\"mmap\": [{\"name\": \"ram\", \"hva\": \"0x7f0000000000\", \"size\": \"16M\", \"prot\": \"rw\"}]}, \"steps\": ["
  for ((i = 0; i < 4096; i++)); do
    printf '{"op": "vmm_register_mem", "gpa": "0x%x", "size": "4K", "hva": "ram+0x%x", "type": "RAM"},\n' $((i * 8192)) $((i * 4096))
  done
  echo '{"op": "vmm_mem_banks"}]}'
} >"$out/vmm-register-mem-4096-banks.json"

# 900 build_page_tables steps mapping gvas far apart (each needs its own tables).
{
  echo "{ $head, \"host\": {\"mmap\": [{\"name\": \"ram\", \"hva\": \"0x7f0000000000\", \"size\": \"64M\", \"prot\": \"rw\"}]}, \"steps\": ["
  echo '{"op": "KVM_SET_USER_MEMORY_REGION", "slot": 0, "flags": [], "guest_phys_addr": "0x0", "memory_size": "64M", "userspace_addr": "ram"},'
  for ((i = 0; i < 900; i++)); do
    printf '{"op": "build_page_tables", "mode": "5-level", "root": "0x1000", "pool": "0x2000", "pool_size": "60M", "map": [{"gva": "0x%x", "gpa": "0x0"}]},\n' \
      $(((i * 0x10000000000 + i * 0x40200000) & 0x00fffffffffff000))
  done
  echo '{"op": "KVM_CHECK_EXTENSION", "cap": "KVM_CAP_NR_MEMSLOTS"}]}'
} >"$out/build-page-tables-900-sparse.json"

# A kernels list of 1000 entries.
{
  echo "{ $head, \"kernels\": ["
  for ((i = 0; i < 999; i++)); do printf '"mainline", '; done
  echo '"mainline"], "steps": [{"op": "KVM_CHECK_EXTENSION", "cap": "KVM_CAP_NR_MEMSLOTS"}]}'
} >"$out/kernels-1000.json"

# host_write to N distinct pages of a large mapping (each page the model must hold): 40000 is
# within the step limit, 199998 past the file-size limit.
for n in 40000 199998; do
{
  echo "{ $head, \"host\": {\"mmap\": [{\"name\": \"ram\", \"hva\": \"0x100000000000\", \"size\": \"1T\", \"prot\": \"rw\"}]}, \"steps\": ["
  for ((i = 0; i < n; i++)); do printf '{"op": "host_write", "hva": "ram+0x%x", "size": 1, "data": 1},\n' $((i * 4096)); done
  echo '{"op": "host_read", "hva": "ram", "size": 1}]}'
} >"$out/host-write-$n-pages.json"
done

# 65000 host_mprotect calls fragmenting one mapping into single pages.
{
  echo "{ $head, \"host\": {\"mmap\": [{\"name\": \"ram\", \"hva\": \"0x7f0000000000\", \"size\": \"1G\", \"prot\": \"rw\"}]}, \"steps\": ["
  for ((i = 0; i < 65000; i++)); do printf '{"op": "host_mprotect", "hva": "ram+0x%x", "size": "4K", "prot": "r"},\n' $((i * 8192)); done
  echo '{"op": "host_read", "hva": "ram", "size": 1}]}'
} >"$out/host-mprotect-65000-fragments.json"

# Every x86 profile, each running 32764 slot creations and as many guest reads.
{
  echo "{ $head, \"kernels\": [\"v3.6\", \"v3.7\", \"v3.11\", \"v3.12\", \"mainline\"], \"host\": {\"mmap\": [{\"name\": \"ram\", \"hva\": \"0x7f0000000000\", \"size\": \"256M\", \"prot\": \"rw\"}]}, \"steps\": ["
  echo '{"op": "KVM_CREATE_VCPU", "id": 0},'
  for ((i = 0; i < 32764; i++)); do
    printf '{"op": "KVM_SET_USER_MEMORY_REGION", "slot": %d, "flags": [], "guest_phys_addr": "0x%x", "memory_size": "4K", "userspace_addr": "ram+0x%x"},\n' \
      "$i" $((0x100000000 + i * 4096)) $(((i % 65536) * 4096))
    printf '{"op": "guest_write", "vcpu": 0, "gpa": "0x%x", "size": 8, "data": 1},\n' $((0x100000000 + i * 4096))
  done
  echo '{"op": "KVM_CHECK_EXTENSION", "cap": "KVM_CAP_NR_MEMSLOTS"}]}'
} >"$out/every-kernel-32764-slots-and-writes.json"

# JSON nested 100000 deep.
{
  printf '{ %s, "steps": [{"op": "KVM_CHECK_EXTENSION", "cap": "KVM_CAP_NR_MEMSLOTS", "expect": ' "$head"
  printf '%.0s[' $(seq 100000)
  printf '%.0s]' $(seq 100000)
  echo '}]}'
} >"$out/json-nested-100000.json"

# 32764 slots created in descending gfn order, then deleted in ascending order: every insert
# lands at the front of the gfn index and every delete empties its head (a flat sorted array
# would shift the whole table each time).
{
  echo "{ $head, \"host\": {\"mmap\": [{\"name\": \"ram\", \"hva\": \"0x7f0000000000\", \"size\": \"256M\", \"prot\": \"rw\"}]}, \"steps\": ["
  for ((i = 32763; i >= 0; i--)); do
    printf '{"op":"KVM_SET_USER_MEMORY_REGION","slot":%d,"guest_phys_addr":%d,"memory_size":4096,"userspace_addr":"ram"},\n' "$i" $((i * 4096))
  done
  for ((i = 0; i < 32764; i++)); do
    printf '{"op":"KVM_SET_USER_MEMORY_REGION","slot":%d,"guest_phys_addr":%d,"memory_size":0,"userspace_addr":"ram"},\n' "$i" $((i * 4096))
  done
  echo '{"op": "KVM_CHECK_EXTENSION", "cap": "KVM_CAP_NR_MEMSLOTS"}]}'
} >"$out/slots-32764-descending-then-deleted.json"
