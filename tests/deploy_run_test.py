#!/usr/bin/env python3
"""Runs the deployment files' clusters as processes, each service in a
network namespace of its own on a bridge, the way a container engine or a
cluster network would place them, but without either (no image is built,
nothing is pulled): what it checks is the configuration in deploy/.

  compose  compose.yaml: setup.sh writes the secrets (into a scratch
           directory standing for the secrets volume); etcd1..3 run with
           their compose command lines at their fixed addresses, n1..3 run
           ledger-node with n1.toml..n3.toml, changed in two paths only
           (/secrets/ and data_dir point into the scratch directory); each
           becomes healthy by its compose health check, run in its
           namespace; the published ports (127.0.0.1:7510 ...) forward to
           the nodes as a port mapping does.
  k8s      deploy/k8s: etcd members stand behind the etcd Services' names;
           make-secrets.sh makes the Secrets, laid out with the ConfigMap
           as the init container sees them; render.sh writes each pod's
           configuration (paths under /run/ledger and data_dir moved into
           the scratch directory); ledger-node runs with the StatefulSet's
           command at the pod's DNS name; each pod passes its readiness
           probe, run in its namespace.

Then, in both, the README's client side: ledgerctl with the profiles the
scripts wrote reads through the profiles' address, an admin write and 300
events sent to a follower follow its refusal to the leader's address as
configured, and every node ends with the same entries: replication between
the nodes by the names in the configurations, over mutual TLS with the
certificates the scripts made. Service names resolve through a copy of
/etc/hosts bind-mounted in the test's own mount namespace.

Needs root (unshare, ip, mount, nsenter) and Debian's etcd-server and
etcd-client; exits 77 (skipped) where network namespaces with bridges
cannot be made. All traffic stays in the namespaces this test creates.

  deploy_run_test.py --source SOURCE --ledger-node BIN --ledgerctl BIN
"""

import argparse
import base64
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
INNER = "LEDGER_DEPLOY_RUN_SCENARIO"


def log(message):
    print(f"deploy_run_test: {message}", flush=True)


def run(cmd, check=True, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: "
                           f"{proc.stdout}{proc.stderr}")
    return proc


def wait_for(what, predicate, seconds):
    deadline = time.monotonic() + seconds
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {seconds} s waiting for "
                               f"{what}")
        time.sleep(0.2)


class Forwarder:
    """A published port: accepts on 127.0.0.1:PORT and copies bytes both
    ways to TARGET, as a container engine's port mapping does."""

    def __init__(self, port, target):
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


class Container:
    """A process in a network namespace of its own, with eth0 on the
    bridge at a fixed address."""

    # Runs inside the new namespace: waits for eth0, configures it, execs.
    BOOT = ('while ! ip link show eth0 >/dev/null 2>&1; do sleep 0.02; done; '
            'ip link set lo up && ip addr add "$1" dev eth0 && '
            'ip link set eth0 up && shift && exec "$@"')

    def __init__(self, name, address, prefix, argv, log_dir):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["unshare", "--net", "bash", "-c", self.BOOT, "boot",
             f"{address}/{prefix}"] + argv,
            stdout=self.log_file, stderr=subprocess.STDOUT)
        # The veth's far end goes into the child's namespace: wait until
        # the child has one (unshare may not have run yet).
        own = os.readlink("/proc/self/ns/net")
        wait_for(f"{name}'s network namespace",
                 lambda: self._netns() not in (None, own), 10)
        veth = f"v{name}"[:15]
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name",
             "eth0", "netns", str(self.proc.pid)])
        run(["ip", "link", "set", veth, "master", "br0"])
        run(["ip", "link", "set", veth, "up"])

    def _netns(self):
        try:
            return os.readlink(f"/proc/{self.proc.pid}/ns/net")
        except OSError:
            return None

    def exec(self, argv, check=False):
        """Runs argv in the container's network namespace (a health check)."""
        return run(["nsenter", "-t", str(self.proc.pid), "-n"] + argv,
                   check=check)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def tail(self):
        with open(self.log_path) as f:
            return "".join(f.readlines()[-15:])


