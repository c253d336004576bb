#!/usr/bin/env bash
# A single-node SLURM cluster on localhost, for tests and CI: `local-cluster.sh up|down|status`.
# Installs Debian's slurm-wlm and munge if missing (needs root), declares two fake GPUs so that
# `gpu=1` jobs schedule, and keeps all state under $LINGTRACE_SLURM_DIR (default /tmp/lingtrace-slurm).
set -euo pipefail

DIR=${LINGTRACE_SLURM_DIR:-/tmp/lingtrace-slurm}
CONF=/etc/slurm/slurm.conf

install_packages() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
}

write_config() {
  local host cpus
  host=$(hostname -s)
  # More job slots than cores: the test jobs are short and single-threaded, and the SLURM executor
  # polls job states at intervals of 10 s and more, so a study's wall time here is set by polling
  # rounds, not by compute.
  cpus=${LINGTRACE_SLURM_CPUS:-$(( $(nproc) > 8 ? $(nproc) : 8 ))}
  mkdir -p "$DIR"/{state,spool,log,gpu} /etc/slurm
  touch "$DIR"/gpu/gpu0 "$DIR"/gpu/gpu1
  cat > "$CONF" <<CONF
ClusterName=lingtrace
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
GresTypes=gpu
# The node advertises 256 GB and at least 8 CPUs whatever the machine has (config_overrides), so that
# the SLURM profile's requests, sized for real cluster nodes, schedule here; the jobs need little.
SlurmdParameters=config_overrides
NodeName=$host CPUs=$cpus RealMemory=262144 Gres=gpu:2 State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  cat > /etc/slurm/gres.conf <<GRES
NodeName=$host Name=gpu File=$DIR/gpu/gpu[0-1]
GRES
}

start_munge() {
  mkdir -p /etc/munge /var/run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || mungekey -c -k /etc/munge/munge.key 2>/dev/null || \
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown -R munge:munge /etc/munge /var/run/munge /var/log/munge /var/lib/munge
  chmod 0400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || runuser -u munge -- munged
}

wait_for_node() {
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      return 0
    fi
    sleep 1
  done
  echo "local-cluster: the node did not become idle; see $DIR/log" >&2
  sinfo >&2 || true
  return 1
}

up() {
  install_packages
  down >/dev/null  # start from this configuration, not a previous one
  write_config
  start_munge
  slurmctld
  slurmd
  wait_for_node
  scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true
  sinfo
}

down() {
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  for _ in $(seq 1 20); do pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || break; sleep 0.5; done
  echo "local-cluster: stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) sinfo && squeue ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
