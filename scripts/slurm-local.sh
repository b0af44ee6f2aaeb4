#!/usr/bin/env bash
# A single-node Slurm with accounting for autodehypo's tests and for trying the Slurm executor:
# munge, MariaDB, slurmdbd, slurmctld and slurmd started by hand (no systemd), as root. The MariaDB
# server also holds an empty database autodehypo_optuna (user autodehypo, password autodehypo) for
# the Optuna sampler's tests on a MySQL storage.
#
#   scripts/slurm-local.sh start    install the Debian packages if needed, configure, start, wait until idle
#   scripts/slurm-local.sh stop     cancel jobs and stop the daemons
#   scripts/slurm-local.sh status   exit 0 when the node takes jobs
#
# AUTODEHYPO_SLURM_ENERGY=fake (default) gives slurmd a private /sys with an HPE/Cray style pm_counters
# directory fed by a ticker (power = 50 W + 100 W x CPU busy share), which Slurm's own pm_counters
# plugin reads: ConsumedEnergy then carries real, non-zero figures. =none uses acct_gather_energy/none.
set -euo pipefail

ENERGY_MODE=${AUTODEHYPO_SLURM_ENERGY:-fake}
CLUSTER=autodehypo
PACKAGES="slurmctld slurmd slurm-client slurmdbd munge mariadb-server"
PM_DIR=/var/lib/slurm/pm_counters
DB_SOCKET=/run/mysqld/mysqld.sock