def healthcheck_argv(service, replace):
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", f"health check form {test[0]}"
    return [replace(a) for a in test[1:]]


def network(subnet, hosts, tmp):
    """This namespace as the host: /etc/hosts answering `hosts` (a copy
    bind-mounted in this test's mount namespace, as a cluster's DNS would
    answer), a bridge br0 with the subnet's first address."""
    path = os.path.join(tmp, "hosts")
    with open(path, "w") as f:
        f.write("127.0.0.1 localhost\n")
        for name, address in hosts.items():
            f.write(f"{address} {name}\n")
    run(["mount", "--bind", path, "/etc/hosts"])
    run(["ip", "link", "set", "lo", "up"])
    run(["ip", "link", "add", "br0", "type", "bridge"])
    run(["ip", "addr", "add", f"{next(subnet.hosts())}/{subnet.prefixlen}",
         "dev", "br0"])
    run(["ip", "link", "set", "br0", "up"])


def healthy(container, argv):
    if container.proc.poll() is not None:
        raise RuntimeError(f"{container.name} exited with code "
                           f"{container.proc.returncode}")
    return container.exec(argv).returncode == 0


def workload(ctl, tls, servers, origin, tmp):
    """The README's client side against a running cluster: servers maps
    each node to the address a client reaches it by. Reads through the
    profiles' own address; an admin write and 300 events sent to a
    follower, which names the leader's address, which ledgerctl follows;
    then every node holds the same entries."""

    def ctl_run(profile, *argv, server=None, check=True):
        cmd = [ctl, "--profile", os.path.join(tls, f"{profile}.profile")]
        if server:
            cmd += ["--server", server]
        return run(cmd + list(argv), check=check)

    def leader():
        for n, server in servers.items():
            info = ctl_run("regulator", "keys", server=server, check=False)
            if info.returncode == 0 and \
                    json.loads(info.stdout)["write_state"] == "running":
                return n
        return None

    lead = wait_for("a leader", leader, 60)
    follower = next(n for n in sorted(servers) if n != lead)
    info = json.loads(ctl_run("regulator", "keys").stdout)
    if info["origin"] != origin:
        raise RuntimeError(f"origin {info['origin']}, expected {origin}")
    log(f"leader {lead}; ledgerctl reads with the profiles' address")

    keys = os.path.join(tmp, "keys")
    ctl_run("admin", "keygen", "--name", "platform", "--out", keys)
    ctl_run("admin", "register-key", "--pub",
            os.path.join(keys, "platform.pub"), "--tenant", "demo",
            "--producer", "label-studio", server=servers[follower])
    events = os.path.join(tmp, "events.jsonl")
    with open(events, "w") as f:
        f.write(ctl_run("emitter", "gen-events", "--count", "300", "--tenant",
                        "demo", "--producer", "label-studio/1.13.1").stdout)
    receipts = ctl_run("emitter", "append", "--emitter-key", keys, "--file",
                       events, server=servers[follower])
    lines = [json.loads(line) for line in receipts.stdout.splitlines()]
    if len(lines) != 300:
        raise RuntimeError(f"{len(lines)} receipts for 300 events")
    log(f"an admin write and 300 events sent to follower {follower} reached "
        f"the leader at the address the follower named")
    last = max(line["index"] for line in lines)

    def sizes():
        got = {}
        for n, server in servers.items():
            info = ctl_run("regulator", "keys", server=server, check=False)
            if info.returncode == 0:
                got[n] = int(json.loads(info.stdout)["size"])
        return got if len(got) == len(servers) and \
            all(v > last for v in got.values()) else None

    got = wait_for("every node holding the appended entries", sizes, 60)
    log(f"every node holds the entries (committed sizes {got})")
    # The entry's bytes and leaf hash (its JSON form orders attribute maps
    # as it likes).
    entries = {}
    for n, server in servers.items():
        e = json.loads(ctl_run("regulator", "get", "--index", str(last),
                               server=server).stdout)
        entries[n] = (e["leaf_hash"], e["entry_bytes"])
    if len(set(entries.values())) != 1:
        raise RuntimeError(f"entry {last} differs between nodes: "
                           f"{ {n: e[0] for n, e in entries.items()} }")
    log(f"entry {last} is the same on every node")