say() { printf '[slurm-local] %s\n' "$*"; }
# A pid file whose process is alive and not a zombie (PID 1 here may not reap daemons).
running() { [ -s "$1" ] || return 1; local stat; stat=$(cat "/proc/$(cat "$1")/stat" 2>/dev/null) || return 1
            stat=${stat##*) }; [ "${stat%% *}" != Z ]; }
retry() { local tries=$(( $1 * 10 )); shift; for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
node_ready() { case "$(sinfo -h -o %t 2>/dev/null)" in idle|mix|alloc) return 0 ;; esac
               scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true; return 1; }

install_packages() {
    local have; have=$(dpkg-query -W -f='${Status}\n' $PACKAGES 2>/dev/null | grep -c 'install ok installed' || true)
    [ "$have" = 6 ] && return 0
    say "installing $PACKAGES"
    local policy=0   # keep the packages' scripts from starting services
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d; policy=1; fi
    ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

start_munge() {
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    install -d -o munge -g munge -m 0755 /run/munge
    [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key
                                     chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
    running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged --force
    retry 10 sh -c 'munge -n | unmunge'
}

start_mariadb() {
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    if ! mariadb-admin --socket=$DB_SOCKET ping >/dev/null 2>&1; then
        setsid nohup /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql --socket=$DB_SOCKET \
            --pid-file=/run/mysqld/mysqld.pid --bind-address=127.0.0.1 --innodb-lock-wait-timeout=900 \
            </dev/null >/dev/null 2>&1 &
    fi
    retry 30 mariadb-admin --socket=$DB_SOCKET ping
    mariadb --socket=$DB_SOCKET -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'autodehypo';
        ALTER USER 'slurm'@'localhost' IDENTIFIED BY 'autodehypo';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
        CREATE DATABASE IF NOT EXISTS autodehypo_optuna;
        CREATE USER IF NOT EXISTS 'autodehypo'@'localhost' IDENTIFIED BY 'autodehypo';
        ALTER USER 'autodehypo'@'localhost' IDENTIFIED BY 'autodehypo';
        GRANT ALL ON autodehypo_optuna.* TO 'autodehypo'@'localhost'; FLUSH PRIVILEGES;"
}

write_config() {
    local host cpus mem energy_plugin
    host=$(hostname -s)
    read -r cpus mem < <(slurmd -C | head -1 | sed -E 's/.*CPUs=([0-9]+).*RealMemory=([0-9]+).*/\1 \2/')
    mem=$(( mem * 9 / 10 ))   # headroom: a node whose free memory dips below RealMemory is drained
    energy_plugin=acct_gather_energy/none
    [ "$ENERGY_MODE" = fake ] && energy_plugin=acct_gather_energy/pm_counters
    install -d -o slurm -g slurm -m 0755 /etc/slurm /run/slurm /var/log/slurm /var/lib/slurm \
        /var/lib/slurm/ctld /var/lib/slurm/d
    cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=autodehypo
StorageLoc=slurm_acct_db
CONF
    chown slurm:slurm /etc/slurm/slurmdbd.conf; chmod 0600 /etc/slurm/slurmdbd.conf
    # DefMemPerCPU lets jobs share the node; PrologFlags=Contain gives the .extern step lines;
    # cred_expire=30 shortens the wait before a requeued job may start again (default 120 s).
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=30
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
PrologFlags=Contain
ReturnToService=2
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
StateSaveLocation=/var/lib/slurm/ctld
SlurmdSpoolDir=/var/lib/slurm/d
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
KillWait=5
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
AcctGatherEnergyType=$energy_plugin
AcctGatherNodeFreq=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    : > /etc/slurm/gres.conf
}

start_pm_counters_ticker() {
    # power [W] = 50 + 100 x busy share of all CPUs over the last second; energy [J] = its running sum
    cat > /var/lib/slurm/pm-ticker.sh <<'TICK'
#!/bin/bash
dir=/var/lib/slurm/pm_counters; mkdir -p "$dir"; joules=0
[ -s "$dir/energy" ] && joules=$(cut -d' ' -f1 "$dir/energy")
read -r _ a b c idle iow d e f _ < /proc/stat; busy0=$((a+b+c+d+e+f)); total0=$((busy0+idle+iow))
while :; do
    sleep 1
    read -r _ a b c idle iow d e f _ < /proc/stat; busy=$((a+b+c+d+e+f)); total=$((busy+idle+iow))
    span=$((total-total0)); [ "$span" -gt 0 ] || span=1
    watts=$(( 50 + 100 * (busy-busy0) / span )); busy0=$busy; total0=$total; joules=$((joules+watts))
    echo "$watts W" > "$dir/.p"; mv -f "$dir/.p" "$dir/power"
    echo "$joules J" > "$dir/.e"; mv -f "$dir/.e" "$dir/energy"
done
TICK
    chmod +x /var/lib/slurm/pm-ticker.sh
    running /run/slurm/pm-ticker.pid || { setsid nohup /var/lib/slurm/pm-ticker.sh </dev/null >/dev/null 2>&1 &
                                          echo $! > /run/slurm/pm-ticker.pid; }
    retry 5 test -s $PM_DIR/energy
}

start_slurmd() {
    rm -f /run/slurm/slurmd.pid
    if [ "$ENERGY_MODE" = fake ]; then
        start_pm_counters_ticker
        # sysfs takes no new directories: slurmd (and its jobs) get a private /sys, a tmpfs holding
        # every real /sys entry bound back in, plus cray/pm_counters.
        unshare -m --propagation private /bin/bash -ec '
            root=/run/slurm/sys; mkdir -p $root; mount -t tmpfs -o mode=755 autodehypo-sys $root
            for entry in /sys/*; do mkdir "$root/${entry##*/}"; mount --rbind "$entry" "$root/${entry##*/}"; done
            mkdir -p $root/cray/pm_counters; mount --bind '"$PM_DIR"' $root/cray/pm_counters
            mount --rbind $root /sys
            exec /usr/sbin/slurmd'
    else
        /usr/sbin/slurmd
    fi
    retry 10 running /run/slurm/slurmd.pid
}

start() {
    [ "$(id -u)" = 0 ] || { echo "slurm-local.sh: run as root" >&2; exit 1; }
    install_packages
    start_munge
    start_mariadb
    write_config
    running /run/slurm/slurmdbd.pid || /usr/sbin/slurmdbd
    retry 30 sacctmgr -n show cluster
    [ -n "$(sacctmgr -n -P show cluster $CLUSTER format=cluster)" ] || sacctmgr -i add cluster $CLUSTER >/dev/null
    running /run/slurm/slurmctld.pid || /usr/sbin/slurmctld
    retry 30 scontrol ping
    running /run/slurm/slurmd.pid || start_slurmd
    retry 60 node_ready || { echo "slurm-local.sh: node not idle; see /var/log/slurm/" >&2; exit 1; }
    say "ready: $(sinfo -h -o '%P %t %N')"
}

stop_daemon() {
    local pidfile=$1; running "$pidfile" || { rm -f "$pidfile"; return 0; }
    local pid; pid=$(cat "$pidfile"); kill -TERM "$pid"
    for _ in $(seq 300); do running "$pidfile" || { rm -f "$pidfile"; return 0; }; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true; rm -f "$pidfile"
}

stop() {
    if running /run/slurm/slurmctld.pid; then
        local jobs; jobs=$(squeue -h -o %A 2>/dev/null || true); [ -z "$jobs" ] || scancel $jobs || true
    fi
    stop_daemon /run/slurm/slurmd.pid
    stop_daemon /run/slurm/pm-ticker.pid
    stop_daemon /run/slurm/slurmctld.pid
    stop_daemon /run/slurm/slurmdbd.pid
    stop_daemon /run/mysqld/mysqld.pid
    stop_daemon /run/munge/munged.pid
    say "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) node_ready ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