def compose_scenario(args, tmp, containers, forwarders):
    import yaml
    folder = os.path.join(args.source, "deploy", "compose")
    with open(os.path.join(folder, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    services = compose["services"]
    subnet = ipaddress.IPv4Network(
        compose["networks"]["ledger"]["ipam"]["config"][0]["subnet"])
    etcd_names = sorted(n for n in services if n.startswith("etcd"))
    node_names = sorted(n for n in services if n.startswith("n"))
    addresses = {n: services[n]["networks"]["ledger"]["ipv4_address"]
                 for n in etcd_names}
    # Nodes get what a container engine would: free addresses of the
    # subnet (its first one is the bridge's).
    taken = set(addresses.values()) | {str(next(subnet.hosts()))}
    free = (str(a) for a in subnet.hosts() if str(a) not in taken)
    for n in node_names:
        addresses[n] = next(free)
    network(subnet, addresses, tmp)

    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)

    def in_tmp(value):
        return value.replace("/secrets/", secrets + "/")

    setup = services["setup"]
    env = dict(os.environ, SECRETS_DIR=secrets,
               DEV_CA=os.path.join(args.source, "deploy", "dev-ca.sh"),
               LEDGERCTL=args.ledgerctl, **setup["environment"])
    run(["bash", os.path.join(folder, "setup.sh")], env=env)
    log("compose: setup.sh wrote the secrets")

    by_name = {}
    for n in etcd_names:
        s = services[n]
        volume_path = s["volumes"][0].split(":")[1]
        argv = [a.replace(volume_path, os.path.join(tmp, f"{n}-data"))
                if a.startswith("--data-dir=") else a for a in s["command"]]
        argv[0] = shutil.which(argv[0])
        by_name[n] = Container(n, addresses[n], subnet.prefixlen, argv, tmp)
        containers.append(by_name[n])
    for n in etcd_names:
        check = healthcheck_argv(services[n], lambda a: a)
        wait_for(f"{n} healthy ({' '.join(check)})",
                 lambda: healthy(by_name[n], check), 60)
    log(f"compose: {', '.join(etcd_names)} healthy by their health checks")

    published = {}
    for n in node_names:
        s = services[n]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in s["volumes"]}
        config_path = s["command"][s["command"].index("--config") + 1]
        with open(os.path.join(folder, mounts[config_path])) as f:
            text = f.read()
        data_dir = next(m for m, v in mounts.items() if v == f"{n}-data")
        text = in_tmp(text).replace(f'"{data_dir}"',
                                    f'"{os.path.join(tmp, n + "-data")}"')
        config = os.path.join(tmp, f"{n}.toml")
        with open(config, "w") as f:
            f.write(text)
        argv = [config if a == config_path else a for a in s["command"]]
        argv[0] = args.ledger_node
        by_name[n] = Container(n, addresses[n], subnet.prefixlen, argv, tmp)
        containers.append(by_name[n])
        for p in s.get("ports", []):
            host_ip, host_port, port = p.split(":")
            forwarders.append(Forwarder(int(host_port),
                                        (addresses[n], int(port))))
            if port == "7400":
                published[n] = f"{host_ip}:{host_port}"
    for n in node_names:
        check = healthcheck_argv(services[n], in_tmp)
        check[0] = args.ledgerctl
        wait_for(f"{n} healthy ({' '.join(check)})",
                 lambda: healthy(by_name[n], check), 90)
    log(f"compose: {', '.join(node_names)} healthy by their health checks")
    # From the host, through the published ports, with the profiles
    # setup.sh wrote (deploy/README.md).
    workload(args.ledgerctl, os.path.join(secrets, "tls"), published,
             setup["environment"]["LEDGER_ORIGIN"], tmp)


def k8s_scenario(args, tmp, containers, forwarders):
    import yaml
    folder = os.path.join(args.source, "deploy", "k8s")
    objects = {}
    for name in os.listdir(folder):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            with open(os.path.join(folder, name)) as f:
                for doc in yaml.safe_load_all(f):
                    objects[(doc["kind"], doc["metadata"]["name"])] = doc
    sts = objects[("StatefulSet", "ledger")]
    ns = sts["metadata"]["namespace"]
    pod = sts["spec"]["template"]["spec"]
    node = next(c for c in pod["containers"] if c["name"] == "ledger-node")
    init = next(c for c in pod["initContainers"]
                if c["name"] == "render-config")
    config_data = objects[("ConfigMap", "ledger-config")]["data"]
    domain = f"{sts['spec']['serviceName']}.{ns}.svc.cluster.local"
    pods = [f"ledger-{i}" for i in range(sts["spec"]["replicas"])]
    etcd_endpoints = next(e["value"] for e in init["env"]
                          if e["name"] == "ETCD_ENDPOINTS").split()

    # Pod and Service addresses of a made-up cluster network; the etcd
    # Services' names resolve to the members themselves (standing in for
    # their ClusterIPs), the client Service to one pod.
    subnet = ipaddress.IPv4Network("172.31.75.0/24")
    free = (str(a) for a in list(subnet.hosts())[1:])
    etcd_hosts = [e.rpartition(":")[0] for e in etcd_endpoints]
    hosts = {h: next(free) for h in etcd_hosts}
    for p in pods:
        hosts[f"{p}.{domain}"] = next(free)
    hosts[f"ledger-client.{ns}.svc.cluster.local"] = hosts[
        f"{pods[-1]}.{domain}"]
    network(subnet, hosts, tmp)

    # etcd is not part of deploy/k8s: three members as docs/cluster.md runs
    # them, at the addresses the Services' names resolve to.
    members = [(f"m{i}", hosts[h]) for i, h in enumerate(etcd_hosts)]
    cluster = ",".join(f"{m}=http://{ip}:2380" for m, ip in members)
    by_name = {}
    for (m, ip), endpoint in zip(members, etcd_endpoints):
        port = endpoint.rpartition(":")[2]
        argv = [shutil.which("etcd"), f"--name={m}",
                f"--data-dir={os.path.join(tmp, m)}",
                f"--listen-client-urls=http://0.0.0.0:{port}",
                f"--advertise-client-urls=http://{ip}:{port}",
                "--listen-peer-urls=http://0.0.0.0:2380",
                f"--initial-advertise-peer-urls=http://{ip}:2380",
                f"--initial-cluster={cluster}",
                "--initial-cluster-state=new", "--logger=zap"]
        by_name[m] = Container(m, ip, subnet.prefixlen, argv, tmp)
        containers.append(by_name[m])
    for (m, ip), endpoint in zip(members, etcd_endpoints):
        port = endpoint.rpartition(":")[2]
        wait_for(f"etcd {m}", lambda: healthy(by_name[m], [
            "etcdctl", f"--endpoints=http://127.0.0.1:{port}",
            "endpoint", "health"]), 60)
    log("k8s: etcd members healthy behind the Service names")

    made = os.path.join(tmp, "made")
    run(["bash", os.path.join(folder, "make-secrets.sh"), "--out", made,
         "--ledgerctl", args.ledgerctl])
    with open(os.path.join(made, "secrets.yaml")) as f:
        secrets = {d["metadata"]["name"]: d for d in yaml.safe_load_all(f)}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount_dirs = {}
    for m in init["volumeMounts"]:
        volume = volumes.get(m["name"], {})
        local = os.path.join(tmp, "mounts", m["name"])
        mount_dirs[m["mountPath"]] = local
        os.makedirs(local, exist_ok=True)
        if "secret" in volume:
            for key, value in secrets[volume["secret"]["secretName"]][
                    "data"].items():
                with open(os.path.join(local, key), "wb") as f:
                    f.write(base64.b64decode(value))
        elif "configMap" in volume:
            for key, value in config_data.items():
                with open(os.path.join(local, key), "w") as f:
                    f.write(value)
    config_path = node["command"][node["command"].index("--config") + 1]
    run_dir = os.path.dirname(config_path)
    data_dir = next(m["mountPath"] for m in node["volumeMounts"]
                    if m["name"] == "data")
    env_dirs = {"CONFIG_DIR": "/config", "TLS_DIR": "/secrets/tls",
                "LOG_KEY_DIR": "/secrets/log-key"}
    for p in pods:
        out = os.path.join(tmp, "run", p)
        env = dict(os.environ, POD_NAME=p,
                   ETCD_ENDPOINTS=" ".join(etcd_endpoints), OUT_DIR=out,
                   **{k: mount_dirs[v] for k, v in env_dirs.items()})
        script = init["command"][1].replace("/config", mount_dirs["/config"])
        run([init["command"][0], script], env=env)
        config = os.path.join(out, os.path.basename(config_path))
        with open(config) as f:
            text = f.read()
        text = text.replace(run_dir + "/", out + "/").replace(
            f'"{data_dir}"', f'"{os.path.join(tmp, "data", p)}"')
        with open(config, "w") as f:
            f.write(text)
        argv = [config if a == config_path else a for a in node["command"]]
        argv[0] = args.ledger_node
        by_name[p] = Container(p, hosts[f"{p}.{domain}"], subnet.prefixlen,
                               argv, tmp)
        containers.append(by_name[p])
    log("k8s: render.sh wrote each pod's configuration; nodes started")
    for p in pods:
        probe = [a.replace(run_dir + "/", os.path.join(tmp, "run", p) + "/")
                 for a in node["readinessProbe"]["exec"]["command"]]
        probe[0] = args.ledgerctl
        wait_for(f"{p} ready", lambda: healthy(by_name[p], probe), 90)
    log("k8s: every pod passes its readiness probe")
    # Clients in the cluster: the profiles make-secrets.sh wrote (the client
    # Service's name), the pods' DNS names.
    workload(args.ledgerctl, os.path.join(made, "tls"),
             {p: f"{p}.{domain}:7400" for p in pods},
             next(line.split('"')[1] for line in config_data[
                 "ledger-0.toml"].splitlines()
                 if line.startswith("origin")), tmp)


def inner(args, scenario):
    tmp = tempfile.mkdtemp(prefix="deploy_run_test.")
    containers, forwarders = [], []
    try:
        {"compose": compose_scenario, "k8s": k8s_scenario}[scenario](
            args, tmp, containers, forwarders)
        return 0
    except Exception as e:  # report with the services' logs
        print(f"FAIL: {scenario}: {e}", file=sys.stderr)
        for c in containers:
            print(f"--- {c.name} (last lines)\n{c.tail()}", file=sys.stderr)
        return 1
    finally:
        for f in forwarders:
            f.stop()
        for c in reversed(containers):
            c.stop()
        subprocess.run(["umount", "/etc/hosts"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--ledger-node", required=True)
    parser.add_argument("--ledgerctl", required=True)
    args = parser.parse_args()
    args.source = os.path.abspath(args.source)
    args.ledger_node = os.path.abspath(args.ledger_node)
    args.ledgerctl = os.path.abspath(args.ledgerctl)
    if os.environ.get(INNER):
        return inner(args, os.environ[INNER])
    try:
        import yaml  # noqa: F401
    except ImportError:
        print("deploy_run_test: Python's yaml module is missing: install "
              "Debian's python3-yaml (scripts/install-deps.sh)",
              file=sys.stderr)
        return 1
    missing = [t for t in ("unshare", "nsenter", "ip", "etcd", "etcdctl")
               if shutil.which(t) is None]
    if missing:
        print(f"deploy_run_test: SKIPPED: {', '.join(missing)} missing")
        return SKIP
    probe = subprocess.run(["unshare", "--net", "--mount", "sh", "-c",
                            "ip link add br0 type bridge"],
                           capture_output=True, text=True)
    if os.geteuid() != 0 or probe.returncode != 0:
        print("deploy_run_test: SKIPPED: needs root and network "
              f"namespaces with bridges ({probe.stderr.strip()})")
        return SKIP
    failed = 0
    for scenario in ("compose", "k8s"):
        env = dict(os.environ, **{INNER: scenario})
        failed += subprocess.call(
            ["unshare", "--net", "--mount", sys.executable,
             os.path.abspath(__file__)] + sys.argv[1:], env=env) != 0
    print(f"deploy_run_test: {2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
